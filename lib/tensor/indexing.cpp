// Tensor::index and index_put_ (Python's indexing rules), index_select,
// gather, scatter_add, masked_fill.
//
// Basic indices (integers, slices, None, ...) are views. Advanced indices
// (int64 tensors, bool masks) read through a gather node: the result is a new
// tensor, and index_put_ with them writes through an index_put node. A bool
// mask's true positions decide the result's shape, so a mask is computed on
// the spot (the one place where indexing is not lazy).
#include <fmt/format.h>

#include <algorithm>

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

namespace {

// The coordinates of the true elements of a mask, one int64 tensor per dim.
std::vector<Tensor> nonzero(const Tensor& mask) {
  auto v = mask.to_vector<bool>();
  const Shape& s = mask.shape();
  std::vector<std::vector<int64_t>> coords(s.size());
  for (int64_t i = 0; i < int64_t(v.size()); ++i) {
    if (!v[size_t(i)]) continue;
    int64_t rem = i;
    for (size_t d = s.size(); d-- > 0;) {
      coords[d].push_back(rem % s[d]);
      rem /= s[d];
    }
  }
  std::vector<Tensor> out;
  for (auto& c : coords) {
    Tensor t = empty({int64_t(c.size())}, kInt64);
    std::copy(c.begin(), c.end(), static_cast<int64_t*>(t.data_ptr()));
    out.push_back(t);
  }
  return out;
}

// Checks index values against the size of the dim they select and wraps
// negative ones (negatives are an error when `allow_negative` is false).
// `in_self`: PyTorch's wording for index_select ("index out of range in self").
Tensor checked_index(const Tensor& idx, int64_t size, int64_t dim, const char* op, bool allow_negative = true,
                     bool in_self = false) {
  if (idx.dtype() != kInt64 && idx.dtype() != kInt32)
    throw Error(fmt::format("{}: tensors used as indices must be int64, int32 or bool, got {}", op,
                            name(idx.dtype())));
  Tensor i = idx.to(kInt64);
  int64_t lo = allow_negative ? -size : 0;
  for (int64_t v : i.to_vector<int64_t>())
    if (v < lo || v >= size)
      throw Error(in_self ? fmt::format("{}: index out of range in self: index {} for dimension {} with size {}", op,
                                        v, dim, size)
                          : fmt::format("{}: index {} is out of bounds for dimension {} with size {}", op, v, dim,
                                        size));
  return allow_negative ? where(i < 0, i + size, i) : i;
}

// x[indices] as a plan: the basic part as a view, then the advanced part.
struct IndexPlan {
  Tensor view;                 // after integers, slices, None, Ellipsis
  std::vector<int64_t> dims;   // dims of `view` taken by advanced indices
  std::vector<Tensor> idx;     // their (checked) index tensors
};

// `op`: index or index_put_, the name errors carry.
IndexPlan plan(const Tensor& self, const std::vector<TensorIndex>& indices, const char* op) {
  int64_t consumed = 0;
  bool ellipsis = false;
  for (const TensorIndex& i : indices) {
    switch (i.kind()) {
      case TensorIndex::Kind::Int:
      case TensorIndex::Kind::Slice: consumed += 1; break;
      case TensorIndex::Kind::Tensor: consumed += i.tensor().dtype() == kBool ? i.tensor().dim() : 1; break;
      case TensorIndex::Kind::Ellipsis:
        if (ellipsis) throw Error(fmt::format("{}: an index can only have a single ellipsis ('...')", op));
        ellipsis = true;
        break;
      case TensorIndex::Kind::None: break;
    }
  }
  if (consumed > self.dim())
    throw Error(fmt::format("{}: too many indices for tensor of dimension {} (shape {})", op, self.dim(),
                            shape_str(self.shape())));
  IndexPlan p{self, {}, {}};
  int64_t d = 0;
  for (const TensorIndex& i : indices) {
    switch (i.kind()) {
      case TensorIndex::Kind::Int: {
        int64_t n = p.view.size(d), k = i.integer();
        if (k < -n || k >= n)
          throw Error(fmt::format("{}: index {} is out of bounds for dimension {} with size {}", op, k, d, n));
        p.view = p.view.select(d, k);
        break;
      }
      case TensorIndex::Kind::Slice: {
        const auto& s = i.slice();
        p.view = p.view.slice(d, s.start, s.stop, s.step.value_or(1));
        ++d;
        break;
      }
      case TensorIndex::Kind::None: p.view = p.view.unsqueeze(d); ++d; break;
      case TensorIndex::Kind::Ellipsis: d += self.dim() - consumed; break;
      case TensorIndex::Kind::Tensor: {
        const Tensor& t = i.tensor();
        if (t.dtype() == kBool || t.dtype() == kUInt8) {
          for (int64_t k = 0; k < t.dim(); ++k)
            if (t.size(k) != p.view.size(d + k))
              throw Error(fmt::format("{}: the shape of the mask {} does not match the shape of the "
                                      "indexed tensor {} at dim {}",
                                      op, shape_str(t.shape()), shape_str(p.view.shape()), d + k));
          for (Tensor& c : nonzero(t.to(kBool))) {
            p.dims.push_back(d);
            p.idx.push_back(c);
            ++d;
          }
        } else {
          p.dims.push_back(d);
          p.idx.push_back(checked_index(t, p.view.size(d), d, op));
          ++d;
        }
        break;
      }
    }
  }
  return p;
}

// The advanced part: broadcast the index tensors, lay out the result (their
// dims in place when adjacent, else first) and express each index tensor
// over the result's shape.
struct Gather {
  Shape out_shape, map, sel;
  std::vector<NodeRef> idx;
};

Gather lay_out(const IndexPlan& p) {
  Shape b = p.idx[0].shape();
  for (const Tensor& t : p.idx) b = graph::broadcast(b, t.shape(), "index");
  bool adjacent = true;
  for (size_t k = 1; k < p.dims.size(); ++k) adjacent &= p.dims[k] == p.dims[k - 1] + 1;
  const Shape& vs = p.view.shape();
  Gather g;
  int64_t first = adjacent ? p.dims[0] : 0;  // where the broadcast dims go
  auto is_adv = [&](int64_t d) { return std::find(p.dims.begin(), p.dims.end(), d) != p.dims.end(); };
  for (int64_t d = 0; d < int64_t(vs.size()) || int64_t(g.out_shape.size()) < first; ++d) {
    if (int64_t(g.out_shape.size()) == first) {
      for (int64_t x : b) {
        g.out_shape.push_back(x);
        g.map.push_back(-1);
      }
      first = -1;
    }
    if (d >= int64_t(vs.size())) break;
    if (is_adv(d)) continue;
    g.out_shape.push_back(vs[d]);
    g.map.push_back(d);
  }
  if (first >= 0) {  // every dim advanced and B not placed yet
    for (int64_t x : b) {
      g.out_shape.push_back(x);
      g.map.push_back(-1);
    }
  }
  // Each index tensor: B's dims where the map says -1, size 1 elsewhere.
  int64_t bpos = std::find(g.map.begin(), g.map.end(), -1) - g.map.begin();
  for (size_t k = 0; k < p.idx.size(); ++k) {
    Shape padded(g.out_shape.size(), 1);
    Tensor t = p.idx[k].expand(b);
    for (size_t j = 0; j < b.size(); ++j) padded[bpos + j] = b[j];
    g.idx.push_back(node_of(t.reshape(padded).expand(g.out_shape)));
    g.sel.push_back(p.dims[k]);
  }
  return g;
}

}  // namespace

