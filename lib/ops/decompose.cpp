// The numerics decompositions (see decompose.h): the driver, which lowers
// loads, stores, reductions and constants itself and every elementwise op
// by its definition (OpDef::decompose in lib/ops/<family>.cpp), and the
// Lowering helpers those definitions share.
#include "ops/decompose.h"

#include <string>

#include "kiln/error.h"
#include "ops/lowering.h"
#include "ops/op_def.h"

namespace kiln {

namespace ops {

void Lowering::unsupported(DType t, const std::string& what) const {
  throw Error("kiln: kernel " + in_.name + ": " + op_name(instr_->op) + " of " + std::string(name(t)) + ": " + what);
}

void Lowering::at(const Instr& in) {
  instr_ = &in;
  out = in.dtype;
  t = in.operands.empty() ? in.dtype
                          : in_.body[size_t(in.operands[in.op == Op::Where && in.operands.size() > 1 ? 1 : 0])].dtype;
  rt = register_dtype(t);
  fl = is_floating(t);
}

V Lowering::round_to(DType t, V v) {
  if (t == kFloat16) return b.op(Op::RoundF16, kFloat32, {v});
  if (t != kBFloat16) return v;
  if (native_(Op::RoundBF16, kFloat32)) return b.op(Op::RoundBF16, kFloat32, {v});
  // On the integer bits: add half an ulp (ties to even), keep the top 16
  // bits; a NaN keeps its top bits, made quiet.
  auto i = [&](uint32_t x) { return b.bits_const(kInt32, x); };
  V bits = b.bits(v);
  V lsb = b.band(b.lshr(bits, i(16)), i(1));
  V rounded = b.band(b.add(bits, b.add(lsb, i(0x7fff))), i(0xffff0000u));
  V quiet = b.band(b.bor(bits, i(0x00400000)), i(0xffff0000u));
  return b.from_bits(b.sel(b.isnan(v), quiet, rounded));
}

/// f64 -> f32 rounding to odd: exact results stay, inexact ones are
/// truncated toward zero with the last bit forced to 1. A following
/// round-to-nearest-even to float16/bfloat16 then rounds as if directly
/// from f64 (f32 keeps more than 2 extra bits), i.e. one rounding.
V Lowering::f64_to_f32_round_odd(V x) {
  V t = b.cast(x, kFloat32);
  V back = b.cast(t, kFloat64);
  V exact = b.oeq(back, x);
  V away = b.ogt(b.abs(back), b.abs(x));
  V bits = b.bits(t);
  V one = b.bits_const(kInt32, 1);
  V toward_zero = b.sel(away, b.sub(bits, one), bits);
  return b.from_bits(b.sel(exact, bits, b.bor(toward_zero, one)));
}

/// Registers of float16/bfloat16 are f32.
V Lowering::cast(V v, DType from, DType to) {
  if (from == to) return v;
  if (to == kBool) return b.une(v, b.like(v, 0));  // NaN is truthy, as in PyTorch
  if (is_floating(from) && is_floating(to)) {
    if (to == kFloat64) return register_dtype(from) == kFloat64 ? v : b.cast(v, kFloat64);
    if (from == kFloat64) {
      if (to == kFloat32) return b.cast(v, kFloat32);
      return round_to(to, f64_to_f32_round_odd(v));
    }
    return round_to(to, v);  // between f32, f16 and bf16 (all held in f32)
  }
  if (is_floating(from)) {
    // Truncates toward zero. Narrow targets go through i32 and wrap, which
    // is what PyTorch's static_cast produces on x86 (e.g. -1.0 -> uint8
    // 255).
    if (element_size(to) >= 4) return b.cast(v, to);
    return b.cast(b.cast(v, kInt32), to);
  }
  if (is_floating(to)) return round_to(to, b.cast(v, register_dtype(to)));
  return b.cast(v, to);  // integer to integer: wrap, or extend by the source's signedness
}

V Lowering::native(Op op, DType t, std::vector<V> x) {
  if (!native_(op, t)) unsupported(t, std::string("the backend has no ") + op_name(op) + " for this dtype");
  return b.op(op, t, std::move(x));
}

V Lowering::transcendental(Op op, V a, DType t) {
  if (native_(op, t)) return b.op(op, t, {a});
  if (t != kFloat32) unsupported(t, "no expansion for this dtype, and the backend has none");
  decomp::Math m{b};
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
  unsupported(t, "not a transcendental op");
}

}  // namespace ops

namespace {

using decomp::V;

class Decomposer {
public:
  Decomposer(const Kernel& in, const NativeOps& native) : in_(in), b_(out_), l_(in, b_, native, map_) {
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
          s.operands[0] = in.dtype == kBool ? b_.bor(old, s.operands[0])
                                            : l_.round_to(in.dtype, b_.add(old, s.operands[0]));
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
        if (in.reduce == ReduceOp::Sum || in.reduce == ReduceOp::Prod) return l_.round_to(in.dtype, v);
        return v;
      }
      case Instr::Kind::Compute: break;
    }
    l_.at(in);
    if (is_primitive(in.op)) {  // an already decomposed kernel: decompose() is idempotent
      std::vector<V> x;
      for (size_t n = 0; n < in.operands.size(); ++n) x.push_back(l_.x(n));
      return b_.op(in.op, in.dtype, std::move(x));
    }
    auto rule = ops::op_def(in.op).decompose;
    if (!rule) l_.unsupported(l_.t, "not an elementwise op");
    return rule(l_);
  }

  const Kernel& in_;
  Kernel out_;
  decomp::Builder b_;
  std::vector<V> map_;  // SSA id in in_ -> SSA id in out_
  ops::Lowering l_;
};

}  // namespace

Kernel decompose(const Kernel& k, const NativeOps& native) { return Decomposer(k, native).run(); }

}  // namespace kiln
