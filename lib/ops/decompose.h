#pragma once
// Numerics written once: PyTorch's scalar semantics as Kernel IR.
//
// decompose() rewrites a kernel's elementwise ops into Kernel IR primitives
// (ops.def, kind Primitive, and the plain arithmetic ops on f32/f64/integer/
// bool registers), so that a backend lowers only primitives plus the ops it
// declares native, and every backend computes the same values:
//
//   %1 = sigmoid %0 : f16        %1 = neg %0 : f32
//                          -->   ... exp's expansion (fma, bitcast, shl) ...
//                                %9 = add %8, %c1 : f32
//                                %10 = div %c1, %9 : f32
//                                %11 = round_f16 %10 : f32
//
// Each op's decomposition is its definition's (lib/ops/<family>.cpp,
// OpDef::decompose); together they cover the division family (div with
// rounding modes, remainder, fmod of integers), pow's special exponents and integer pow,
// sigmoid, relu, sign, abs/neg of integers, bool arithmetic, NaN-propagating
// maximum/minimum/clamp, the accurate float32 expansions of exp, exp2, log,
// log2, log1p, expm1, sin, cos, tan, tanh and erf, casts (f64 -> f16/bf16
// rounds once), and float16/bfloat16: their values are f32 registers,
// rounded after every op (round_f16 / round_bf16, the latter itself a few
// integer ops unless the backend has it), so a fused chain rounds like the
// same ops run one at a time. Accumulating stores become load, add, store.
//
// What stays a backend's: loads and stores (memory formats), reductions'
// accumulators (their combining order is the backend's parallel mapping;
// ReduceOp in kernel.h fixes the semantics) and the native ops.
#include <functional>

#include "kernel/kernel.h"

namespace kiln {

/// Whether a backend computes `op` on registers of dtype `t` itself (a
/// libm call, a hardware instruction), with PyTorch's semantics and at
/// least the accuracy of the shared expansion. Ops without an expansion
/// for a dtype (float64 transcendentals) must be native.
using NativeOps = std::function<bool(Op op, DType t)>;

/// `k` with every Compute instruction a primitive or a native op, every
/// value of a register dtype (no float16/bfloat16 except in args), and no
/// accumulating store. Same SSA order for what it keeps; launch parameters
/// (sizes, strides, param consts) unchanged. Throws kiln::Error naming the
/// op when a backend lacks something the kernel needs.
Kernel decompose(const Kernel& k, const NativeOps& native);

}  // namespace kiln
