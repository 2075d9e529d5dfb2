// Tensor::index and index_put_: Python's indexing rules over kiln views.
#include <fmt/format.h>

#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln {

TensorIndex::TensorIndex(const Tensor& t) : kind_(Kind::Tensor), tensor_(std::make_shared<Tensor>(t)) {}

TensorIndex::TensorIndex(std::initializer_list<int64_t> list) : kind_(Kind::Tensor) {
  Tensor t = empty({int64_t(list.size())}, kInt64);
  std::copy(list.begin(), list.end(), static_cast<int64_t*>(t.data_ptr()));
  tensor_ = std::make_shared<Tensor>(t);
}

const Tensor& TensorIndex::tensor() const { return *tensor_; }

Tensor Tensor::index(const std::vector<TensorIndex>& indices) const {
  int64_t consumed = 0;
  bool ellipsis = false;
  for (const TensorIndex& i : indices) {
    switch (i.kind()) {
      case TensorIndex::Kind::Int:
      case TensorIndex::Kind::Slice: consumed += 1; break;
      case TensorIndex::Kind::Tensor:
        consumed += i.tensor().dtype() == kBool ? i.tensor().dim() : 1;
        break;
      case TensorIndex::Kind::Ellipsis:
        if (ellipsis) throw Error("index: an index can only have a single ellipsis ('...')");
        ellipsis = true;
        break;
      case TensorIndex::Kind::None: break;
    }
  }
  if (consumed > dim())
    throw Error(fmt::format("index: too many indices for tensor of dimension {} (shape {})", dim(),
                            shape_str(shape())));
  Tensor r = *this;
  int64_t d = 0;
  for (const TensorIndex& i : indices) {
    switch (i.kind()) {
      case TensorIndex::Kind::Int: r = r.select(d, i.integer()); break;
      case TensorIndex::Kind::Slice: {
        const auto& s = i.slice();
        r = r.slice(d, s.start, s.stop, s.step.value_or(1));
        ++d;
        break;
      }
      case TensorIndex::Kind::None: r = r.unsqueeze(d); ++d; break;
      case TensorIndex::Kind::Ellipsis: d += dim() - consumed; break;
      case TensorIndex::Kind::Tensor:
        throw Error(fmt::format("index: tensor (advanced) indices are not supported yet (index dtype {}, "
                                "shape {})",
                                name(i.tensor().dtype()), shape_str(i.tensor().shape())));
    }
  }
  return r;
}

Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Tensor& value) {
  Tensor target = index(indices);
  if (graph::broadcast(value.shape(), target.shape(), "index_put_") != target.shape())
    throw Error(fmt::format("index_put_: shape mismatch: value tensor of shape {} cannot be broadcast to "
                            "indexing result of shape {}",
                            shape_str(value.shape()), shape_str(target.shape())));
  target.copy_(value);
  return *this;
}

Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Scalar& value) {
  Tensor target = index(indices);
  target.fill_(value);
  return *this;
}

}  // namespace kiln
