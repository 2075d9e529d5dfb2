// The transcendental ops: exp, log, sin, cos, tan, tanh, exp2, log2, log1p,
// expm1, erf, and sigmoid. Each is the backend's where it declares it
// native, else the shared float32 expansion (kernel/decompose_math.cpp);
// float16/bfloat16 compute in float32 and round once.
#include <cmath>

#include "ops/lowering.h"
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

V transcendental(Lowering& l) { return l.round(l.transcendental(l.instr().op, l.a())); }

}  // namespace

void define_transcendental(OpTable& ops) {
  auto def = [&](Op op, Grads (*gradient)(const GradContext&)) {
    ops[op] = {.gradient = gradient, .decompose = transcendental};
  };
  def(Op::Exp, [](const GradContext& c) -> Grads { return {c.g * c.out}; });
  def(Op::Log, [](const GradContext& c) -> Grads { return {c.g / c.x(0)}; });
  def(Op::Sin, [](const GradContext& c) -> Grads { return {c.g * c.x(0).cos()}; });
  def(Op::Cos, [](const GradContext& c) -> Grads { return {-c.g * c.x(0).sin()}; });
  def(Op::Tan, [](const GradContext& c) -> Grads { return {c.g * (1 + c.out * c.out)}; });
  def(Op::Tanh, [](const GradContext& c) -> Grads { return {c.g * (1 - c.out * c.out)}; });
  def(Op::Exp2, [](const GradContext& c) -> Grads { return {c.g * c.out * M_LN2}; });
  def(Op::Log2, [](const GradContext& c) -> Grads { return {c.g / (c.x(0) * M_LN2)}; });
  def(Op::Log1p, [](const GradContext& c) -> Grads { return {c.g / (c.x(0) + 1)}; });
  def(Op::Expm1, [](const GradContext& c) -> Grads { return {c.g * (c.out + 1)}; });
  def(Op::Erf, [](const GradContext& c) -> Grads {
    return {c.g * (2 / std::sqrt(M_PI)) * (-c.x(0) * c.x(0)).exp()};
  });

  // sigmoid(x) = 1 / (1 + e^-x).
  ops[Op::Sigmoid] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g * c.out * (1 - c.out)}; },
      .decompose =
          [](Lowering& l) {
            V one = l.b.like(l.a(), 1);
            V e = l.transcendental(Op::Exp, l.b.neg(l.a()));
            return l.round(l.b.div(one, l.b.add(one, e)));
          },
  };
}

}  // namespace kiln::ops
