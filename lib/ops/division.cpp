// The division family: remainder (the sign of the divisor, Python's %),
// fmod (the sign of the dividend, C's), floor_divide and trunc_divide
// (div with rounding_mode "floor" / "trunc"), with PyTorch's CPU results on
// floats and integers.
#include "ops/lowering.h"
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

/// Floats, as PyTorch's CPU kernels. fmod is C's (the backend's, exact);
/// remainder adds the divisor when the signs differ; floor_divide is c10's
/// div_floor_floating (b == 0: a/b; else (a - fmod(a, b))/b, minus 1 when
/// the signs differ, rounded to the nearest integer; a zero quotient gets
/// the sign of a/b). trunc_divide truncates a/b rounded to the dtype (as
/// PyTorch's vectorized float16/bfloat16 path does).
V float_division(Lowering& l, Op op, V a, V bb) {
  auto& b = l.b;
  auto c = [&](double v) { return b.like(a, v); };
  if (op == Op::TruncDiv) return b.trunc(l.round(b.div(a, bb)));
  V m = l.native(Op::Fmod, b.type(a), {a, bb});
  if (op == Op::Fmod) return l.round(m);
  // (m != 0) && ((b < 0) != (m < 0)), as in C (NaN != 0 is true).
  V differ = b.band(b.une(m, c(0)), b.bxor(b.olt(bb, c(0)), b.olt(m, c(0))));
  if (op == Op::Remainder) return l.round(b.sel(differ, b.add(m, bb), m));
  V q = b.div(a, bb);
  V d = b.div(b.sub(a, m), bb);
  d = b.sel(differ, b.sub(d, c(1)), d);
  V fl = b.floor(d);
  fl = b.sel(b.ogt(b.sub(d, fl), c(0.5)), b.add(fl, c(1)), fl);
  V r = b.sel(b.une(d, c(0)), fl, b.copysign(c(0), q));
  return l.round(b.sel(b.oeq(bb, c(0)), q, r));
}

/// Integers; uint8 and bool unsigned. A divisor of 0 never gets here (the
/// API raises ZeroDivisionError) but must not trap: it and -1 (INT_MIN / -1
/// overflows; x86 traps) divide by 1 instead, and -1 gives -a and 0
/// (wrapping, as PyTorch's int8/int16 results).
V int_division(Lowering& l, Op op, V a, V bb) {
  auto& b = l.b;
  V z = b.like(a, 0), one = b.like(a, 1);
  if (!is_signed(l.t)) {
    V bs = b.sel(b.oeq(bb, z), one, bb);
    return op == Op::Remainder || op == Op::Fmod ? b.irem(a, bs) : b.idiv(a, bs);
  }
  V minus1 = b.oeq(bb, b.like(a, -1));
  V bs = b.sel(b.bor(b.oeq(bb, z), minus1), one, bb);
  V r = b.irem(a, bs);  // 0 for b = -1 too
  V q = b.sel(minus1, b.sub(z, a), b.idiv(a, bs));
  if (op == Op::Fmod) return r;
  if (op == Op::TruncDiv) return q;
  V differ = b.band(b.une(r, z), b.bxor(b.olt(r, z), b.olt(bb, z)));
  if (op == Op::Remainder) return b.sel(differ, b.add(r, bb), r);
  return b.sel(differ, b.sub(q, one), q);  // FloorDiv
}

V division(Lowering& l) {
  Op op = l.instr().op;
  return l.fl ? float_division(l, op, l.a(), l.bx()) : int_division(l, op, l.a(), l.bx());
}

Grads zero_gradients(const GradContext& c) { return {c.g.zeros_like(), c.g.zeros_like()}; }

}  // namespace

void define_division(OpTable& ops) {
  ops[Op::Remainder] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g, -c.g * c.x(0).div(c.x(1), "floor")}; },
      .decompose = division,
  };
  ops[Op::Fmod] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g, -c.g * c.x(0).div(c.x(1), "trunc")}; },
      .decompose = division,
  };
  ops[Op::FloorDiv] = {.gradient = zero_gradients, .decompose = division};
  ops[Op::TruncDiv] = {.gradient = zero_gradients, .decompose = division};
}

}  // namespace kiln::ops
