#pragma once
// Lowering: what an op's decomposition (OpDef::decompose) works with. It
// appends primitives through `b` (kernel/decompose_builder.h) and reads the
// instruction being lowered: its operands, their dtype and the result's.
//
// float16/bfloat16 values are f32 registers: a decomposition computes in
// register dtypes and rounds its result with round() (every op rounds, so a
// fused chain rounds like the same ops run one at a time).
#include <string>
#include <vector>

#include "kernel/decompose_builder.h"
#include "ops/decompose.h"

namespace kiln::ops {

using decomp::V;

class Lowering {
public:
  Lowering(const Kernel& in, decomp::Builder& b, const NativeOps& native, const std::vector<V>& map)
      : b(b), in_(in), native_(native), map_(map) {}

  decomp::Builder& b;

  /// The instruction being lowered, and its dtypes: `out` the result's,
  /// `t` the operands' (for where: of the two values), `rt` the register
  /// dtype of t, `fl` whether t is floating.
  const Instr& instr() const { return *instr_; }
  DType out = kFloat32, t = kFloat32, rt = kFloat32;
  bool fl = true;

  /// Operand n, lowered; a() and bx() the first two.
  V x(size_t n) const { return map_[size_t(instr_->operands.at(n))]; }
  V a() const { return x(0); }
  V bx() const { return x(1); }
  /// The instruction that computes operand n (before lowering: a literal
  /// exponent is a Const).
  const Instr& operand(size_t n) const { return in_.body[size_t(instr_->operands.at(n))]; }

  /// `v` rounded to the result dtype (identity unless float16/bfloat16).
  V round(V v) { return round_to(out, v); }
  /// Rounds an f32 register value to float16/bfloat16 (identity for other
  /// dtypes): round to nearest even, NaN stays NaN, overflow goes to inf.
  V round_to(DType t, V v);
  /// A cast with PyTorch's semantics between any dtypes.
  V cast(V v, DType from, DType to);
  /// Whether the backend computes `op` on registers of `t` itself.
  bool has_native(Op op, DType t) const { return native_(op, t); }
  /// `op` computed by the backend, or an error naming what is missing.
  V native(Op op, DType t, std::vector<V> x);
  /// A transcendental op on a register of `t`: the backend's where it has
  /// one, else the shared float32 expansion (kernel/decompose_math.cpp).
  V transcendental(Op op, V a, DType t);
  V transcendental(Op op, V a) { return transcendental(op, a, rt); }

  [[noreturn]] void unsupported(DType t, const std::string& what) const;

  /// Points the lowering at `in` (the driver, ops/decompose.cpp).
  void at(const Instr& in);

private:
  V f64_to_f32_round_odd(V x);

  const Kernel& in_;
  const NativeOps& native_;
  const std::vector<V>& map_;
  const Instr* instr_ = nullptr;
};

}  // namespace kiln::ops
