#pragma once
// The instruction builder of the numerics decompositions (the op
// definitions in lib/ops/, and decompose_math.cpp): appends primitives to a
// kernel body and names them the way the expansions read (fma(a, b, c),
// sel(c, a, b), olt(a, b)...).
// Values are SSA ids of the kernel being built; an op's dtype is its first
// operand's unless it says otherwise.
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "kernel/kernel.h"

namespace kiln::decomp {

using V = int;

class Builder {
public:
  explicit Builder(Kernel& out) : k_(out) {}

  /// The stage what is emitted now belongs to (Instr::post_reduce).
  bool post = false;

  DType type(V v) const { return k_.body[size_t(v)].dtype; }

  V push(Instr in) {
    if (in.kind != Instr::Kind::Const) in.post_reduce = post;
    k_.body.push_back(std::move(in));
    return V(k_.body.size() - 1);
  }
  V op(Op o, DType result, std::vector<V> operands) {
    Instr in;
    in.kind = Instr::Kind::Compute;
    in.op = o;
    in.dtype = result;
    in.operands = std::move(operands);
    return push(std::move(in));
  }

  /// A literal constant (one instruction per distinct value and dtype).
  V c(DType t, double v) {
    if (!is_floating(t)) return bits_const(t, t == kBool ? uint64_t(v != 0) : uint64_t(int64_t(v)));
    if (t == kFloat32) v = double(float(v));
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return intern(t, bits, Scalar(v));
  }
  /// An integer constant from its bits (masks: 0xffff0000 as an i32).
  V bits_const(DType t, uint64_t bits) {
    if (t == kBool) return intern(t, bits & 1, Scalar(bool(bits & 1)));
    int64_t v = t == kInt32 ? int64_t(int32_t(uint32_t(bits))) : int64_t(bits);
    return intern(t, uint64_t(v), Scalar(v));
  }
  /// A constant of v's dtype.
  V like(V v, double x) { return c(type(v), x); }

  // Arithmetic (float registers, or integers where it says so).
  V add(V a, V b) { return op(Op::Add, type(a), {a, b}); }
  V sub(V a, V b) { return op(Op::Sub, type(a), {a, b}); }
  V mul(V a, V b) { return op(Op::Mul, type(a), {a, b}); }
  V div(V a, V b) { return op(Op::Div, type(a), {a, b}); }
  V neg(V a) { return op(Op::Neg, type(a), {a}); }
  V abs(V a) { return op(Op::Abs, type(a), {a}); }
  V sqrt(V a) { return op(Op::Sqrt, type(a), {a}); }
  V fma(V a, V b, V c) { return op(Op::Fma, type(a), {a, b, c}); }
  V floor(V a) { return op(Op::Floor, type(a), {a}); }
  V trunc(V a) { return op(Op::Trunc, type(a), {a}); }
  V imax(V a, V b) { return op(Op::Maximum, type(a), {a, b}); }
  V imin(V a, V b) { return op(Op::Minimum, type(a), {a, b}); }
  V idiv(V a, V b) { return op(Op::IDiv, type(a), {a, b}); }
  V irem(V a, V b) { return op(Op::IRem, type(a), {a, b}); }
  /// |a| with b's sign (bits: and/or on the sign bit).
  V copysign(V a, V b) {
    DType bt = type(a) == kFloat64 ? kInt64 : kInt32;
    uint64_t sign = bt == kInt64 ? 0x8000000000000000ull : 0x80000000u;
    V mag = band(bitcast(a, bt), bits_const(bt, ~sign));
    return bitcast(bor(mag, band(bitcast(b, bt), bits_const(bt, sign))), type(a));
  }

  // Bits.
  V band(V a, V b) { return op(Op::BitAnd, type(a), {a, b}); }
  V bor(V a, V b) { return op(Op::BitOr, type(a), {a, b}); }
  V bxor(V a, V b) { return op(Op::BitXor, type(a), {a, b}); }
  V shl(V a, V b) { return op(Op::Shl, type(a), {a, b}); }
  V lshr(V a, V b) { return op(Op::LShr, type(a), {a, b}); }
  V ashr(V a, V b) { return op(Op::AShr, type(a), {a, b}); }
  V bitcast(V a, DType t) { return op(Op::Bitcast, t, {a}); }
  /// The f32 bits of a as an i32, and back.
  V bits(V f) { return bitcast(f, kInt32); }
  V from_bits(V i) { return bitcast(i, kFloat32); }
  V cast(V a, DType t) { return op(Op::Cast, t, {a}); }

  // Comparisons: ordered for floats (false on NaN), une and the u* forms
  // true on NaN; integers by their dtype's signedness.
  V cmp(Op o, V a, V b) { return op(o, kBool, {a, b}); }
  V oeq(V a, V b) { return cmp(Op::Eq, a, b); }
  V une(V a, V b) { return cmp(Op::Ne, a, b); }
  V olt(V a, V b) { return cmp(Op::Lt, a, b); }
  V ole(V a, V b) { return cmp(Op::Le, a, b); }
  V ogt(V a, V b) { return cmp(Op::Gt, a, b); }
  V oge(V a, V b) { return cmp(Op::Ge, a, b); }
  V ult(V a, V b) { return lnot(oge(a, b)); }
  V ule(V a, V b) { return lnot(ogt(a, b)); }
  V ugt(V a, V b) { return lnot(ole(a, b)); }
  V isnan(V a) { return une(a, a); }
  V uno(V a, V b) { return bor(isnan(a), isnan(b)); }
  V lnot(V b) { return op(Op::LogicalNot, kBool, {b}); }
  V sel(V cond, V a, V b) { return op(Op::Where, type(a), {cond, a, b}); }

private:
  V intern(DType t, uint64_t key, Scalar value) {
    auto [it, fresh] = consts_.try_emplace({t, key}, -1);
    if (fresh) {
      Instr in;
      in.kind = Instr::Kind::Const;
      in.dtype = t;
      in.value = value;
      it->second = push(std::move(in));
    }
    return it->second;
  }

  Kernel& k_;
  std::map<std::pair<DType, uint64_t>, V> consts_;
};

/// The float32 expansions and PyTorch's special cases of transcendental
/// ops (decompose_math.cpp), on f32 register values.
struct Math {
  Builder& b;
  V exp(V x);
  V exp2(V x);
  V log(V x);
  V log2(V x);
  V log1p(V x);
  V expm1(V x);
  V erf(V x);
  V tanh(V x);
  V trig(Op op, V x);  // sin, cos, tan
};

}  // namespace kiln::decomp
