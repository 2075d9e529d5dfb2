// Reductions. The primitives (sum, prod, amax, amin, argmax, argmin,
// cumsum) are graph ops that compile into reduction kernels; the rest are
// written with them, as PyTorch defines them.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {

// The reduced dims, wrapped; empty means all.
Shape resolve_dims(const Tensor& x, const Shape& dims, const char* op) {
  return graph::reduction_dims(x.dim(), dims, op);
}

// Drops the (size-1) reduced dims unless keepdim.
Tensor finish(const Tensor& r, const Shape& dims, bool keepdim) {
  if (keepdim) return r;
  Shape s;
  for (int64_t d = 0; d < r.dim(); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) s.push_back(r.size(d));
  return r.view(s);
}

// `name`: the op the user called, for errors (max() is an amax).
Tensor reduce(Op op, const Tensor& x, const Shape& dims, bool keepdim, const char* name = nullptr) {
  if (!name) name = op_name(op);
  node_of(x, name);  // (an undefined x is reported under the user's op name)
  Shape ds = resolve_dims(x, dims, name);
  // (Over every dim, a large reduction folds in two stages: graph::reduce_all.)
  Tensor r = wrap(int64_t(ds.size()) == x.dim() ? graph::reduce_all(op, node_of(x), name)
                                                : graph::reduce(op, node_of(x), ds, std::nullopt, name));
  return finish(r, ds, keepdim);
}

bool low_precision(const Tensor& x) { return x.dtype() == kFloat16 || x.dtype() == kBFloat16; }

void require_floating(const Tensor& x, const char* op) {
  if (!is_floating(x.dtype()))
    throw Error(fmt::format("{}: could not infer output dtype: input dtype must be floating point, got {} "
                            "(shape {}); use .to(kiln::kFloat32) first",
                            op, name(x.dtype()), shape_str(x.shape())));
}

int64_t count(const Tensor& x, const Shape& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= x.size(d);
  return n;
}

}  // namespace

Tensor Tensor::sum(std::optional<DType> dtype) const { return sum(Shape{}, false, dtype); }
// An explicit dtype is the result's (integers accumulate in int64 and wrap
// to it, which equals PyTorch's accumulation in that dtype).
static Tensor as_requested(const Tensor& r, std::optional<DType> dtype) { return dtype ? r.to(*dtype) : r; }

Tensor Tensor::sum(const Shape& dims, bool keepdim, std::optional<DType> dtype) const {
  return as_requested(reduce(Op::Sum, dtype ? to(*dtype) : *this, dims, keepdim), dtype);
}

Tensor Tensor::mean(std::optional<DType> dtype) const { return mean(Shape{}, false, dtype); }
Tensor Tensor::mean(const Shape& dims, bool keepdim, std::optional<DType> dtype) const {
  Tensor x = dtype ? to(*dtype) : *this;
  require_floating(x, "mean");
  // float16/bfloat16 accumulate and divide in float32, as PyTorch does (a
  // count of 70000 is inf in float16).
  if (low_precision(x)) return x.to(kFloat32).mean(dims, keepdim).to(x.dtype());
  Shape ds = resolve_dims(x, dims, "mean");
  return x.sum(ds, keepdim) / double(count(x, ds));
}

Tensor Tensor::prod(std::optional<DType> dtype) const {
  return as_requested(reduce(Op::Prod, dtype ? to(*dtype) : *this, {}, false), dtype);
}
Tensor Tensor::prod(int64_t dim, bool keepdim, std::optional<DType> dtype) const {
  return as_requested(reduce(Op::Prod, dtype ? to(*dtype) : *this, {wrap_dim(dim, this->dim(), "prod")}, keepdim),
                      dtype);
}

Tensor Tensor::amax(const Shape& dims, bool keepdim) const { return reduce(Op::Amax, *this, dims, keepdim); }
Tensor Tensor::amin(const Shape& dims, bool keepdim) const { return reduce(Op::Amin, *this, dims, keepdim); }
Tensor Tensor::max() const { return reduce(Op::Amax, *this, {}, false, "max"); }
Tensor Tensor::min() const { return reduce(Op::Amin, *this, {}, false, "min"); }

namespace {
// max/min along a dim: the values are read at the chosen indices, so the
// gradient goes to that one index (amax instead splits it among ties).
std::tuple<Tensor, Tensor> values_and_indices(Op arg, const Tensor& x, int64_t dim, bool keepdim, const char* op) {
  if (x.dim() == 0) {
    wrap_dim(dim, 0, op);
    return {x.clone(), zeros({}, kInt64)};
  }
  int64_t d = wrap_dim(dim, x.dim(), op);
  Tensor idx = reduce(arg, x, {d}, true, op);
  // The indices are in range by construction: no check (which would compute them now).
  Shape map;
  for (int64_t o = 0; o < x.dim(); ++o) map.push_back(o == d ? -1 : o);
  Tensor values = wrap(graph::index(node_of(x), {node_of(idx)}, map, {d}, idx.shape()));
  if (keepdim) return {values, idx};
  return {values.squeeze(d), idx.squeeze(d)};
}
}  // namespace

std::tuple<Tensor, Tensor> Tensor::max(int64_t dim, bool keepdim) const {
  return values_and_indices(Op::Argmax, *this, dim, keepdim, "max");
}
std::tuple<Tensor, Tensor> Tensor::min(int64_t dim, bool keepdim) const {
  return values_and_indices(Op::Argmin, *this, dim, keepdim, "min");
}

