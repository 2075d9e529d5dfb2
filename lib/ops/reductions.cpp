// Reductions over their dims (ReduceAttrs; the output keeps them as size
// 1) and the scan cumsum. Their accumulators are the backend's (ReduceOp in
// kernel/kernel.h fixes their meaning), so only gradients are defined here.
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

using graph::Value;

// Ties share the gradient evenly.
Grads extremum_gradient(const GradContext& c) {
  Value hit = (c.x(0) == c.out).to(c.g.dtype());
  return {c.g * hit / hit.sum(c.attr<ReduceAttrs>().dims, true)};
}

}  // namespace

void define_reductions(OpTable& ops) {
  ops[Op::Sum] = {.gradient = [](const GradContext& c) -> Grads { return {c.g.expand(c.input(0)->shape)}; }};

  // The product of the others, also where inputs are 0: with no zero in the
  // slice it is out / x; with one zero, only that element gets the product
  // of the rest; with more, nothing.
  ops[Op::Prod] = {.gradient = [](const GradContext& c) -> Grads {
    const Shape& dims = c.attr<ReduceAttrs>().dims;
    Value x = c.x(0);
    Value zero = x == 0;
    Value nz = zero.sum(dims, true);
    Value rest(graph::reduce(Op::Prod, where(zero, 1.0, x).node, dims, x.dtype()));
    return {c.g * where(nz == 0, c.out / x, where((nz == 1) * zero, rest, 0.0))};
  }};

  ops[Op::Amax] = {.gradient = extremum_gradient};
  ops[Op::Amin] = {.gradient = extremum_gradient};
  ops[Op::Argmax] = {.gradient = no_gradient};
  ops[Op::Argmin] = {.gradient = no_gradient};

  // cumsum's gradient is the reversed cumsum of the gradient; a scan of a
  // 0-dim value is the value.
  ops[Op::Cumsum] = {.gradient = [](const GradContext& c) -> Grads {
    if (c.node->shape.empty()) return {c.g};
    int64_t d = c.attr<ScanAttrs>().dim;
    return {c.g.flip({d}).cumsum(d).flip({d})};
  }};
}

}  // namespace kiln::ops
