// Views: index maps over their input (graph/layout.h), no computation.
// Their gradients put the gradient back where the view read it.
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

using graph::Value;

/// Gradient of a view given by `l` (over x's contiguous order): the
/// gradient written into zeros at the view's positions.
Value scatter_view(const Value& g, const NodeRef& x, const Layout& l) {
  Value src = g;
  Layout lay = l;
  // Stride-0 dims read one element many times: their gradients add up.
  Shape summed;
  for (size_t d = 0; d < lay.shape.size(); ++d)
    if (lay.strides[d] == 0 && lay.shape[d] > 1) summed.push_back(int64_t(d));
  if (!summed.empty()) {
    src = g.sum(summed, true);
    for (int64_t d : summed) lay.shape[d] = 1;
  }
  return Value(graph::view_scatter(Value::zeros(x->shape, x->dtype).node, src.node, lay));
}

}  // namespace

void define_views(OpTable& ops) {
  ops[Op::Reshape] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g.reshape(c.input(0)->shape)}; },
      .grad_fn = "ViewBackward0",
  };

  ops[Op::Permute] = {.gradient = [](const GradContext& c) -> Grads {
    const Shape& dims = c.attr<PermuteAttrs>().dims;
    Shape inv(dims.size());
    for (size_t i = 0; i < inv.size(); ++i) inv[size_t(dims[i])] = int64_t(i);
    return {c.g.permute(inv)};
  }};

  ops[Op::Expand] = {.gradient = [](const GradContext& c) -> Grads { return {c.g.sum_to(c.input(0)->shape)}; }};

  ops[Op::Slice] = {.gradient = [](const GradContext& c) -> Grads {
    const NodeRef& x = c.input(0);
    return {scatter_view(c.g, x, *graph::apply_view(Op::Slice, c.node->attrs, Layout::contiguous(x->shape)))};
  }};

  ops[Op::AsStrided] = {.gradient = [](const GradContext& c) -> Grads {
    return {scatter_view(c.g, c.input(0), c.attr<StridedAttrs>().layout())};
  }};
}

}  // namespace kiln::ops
