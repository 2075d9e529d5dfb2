// Random values: rand, randn. A node is a leaf (seed and offset are its
// attributes); a kernel that reads it computes each element from its
// position p in the node's contiguous order: Philox4x32-10 block
// (offset + p) under the key `seed`, then a uniform or normal value,
// exactly as kernel/philox.h states it one element at a time.
//
// The counter arithmetic is on int64 registers holding 32-bit words: the
// product of two words fits 64 bits (its bits are the unsigned product's,
// which is what LLVM turns into vpmuludq), its high word a logical shift.
// randn is Box-Muller in float64, with its own log and cos (below) rather
// than a backend's, so every backend computes the same bits. They are
// within 1 and 2 ulp of glibc's, so float32 (float16, bfloat16) values are
// the C library's (no difference in 20M draws), and float64 values within
// 4 ulp of them.
#include <array>
#include <cmath>
#include <initializer_list>

#include "kernel/philox.h"
#include "ops/lowering.h"
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

using decomp::Builder;

struct F64 {
  Builder& b;
  V c(double v) { return b.c(kFloat64, v); }
  V i(int64_t v) { return b.bits_const(kInt64, uint64_t(v)); }

  /// log(u) for u in [2^-53, 1] (normal, positive): FreeBSD's e_log.c
  /// scheme (< 1 ulp), its polynomials as fma. u = 2^k (1 + f), 1 + f in
  /// [sqrt(2)/2, sqrt(2)), s = f / (2 + f), log(1 + f) = f - hfsq +
  /// s (hfsq + R(s^2)), hfsq = f^2 / 2.
  V log(V u) {
    V ix = b.bitcast(u, kInt64);
    V hx = b.add(b.lshr(ix, i(32)), i(0x3ff00000 - 0x3fe6a09e));
    V k = b.sub(b.lshr(hx, i(20)), i(0x3ff));
    hx = b.add(b.band(hx, i(0x000fffff)), i(0x3fe6a09e));
    V x = b.bitcast(b.bor(b.shl(hx, i(32)), b.band(ix, i(0xffffffff))), kFloat64);
    V f = b.sub(x, c(1.0));
    V hfsq = b.mul(b.mul(c(0.5), f), f);
    V s = b.div(f, b.add(c(2.0), f));
    V z = b.mul(s, s), w = b.mul(z, z);
    V t1 = b.mul(w, horner(w, {1.531383769920937332e-01, 2.222219843214978396e-01, 3.999999999940941908e-01}));
    V t2 = b.mul(z, horner(w, {1.479819860511658591e-01, 1.818357216161805012e-01, 2.857142874366239149e-01,
                               6.666666666666735130e-01}));
    V dk = b.cast(k, kFloat64);
    V lo = b.fma(s, b.add(hfsq, b.add(t2, t1)), b.mul(dk, c(1.90821492927058770002e-10)));
    // (dk ln2_hi is exact: ln2_hi has 32 bits, so the fma rounds as an add.)
    return b.fma(dk, c(6.93147180369123816490e-01), b.add(b.sub(lo, hfsq), f));
  }

  /// cos(x) for x in [0, 2 pi), within 2 ulp: cos(x) = (-1)^(m+1) sin(y)
  /// with y = x - (m + 1/2) pi in [-pi/2, pi/2], m = floor(x / pi),
  /// reduced by pi in three double pieces, each step one fma (exact where
  /// y is small, so the zeros of cos keep their relative accuracy); sin(y)
  /// = y + y z Q(z), z = y^2, by its Taylor series to y^23 (the next term
  /// is below 1e-20): one polynomial for every quadrant, so it vectorizes
  /// without selecting between two.
  V cos(V x) {
    V m = b.floor(b.mul(x, c(0.31830988618379067154)));
    V minus_h = b.neg(b.add(m, c(0.5)));
    V y = b.fma(minus_h, c(3.141592653589793), x);
    y = b.fma(minus_h, c(1.2246467991473532e-16), y);
    y = b.fma(minus_h, c(-2.9947698097183397e-33), y);
    V z = b.mul(y, y);
    V q = horner(z, {-3.868170170630684e-23, 1.9572941063391263e-20, -8.22063524662433e-18, 2.8114572543455206e-15,
                     -7.647163731819816e-13, 1.6059043836821613e-10, -2.505210838544172e-08, 2.7557319223985893e-06,
                     -0.0001984126984126984, 0.008333333333333333, -0.16666666666666666});
    V sin_y = b.fma(b.mul(y, z), q, y);
    // (m is 0 or 1, or 2 where x / pi rounds up to 2: the sign of m = 0.)
    return b.sel(b.oeq(m, c(1.0)), sin_y, b.neg(sin_y));
  }