Tensor Tensor::index(const std::vector<TensorIndex>& indices) const {
  IndexPlan p = plan(*this, indices, "index");
  if (p.idx.empty()) return p.view;
  Gather g = lay_out(p);
  return wrap(graph::index(node_of(p.view), g.idx, g.map, g.sel, g.out_shape));
}

Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Tensor& value) {
  IndexPlan p = plan(*this, indices, "index_put_");
  Shape target = p.view.shape();
  std::optional<Gather> g;
  if (!p.idx.empty()) {
    g = lay_out(p);
    target = g->out_shape;
  }
  if (graph::broadcast(value.shape(), target, "index_put_") != target)
    throw Error(fmt::format("index_put_: shape mismatch: value tensor of shape {} cannot be broadcast to "
                            "indexing result of shape {}",
                            shape_str(value.shape()), shape_str(target)));
  if (!g) {
    Tensor v = p.view;
    v.copy_(value);
    return *this;
  }
  NodeRef written = graph::index_put(node_of(p.view), node_of(value), g->idx, g->map, g->sel, false);
  p.view.impl()->assign(written);
  return *this;
}

Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Scalar& value) {
  return index_put_(indices, full({}, value, dtype()));
}

Tensor Tensor::index_select(int64_t dim, const Tensor& index) const {
  dim = wrap_dim(dim, this->dim(), "index_select");
  if (index.dim() > 1)
    throw Error(fmt::format("index_select: index must be a vector (got shape {})", shape_str(index.shape())));
  // Negative indices are out of range here, as in PyTorch.
  int64_t n = this->dim() == 0 ? 1 : size(dim);
  std::vector<TensorIndex> ix(static_cast<size_t>(dim), indexing::Slice());
  ix.emplace_back(checked_index(index.reshape({-1}), n, dim, "index_select", /*allow_negative=*/false,
                                /*in_self=*/true));
  return this->dim() == 0 ? this->index({}) : this->index(ix);
}

