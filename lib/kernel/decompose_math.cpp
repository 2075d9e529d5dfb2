// The float32 expansions of the transcendental ops, in Kernel IR primitives:
// branch-free arithmetic that a backend vectorizes (LLVM) or runs per thread
// (CUDA). float64 versions are the backends' (libm, libdevice).
//
// Accuracy, measured on 79M inputs (every 61st bit pattern plus dense
// sweeps) against glibc's f64 functions: exp <= 1 ulp, exp2 0.85 ulp, log2
// 0.87, log1p 0.83, expm1 0.98, erf 1.04; sin/cos within 1.5 ulp for |x| <
// 1e6 (tan 3); log <= 1 ulp and tanh <= 5 ulp (the Cephes/Eigen schemes).
// MLIR 16's own approximations were less accurate (exp off by ~30 ulp near
// overflow and flushing subnormal results; sin/cos reduced with a one-word
// pi/2; log2 treating subnormals as FLT_MIN; expm1 78 ulp; erf 4.8 ulp).
//
// Several expansions round to an integer with the 1.5 * 2^23 trick:
// fma(x, c, M) rounds x*c to an integer (one rounding of the exact product)
// and its low mantissa bits hold that integer, so no float->int conversion
// is needed (which would be undefined for NaN).
#include <cmath>
#include <initializer_list>

#include "kernel/decompose_builder.h"