  /// The polynomial with coefficients cs (highest degree first) at s.
  V horner(V s, std::initializer_list<double> cs) {
    V p = c(*cs.begin());
    for (auto it = cs.begin() + 1; it != cs.end(); ++it) p = b.fma(p, s, c(*it));
    return p;
  }
};

/// The four words of Philox block (offset + position) under `seed`, each in
/// the low 32 bits of an int64 register.
std::array<V, 4> philox_block(Builder& b, V pos, V seed, V offset) {
  auto i = [&](uint64_t v) { return b.bits_const(kInt64, v); };
  V mask = i(0xffffffffu), k32 = i(32);
  V ctr = b.add(offset, pos);  // wraps, as the uint64 counter does
  V c[4] = {b.band(ctr, mask), b.lshr(ctr, k32), i(0), i(0)};
  V k[2] = {b.band(seed, mask), b.lshr(seed, k32)};
  for (int round = 0; round < philox::kRounds; ++round) {
    V p0 = b.mul(c[0], i(philox::kMul0));
    V p1 = round == 0 ? i(0) : b.mul(c[2], i(philox::kMul1));  // (c2 starts at 0)
    V n0 = b.bxor(b.bxor(b.lshr(p1, k32), c[1]), k[0]);
    V n2 = b.bxor(b.bxor(b.lshr(p0, k32), c[3]), k[1]);
    c[0] = n0;
    c[1] = b.band(p1, mask);
    c[2] = n2;
    c[3] = b.band(p0, mask);
    k[0] = b.band(b.add(k[0], i(philox::kWeyl0)), mask);
    k[1] = b.band(b.add(k[1], i(philox::kWeyl1)), mask);
  }
  return {c[0], c[1], c[2], c[3]};
}

/// philox::uniform: `bits` random bits from words hi and lo (53: hi's 32
/// and lo's top 21), times 2^-bits, in `t` registers (exact: f32 holds up
/// to 24 bits).
V bits53(Builder& b, V hi, V lo) {
  return b.bxor(b.shl(hi, b.bits_const(kInt64, 21)), b.lshr(lo, b.bits_const(kInt64, 11)));
}
V uniform(Builder& b, V hi, V lo, int bits, DType t) {
  V n = bits <= 32 ? b.lshr(hi, b.bits_const(kInt64, uint64_t(32 - bits))) : bits53(b, hi, lo);
  return b.mul(b.cast(n, t), b.c(t, std::ldexp(1.0, -bits)));
}

}  // namespace

void define_random(OpTable& ops) {
  // rand: uniform in [0, 1), as many random bits as the dtype's significand.
  ops[Op::Rand] = {
      .gradient = no_gradient,
      .decompose = [](Lowering& l) {
        auto w = philox_block(l.b, l.x(0), l.x(1), l.x(2));
        int bits = philox::significand_bits(l.out);
        return l.round(uniform(l.b, w[0], w[1], bits, bits > 24 ? kFloat64 : kFloat32));
      },
  };

  // randn: sqrt(-2 log u1) cos(2 pi u2), u1 in (0, 1] and u2 in [0, 1)
  // from 53 bits each; rounded to the dtype from float64 through float32
  // (as the one-element definition does).
  ops[Op::Randn] = {
      .gradient = no_gradient,
      .decompose = [](Lowering& l) {
        Builder& b = l.b;
        F64 m{b};
        auto w = philox_block(b, l.x(0), l.x(1), l.x(2));
        // u1 = 1 - n1 2^-53 and 2 pi u2 = fl(2 pi (n2 2^-53)) = fl(n2 (2 pi 2^-53)),
        // each one rounding as in the one-element definition.
        V n1 = b.cast(bits53(b, w[0], w[1]), kFloat64), n2 = b.cast(bits53(b, w[2], w[3]), kFloat64);
        V u1 = b.fma(n1, m.c(-0x1.0p-53), m.c(1.0));
        V radius = b.sqrt(b.mul(m.c(-2.0), m.log(u1)));
        V v = b.mul(radius, m.cos(b.mul(n2, m.c(2.0 * M_PI * 0x1.0p-53))));
        if (l.out == kFloat64) return v;
        return l.round(b.cast(v, kFloat32));
      },
  };
}

}  // namespace kiln::ops
