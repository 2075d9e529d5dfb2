// The matmul family. A product is a broadcast multiply folded over the
// shared dim: out[..., m, n] = sum_k a[..., m, k] * bT[..., n, k], bT a view
// of b. The multiply is fused into the reduction kernel: no [..., m, n, k]
// temporary exists. How the operands are read is the backend's (its dot
// tile when both are contiguous along k, its outer-product tile when b is
// contiguous along n); the pack-contraction pass copies an operand only
// when neither applies.
#include <fmt/format.h>

#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {

std::string dims_str(const Tensor& t) {
  std::string s;
  for (int64_t d : t.shape()) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (node_of(a, op)->dtype != node_of(b, op)->dtype)
    throw Error(fmt::format("{}: expected both operands to have the same dtype, but got {} and {}", op,
                            name(a.dtype()), name(b.dtype())));
}

// sum_k a[..., m, k] * b[..., k, n] for a of rank >= 2 and b of rank >= 2
// whose batch dims broadcast.
Tensor batched(const Tensor& a, const Tensor& b) {
  DType t = a.dtype();
  // Low-precision products accumulate in float32 and round once, like
  // PyTorch's CPU kernels.
  bool low = t == kFloat16 || t == kBFloat16;
  Tensor x = low ? a.to(kFloat32) : a, y = low ? b.to(kFloat32) : b;
  Tensor yt = y.transpose(-1, -2);                     // [..., n, k]
  Tensor prod = x.unsqueeze(-2) * yt.unsqueeze(-3);     // [..., m, n, k]
  Tensor r = wrap(graph::reduce(Op::Sum, node_of(prod), {prod.dim() - 1}, x.dtype()));
  r = r.squeeze(-1);
  return low ? r.to(t) : r;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_same_dtype("matmul", a, b);
  if (a.dim() == 0 || b.dim() == 0)
    throw Error(fmt::format("matmul: both arguments need at least 1 dimension, but got shapes {} and {}",
                            shape_str(a.shape()), shape_str(b.shape())));
  int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  if (ka != kb)
    throw Error(fmt::format("matmul: shapes {} and {} cannot be multiplied ({} and {}: inner dimensions {} and "
                            "{} differ)",
                            shape_str(a.shape()), shape_str(b.shape()), dims_str(a), dims_str(b), ka, kb));
  if (a.dim() == 1 && b.dim() == 1) return dot(a, b);
  // Vectors become matrices and their dim is dropped again at the end.
  Tensor x = a.dim() == 1 ? a.unsqueeze(0) : a;
  Tensor y = b.dim() == 1 ? b.unsqueeze(-1) : b;
  // Broadcast the batch dims (all but the last two).
  Shape xb(x.shape().begin(), x.shape().end() - 2), yb(y.shape().begin(), y.shape().end() - 2);
  Shape batch = graph::broadcast(xb, yb, "matmul");
  auto with_batch = [&](const Tensor& t) {
    Shape s = batch;
    s.push_back(t.size(-2));
    s.push_back(t.size(-1));
    return t.expand(s);
  };
  Tensor r = batched(with_batch(x), with_batch(y));
  if (a.dim() == 1) r = r.squeeze(-2);
  if (b.dim() == 1) r = r.squeeze(-1);
  return r;
}

Tensor mm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 2 || b.dim() != 2)
    throw Error(fmt::format("mm: expected 2-D matrices, but got shapes {} and {}", shape_str(a.shape()),
                            shape_str(b.shape())));
  if (a.size(1) != b.size(0))
    throw Error(fmt::format("mm: mat1 and mat2 shapes cannot be multiplied ({} and {})", dims_str(a), dims_str(b)));
  return matmul(a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 3 || b.dim() != 3)
    throw Error(fmt::format("bmm: expected 3-D tensors, but got shapes {} and {}", shape_str(a.shape()),
                            shape_str(b.shape())));
  if (a.size(0) != b.size(0) || a.size(2) != b.size(1))
    throw Error(fmt::format("bmm: batch1 {} and batch2 {} cannot be multiplied (batch sizes must match and "
                            "inner dimensions agree)",
                            shape_str(a.shape()), shape_str(b.shape())));
  return matmul(a, b);
}

Tensor dot(const Tensor& a, const Tensor& b) {
  if (a.dim() != 1 || b.dim() != 1)
    throw Error(fmt::format("dot: 1D tensors expected, but got shapes {} and {}", shape_str(a.shape()),
                            shape_str(b.shape())));
  check_same_dtype("dot", a, b);
  if (a.size(0) != b.size(0))
    throw Error(fmt::format("dot: inconsistent tensor size, expected tensor [{}] and src [{}] to have the same "
                            "number of elements",
                            a.size(0), b.size(0)));
  DType t = a.dtype();
  bool low = t == kFloat16 || t == kBFloat16;
  Tensor x = low ? a.to(kFloat32) : a, y = low ? b.to(kFloat32) : b;
  Tensor r = wrap(graph::reduce(Op::Sum, node_of(x * y), {0}, x.dtype())).squeeze(0);
  return low ? r.to(t) : r;
}

Tensor outer(const Tensor& a, const Tensor& b) {
  if (a.dim() != 1 || b.dim() != 1)
    throw Error(fmt::format("outer: 1D tensors expected, but got shapes {} and {}", shape_str(a.shape()),
                            shape_str(b.shape())));
  return a.unsqueeze(1) * b.unsqueeze(0);
}

Tensor Tensor::matmul(const Tensor& o) const { return kiln::matmul(*this, o); }
Tensor Tensor::mm(const Tensor& o) const { return kiln::mm(*this, o); }
Tensor Tensor::bmm(const Tensor& o) const { return kiln::bmm(*this, o); }
Tensor Tensor::dot(const Tensor& o) const { return kiln::dot(*this, o); }
Tensor Tensor::outer(const Tensor& o) const { return kiln::outer(*this, o); }

}  // namespace kiln
