// Leaves and the ops that move a value unchanged: buffer, full, cast, copy,
// detach.
#include "ops/lowering.h"
#include "ops/op_def.h"

namespace kiln::ops {

void define_plumbing(OpTable& ops) {
  ops[Op::Buffer] = {.gradient = no_gradient};
  ops[Op::Full] = {.gradient = no_gradient};

  // cast: to the node's dtype, with PyTorch's conversions (Lowering::cast).
  ops[Op::Cast] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g.to(c.input(0)->dtype)}; },
      .grad_fn = "ToBackward0",
      .decompose = [](Lowering& l) { return l.cast(l.a(), l.t, l.out); },
  };

  // copy: materializes a layout.
  ops[Op::Copy] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g}; },
      .grad_fn = "CloneBackward0",
      .decompose = [](Lowering& l) { return l.a(); },
  };

  // detach: the same value without a gradient (a view; its node never
  // requires grad, so the rule is only reached through create_graph'd
  // copies of it).
  ops[Op::Detach] = {.gradient = [](const GradContext& c) -> Grads { return {c.g}; }};
}

}  // namespace kiln::ops
