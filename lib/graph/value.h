#pragma once
// Value: a node read like a kiln::Tensor, for code that writes formulas on
// the graph itself (the gradient rules). Its operators and methods call the
// builders with the conventions the Tensor API adds on top of them, so the
// same formula builds the same nodes either way: scalars promote as Python
// numbers, a scalar on the left of + and * becomes the right operand (as in
// `2 * t` = `t.mul(2)`), reshape is a view where strides allow, and a large
// reduction over every dim folds in two stages.
//
// It lives in the graph layer, not in autodiff, because nothing in it is
// about gradients: it only composes builders, and any graph-to-graph code
// may write with it. Unlike the Tensor API it never computes anything, not
// even a graph grown deep (realizing is the frontend's decision), and it
// tracks no views: values are immutable.
#include <string>

#include "graph/builders.h"

namespace kiln::graph {

struct Value {
  NodeRef node;  // null: no value (a gradient that does not exist)

  Value() = default;
  explicit Value(NodeRef n) : node(std::move(n)) {}
  /// A constant `value` of `shape` and `dtype`.
  static Value full(const Scalar& value, DType dtype, const Shape& shape);
  static Value zeros(const Shape& shape, DType dtype) { return full(0, dtype, shape); }

  bool defined() const { return node != nullptr; }
  DType dtype() const { return node->dtype; }
  const Shape& shape() const { return node->shape; }
  int64_t dim() const { return int64_t(node->shape.size()); }
  int64_t size(int64_t d) const;

  Value to(DType t) const { return Value(cast(node, t)); }
  Value zeros_like() const { return zeros(shape(), dtype()); }

  Value sign() const { return Value(unary(Op::Sign, node)); }
  Value exp() const { return Value(unary(Op::Exp, node)); }
  Value log() const { return Value(unary(Op::Log, node)); }
  Value sin() const { return Value(unary(Op::Sin, node)); }
  Value cos() const { return Value(unary(Op::Cos, node)); }
  Value pow(const Value& e) const { return Value(binary(Op::Pow, node, e.node)); }
  /// Division rounded by `mode` ("floor" or "trunc"). Floating only: the
  /// Tensor API checks integer divisors for zero, which computes them.
  Value div(const Value& o, const std::string& mode) const;

  /// Sum over `dims` (none: all), as Tensor::sum(dims, keepdim).
  Value sum(const Shape& dims, bool keepdim) const;
  /// The sum back to `shape`, a shape this one was broadcast from
  /// (PyTorch's sum_to_size): how a broadcast operand's gradient arrives.
  Value sum_to(const Shape& shape) const;
  Value cumsum(int64_t dim) const;
  Value reshape(const Shape& shape) const;
  Value expand(const Shape& shape) const { return Value(graph::expand(node, shape)); }
  Value permute(const Shape& dims) const { return Value(graph::permute(node, dims)); }
  Value narrow(int64_t dim, int64_t start, int64_t length) const;
  /// A copy with the order of `dims` reversed.
  Value flip(const Shape& dims) const;
};

Value operator-(const Value& x);
Value operator+(const Value& a, const Value& b);
Value operator+(const Value& a, const Scalar& b);
Value operator+(const Scalar& a, const Value& b);
Value operator-(const Value& a, const Value& b);
Value operator-(const Value& a, const Scalar& b);
Value operator-(const Scalar& a, const Value& b);
Value operator*(const Value& a, const Value& b);
Value operator*(const Value& a, const Scalar& b);
Value operator*(const Scalar& a, const Value& b);
Value operator/(const Value& a, const Value& b);
Value operator/(const Value& a, const Scalar& b);
Value operator/(const Scalar& a, const Value& b);
Value operator==(const Value& a, const Value& b);
Value operator==(const Value& a, const Scalar& b);
Value operator!=(const Value& a, const Value& b);
Value operator!=(const Value& a, const Scalar& b);
Value operator<(const Value& a, const Value& b);
Value operator<(const Value& a, const Scalar& b);
Value operator<=(const Value& a, const Value& b);
Value operator<=(const Value& a, const Scalar& b);
Value operator>(const Value& a, const Value& b);
Value operator>(const Value& a, const Scalar& b);
Value operator>=(const Value& a, const Value& b);
Value operator>=(const Value& a, const Scalar& b);

Value where(const Value& cond, const Value& a, const Value& b);
Value where(const Value& cond, const Value& a, const Scalar& b);
Value where(const Value& cond, const Scalar& a, const Value& b);

}  // namespace kiln::graph
