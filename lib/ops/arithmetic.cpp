// Arithmetic: add, sub, mul, div, pow, and the two-input float functions
// atan2, hypot, logaddexp. bool arithmetic is logic (add: or, sub: xor,
// mul: and), as PyTorch's.
#include <cmath>

#include "ops/lowering.h"
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

using graph::Value;

/// pow(x, e) for a float x and a literal e that PyTorch's
/// pow_tensor_scalar routes to cheaper kernels: x*x, x*x*x, sqrt(x),
/// 1/sqrt(x), 1/x, 1/(x*x). They differ from pow() at special inputs
/// (pow(-inf, 0.5) is inf, sqrt(-inf) NaN). -1 for other exponents.
/// float16/bfloat16 round after every step, like the same ops written out.
V pow_const(Lowering& l, V x, double e) {
  auto& b = l.b;
  auto r = [&](V v) { return l.round(v); };
  auto mul = [&](V p, V q) { return r(b.mul(p, q)); };
  auto recip = [&](V v) { return r(b.div(b.like(v, 1), v)); };
  auto sqrt = [&](V v) { return r(b.sqrt(v)); };
  if (e == 2) return mul(x, x);
  if (e == 3) return mul(mul(x, x), x);
  if (e == 0.5) return sqrt(x);
  if (e == -0.5) return recip(sqrt(x));
  if (e == -1) return recip(x);
  if (e == -2) return recip(mul(x, x));
  return -1;
}

/// Integer power by squaring over every bit of the exponent (a fixed
/// trip count: no data-dependent branch, so it vectorizes). Wraps like
/// repeated multiplication.
V int_pow(Lowering& l, V base, V e) {
  auto& b = l.b;
  V result = b.like(base, 1), sq = base;
  V one = b.like(e, 1);
  int width = l.t == kBool ? 1 : int(element_size(l.t) * 8);
  for (int n = 0; n < width; ++n) {
    V bit = b.une(b.band(e, one), b.like(e, 0));
    result = b.sel(bit, b.mul(result, sq), result);
    if (n + 1 == width) break;
    sq = b.mul(sq, sq);
    e = b.lshr(e, one);
  }
  return result;
}

/// sqrt(a^2 + b^2) without overflow or underflow; inf if either is
/// infinite (even with a NaN), as C's hypot. float32 (and half) in
/// float64, where the squares cannot overflow: within 1 ulp of the
/// correctly rounded result; float64 as m sqrt(1 + (n/m)^2), m = max(|a|,
/// |b|), n = min (within 2 ulp).
V hypot(Lowering& l, V a, V bb) {
  auto& b = l.b;
  V ax = b.abs(a), bx = b.abs(bb);
  V inf = b.like(a, INFINITY), zero = b.like(a, 0);
  V any_inf = b.bor(b.oeq(ax, inf), b.oeq(bx, inf));
  if (b.type(a) == kFloat32) {
    // The float64 squares are exact, their sum and root rounded once each.
    V x = b.cast(a, kFloat64), y = b.cast(bb, kFloat64);
    V h = b.cast(b.sqrt(b.fma(x, x, b.mul(y, y))), kFloat32);
    return b.sel(any_inf, inf, h);
  }
  V a_big = b.ogt(ax, bx);
  V m = b.sel(a_big, ax, bx), n = b.sel(a_big, bx, ax);
  V q = b.div(n, m);
  V res = b.mul(m, b.sqrt(b.fma(q, q, b.like(a, 1))));
  res = b.sel(b.oeq(m, zero), zero, res);
  return b.sel(any_inf, inf, res);
}

/// log(e^a + e^b) as PyTorch's CPU kernel: max(a, b) + log1p(e^-|a - b|),
/// and a itself when a == b is infinite.
V logaddexp(Lowering& l, V a, V bb) {
  auto& b = l.b;
  V m = b.sel(b.olt(a, bb), bb, a);
  V e = l.transcendental(Op::Exp, b.neg(b.abs(b.sub(a, bb))));
  V res = b.add(m, l.transcendental(Op::Log1p, e));
  V same_inf = b.band(b.oeq(b.abs(a), b.like(a, INFINITY)), b.oeq(a, bb));
  return b.sel(same_inf, a, res);
}

}  // namespace