namespace kiln::decomp {

namespace {

constexpr double kRoundMagic = 12582912.0;  // 1.5 * 2^23

struct F32 {
  Builder& b;
  V c(double v) { return b.c(kFloat32, v); }
  V i(int64_t v) { return b.bits_const(kInt32, uint64_t(v)); }
  V horner(V s, std::initializer_list<double> cs) {
    V p = c(*cs.begin());
    for (auto it = cs.begin() + 1; it != cs.end(); ++it) p = b.fma(p, s, c(*it));
    return p;
  }
  /// x clamped to [lo, hi]; ordered compares let NaN through.
  V clamp(V x, double lo, double hi) {
    x = b.sel(b.olt(x, c(lo)), c(lo), x);
    return b.sel(b.ogt(x, c(hi)), c(hi), x);
  }
  /// The integer in the low bits of t = n + kRoundMagic (|n| < 2^22).
  V round_magic_int(V t) { return b.sub(b.bits(t), b.bits(c(kRoundMagic))); }
  /// 2^e (f32) for an i32 e with a normal result (-126 <= e <= 127).
  V pow2(V e) { return b.from_bits(b.shl(b.add(e, i(127)), i(23))); }
  /// u * 2^q for -252 <= q <= 254, as two factors so that a subnormal
  /// result is rounded once.
  V scale2(V u, V q) {
    V q1 = b.ashr(q, i(1));
    V q2 = b.sub(q, q1);
    return b.mul(b.mul(u, pow2(q1)), pow2(q2));
  }
  /// x = 2^k m with m in [sqrt(2)/2, sqrt(2)) for a positive normal x:
  /// {k as f32, m}.
  std::pair<V, V> split_log(V x) {
    V ix = b.add(b.bits(x), i(0x3f800000 - 0x3f3504f3));
    V k = b.sub(b.ashr(ix, i(23)), i(0x7f));
    V m = b.from_bits(b.add(b.band(ix, i(0x007fffff)), i(0x3f3504f3)));
    return {b.cast(k, kFloat32), m};
  }
  /// fdlibm's log kernel: for f in [sqrt(2)/2 - 1, sqrt(2) - 1], with
  /// s = f/(2+f), log(1+f) = f - hfsq + s (hfsq + R(s^2)), hfsq = f^2/2.
  /// Returns {hfsq, s (hfsq + R)}.
  std::pair<V, V> log_kernel(V f) {
    V s = b.div(f, b.add(c(2), f));
    V z = b.mul(s, s), w = b.mul(z, z);
    V t1 = b.mul(w, b.add(c(0.40000972152), b.mul(w, c(0.24279078841))));
    V t2 = b.mul(z, b.add(c(0.66666662693), b.mul(w, c(0.28498786688))));
    V hfsq = b.mul(c(0.5), b.mul(f, f));
    return {hfsq, b.mul(s, b.add(hfsq, b.add(t2, t1)))};
  }
};

}  // namespace

/// e^x, <= 1 ulp (Sleef's expf_u10 scheme): x = q ln2 + s, |s| <= ln2/2,
/// e^s by polynomial, times 2^q as two factors so that subnormal results
/// are rounded once. Clamping x to [-104, 89] yields 0 and inf outside;
/// ordered compares let NaN through, and it stays NaN.
V Math::exp(V x) {
  F32 f{b};
  V xc = f.clamp(x, -104, 89);
  V t = b.fma(xc, f.c(1.442695040888963407), f.c(kRoundMagic));
  V q = b.sub(t, f.c(kRoundMagic));
  V s = b.fma(q, f.c(-0.693145751953125), xc);  // ln2, split in two
  s = b.fma(q, f.c(-1.428606765330187045e-06), s);
  V u = f.horner(s, {0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359,
                     0.0416664853692054748535156, 0.166666671633720397949219, 0.5});
  u = b.add(f.c(1), b.fma(b.mul(s, s), u, s));
  return f.scale2(u, f.round_magic_int(t));
}

/// 2^x, <= 1 ulp (Sleef's exp2f_u10 scheme): x = q + s with q = rint(x)
/// (exact), |s| <= 1/2, 2^s = 1 + s P(s), times 2^q as in exp. Clamping x
/// to [-151, 129] gives 0 and inf outside; NaN stays NaN.
V Math::exp2(V x) {
  F32 f{b};
  V xc = f.clamp(x, -151, 129);
  V t = b.add(xc, f.c(kRoundMagic));
  V s = b.sub(xc, b.sub(t, f.c(kRoundMagic)));
  V u = f.horner(s, {0.1535920892e-3, 0.1339262701e-2, 0.9618384764e-2, 0.5550347269e-1, 0.2402264476e+0,
                     0.6931471825e+0});
  return f.scale2(b.fma(u, s, f.c(1)), f.round_magic_int(t));
}

/// log, <= 1 ulp (Cephes' logf, as Eigen and MLIR evaluate it): x = 2^e m
/// with m in [sqrt(1/2), sqrt(2)), log(m) by a degree-8 polynomial in m - 1.
/// Subnormal inputs are scaled by 2^24 first (the split assumes a normal x).
V Math::log(V x) {
  F32 f{b};
  V tiny = b.olt(x, f.c(0x1p-126));
  V y = b.sel(tiny, b.mul(x, f.c(0x1p24)), x);
  V m = b.sel(b.ugt(y, f.c(0x1p-126)), y, f.c(0x1p-126));  // NaN stays
  // frexp: the fraction in [0.5, 1) and the exponent.
  V ybits = b.bits(m);
  V frac = b.from_bits(b.bor(b.band(ybits, f.i(int32_t(~0x7f800000u))), f.i(0x3f000000)));
  V e = b.sub(b.cast(b.lshr(ybits, f.i(23)), kFloat32), f.c(126));
  // To [sqrt(1/2), sqrt(2)) - 1.
  V low = b.olt(frac, f.c(0.707106781186547524));
  V tmp = b.sel(low, frac, f.c(0));
  V u = b.sub(frac, f.c(1));
  e = b.sub(e, b.sel(low, f.c(1), f.c(0)));
  u = b.add(u, tmp);
  V u2 = b.mul(u, u), u3 = b.mul(u2, u);
  V y0 = b.fma(f.c(7.0376836292E-2), u, f.c(-1.1514610310E-1));
  V y1 = b.fma(f.c(-1.2420140846E-1), u, f.c(+1.4249322787E-1));
  V y2 = b.fma(f.c(+2.0000714765E-1), u, f.c(-2.4999993993E-1));
  y0 = b.fma(y0, u, f.c(1.1676998740E-1));
  y1 = b.fma(y1, u, f.c(-1.6668057665E-1));
  y2 = b.fma(y2, u, f.c(+3.3333331174E-1));
  y0 = b.fma(y0, u3, y1);
  y0 = b.fma(y0, u3, y2);
  y0 = b.mul(y0, u3);
  y0 = b.fma(f.c(-0.5), u2, y0);
  u = b.add(u, y0);
  V r = b.fma(e, f.c(0.693147180559945309), u);
  // log(+inf) = inf, log(x < 0) = log(NaN) = NaN, log(+-0) = -inf.
  r = b.sel(b.oeq(y, f.c(INFINITY)), f.c(INFINITY), r);
  r = b.sel(b.ult(y, f.c(0)), f.c(NAN), r);
  r = b.sel(b.oeq(y, f.c(0)), f.c(-INFINITY), r);
  return b.sel(tiny, b.sub(r, f.c(16.635532333438687)), r);  // - 24 ln2
}

/// log2, <= 1 ulp (musl's log2f): log2(2^k m) = k + log(m)/ln2, with
/// log(m) split in hi + lo so that the product with 1/ln2 (also split)
/// keeps the bits. Exact at powers of 2. Subnormals are scaled by 2^25.
V Math::log2(V x) {
  F32 f{b};
  V sub = b.olt(x, f.c(0x1p-126));
  auto [kf, m] = f.split_log(b.sel(sub, b.mul(x, f.c(0x1p25)), x));
  kf = b.sel(sub, b.sub(kf, f.c(25)), kf);
  V fr = b.sub(m, f.c(1));
  auto [hfsq, r] = f.log_kernel(fr);
  V hi = b.from_bits(b.band(b.bits(b.sub(fr, hfsq)), f.i(int32_t(0xfffff000u))));
  V lo = b.add(b.sub(b.sub(fr, hi), hfsq), r);
  const double ivln2hi = 1.4428710938e+00, ivln2lo = -1.7605285393e-04;
  V res = b.add(b.add(b.add(b.mul(b.add(lo, hi), f.c(ivln2lo)), b.mul(lo, f.c(ivln2hi))), b.mul(hi, f.c(ivln2hi))),
                kf);
  // log2(inf) = inf, log2(+-0) = -inf, log2(x < 0) = log2(NaN) = NaN.
  res = b.sel(b.oeq(x, f.c(INFINITY)), x, res);
  res = b.sel(b.oeq(x, f.c(0)), f.c(-INFINITY), res);
  return b.sel(b.ult(x, f.c(0)), f.c(NAN), res);
}

/// log(1 + x), <= 1 ulp (musl's log1pf): u = 1 + x = 2^k m; log1p(x) =
/// k ln2 + log(m) + c, where c = (1 + x - u)/u corrects the rounding of u.
/// When k = 0, f = x is used directly (exact), so tiny x give x.
V Math::log1p(V x) {
  F32 f{b};
  V u = b.add(f.c(1), x);
  auto [kf, m] = f.split_log(u);
  V k0 = b.oeq(kf, f.c(0));
  V big = b.oge(kf, f.c(2));
  V corr = b.sel(big, b.sub(f.c(1), b.sub(u, x)), b.sub(x, b.sub(u, f.c(1))));
  V cu = b.sel(k0, f.c(0), b.div(corr, u));
  V fr = b.sel(k0, x, b.sub(m, f.c(1)));
  auto [hfsq, r] = f.log_kernel(fr);
  const double ln2_hi = 6.9313812256e-01, ln2_lo = 9.0580006145e-06;
  V res = b.add(b.add(b.sub(b.add(r, b.add(b.mul(kf, f.c(ln2_lo)), cu)), hfsq), fr), b.mul(kf, f.c(ln2_hi)));
  // log1p(inf) = inf, log1p(-1) = -inf, log1p(x < -1) = log1p(NaN) = NaN; -0 stays.
  res = b.sel(b.oeq(x, f.c(INFINITY)), x, res);
  res = b.sel(b.oeq(x, f.c(-1)), f.c(-INFINITY), res);
  res = b.sel(b.oeq(x, f.c(0)), x, res);
  return b.sel(b.ult(x, f.c(-1)), f.c(NAN), res);
}

/// e^x - 1, <= 1 ulp: x = q ln2 + s, expm1(s) = s + s^2 P(s) (P: a
/// degree-7 fit on |s| < ln2, relative error 3e-10), then
/// 2^q (1 + expm1(s)) - 1 (below). For |x| < 1.5 ln2, q = trunc(x/ln2):
/// q = 0 gives s = x exactly and the result expm1(s), q = +-1 an s of x's
/// sign, so nothing cancels; beyond, q = rint(x/ln2), |s| <= ln2/2.
V Math::expm1(V x) {
  F32 f{b};
  V xc = f.clamp(x, -30, 89);
  V y = b.mul(xc, f.c(1.442695040888963407));
  V near = b.olt(b.abs(xc), f.c(1.0397207708399179));
  V n = b.sel(near, b.trunc(y), b.sub(b.add(y, f.c(kRoundMagic)), f.c(kRoundMagic)));
  V s = b.fma(n, f.c(-0.693145751953125), xc);
  s = b.fma(n, f.c(-1.428606765330187045e-06), s);
  V p = f.horner(s, {2.7799068627774403e-06, 2.5067716636004722e-05, 0.0001984054295867658, 0.001388808851175529,
                     0.008333334032161823, 0.04166667436225617, 0.16666666665617333, 0.4999999998844441});
  V em1 = b.fma(b.mul(s, s), p, s);
  V q = f.round_magic_int(b.add(n, f.c(kRoundMagic)));
  // q <= 0: 2^q em1 + (2^q - 1), one rounding (2^q - 1 is exact or
  // negligibly off).
  V sc = f.pow2(q);
  V neg = b.fma(sc, em1, b.sub(sc, f.c(1)));
  // q > 0: (1 + em1 - 2^-q) 2^q, with 1 + em1 = S + e exactly (Fast2Sum)
  // and (S + (e - 2^-q)) rounded once; scaled by 2^(q-1) and 2 so that
  // q = 128 works.
  V S = b.add(f.c(1), em1);
  V e = b.sub(em1, b.sub(S, f.c(1)));
  V qm = b.imin(q, f.i(100));
  V pos = b.mul(b.mul(b.add(S, b.sub(e, f.pow2(b.sub(f.i(0), qm)))), f.pow2(b.sub(q, f.i(1)))), f.c(2));
  V res = b.sel(b.ogt(q, f.i(0)), pos, neg);
  return b.sel(b.oeq(x, f.c(0)), x, res);  // -0 stays
}

/// erf, f32 within ~1 ulp: |x| < 1: x + x Q(x^2) (Q: degree 6, abs error
/// 1.3e-9); 1 <= |x| < 3.92: 1 - e^(-x^2) R(x) (R = erfc(x) e^(x^2): degree
/// 12 in x - 2.46, relative error 5e-9); beyond, 1 (clamped). Both are
/// evaluated, so the code stays branch-free.
V Math::erf(V x) {
  F32 f{b};
  V ax = b.abs(x);
  V qa = f.horner(b.mul(ax, ax), {7.875875062685488e-05, -0.000801686428716587, 0.005189087423433974,
                                  -0.026854212010626412, 0.11283594715160218, -0.37612626666720334,
                                  0.12837916584835093});
  V ra = b.fma(ax, qa, ax);
  V xb = f.clamp(ax, 1, 3.92);
  V rb = f.horner(b.sub(xb, f.c(2.46)),
                  {1.1478536031503992e-07, -4.715333318727193e-07, 1.1019564120759728e-06, -4.201487704922703e-06,
                   1.7706697232744335e-05, -6.485340136449394e-05, 0.00022814863657701626, -0.0007858759773517427,
                   0.002618979245387672, -0.00840841488917836, 0.02592234478617758, -0.07638142701704059,
                   0.21382067722012252});
  V e = exp(b.neg(b.mul(xb, xb)));
  rb = b.fma(b.neg(e), rb, f.c(1));
  V r = b.sel(b.olt(ax, f.c(1)), ra, rb);
  return b.copysign(r, x);
}

/// tanh, <= 5 ulp (Eigen's rational fit, as MLIR evaluates it): x clamped
/// to +-7.9988 (beyond, tanh rounds to +-1), p(x)/q(x) with p odd of degree
/// 13 and q even of degree 6; |x| < 0.0004 gives x.
V Math::tanh(V x) {
  F32 f{b};
  V xc = b.sel(b.ult(x, f.c(7.99881172180175781)), x, f.c(7.99881172180175781));  // NaN stays
  xc = b.sel(b.ugt(xc, f.c(-7.99881172180175781)), xc, f.c(-7.99881172180175781));
  V tiny = b.olt(b.abs(x), f.c(0.0004));
  V x2 = b.mul(xc, xc);
  V p = b.fma(x2, f.c(-2.76076847742355e-16), f.c(2.00018790482477e-13));
  for (double a : {-8.60467152213735e-11, 5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                   4.89352455891786e-03})
    p = b.fma(x2, p, f.c(a));
  p = b.mul(xc, p);
  V q = b.fma(x2, f.c(1.19825839466702e-06), f.c(1.18534705686654e-04));
  q = b.fma(x2, q, f.c(2.26843463243900e-03));
  q = b.fma(x2, q, f.c(4.89352518554385e-03));
  return b.sel(tiny, xc, b.div(p, q));
}

/// sin, cos or tan; f32 within 1.5 ulp for |x| < 1e6 (2.5 up to 5e6; tan
/// 3). x = n pi/2 + r with a three-word pi/2 (the first fma is exact:
/// x - n*P1 needs no more than 24 bits), then Chebyshev fits of sin and cos
/// on [-1, 1] (error < 2^-28). For larger |x| the results are wrong (sin
/// and cos stay in [-1, 1]; PyTorch is exact there). inf and NaN give NaN.
V Math::trig(Op op, V x) {
  F32 f{b};
  V t = b.fma(x, f.c(0.63661977236758134), f.c(kRoundMagic));
  V n = b.sub(t, f.c(kRoundMagic));
  V r = b.fma(n, f.c(-1.5707963705062866), x);
  r = b.fma(n, f.c(4.371138828673793e-08), r);
  r = b.fma(n, f.c(1.7151245100058819e-15), r);
  // n is the nearest integer to x * f32(2/pi), which for large x can be off
  // by one near the midpoints, so |r| can exceed pi/4: the polynomials are
  // fitted for |r| <= 1, enough up to |x| ~ 5e6. Beyond that r is zeroed
  // when out of range (ule keeps the NaN of x = inf or NaN).
  r = b.sel(b.ule(b.abs(r), f.c(1.0)), r, f.c(0));
  V k = b.bits(t);  // low bits: n mod 4

  // sin r = r + r s S(s), cos r = 1 + s C(s), s = r^2.
  V s = b.mul(r, r);
  V ps = f.horner(s, {2.7060668539683608e-6, -0.00019838174236287689, 0.0083333271488352664, -0.16666666647343994});
  V sin_r = b.fma(b.mul(r, s), ps, r);
  V pc = f.horner(s, {2.4256144914672251e-5, -0.0013885490860454662, 0.041666598793227254, -0.49999999787945914});
  V cos_r = b.fma(s, pc, f.c(1));

  V odd = b.une(b.band(k, f.i(1)), f.i(0));
  // Flips the sign of v when bit 1 of m is set (xor into the sign bit).
  auto negate_if_bit1 = [&](V v, V m) {
    V sign = b.shl(b.band(m, f.i(2)), f.i(30));
    return b.from_bits(b.bxor(b.bits(v), sign));
  };
  V res;
  if (op == Op::Sin) {
    // sin, cos, -sin, -cos for n = 0..3 (mod 4).
    res = negate_if_bit1(b.sel(odd, cos_r, sin_r), k);
  } else if (op == Op::Cos) {
    // cos, -sin, -cos, sin for n = 0..3 (mod 4).
    return negate_if_bit1(b.sel(odd, sin_r, cos_r), b.add(k, f.i(1)));
  } else {
    // n even: sin r / cos r; odd: tan(r + pi/2) = -cos r / sin r.
    V num = b.sel(odd, b.neg(cos_r), sin_r);
    res = b.div(num, b.sel(odd, sin_r, cos_r));
  }
  // The reduction turns -0 into +0; sin and tan are odd functions.
  return b.sel(b.oeq(x, f.c(0)), x, res);
}

}  // namespace kiln::decomp
