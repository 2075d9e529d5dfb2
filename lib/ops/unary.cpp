// One-input ops that are exact: neg, abs, relu, sign, logical_not, the
// roundings (integers never reach them: IntIdentity), and sqrt (correctly
// rounded everywhere).
#include "ops/lowering.h"
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

Grads zero_gradient(const GradContext& c) { return {c.g.zeros_like()}; }

// floor, ceil, round (half to even), trunc: the backend's instruction.
V rounding(Lowering& l) { return l.fl ? l.b.op(l.instr().op, l.rt, {l.a()}) : l.a(); }

}  // namespace

void define_unary(OpTable& ops) {
  ops[Op::Neg] = {
      .gradient = [](const GradContext& c) -> Grads { return {-c.g}; },
      .decompose = [](Lowering& l) { return l.fl ? l.b.neg(l.a()) : l.b.sub(l.b.like(l.a(), 0), l.a()); },
  };

  ops[Op::Abs] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g * c.x(0).sign()}; },
      .decompose =
          [](Lowering& l) {
            V a = l.a();
            if (l.fl) return l.b.abs(a);
            if (!is_signed(l.t)) return a;
            return l.b.sel(l.b.olt(a, l.b.like(a, 0)), l.b.sub(l.b.like(a, 0), a), a);
          },
  };

  // relu(x) = x <= 0 ? 0 : x; an ordered compare leaves NaN alone.
  ops[Op::Relu] = {
      .gradient = [](const GradContext& c) -> Grads { return {where(c.out > 0, c.g, 0.0)}; },  // relu'(0) = 0
      .decompose =
          [](Lowering& l) {
            V a = l.a();
            return l.b.sel(l.b.ole(a, l.b.like(a, 0)), l.b.like(a, 0), a);
          },
  };

  // sign: -1, 0 or 1 (NaN: 0); bool: itself.
  ops[Op::Sign] = {
      .gradient = zero_gradient,
      .decompose =
          [](Lowering& l) {
            V a = l.a();
            if (l.t == kBool) return a;
            V z = l.b.like(a, 0);
            if (!l.fl && !is_signed(l.t)) return l.b.sel(l.b.une(a, z), l.b.like(a, 1), z);
            V pos = l.b.ogt(a, z);
            return l.b.sel(pos, l.b.like(a, 1), l.b.sel(l.b.olt(a, z), l.b.like(a, -1), z));
          },
  };

  ops[Op::LogicalNot] = {
      .gradient = no_gradient,
      .decompose =
          [](Lowering& l) { return l.t == kBool ? l.b.lnot(l.a()) : l.b.oeq(l.a(), l.b.like(l.a(), 0)); },
  };

  // The result of a float16/bfloat16 value is representable: no rounding.
  for (Op op : {Op::Floor, Op::Ceil, Op::Round, Op::Trunc}) ops[op] = {.gradient = zero_gradient, .decompose = rounding};

  ops[Op::Sqrt] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g / (2 * c.out)}; },
      .decompose = [](Lowering& l) { return l.round(l.b.sqrt(l.a())); },
  };
}

}  // namespace kiln::ops
