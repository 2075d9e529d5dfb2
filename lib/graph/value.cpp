// Value's operators: the builders, called as the Tensor API calls them
// (lib/tensor/tensor.cpp, ops.cpp, reductions.cpp, shape_ops.cpp), so that
// a formula gives the same nodes on either side.
#include "graph/value.h"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::graph {

Value Value::full(const Scalar& value, DType dtype, const Shape& shape) {
  return Value(graph::full(value, dtype, shape));
}

int64_t Value::size(int64_t d) const {
  if (node->shape.empty())
    throw Error(fmt::format("size: dimension specified as {} but tensor has no dimensions", d));
  return node->shape[wrap_dim(d, dim(), "size")];
}

Value Value::div(const Value& o, const std::string& mode) const {
  Op op = mode == "floor" ? Op::FloorDiv : mode == "trunc" ? Op::TruncDiv : Op::Div;
  if (op == Op::Div)
    throw Error(fmt::format("div: expected rounding_mode to be one of 'trunc', 'floor', but found '{}'", mode));
  if (!is_floating(result_type({node, o.node})))
    throw Error(fmt::format("div: rounding_mode '{}' on {} and {} values: integer divisors are checked for "
                            "zero, which computes them; use the Tensor API",
                            mode, name(dtype()), name(o.dtype())));
  return Value(binary(op, node, o.node));
}

Value Value::sum(const Shape& dims, bool keepdim) const {
  Shape ds = reduction_dims(dim(), dims, "sum");
  Value r(int64_t(ds.size()) == dim() ? reduce_all(Op::Sum, node, "sum")
                                      : reduce(Op::Sum, node, ds, std::nullopt, "sum"));
  if (keepdim) return r;
  Shape kept;
  for (int64_t d = 0; d < r.dim(); ++d)
    if (std::find(ds.begin(), ds.end(), d) == ds.end()) kept.push_back(r.shape()[d]);
  return Value(view(r.node, kept));
}

Value Value::sum_to(const Shape& to) const {
  if (shape() == to) return *this;
  int64_t lead = dim() - int64_t(to.size());
  Shape dims;
  for (int64_t d = 0; d < dim(); ++d)
    if (d < lead || (to[d - lead] == 1 && size(d) != 1)) dims.push_back(d);
  Value r = dims.empty() ? *this : sum(dims, true);
  return r.reshape(to);
}

Value Value::cumsum(int64_t d) const {
  if (dim() == 0) {  // a 0-dim scan is the value itself, in the scan's dtype
    wrap_dim(d, 0, "cumsum");
    return to(is_floating(dtype()) ? dtype() : kInt64);
  }
  return Value(reduce(Op::Cumsum, node, {wrap_dim(d, dim(), "cumsum")}));
}

Value Value::reshape(const Shape& shape) const {
  Shape to = infer_shape(shape, node->numel(), "reshape");
  // Tensor::reshape: a view (a node even for the same shape) where strides allow.
  if (!layout_of(node).reshape(to)) return Value(graph::reshape(node, to));
  return Value(view(node, to));
}

Value Value::narrow(int64_t d, int64_t start, int64_t length) const {
  if (dim() == 0) throw Error("narrow: cannot be applied to a 0-dim tensor");
  d = wrap_dim(d, dim(), "narrow");
  int64_t n = shape()[d];
  if (start < -n || start > n)
    throw Error(fmt::format("narrow: start ({}) is out of range for dimension {} of size {}", start, d, n));
  if (start < 0) start += n;
  if (length < 0 || length > n - start)
    throw Error(fmt::format("narrow: start ({}) + length ({}) exceeds dimension size ({}) of shape {}", start,
                            length, n, shape_str(shape())));
  return Value(slice(node, d, start, length));
}

Value Value::flip(const Shape& dims) const {
  if (dim() == 0) {  // PyTorch flips a 0-dim tensor into a copy of itself
    for (int64_t d : dims) wrap_dim(d, 0, "flip");
    return Value(copy(node));
  }
  NodeRef v = node;
  std::vector<bool> seen(size_t(dim()), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, dim(), "flip");
    if (seen[w]) throw Error(fmt::format("flip: dim {} appears multiple times in {}", w, shape_str(dims)));
    seen[w] = true;
    if (v->shape[w] > 1) v = slice(v, w, v->shape[w] - 1, v->shape[w], -1);
  }
  return Value(copy(v));
}

namespace {
Value bin(Op op, const Operand& a, const Operand& b) { return Value(binary(op, a, b)); }
}  // namespace

Value operator-(const Value& x) { return Value(unary(Op::Neg, x.node)); }
// Scalar + t and scalar * t build t + scalar and t * scalar (Tensor's b.add(a), b.mul(a)).
Value operator+(const Value& a, const Value& b) { return bin(Op::Add, a.node, b.node); }
Value operator+(const Value& a, const Scalar& b) { return bin(Op::Add, a.node, b); }
Value operator+(const Scalar& a, const Value& b) { return bin(Op::Add, b.node, a); }
Value operator-(const Value& a, const Value& b) { return bin(Op::Sub, a.node, b.node); }
Value operator-(const Value& a, const Scalar& b) { return bin(Op::Sub, a.node, b); }
Value operator-(const Scalar& a, const Value& b) { return bin(Op::Sub, a, b.node); }
Value operator*(const Value& a, const Value& b) { return bin(Op::Mul, a.node, b.node); }
Value operator*(const Value& a, const Scalar& b) { return bin(Op::Mul, a.node, b); }
Value operator*(const Scalar& a, const Value& b) { return bin(Op::Mul, b.node, a); }
Value operator/(const Value& a, const Value& b) { return bin(Op::Div, a.node, b.node); }
Value operator/(const Value& a, const Scalar& b) { return bin(Op::Div, a.node, b); }
Value operator/(const Scalar& a, const Value& b) { return bin(Op::Div, a, b.node); }
Value operator==(const Value& a, const Value& b) { return bin(Op::Eq, a.node, b.node); }
Value operator==(const Value& a, const Scalar& b) { return bin(Op::Eq, a.node, b); }
Value operator!=(const Value& a, const Value& b) { return bin(Op::Ne, a.node, b.node); }
Value operator!=(const Value& a, const Scalar& b) { return bin(Op::Ne, a.node, b); }
Value operator<(const Value& a, const Value& b) { return bin(Op::Lt, a.node, b.node); }
Value operator<(const Value& a, const Scalar& b) { return bin(Op::Lt, a.node, b); }
Value operator<=(const Value& a, const Value& b) { return bin(Op::Le, a.node, b.node); }
Value operator<=(const Value& a, const Scalar& b) { return bin(Op::Le, a.node, b); }
Value operator>(const Value& a, const Value& b) { return bin(Op::Gt, a.node, b.node); }
Value operator>(const Value& a, const Scalar& b) { return bin(Op::Gt, a.node, b); }
Value operator>=(const Value& a, const Value& b) { return bin(Op::Ge, a.node, b.node); }
Value operator>=(const Value& a, const Scalar& b) { return bin(Op::Ge, a.node, b); }

Value where(const Value& cond, const Value& a, const Value& b) { return Value(where(cond.node, a.node, b.node)); }
Value where(const Value& cond, const Value& a, const Scalar& b) { return Value(where(cond.node, a.node, b)); }
Value where(const Value& cond, const Scalar& a, const Value& b) { return Value(where(cond.node, a, b.node)); }

}  // namespace kiln::graph
