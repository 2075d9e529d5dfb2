// The elementwise ops beyond the basic set: rounding, special functions and
// the integer-division family (whose division by zero is an error).
#include <fmt/format.h>

#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {

Tensor unary(Op op, const Tensor& x) { return wrap(graph::unary(op, node_of(x, op_name(op)))); }
Tensor binary_op(Op op, const graph::Operand& a, const graph::Operand& b) { return wrap(graph::binary(op, a, b)); }

// Integer division by zero has no value (PyTorch raises): check the divisor
// now, which computes it when it is a tensor.
void check_int_divisor(const char* op, const graph::Operand& a, const graph::Operand& b) {
  if (is_floating(graph::result_type({a, b}))) return;
  bool zero = b.node ? !Tensor(std::make_shared<TensorImpl>(b.node)).ne(0).all().item<bool>()
                     : b.scalar->to_double() == 0;
  if (zero) throw Error(fmt::format("{}: integer division by zero (ZeroDivisionError)", op));
}

Tensor int_div_family(Op op, const char* name, const graph::Operand& a, const graph::Operand& b) {
  check_int_divisor(name, a, b);
  return binary_op(op, a, b);
}

}  // namespace

Tensor Tensor::rsqrt() const { return 1 / sqrt(); }
Tensor Tensor::reciprocal() const { return 1 / *this; }
Tensor Tensor::square() const { return *this * *this; }
Tensor Tensor::exp2() const { return unary(Op::Exp2, *this); }
Tensor Tensor::log2() const { return unary(Op::Log2, *this); }
Tensor Tensor::log1p() const { return unary(Op::Log1p, *this); }
Tensor Tensor::expm1() const { return unary(Op::Expm1, *this); }
Tensor Tensor::erf() const { return unary(Op::Erf, *this); }
Tensor Tensor::sign() const { return unary(Op::Sign, *this); }
Tensor Tensor::floor() const { return unary(Op::Floor, *this); }
Tensor Tensor::ceil() const { return unary(Op::Ceil, *this); }
Tensor Tensor::round() const { return unary(Op::Round, *this); }
Tensor Tensor::trunc() const { return unary(Op::Trunc, *this); }
Tensor Tensor::atan2(const Tensor& o) const { return binary_op(Op::Atan2, node_of(*this), node_of(o)); }
Tensor Tensor::hypot(const Tensor& o) const { return binary_op(Op::Hypot, node_of(*this), node_of(o)); }
Tensor Tensor::logaddexp(const Tensor& o) const { return binary_op(Op::LogAddExp, node_of(*this), node_of(o)); }
Tensor Tensor::remainder(const Tensor& o) const {
  return int_div_family(Op::Remainder, "remainder", node_of(*this), node_of(o));
}
Tensor Tensor::remainder(const Scalar& o) const { return int_div_family(Op::Remainder, "remainder", node_of(*this), o); }
Tensor Tensor::fmod(const Tensor& o) const { return int_div_family(Op::Fmod, "fmod", node_of(*this), node_of(o)); }
Tensor Tensor::fmod(const Scalar& o) const { return int_div_family(Op::Fmod, "fmod", node_of(*this), o); }

namespace {
Op rounding_op(const std::string& mode) {
  if (mode == "floor") return Op::FloorDiv;
  if (mode == "trunc") return Op::TruncDiv;
  throw Error(fmt::format("div: expected rounding_mode to be one of 'trunc', 'floor' or none, but found '{}'", mode));
}
}  // namespace

Tensor Tensor::div(const Tensor& o, const std::string& mode) const {
  if (mode.empty()) return div(o);
  return int_div_family(rounding_op(mode), "div", node_of(*this), node_of(o));
}
Tensor Tensor::div(const Scalar& o, const std::string& mode) const {
  if (mode.empty()) return div(o);
  return int_div_family(rounding_op(mode), "div", node_of(*this), o);
}

Tensor rsqrt(const Tensor& x) { return x.rsqrt(); }
Tensor reciprocal(const Tensor& x) { return x.reciprocal(); }
Tensor square(const Tensor& x) { return x.square(); }
Tensor exp2(const Tensor& x) { return x.exp2(); }
Tensor log2(const Tensor& x) { return x.log2(); }
Tensor log1p(const Tensor& x) { return x.log1p(); }
Tensor expm1(const Tensor& x) { return x.expm1(); }
Tensor erf(const Tensor& x) { return x.erf(); }
Tensor sign(const Tensor& x) { return x.sign(); }
Tensor floor(const Tensor& x) { return x.floor(); }
Tensor ceil(const Tensor& x) { return x.ceil(); }
Tensor round(const Tensor& x) { return x.round(); }
Tensor trunc(const Tensor& x) { return x.trunc(); }
Tensor atan2(const Tensor& a, const Tensor& b) { return a.atan2(b); }
Tensor hypot(const Tensor& a, const Tensor& b) { return a.hypot(b); }
Tensor logaddexp(const Tensor& a, const Tensor& b) { return a.logaddexp(b); }
Tensor remainder(const Tensor& a, const Tensor& b) { return a.remainder(b); }
Tensor remainder(const Tensor& a, const Scalar& b) { return a.remainder(b); }
Tensor fmod(const Tensor& a, const Tensor& b) { return a.fmod(b); }
Tensor fmod(const Tensor& a, const Scalar& b) { return a.fmod(b); }
Tensor div(const Tensor& a, const Tensor& b, const std::string& m) { return a.div(b, m); }
Tensor div(const Tensor& a, const Scalar& b, const std::string& m) { return a.div(b, m); }

}  // namespace kiln