Tensor Tensor::argmax(std::optional<int64_t> dim, bool keepdim) const {
  if (dim) return reduce(Op::Argmax, *this, {*dim}, keepdim);
  Tensor r = reduce(Op::Argmax, reshape({-1}), {0}, false);
  return keepdim ? r.reshape(Shape(size_t(this->dim()), 1)) : r;
}
Tensor Tensor::argmin(std::optional<int64_t> dim, bool keepdim) const {
  if (dim) return reduce(Op::Argmin, *this, {*dim}, keepdim);
  Tensor r = reduce(Op::Argmin, reshape({-1}), {0}, false);
  return keepdim ? r.reshape(Shape(size_t(this->dim()), 1)) : r;
}

Tensor Tensor::var(const Shape& dims, double correction, bool keepdim) const {
  require_floating(*this, "var");
  if (low_precision(*this)) return to(kFloat32).var(dims, correction, keepdim).to(dtype());
  Shape ds = resolve_dims(*this, dims, "var");
  // Two passes (mean, then squared deviations): accurate, and both fuse.
  Tensor dev = *this - mean(ds, true);
  Tensor ss = (dev * dev).sum(ds, keepdim);
  double n = double(count(*this, ds)) - correction;
  return ss / std::max(n, 0.0);
}

Tensor Tensor::std(const Shape& dims, double correction, bool keepdim) const {
  require_floating(*this, "std");
  resolve_dims(*this, dims, "std");
  return var(dims, correction, keepdim).sqrt();
}

Tensor Tensor::norm(const Scalar& p, const Shape& dims, bool keepdim) const {
  require_floating(*this, "norm");
  resolve_dims(*this, dims, "norm");
  if (low_precision(*this)) return to(kFloat32).norm(p, dims, keepdim).to(dtype());
  double pv = p.to_double();
  Tensor a = abs();
  // The inf-norm of nothing is 0 (PyTorch's norm: the max of |x| >= 0 starts at 0).
  if (std::isinf(pv) && pv > 0 && numel() == 0) return reduce(Op::Sum, a, dims, keepdim, "norm");
  if (std::isinf(pv)) return reduce(pv > 0 ? Op::Amax : Op::Amin, a, dims, keepdim, "norm");
  if (pv == 0) return (*this != 0).to(dtype()).sum(dims, keepdim);
  if (pv == 1) return a.sum(dims, keepdim);
  Tensor s = pv == 2 ? (*this * *this).sum(dims, keepdim) : a.pow(p).sum(dims, keepdim);
  auto root = [&](const Tensor& v) { return pv == 2 ? v.sqrt() : v.pow(1.0 / pv); };
  if (!s.requires_grad()) return root(s);
  // The root's derivative is infinite at 0, where PyTorch's norm has
  // gradient 0: take the root of 1 there, so no inf * 0 = NaN flows back.
  Tensor zero = s == 0;
  return where(zero, 0.0, root(where(zero, 1.0, s)));
}

Tensor Tensor::logsumexp(const Shape& dims, bool keepdim) const {
  Tensor x = is_floating(dtype()) ? *this : to(kFloat32);
  Shape ds = resolve_dims(x, dims, "logsumexp");
  // Shift by the max (0 where it is infinite) so exp cannot overflow; over
  // nothing the sum is 0 and the result -inf, as in PyTorch.
  if (count(x, ds) == 0) return finish(x.exp().sum(ds, true).log(), ds, keepdim);
  Tensor m = x.amax(ds, true);
  m = where(m.abs() == INFINITY, 0.0, m);
  Tensor r = (x - m).exp().sum(ds, true).log() + m;
  return finish(r, ds, keepdim);
}

Tensor Tensor::cumsum(int64_t dim, std::optional<DType> dtype) const {
  Tensor x = dtype ? to(*dtype) : *this;
  if (x.dim() == 0) {
    wrap_dim(dim, 0, "cumsum");
    return as_requested(wrap(graph::cast(node_of(x), is_floating(x.dtype()) ? x.dtype() : kInt64)), dtype);
  }
  return as_requested(wrap(graph::reduce(Op::Cumsum, node_of(x), {wrap_dim(dim, x.dim(), "cumsum")})), dtype);
}

namespace {
// all/any: bool results, except uint8 in, uint8 out (PyTorch's rule).
Tensor logical_reduce(Op op, const Tensor& x, const Shape& dims, bool keepdim, const char* name) {
  Tensor r = reduce(op, node_of(x, name)->dtype == kBool ? x : x.to(kBool), dims, keepdim, name);
  return x.dtype() == kUInt8 ? r.to(kUInt8) : r;
}
}  // namespace

Tensor Tensor::all() const { return logical_reduce(Op::Amin, *this, {}, false, "all"); }
Tensor Tensor::all(int64_t dim, bool keepdim) const {
  return logical_reduce(Op::Amin, *this, {dim}, keepdim, "all");
}
Tensor Tensor::any() const { return logical_reduce(Op::Amax, *this, {}, false, "any"); }
Tensor Tensor::any(int64_t dim, bool keepdim) const {
  return logical_reduce(Op::Amax, *this, {dim}, keepdim, "any");
}

Tensor sum(const Tensor& x, std::optional<DType> d) { return x.sum(d); }
Tensor sum(const Tensor& x, const Shape& dims, bool k, std::optional<DType> d) { return x.sum(dims, k, d); }
Tensor mean(const Tensor& x, std::optional<DType> d) { return x.mean(d); }
Tensor mean(const Tensor& x, const Shape& dims, bool k, std::optional<DType> d) { return x.mean(dims, k, d); }
Tensor amax(const Tensor& x, const Shape& dims, bool k) { return x.amax(dims, k); }
Tensor amin(const Tensor& x, const Shape& dims, bool k) { return x.amin(dims, k); }
Tensor logsumexp(const Tensor& x, const Shape& dims, bool k) { return x.logsumexp(dims, k); }
Tensor cumsum(const Tensor& x, int64_t dim, std::optional<DType> d) { return x.cumsum(dim, d); }

}  // namespace kiln