namespace {
// gather/scatter_add address: every dim but `dim` walks the index's shape.
Shape walk_map(int64_t rank, int64_t dim) {
  Shape m(static_cast<size_t>(rank));
  for (int64_t o = 0; o < rank; ++o) m[o] = o == dim ? -1 : o;
  return m;
}

void check_gather_shapes(const char* op, const Tensor& self, const Tensor& index, int64_t dim,
                         const Tensor* src = nullptr) {
  if (index.dim() != self.dim())
    throw Error(fmt::format("{}: index tensor must have the same number of dimensions as the input (got {} "
                            "and {})",
                            op, shape_str(index.shape()), shape_str(self.shape())));
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (d != dim && index.size(d) > self.size(d))
      throw Error(fmt::format("{}: size of index {} exceeds input {} at dim {}", op, shape_str(index.shape()),
                              shape_str(self.shape()), d));
    if (src && index.size(d) > src->size(d))
      throw Error(fmt::format("{}: size of index {} exceeds src {} at dim {}", op, shape_str(index.shape()),
                              shape_str(src->shape()), d));
  }
}
}  // namespace

Tensor Tensor::gather(int64_t dim, const Tensor& index) const {
  if (this->dim() == 0 && index.dim() <= 1) {  // PyTorch: a 0-dim source acts as one element
    wrap_dim(dim, 0, "gather");
    return reshape({1}).gather(0, index.reshape({-1})).reshape(index.shape());
  }
  dim = wrap_dim(dim, this->dim(), "gather");
  if (index.dtype() != kInt64)
    throw Error(fmt::format("gather: expected dtype int64 for index, got {}", name(index.dtype())));
  check_gather_shapes("gather", *this, index, dim);
  Tensor idx = checked_index(index, size(dim), dim, "gather", false);
  return wrap(graph::index(node_of(*this), {node_of(idx)}, walk_map(this->dim(), dim), {dim}, index.shape()));
}

Tensor Tensor::scatter_add(int64_t dim, const Tensor& index, const Tensor& src) const {
  if (this->dim() == 0 && index.dim() <= 1 && src.dim() <= 1) {  // one element, as in PyTorch
    wrap_dim(dim, 0, "scatter_add");
    return reshape({1}).scatter_add(0, index.reshape({-1}), src.reshape({-1})).reshape({});
  }
  dim = wrap_dim(dim, this->dim(), "scatter_add");
  if (index.dtype() != kInt64)
    throw Error(fmt::format("scatter_add: expected dtype int64 for index, got {}", name(index.dtype())));
  check_gather_shapes("scatter_add", *this, index, dim, &src);
  if (src.dtype() != dtype())
    throw Error(fmt::format("scatter_add: expected src dtype {} to match self dtype {}", name(src.dtype()),
                            name(dtype())));
  Tensor idx = checked_index(index, size(dim), dim, "scatter_add", false);
  if (index.numel() == 0) return clone();
  Tensor s = src;
  for (int64_t d = 0; d < src.dim(); ++d) s = s.narrow(d, 0, index.size(d));
  return wrap(graph::index_put(node_of(*this), node_of(s), {node_of(idx)}, walk_map(this->dim(), dim), {dim},
                               true));
}

Tensor Tensor::masked_fill(const Tensor& mask, const Scalar& value) const {
  if (mask.dtype() != kBool)
    throw Error(fmt::format("masked_fill: expected a bool mask, got {}", name(mask.dtype())));
  if (graph::broadcast(mask.shape(), shape(), "masked_fill") != shape())
    throw Error(fmt::format("masked_fill: mask of shape {} does not broadcast to {}", shape_str(mask.shape()),
                            shape_str(shape())));
  return where(mask, full({}, value, dtype()), *this);
}

Tensor Tensor::masked_fill(const Tensor& mask, const Tensor& value) const {
  if (value.dim() != 0)
    throw Error(fmt::format("masked_fill: only supports a 0-dimensional value tensor, but got shape {}",
                            shape_str(value.shape())));
  if (mask.dtype() != kBool)
    throw Error(fmt::format("masked_fill: expected a bool mask, got {}", name(mask.dtype())));
  if (graph::broadcast(mask.shape(), shape(), "masked_fill") != shape())
    throw Error(fmt::format("masked_fill: mask of shape {} does not broadcast to {}", shape_str(mask.shape()),
                            shape_str(shape())));
  return where(mask, value.to(dtype()), *this);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) { return x.index_select(dim, index); }
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) { return x.gather(dim, index); }
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return x.scatter_add(dim, index, src);
}
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Scalar& v) { return x.masked_fill(mask, v); }
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& v) { return x.masked_fill(mask, v); }

}  // namespace kiln
