// Free functions and operators: thin forwards to the Tensor methods.
#include "kiln/ops.h"

#include "graph/builders.h"
#include "tensor/tensor_impl.h"

namespace kiln {

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) { return a.add(b, alpha); }
Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha) { return a.add(b, alpha); }
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) { return a.sub(b, alpha); }
Tensor sub(const Tensor& a, const Scalar& b, const Scalar& alpha) { return a.sub(b, alpha); }
Tensor mul(const Tensor& a, const Tensor& b) { return a.mul(b); }
Tensor mul(const Tensor& a, const Scalar& b) { return a.mul(b); }
Tensor div(const Tensor& a, const Tensor& b) { return a.div(b); }
Tensor div(const Tensor& a, const Scalar& b) { return a.div(b); }
Tensor pow(const Tensor& a, const Tensor& e) { return a.pow(e); }
Tensor pow(const Tensor& a, const Scalar& e) { return a.pow(e); }
Tensor pow(const Scalar& a, const Tensor& e) { return wrap(graph::binary(Op::Pow, a, node_of(e))); }
Tensor maximum(const Tensor& a, const Tensor& b) { return a.maximum(b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return a.minimum(b); }
Tensor eq(const Tensor& a, const Tensor& b) { return a.eq(b); }
Tensor ne(const Tensor& a, const Tensor& b) { return a.ne(b); }
Tensor lt(const Tensor& a, const Tensor& b) { return a.lt(b); }
Tensor le(const Tensor& a, const Tensor& b) { return a.le(b); }
Tensor gt(const Tensor& a, const Tensor& b) { return a.gt(b); }
Tensor ge(const Tensor& a, const Tensor& b) { return a.ge(b); }
Tensor eq(const Tensor& a, const Scalar& b) { return a.eq(b); }
Tensor ne(const Tensor& a, const Scalar& b) { return a.ne(b); }
Tensor lt(const Tensor& a, const Scalar& b) { return a.lt(b); }
Tensor le(const Tensor& a, const Scalar& b) { return a.le(b); }
Tensor gt(const Tensor& a, const Scalar& b) { return a.gt(b); }
Tensor ge(const Tensor& a, const Scalar& b) { return a.ge(b); }
Tensor where(const Tensor& c, const Tensor& a, const Tensor& b) {
  return wrap(graph::where(node_of(c), node_of(a), node_of(b)));
}
Tensor where(const Tensor& c, const Tensor& a, const Scalar& b) {
  return wrap(graph::where(node_of(c), node_of(a), b));
}
Tensor where(const Tensor& c, const Scalar& a, const Tensor& b) {
  return wrap(graph::where(node_of(c), a, node_of(b)));
}
Tensor clamp(const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) { return x.clamp(lo, hi); }
Tensor clamp(const Tensor& x, const std::optional<Tensor>& lo, const std::optional<Tensor>& hi) {
  return x.clamp(lo, hi);
}
Tensor neg(const Tensor& x) { return x.neg(); }
Tensor abs(const Tensor& x) { return x.abs(); }
Tensor sqrt(const Tensor& x) { return x.sqrt(); }
Tensor exp(const Tensor& x) { return x.exp(); }
Tensor log(const Tensor& x) { return x.log(); }
Tensor sin(const Tensor& x) { return x.sin(); }
Tensor cos(const Tensor& x) { return x.cos(); }
Tensor tan(const Tensor& x) { return x.tan(); }
Tensor tanh(const Tensor& x) { return x.tanh(); }
Tensor sigmoid(const Tensor& x) { return x.sigmoid(); }
Tensor relu(const Tensor& x) { return x.relu(); }

Tensor reshape(const Tensor& x, const Shape& s) { return x.reshape(s); }
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) { return x.transpose(d0, d1); }
Tensor t(const Tensor& x) { return x.t(); }
Tensor permute(const Tensor& x, const Shape& dims) { return x.permute(dims); }
Tensor expand(const Tensor& x, const Shape& s) { return x.expand(s); }
Tensor unsqueeze(const Tensor& x, int64_t d) { return x.unsqueeze(d); }
Tensor squeeze(const Tensor& x) { return x.squeeze(); }
Tensor squeeze(const Tensor& x, int64_t d) { return x.squeeze(d); }
Tensor flatten(const Tensor& x, int64_t s, int64_t e) { return x.flatten(s, e); }
Tensor contiguous(const Tensor& x) { return x.contiguous(); }
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) { return graph::broadcast(a, b, op); }

Tensor operator-(const Tensor& x) { return x.neg(); }
Tensor operator+(const Tensor& a, const Tensor& b) { return a.add(b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return a.add(b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return b.add(a); }
Tensor operator-(const Tensor& a, const Tensor& b) { return a.sub(b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return a.sub(b); }
Tensor operator-(const Scalar& a, const Tensor& b) { return wrap(graph::binary(Op::Sub, a, node_of(b))); }
Tensor operator*(const Tensor& a, const Tensor& b) { return a.mul(b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return a.mul(b); }
Tensor operator*(const Scalar& a, const Tensor& b) { return b.mul(a); }
Tensor operator/(const Tensor& a, const Tensor& b) { return a.div(b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return a.div(b); }
Tensor operator/(const Scalar& a, const Tensor& b) { return wrap(graph::binary(Op::Div, a, node_of(b))); }
Tensor operator%(const Tensor& a, const Tensor& b) { return a.remainder(b); }
Tensor operator%(const Tensor& a, const Scalar& b) { return a.remainder(b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return a.eq(b); }
Tensor operator==(const Tensor& a, const Scalar& b) { return a.eq(b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return a.ne(b); }
Tensor operator!=(const Tensor& a, const Scalar& b) { return a.ne(b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return a.lt(b); }
Tensor operator<(const Tensor& a, const Scalar& b) { return a.lt(b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return a.le(b); }
Tensor operator<=(const Tensor& a, const Scalar& b) { return a.le(b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return a.gt(b); }
Tensor operator>(const Tensor& a, const Scalar& b) { return a.gt(b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return a.ge(b); }
Tensor operator>=(const Tensor& a, const Scalar& b) { return a.ge(b); }

}  // namespace kiln
