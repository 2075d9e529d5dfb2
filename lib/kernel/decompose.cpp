// The numerics decompositions (see decompose.h): each elementwise op of a
// kernel becomes primitives with PyTorch's CPU semantics.
#include "kernel/decompose.h"

#include <cmath>
#include <string>

#include "kernel/decompose_builder.h"
#include "kiln/error.h"

namespace kiln {

namespace {

using decomp::Builder;
using decomp::Math;
using decomp::V;

class Decomposer {
public:
  Decomposer(const Kernel& in, const NativeOps& native) : in_(in), native_(native), b_(out_) {
    out_.name = in.name;
    out_.rank = in.rank;
    out_.reduce_rank = in.reduce_rank;
    out_.serial = in.serial;
    out_.args = in.args;
  }

  Kernel run() {
    map_.assign(in_.body.size(), -1);
    for (size_t i = 0; i < in_.body.size(); ++i) {
      const Instr& in = in_.body[i];
      b_.post = in.post_reduce || in.kind == Instr::Kind::Reduce;
      map_[i] = lower(in);
    }
    // float16/bfloat16 products gain a rounding: no longer a plain contraction.
    out_.contraction = in_.contraction && is_contraction(out_);
    return std::move(out_);
  }

private:
  [[noreturn]] void unsupported(const Instr& in, DType t, const char* what) {
    throw Error("kiln: kernel " + in_.name + ": " + op_name(in.op) + " of " + std::string(name(t)) + ": " + what);
  }
  V arg(const Instr& in, size_t n) { return map_[size_t(in.operands[n])]; }
  DType dtype_of(const Instr& in, size_t n) const { return in_.body[size_t(in.operands[n])].dtype; }

  /// Rounds an f32 register value to float16/bfloat16 (identity for other
  /// dtypes): round to nearest even, NaN stays NaN, overflow goes to inf.
  V round_to(DType t, V v) {
    if (t == kFloat16) return b_.op(Op::RoundF16, kFloat32, {v});
    if (t != kBFloat16) return v;
    if (native_(Op::RoundBF16, kFloat32)) return b_.op(Op::RoundBF16, kFloat32, {v});
    // On the integer bits: add half an ulp (ties to even), keep the top 16
    // bits; a NaN keeps its top bits, made quiet.
    auto i = [&](uint32_t x) { return b_.bits_const(kInt32, x); };
    V bits = b_.bits(v);
    V lsb = b_.band(b_.lshr(bits, i(16)), i(1));
    V rounded = b_.band(b_.add(bits, b_.add(lsb, i(0x7fff))), i(0xffff0000u));
    V quiet = b_.band(b_.bor(bits, i(0x00400000)), i(0xffff0000u));
    return b_.from_bits(b_.sel(b_.isnan(v), quiet, rounded));
  }

  /// f64 -> f32 rounding to odd: exact results stay, inexact ones are
  /// truncated toward zero with the last bit forced to 1. A following
  /// round-to-nearest-even to float16/bfloat16 then rounds as if directly
  /// from f64 (f32 keeps more than 2 extra bits), i.e. one rounding.
  V f64_to_f32_round_odd(V x) {
    V t = b_.cast(x, kFloat32);
    V back = b_.cast(t, kFloat64);
    V exact = b_.oeq(back, x);
    V away = b_.ogt(b_.abs(back), b_.abs(x));
    V bits = b_.bits(t);
    V one = b_.bits_const(kInt32, 1);
    V toward_zero = b_.sel(away, b_.sub(bits, one), bits);
    return b_.from_bits(b_.sel(exact, bits, b_.bor(toward_zero, one)));
  }

