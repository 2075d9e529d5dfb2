// Writes: a new value equal to input 0 except where it is overwritten
// (view_scatter, index_put), side by side (cat), and the indexed read
// (index). Their gradients read back, or write, the same positions.
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

using graph::Value;

}  // namespace

void define_writes(OpTable& ops) {
  // view_scatter(base, src): src written at the view (as in as_strided).
  ops[Op::ViewScatter] = {
      .gradient = [](const GradContext& c) -> Grads {
        Layout l = c.attr<StridedAttrs>().layout();
        return {Value(graph::view_scatter(c.g.node, Value::zeros(l.shape, c.g.dtype()).node, l)),
                Value(graph::as_strided(c.g.node, l))};
      },
      .grad_fn = "CopySlices",
  };

  ops[Op::Cat] = {.gradient = [](const GradContext& c) -> Grads {
    const auto& in = c.node->inputs;
    int64_t d = c.attr<CatAttrs>().dim, start = 0;
    Grads r(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      r[i] = c.g.narrow(d, start, in[i]->shape[d]);
      start += in[i]->shape[d];
    }
    return r;
  }};

  // Every read element gets the gradient of what it was read into.
  ops[Op::Index] = {.gradient = [](const GradContext& c) -> Grads {
    const auto& [map, sel] = c.attr<IndexAttrs>();
    const auto& in = c.node->inputs;
    std::vector<NodeRef> idx(in.begin() + 1, in.end());
    return {Value(graph::index_put(Value::zeros(in[0]->shape, in[0]->dtype).node, c.g.node, idx, map, sel, true))};
  }};

  // index_put(base, value, idx...): the base keeps its gradient except where
  // it was overwritten; the value gets what was written.
  ops[Op::IndexPut] = {.gradient = [](const GradContext& c) -> Grads {
    const auto& [map, sel, accumulate] = c.attr<IndexPutAttrs>();
    const auto& in = c.node->inputs;
    std::vector<NodeRef> idx(in.begin() + 2, in.end());
    Value base = accumulate ? c.g
                            : Value(graph::index_put(c.g.node, Value::zeros(in[1]->shape, c.g.dtype()).node, idx,
                                                     map, sel, false));
    return {base, Value(graph::index(c.g.node, idx, map, sel, in[1]->shape))};
  }};
}

}  // namespace kiln::ops