void define_arithmetic(OpTable& ops) {
  ops[Op::Add] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g, c.g}; },
      .decompose =
          [](Lowering& l) { return l.t == kBool ? l.b.bor(l.a(), l.bx()) : l.round(l.b.add(l.a(), l.bx())); },
  };

  ops[Op::Sub] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g, -c.g}; },
      .decompose =
          [](Lowering& l) { return l.t == kBool ? l.b.bxor(l.a(), l.bx()) : l.round(l.b.sub(l.a(), l.bx())); },
  };

  ops[Op::Mul] = {
      .gradient = [](const GradContext& c) -> Grads { return {c.g * c.x(1), c.g * c.x(0)}; },
      .decompose =
          [](Lowering& l) { return l.t == kBool ? l.b.band(l.a(), l.bx()) : l.round(l.b.mul(l.a(), l.bx())); },
  };

  // True division (floats only: FloatMath).
  ops[Op::Div] = {
      .gradient = [](const GradContext& c) -> Grads {
        return {c.g / c.x(1), -c.g * c.x(0) / (c.x(1) * c.x(1))};
      },
      .decompose = [](Lowering& l) { return l.round(l.b.div(l.a(), l.bx())); },
  };

  // pow: integers by squaring; floats by pow_const for PyTorch's special
  // exponents, else the backend's pow.
  ops[Op::Pow] = {
      .gradient = [](const GradContext& c) -> Grads {
        // d/da a^b = b a^(b-1) (0 where b == 0); d/db = a^b log a (0 where a == 0, b >= 0).
        Value a = c.x(0), e = c.x(1);
        return {where(e == 0, 0.0, c.g * e * a.pow(e - 1)), where((a == 0) * (e >= 0), 0.0, c.g * c.out * a.log())};
      },
      .decompose =
          [](Lowering& l) {
            if (!l.fl) return int_pow(l, l.a(), l.bx());
            const Instr& e = l.operand(1);
            if (e.kind == Instr::Kind::Const && e.param < 0)
              if (V v = pow_const(l, l.a(), e.value.to_double()); v >= 0) return v;
            return l.round(l.native(Op::Pow, l.rt, {l.a(), l.bx()}));
          },
  };

  ops[Op::Atan2] = {
      .gradient = [](const GradContext& c) -> Grads {
        Value d = c.x(0) * c.x(0) + c.x(1) * c.x(1);
        return {c.g * c.x(1) / d, -c.g * c.x(0) / d};
      },
      .decompose = [](Lowering& l) { return l.round(l.native(Op::Atan2, l.rt, {l.a(), l.bx()})); },
  };

  // hypot(a, b) = sqrt(a^2 + b^2) without overflow; inf wins over NaN.
  ops[Op::Hypot] = {
      .gradient = [](const GradContext& c) -> Grads {
        return {c.g * c.x(0) / c.out, c.g * c.x(1) / c.out};  // NaN at (0, 0), as PyTorch
      },
      .decompose = [](Lowering& l) { return l.round(hypot(l, l.a(), l.bx())); },
  };

  // logaddexp(a, b) = log(e^a + e^b) without overflow.
  ops[Op::LogAddExp] = {
      .gradient = [](const GradContext& c) -> Grads {
        // d/da = e^a / (e^a + e^b), written as PyTorch does.
        return {c.g / ((c.x(1) - c.x(0)).exp() + 1), c.g / ((c.x(0) - c.x(1)).exp() + 1)};
      },
      .decompose = [](Lowering& l) { return l.round(logaddexp(l, l.a(), l.bx())); },
  };
}

}  // namespace kiln::ops