  /// A cast with PyTorch's semantics between any dtypes (registers of
  /// float16/bfloat16 are f32).
  V cast(V v, DType from, DType to) {
    if (from == to) return v;
    if (to == kBool) return b_.une(v, b_.like(v, 0));  // NaN is truthy, as in PyTorch
    if (is_floating(from) && is_floating(to)) {
      if (to == kFloat64) return register_dtype(from) == kFloat64 ? v : b_.cast(v, kFloat64);
      if (from == kFloat64) {
        if (to == kFloat32) return b_.cast(v, kFloat32);
        return round_to(to, f64_to_f32_round_odd(v));
      }
      return round_to(to, v);  // between f32, f16 and bf16 (all held in f32)
    }
    if (is_floating(from)) {
      // Truncates toward zero. Narrow targets go through i32 and wrap, which
      // is what PyTorch's static_cast produces on x86 (e.g. -1.0 -> uint8
      // 255).
      if (element_size(to) >= 4) return b_.cast(v, to);
      return b_.cast(b_.cast(v, kInt32), to);
    }
    if (is_floating(to)) return round_to(to, b_.cast(v, register_dtype(to)));
    return b_.cast(v, to);  // integer to integer: wrap, or extend by the source's signedness
  }

  /// pow(x, e) for a float x and a literal e that PyTorch's
  /// pow_tensor_scalar routes to cheaper kernels: x*x, x*x*x, sqrt(x),
  /// 1/sqrt(x), 1/x, 1/(x*x). They differ from pow() at special inputs
  /// (pow(-inf, 0.5) is inf, sqrt(-inf) NaN). -1 for other exponents.
  /// float16/bfloat16 round after every step, like the same ops written out.
  V pow_const(V x, double e, DType out) {
    auto r = [&](V v) { return round_to(out, v); };
    auto mul = [&](V p, V q) { return r(b_.mul(p, q)); };
    auto recip = [&](V v) { return r(b_.div(b_.like(v, 1), v)); };
    auto sqrt = [&](V v) { return r(b_.sqrt(v)); };
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
  V int_pow(V base, V e, DType t) {
    V result = b_.like(base, 1), sq = base;
    V one = b_.like(e, 1);
    int width = t == kBool ? 1 : int(element_size(t) * 8);
    for (int n = 0; n < width; ++n) {
      V bit = b_.une(b_.band(e, one), b_.like(e, 0));
      result = b_.sel(bit, b_.mul(result, sq), result);
      if (n + 1 == width) break;
      sq = b_.mul(sq, sq);
      e = b_.lshr(e, one);
    }
    return result;
  }

  /// Float remainder, fmod, floor_divide, trunc_divide as PyTorch's CPU
  /// kernels. fmod is C's (the backend's, exact); remainder adds the divisor
  /// when the signs differ; floor_divide is c10's div_floor_floating
  /// (b == 0: a/b; else (a - fmod(a, b))/b, minus 1 when the signs differ,
  /// rounded to the nearest integer; a zero quotient gets the sign of a/b).
  /// trunc_divide truncates a/b rounded to the dtype (as PyTorch's
  /// vectorized float16/bfloat16 path does).
  V float_div_family(const Instr& in, Op op, V a, V bb, DType out) {
    auto c = [&](double v) { return b_.like(a, v); };
    if (op == Op::TruncDiv) return b_.trunc(round_to(out, b_.div(a, bb)));
    V m = native(in, Op::Fmod, b_.type(a), {a, bb});
    if (op == Op::Fmod) return round_to(out, m);
    // (m != 0) && ((b < 0) != (m < 0)), as in C (NaN != 0 is true).
    V differ = b_.band(b_.une(m, c(0)), b_.bxor(b_.olt(bb, c(0)), b_.olt(m, c(0))));
    if (op == Op::Remainder) return round_to(out, b_.sel(differ, b_.add(m, bb), m));
    V q = b_.div(a, bb);
    V d = b_.div(b_.sub(a, m), bb);
    d = b_.sel(differ, b_.sub(d, c(1)), d);
    V fl = b_.floor(d);
    fl = b_.sel(b_.ogt(b_.sub(d, fl), c(0.5)), b_.add(fl, c(1)), fl);
    V r = b_.sel(b_.une(d, c(0)), fl, b_.copysign(c(0), q));
    return round_to(out, b_.sel(b_.oeq(bb, c(0)), q, r));
  }

  /// Integer remainder (sign of the divisor), fmod (sign of the dividend),
  /// floor and truncating division; uint8 and bool unsigned. A divisor of 0
  /// never gets here (the API raises ZeroDivisionError) but must not trap:
  /// it and -1 (INT_MIN / -1 overflows; x86 traps) divide by 1 instead, and
  /// -1 gives -a and 0 (wrapping, as PyTorch's int8/int16 results).
  V int_div_family(Op op, V a, V bb, DType t) {
    V z = b_.like(a, 0), one = b_.like(a, 1);
    if (!is_signed(t)) {
      V bs = b_.sel(b_.oeq(bb, z), one, bb);
      return op == Op::Remainder || op == Op::Fmod ? b_.irem(a, bs) : b_.idiv(a, bs);
    }
    V minus1 = b_.oeq(bb, b_.like(a, -1));
    V bs = b_.sel(b_.bor(b_.oeq(bb, z), minus1), one, bb);
    V r = b_.irem(a, bs);  // 0 for b = -1 too
    V q = b_.sel(minus1, b_.sub(z, a), b_.idiv(a, bs));
    if (op == Op::Fmod) return r;
    if (op == Op::TruncDiv) return q;
    V differ = b_.band(b_.une(r, z), b_.bxor(b_.olt(r, z), b_.olt(bb, z)));
    if (op == Op::Remainder) return b_.sel(differ, b_.add(r, bb), r);
    return b_.sel(differ, b_.sub(q, one), q);  // FloorDiv
  }

  /// NaN-propagating for floats (compare + select; a NaN operand's NaN);
  /// signed/unsigned by dtype for integers; or/and for bool.
  V max_min(V a, V bb, DType t, bool max) {
    if (is_floating(t)) {
      V r = b_.sel(max ? b_.ogt(a, bb) : b_.olt(a, bb), a, bb);
      return b_.sel(b_.uno(a, bb), b_.add(a, bb), r);
    }
    if (t == kBool) return max ? b_.bor(a, bb) : b_.band(a, bb);
    return max ? b_.imax(a, bb) : b_.imin(a, bb);
  }

  /// -1, 0 or 1 (NaN: 0); bool: itself.
  V sign(V a, DType t) {
    if (t == kBool) return a;
    V z = b_.like(a, 0);
    if (!is_floating(t) && !is_signed(t)) return b_.sel(b_.une(a, z), b_.like(a, 1), z);
    V pos = b_.ogt(a, z);
    return b_.sel(pos, b_.like(a, 1), b_.sel(b_.olt(a, z), b_.like(a, -1), z));
  }

  /// sqrt(a^2 + b^2) without overflow or underflow; inf if either is
  /// infinite (even with a NaN), as C's hypot. float32 (and half) in
  /// float64, where the squares cannot overflow: within 1 ulp of the
  /// correctly rounded result; float64 as m sqrt(1 + (n/m)^2), m = max(|a|,
  /// |b|), n = min (within 2 ulp). Both are primitives, so every backend
  /// gets them.
  V hypot(V a, V bb) {
    V ax = b_.abs(a), bx = b_.abs(bb);
    V inf = b_.like(a, INFINITY), zero = b_.like(a, 0);
    V any_inf = b_.bor(b_.oeq(ax, inf), b_.oeq(bx, inf));
    if (b_.type(a) == kFloat32) {
      // The float64 squares are exact, their sum and root rounded once each.
      V x = b_.cast(a, kFloat64), y = b_.cast(bb, kFloat64);
      V h = b_.cast(b_.sqrt(b_.fma(x, x, b_.mul(y, y))), kFloat32);
      return b_.sel(any_inf, inf, h);
    }
    V a_big = b_.ogt(ax, bx);
    V m = b_.sel(a_big, ax, bx), n = b_.sel(a_big, bx, ax);
    V q = b_.div(n, m);
    V res = b_.mul(m, b_.sqrt(b_.fma(q, q, b_.like(a, 1))));
    res = b_.sel(b_.oeq(m, zero), zero, res);
    return b_.sel(any_inf, inf, res);
  }

  /// log(e^a + e^b) as PyTorch's CPU kernel: max(a, b) + log1p(e^-|a - b|),
  /// and a itself when a == b is infinite.
  V logaddexp(const Instr& in, V a, V bb, DType t) {
    V m = b_.sel(b_.olt(a, bb), bb, a);
    V e = transcendental(in, Op::Exp, b_.neg(b_.abs(b_.sub(a, bb))), t);
    V res = b_.add(m, transcendental(in, Op::Log1p, e, t));
    V same_inf = b_.band(b_.oeq(b_.abs(a), b_.like(a, INFINITY)), b_.oeq(a, bb));
    return b_.sel(same_inf, a, res);
  }

  /// `op` computed by the backend itself, or an error naming what is missing.
  V native(const Instr& in, Op op, DType t, std::vector<V> x) {
    if (!native_(op, t)) unsupported(in, t, (std::string("the backend has no ") + op_name(op) + " for this dtype").c_str());
    return b_.op(op, t, std::move(x));
  }

  /// A transcendental op: the backend's where it has one, else the shared
  /// float32 expansion.
  V transcendental(const Instr& in, Op op, V a, DType t) {
    if (native_(op, t)) return b_.op(op, t, {a});
    if (t != kFloat32) unsupported(in, t, "no expansion for this dtype, and the backend has none");
    Math m{b_};
    switch (op) {
      case Op::Exp: return m.exp(a);
      case Op::Log: return m.log(a);
      case Op::Exp2: return m.exp2(a);
      case Op::Log2: return m.log2(a);
      case Op::Log1p: return m.log1p(a);
      case Op::Expm1: return m.expm1(a);
      case Op::Erf: return m.erf(a);
      case Op::Tanh: return m.tanh(a);
      case Op::Sin: case Op::Cos: case Op::Tan: return m.trig(op, a);
      default: break;
    }
    unsupported(in, t, "not a transcendental op");
  }

  V lower(const Instr& in) {
    switch (in.kind) {
      case Instr::Kind::Const: {
        Instr c = in;
        c.dtype = register_dtype(in.dtype);
        // A float16/bfloat16 literal is rounded like a tensor of that dtype.
        if (in.param < 0 && in.dtype == kFloat16) c.value = Scalar(double(float(Half(float(in.value.to_double())))));
        if (in.param < 0 && in.dtype == kBFloat16) c.value = Scalar(double(float(BFloat16(float(in.value.to_double())))));
        return b_.push(std::move(c));
      }
      case Instr::Kind::Load: {
        Instr l = in;
        l.dtype = register_dtype(in.dtype);
        for (int& o : l.operands) o = map_[size_t(o)];
        return b_.push(std::move(l));
      }
      case Instr::Kind::Store: {
        Instr s = in;
        s.dtype = register_dtype(in.dtype);
        for (int& o : s.operands) o = map_[size_t(o)];
        if (in.accumulate) {
          // *p += v in the arg's dtype: load, add (rounded), store; kernels
          // with such stores run serially, so nothing comes between.
          Instr l;
          l.kind = Instr::Kind::Load;
          l.arg = in.arg;
          l.dtype = s.dtype;
          l.operands.assign(s.operands.begin() + 1, s.operands.end());
          V old = b_.push(std::move(l));
          s.operands[0] = add(in.dtype, old, s.operands[0]);
          s.accumulate = false;
        }
        b_.push(std::move(s));
        return -1;
      }
      case Instr::Kind::Reduce:
      case Instr::Kind::Scan: {
        Instr r = in;
        r.dtype = register_dtype(in.dtype);
        r.operands[0] = map_[size_t(in.operands[0])];
        V v = b_.push(std::move(r));
        // float16/bfloat16 sums and products accumulate in f32 and round once.
        if (in.reduce == ReduceOp::Sum || in.reduce == ReduceOp::Prod) return round_to(in.dtype, v);
        return v;
      }
      case Instr::Kind::Compute: break;
    }
    return compute(in);
  }

  /// a + b in dtype t (rounded for float16/bfloat16; or for bool).
  V add(DType t, V a, V bb) {
    if (t == kBool) return b_.bor(a, bb);
    return round_to(t, b_.add(a, bb));
  }

  V compute(const Instr& in) {
    const Op op = in.op;
    const DType out = in.dtype;
    // The operands' dtype (Where: of a and b).
    const DType t = op == Op::Where ? dtype_of(in, 1) : dtype_of(in, 0);
    const DType rt = register_dtype(t);
    const bool fl = is_floating(t);
    V a = arg(in, 0);
    V bb = in.operands.size() > 1 ? arg(in, 1) : -1;
    auto r = [&](V v) { return round_to(out, v); };
    if (is_primitive(op)) {  // an already decomposed kernel: decompose() is idempotent
      std::vector<V> x;
      for (size_t n = 0; n < in.operands.size(); ++n) x.push_back(arg(in, n));
      return b_.op(op, out, std::move(x));
    }
    switch (op) {
      case Op::Cast: return cast(a, t, out);
      case Op::Copy: return a;
      case Op::Neg: return fl ? b_.neg(a) : b_.sub(b_.like(a, 0), a);
      case Op::Abs:
        if (fl) return b_.abs(a);
        if (!is_signed(t)) return a;
        return b_.sel(b_.olt(a, b_.like(a, 0)), b_.sub(b_.like(a, 0), a), a);
      case Op::Relu:
        // x <= 0 ? 0 : x; an ordered compare leaves NaN alone.
        return b_.sel(b_.ole(a, b_.like(a, 0)), b_.like(a, 0), a);
      case Op::LogicalNot: return t == kBool ? b_.lnot(a) : b_.oeq(a, b_.like(a, 0));
      case Op::Sqrt: return r(b_.sqrt(a));
      case Op::Exp: case Op::Log: case Op::Sin: case Op::Cos: case Op::Tan: case Op::Tanh: case Op::Exp2:
      case Op::Log2: case Op::Log1p: case Op::Expm1: case Op::Erf:
        return r(transcendental(in, op, a, rt));
      case Op::Atan2: return r(native(in, op, rt, {a, bb}));
      case Op::Hypot: return r(hypot(a, bb));
      case Op::LogAddExp: return r(logaddexp(in, a, bb, rt));
      case Op::Sigmoid: {
        V one = b_.like(a, 1);
        V e = transcendental(in, Op::Exp, b_.neg(a), rt);
        return r(b_.div(one, b_.add(one, e)));
      }
      case Op::Sign: return sign(a, t);
      case Op::Floor: case Op::Ceil: case Op::Round: case Op::Trunc:
        // Integers never get here (the graph drops the op); identity anyway.
        // The result of a float16/bfloat16 value is representable.
        return fl ? b_.op(op, rt, {a}) : a;
      case Op::Add: return t == kBool ? b_.bor(a, bb) : r(b_.add(a, bb));
      case Op::Sub: return t == kBool ? b_.bxor(a, bb) : r(b_.sub(a, bb));
      case Op::Mul: return t == kBool ? b_.band(a, bb) : r(b_.mul(a, bb));
      case Op::Div: return r(b_.div(a, bb));
      case Op::Pow: {
        if (!fl) return int_pow(a, bb, t);
        const Instr& e = in_.body[size_t(in.operands[1])];
        if (e.kind == Instr::Kind::Const && e.param < 0)
          if (V v = pow_const(a, e.value.to_double(), out); v >= 0) return v;
        return r(native(in, op, rt, {a, bb}));
      }
      case Op::Remainder: case Op::Fmod: case Op::FloorDiv: case Op::TruncDiv:
        return fl ? float_div_family(in, op, a, bb, out) : int_div_family(op, a, bb, t);
      case Op::Maximum: case Op::ClampMin: return max_min(a, bb, t, /*max=*/true);
      case Op::Minimum: case Op::ClampMax: return max_min(a, bb, t, /*max=*/false);
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: return b_.cmp(op, a, bb);
      case Op::Where: {
        V c = cast(a, dtype_of(in, 0), kBool);
        return b_.sel(c, bb, arg(in, 2));
      }
      default: break;
    }
    unsupported(in, t, "not an elementwise op");
  }

  const Kernel& in_;
  const NativeOps& native_;
  Kernel out_;
  Builder b_;
  std::vector<V> map_;  // SSA id in in_ -> SSA id in out_
};

}  // namespace

Kernel decompose(const Kernel& k, const NativeOps& native) { return Decomposer(k, native).run(); }

}  // namespace kiln
