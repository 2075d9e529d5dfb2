// The CPU backend's first stage: Kernel IR -> MLIR (build_module). A kernel
// becomes two functions:
//
//   func.func private @<sym>_body(%arg0: !llvm.ptr {llvm.noalias}, ...,
//                                 %params: !llvm.ptr {llvm.noalias},
//                                 %row_begin: i64, %row_end: i64,
//                                 %col_begin: i64, %col_end: i64)
//   func.func @<sym>(%ptrs: !llvm.ptr, %params: !llvm.ptr, i64, i64, i64, i64)
//
// The body loops over rows (scf.for), unravels the row index into the outer
// indices once per row, then loops over columns and evaluates the kernel's
// scalar instructions per element. The wrapper has the CpuKernelFn signature:
// it loads the buffer pointers from `ptrs` and calls the body. The body's
// pointers are `noalias` so LLVM vectorizes the column loop without runtime
// alias checks; O3 inlines the body into the wrapper and keeps that fact as
// scoped alias metadata.
//
// Indexed loads and stores add sum_j index_j * index_stride_j to the element
// offset; an accumulating store loads, adds in the arg's dtype and stores.
// Reduction kernels (reduce_rank > 0) loop the reduced dims inside each
// output element (KernelBuilder::build_reduction): stage 0 per reduced
// element, folding into accumulators, stage 1 once per output element.
//
// Scalar semantics follow PyTorch; the per-op rules are in ScalarEmitter.
// float16/bfloat16 values live in f32 registers and are rounded to their type
// after every op that can produce an unrepresentable value, so a fused chain
// rounds exactly like the same ops run one at a time.
#include "codegen/cpu/lowering.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/error.h"

#include "llvm/ADT/APInt.h"
#include "llvm/Support/raw_ostream.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

namespace kiln::cpu {
namespace {

namespace arith = mlir::arith;
namespace math = mlir::math;
namespace scf = mlir::scf;
namespace func = mlir::func;
namespace LLVMD = mlir::LLVM;
using mlir::Location;
using mlir::OpBuilder;
using mlir::Type;
using mlir::Value;

// ---------------------------------------------------------------------------
// Scalar semantics: one method per concern, all on MLIR values of "register"
// type (see reg_type).

/// Register type of a dtype: bool is i1, float16/bfloat16 compute in f32.
Type reg_type(mlir::MLIRContext* ctx, DType t) {
  switch (t) {
    case kBool: return mlir::IntegerType::get(ctx, 1);
    case kInt8: case kUInt8: return mlir::IntegerType::get(ctx, 8);
    case kInt16: return mlir::IntegerType::get(ctx, 16);
    case kInt32: return mlir::IntegerType::get(ctx, 32);
    case kInt64: return mlir::IntegerType::get(ctx, 64);
    case kFloat16: case kBFloat16: case kFloat32: return mlir::Float32Type::get(ctx);
    case kFloat64: break;
  }
  return mlir::Float64Type::get(ctx);
}

/// In-memory type: bool is one byte, bfloat16 is handled as its 16 bits.
Type mem_type(mlir::MLIRContext* ctx, DType t) {
  switch (t) {
    case kBool: return mlir::IntegerType::get(ctx, 8);
    case kFloat16: return mlir::Float16Type::get(ctx);
    case kBFloat16: return mlir::IntegerType::get(ctx, 16);
    default: return reg_type(ctx, t);
  }
}

unsigned int_width(DType t) {
  switch (t) {
    case kBool: return 1;
    case kInt8: case kUInt8: return 8;
    case kInt16: return 16;
    case kInt32: return 32;
    default: return 64;
  }
}

class ScalarEmitter {
public:
  ScalarEmitter(OpBuilder& b, Location loc) : b_(b), loc_(loc), ctx_(b.getContext()) {}

  Value constant(DType t, const Scalar& v) {
    if (t == kBool) return int_const(1, v.to_bool());
    if (is_integral(t)) return int_const(int_width(t), uint64_t(v.to_int()));
    // Round float16/bfloat16 constants like a tensor of that dtype would.
    double d = v.to_double();
    if (t == kFloat16) d = float(Half(float(d)));
    if (t == kBFloat16) d = float(BFloat16(float(d)));
    return float_const(reg_type(ctx_, t), d);
  }

  Value load(DType t, Value ptr) {
    Value raw = b_.create<LLVMD::LoadOp>(loc_, mem_type(ctx_, t), ptr);
    switch (t) {
      case kBool: return cmpi(arith::CmpIPredicate::ne, raw, int_const(8, 0));
      case kFloat16: return b_.create<arith::ExtFOp>(loc_, f32(), raw);
      case kBFloat16: {
        Value wide = b_.create<arith::ExtUIOp>(loc_, i32(), raw);
        Value bits = b_.create<arith::ShLIOp>(loc_, wide, int_const(32, 16));
        return b_.create<arith::BitcastOp>(loc_, f32(), bits);
      }
      default: return raw;
    }
  }

  void store(DType t, Value v, Value ptr) {
    // Register values of float16/bfloat16 are always exactly representable
    // (every producer rounds), so these conversions are exact.
    switch (t) {
      case kBool: v = b_.create<arith::ExtUIOp>(loc_, i8(), v); break;
      case kFloat16: v = b_.create<arith::TruncFOp>(loc_, mlir::Float16Type::get(ctx_), v); break;
      case kBFloat16: {
        Value bits = b_.create<arith::BitcastOp>(loc_, i32(), v);
        Value hi = b_.create<arith::ShRUIOp>(loc_, bits, int_const(32, 16));
        v = b_.create<arith::TruncIOp>(loc_, mem_type(ctx_, t), hi);
        break;
      }
      default: break;
    }
    b_.create<LLVMD::StoreOp>(loc_, v, ptr);
  }

  /// Rounds an f32 register value to float16/bfloat16 (identity otherwise):
  /// round to nearest even, NaN stays NaN, overflow goes to inf.
  Value round_to(DType t, Value v) {
    if (t == kFloat16) {
      Value h = b_.create<arith::TruncFOp>(loc_, mlir::Float16Type::get(ctx_), v);
      return b_.create<arith::ExtFOp>(loc_, f32(), h);
    }
    if (t != kBFloat16) return v;
    // On the integer bits: vectorizes on any x86 and does not depend on
    // LLVM's bf16 support.
    Value bits = b_.create<arith::BitcastOp>(loc_, i32(), v);
    Value lsb = b_.create<arith::AndIOp>(
        loc_, b_.create<arith::ShRUIOp>(loc_, bits, int_const(32, 16)), int_const(32, 1));
    Value bias = b_.create<arith::AddIOp>(loc_, lsb, int_const(32, 0x7fff));
    Value hi_mask = int_const(32, 0xffff0000u);
    Value rounded = b_.create<arith::AndIOp>(loc_, b_.create<arith::AddIOp>(loc_, bits, bias), hi_mask);
    Value quiet = b_.create<arith::AndIOp>(
        loc_, b_.create<arith::OrIOp>(loc_, bits, int_const(32, 0x00400000)), hi_mask);
    Value nan = cmpf(arith::CmpFPredicate::UNO, v, v);
    Value out = b_.create<arith::SelectOp>(loc_, nan, quiet, rounded);
    return b_.create<arith::BitcastOp>(loc_, f32(), out);
  }

  Value cast(Value v, DType from, DType to) {
    if (from == to) return v;
    if (to == kBool) {
      // Unordered compare: NaN is truthy, as in PyTorch.
      if (is_floating(from)) return cmpf(arith::CmpFPredicate::UNE, v, zero(v.getType()));
      return cmpi(arith::CmpIPredicate::ne, v, zero(v.getType()));
    }
    Type dst = reg_type(ctx_, to);
    if (is_floating(from) && is_floating(to)) {
      if (to == kFloat64) return v.getType().isF64() ? v : b_.create<arith::ExtFOp>(loc_, dst, v);
      if (from == kFloat64) {
        if (to == kFloat32) return b_.create<arith::TruncFOp>(loc_, dst, v);
        return round_to(to, f64_to_f32_round_odd(v));
      }
      return round_to(to, v);  // between f32, f16 and bf16 (all held in f32)
    }
    if (is_floating(from)) {
      // Truncates toward zero. Narrow targets go through i32 and wrap, which
      // is what PyTorch's static_cast produces on x86 (e.g. -1.0 -> uint8
      // 255) and keeps out-of-range inputs from becoming LLVM poison.
      unsigned w = int_width(to);
      if (w >= 32) return b_.create<arith::FPToSIOp>(loc_, dst, v);
      Value wide = b_.create<arith::FPToSIOp>(loc_, i32(), v);
      return b_.create<arith::TruncIOp>(loc_, dst, wide);
    }
    if (is_floating(to)) {
      Value f = is_signed(from) ? Value(b_.create<arith::SIToFPOp>(loc_, dst, v))
                                : Value(b_.create<arith::UIToFPOp>(loc_, dst, v));
      return round_to(to, f);
    }
    // Integer to integer (bool included): wrap, or extend by the source's
    // signedness.
    unsigned wf = int_width(from), wt = int_width(to);
    if (wf == wt) return v;
    if (wf > wt) return b_.create<arith::TruncIOp>(loc_, dst, v);
    if (is_signed(from)) return b_.create<arith::ExtSIOp>(loc_, dst, v);
    return b_.create<arith::ExtUIOp>(loc_, dst, v);
  }

  /// Evaluates one elementwise op. `t` is the operands' dtype (the first
  /// operand's; Where: of a and b), `out` the result's. Null if `op` has no
  /// lowering.
  Value compute(Op op, DType t, DType out, const std::vector<Value>& x, DType cond_dtype) {
    bool fl = is_floating(t);
    bool sg = is_signed(t);
    Value a = x.empty() ? Value() : x[0];
    Value bb = x.size() > 1 ? x[1] : Value();
    switch (op) {
      case Op::Cast: return cast(a, t, out);
      case Op::Copy: return a;
      case Op::Neg:
        if (fl) return b_.create<arith::NegFOp>(loc_, a);
        return b_.create<arith::SubIOp>(loc_, zero(a.getType()), a);
      case Op::Abs:
        if (fl) return b_.create<math::AbsFOp>(loc_, a);
        if (!sg) return a;
        return b_.create<arith::SelectOp>(
            loc_, cmpi(arith::CmpIPredicate::slt, a, zero(a.getType())),
            b_.create<arith::SubIOp>(loc_, zero(a.getType()), a), a);
      case Op::Relu: {
        // x <= 0 ? 0 : x; an ordered compare leaves NaN alone.
        Value le = fl ? cmpf(arith::CmpFPredicate::OLE, a, zero(a.getType()))
                      : cmpi(sg ? arith::CmpIPredicate::sle : arith::CmpIPredicate::ule, a,
                             zero(a.getType()));
        return b_.create<arith::SelectOp>(loc_, le, zero(a.getType()), a);
      }
      case Op::LogicalNot:
        if (fl) return cmpf(arith::CmpFPredicate::OEQ, a, zero(a.getType()));
        return cmpi(arith::CmpIPredicate::eq, a, zero(a.getType()));
      case Op::Sqrt: return round_to(out, b_.create<math::SqrtOp>(loc_, a));
      case Op::Exp: return round_to(out, exp(a));
      case Op::Log: return round_to(out, log(a));
      case Op::Sin: case Op::Cos: case Op::Tan: return round_to(out, trig(op, a));
      case Op::Exp2: return round_to(out, exp2(a));
      case Op::Log2: return round_to(out, log2(a));
      case Op::Log1p: return round_to(out, log1p(a));
      case Op::Expm1: return round_to(out, expm1(a));
      case Op::Erf: return round_to(out, erf(a));
      case Op::Atan2: return round_to(out, atan2(a, bb));
      case Op::Sign: return sign(a, t);
      case Op::Floor: case Op::Ceil: case Op::Round: case Op::Trunc:
        // Integers never get here (the graph drops the op); identity anyway.
        // The result of a float16/bfloat16 value is representable.
        return fl ? round_float(op, a) : a;
      case Op::Tanh: return round_to(out, b_.create<math::TanhOp>(loc_, a));
      case Op::Sigmoid: {
        Value one = float_const(a.getType(), 1.0);
        Value e = exp(b_.create<arith::NegFOp>(loc_, a));
        return round_to(out, b_.create<arith::DivFOp>(loc_, one, b_.create<arith::AddFOp>(loc_, one, e)));
      }
      case Op::Add:
        if (fl) return round_to(out, b_.create<arith::AddFOp>(loc_, a, bb));
        if (t == kBool) return b_.create<arith::OrIOp>(loc_, a, bb);
        return b_.create<arith::AddIOp>(loc_, a, bb);
      case Op::Sub:
        if (fl) return round_to(out, b_.create<arith::SubFOp>(loc_, a, bb));
        return b_.create<arith::SubIOp>(loc_, a, bb);  // i1: xor
      case Op::Mul:
        if (fl) return round_to(out, b_.create<arith::MulFOp>(loc_, a, bb));
        return b_.create<arith::MulIOp>(loc_, a, bb);  // i1: and
      case Op::Div: return round_to(out, b_.create<arith::DivFOp>(loc_, a, bb));
      case Op::Pow:
        if (fl) return round_to(out, b_.create<math::PowFOp>(loc_, a, bb));
        return int_pow(a, bb, int_width(t));
      case Op::Remainder: case Op::Fmod: case Op::FloorDiv: case Op::TruncDiv:
        return fl ? float_div_family(op, a, bb, out) : int_div_family(op, a, bb, sg);
      case Op::Maximum: case Op::ClampMin: return max_min(a, bb, t, /*max=*/true);
      case Op::Minimum: case Op::ClampMax: return max_min(a, bb, t, /*max=*/false);
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
        return compare(op, a, bb, t);
      case Op::Where: {
        Value c = cast(a, cond_dtype, kBool);
        return b_.create<arith::SelectOp>(loc_, c, x[1], x[2]);
      }
      default: break;
    }
    return {};  // no lowering: reported by the caller
  }

  /// pow(x, e) for a float x and a constant e that PyTorch's
  /// pow_tensor_scalar routes to cheaper kernels: x*x, x*x*x, sqrt(x),
  /// 1/sqrt(x), 1/x, 1/(x*x). They differ from pow() at special inputs
  /// (pow(-inf, 0.5) is inf, sqrt(-inf) NaN) and are faster. Null for other
  /// exponents. float16/bfloat16 round after every step, like the same ops
  /// written out.
  Value pow_const(Value x, double e, DType out) {
    auto r = [&](Value v) { return round_to(out, v); };
    auto mul = [&](Value p, Value q) { return r(b_.create<arith::MulFOp>(loc_, p, q)); };
    auto recip = [&](Value v) { return r(b_.create<arith::DivFOp>(loc_, float_const(v.getType(), 1.0), v)); };
    auto sqrt = [&](Value v) { return r(b_.create<math::SqrtOp>(loc_, v)); };
    if (e == 2) return mul(x, x);
    if (e == 3) return mul(mul(x, x), x);
    if (e == 0.5) return sqrt(x);
    if (e == -0.5) return recip(sqrt(x));
    if (e == -1) return recip(x);
    if (e == -2) return recip(mul(x, x));
    return {};
  }

  // --- Reductions -------------------------------------------------------
  // A Reduce/Scan over values of dtype t keeps an accumulator of one or two
  // register values ("components"):
  //   Sum, Prod      the running value; float16/bfloat16 accumulate in f32
  //                  and round once (acc_result); bool: or / and
  //   Max, Min       floats: an integer key ordered like the float, NaN
  //                  mapped to the extreme key (max_key), so the fold is an
  //                  integer max/min that LLVM vectorizes and NaN propagates
  //   ArgMax, ArgMin the best value and its int64 position; the first of
  //                  equal values stays, the first NaN wins

  std::vector<Type> acc_types(ReduceOp op, DType t) {
    Type r = reg_type(ctx_, t);
    if ((op == ReduceOp::Max || op == ReduceOp::Min) && is_floating(t)) return {key_type(r)};
    if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) return {r, mlir::IntegerType::get(ctx_, 64)};
    return {r};
  }

  std::vector<Value> acc_init(ReduceOp op, DType t) {
    Type r = reg_type(ctx_, t);
    bool fl = is_floating(t);
    switch (op) {
      case ReduceOp::Sum: return {zero(r)};
      case ReduceOp::Prod: return {fl ? float_const(r, 1.0) : int_const(int_width(t), 1)};
      case ReduceOp::Max:
      case ReduceOp::Min: {
        bool mx = op == ReduceOp::Max;
        if (fl) return {key_const(r, mx ? -INFINITY : INFINITY)};
        return {int_extreme(t, /*max=*/!mx)};
      }
      case ReduceOp::ArgMax:
      case ReduceOp::ArgMin: {
        bool mx = op == ReduceOp::ArgMax;
        Value best = fl ? float_const(r, mx ? -INFINITY : INFINITY) : int_extreme(t, !mx);
        return {best, int_const(64, 0)};
      }
    }
    return {};
  }

  /// Folds x (at int64 position `pos`, used by ArgMax/ArgMin) into `acc`.
  /// `reassoc` lets LLVM reorder a float Sum/Prod (to vectorize it).
  std::vector<Value> acc_fold(ReduceOp op, DType t, const std::vector<Value>& acc, Value x, Value pos,
                              bool reassoc) {
    bool fl = is_floating(t);
    Value a = acc[0];
    auto fm = reassoc ? arith::FastMathFlags::reassoc : arith::FastMathFlags::none;
    switch (op) {
      case ReduceOp::Sum:
        if (fl) return {b_.create<arith::AddFOp>(loc_, a, x, fm)};
        if (t == kBool) return {b_.create<arith::OrIOp>(loc_, a, x)};
        return {b_.create<arith::AddIOp>(loc_, a, x)};
      case ReduceOp::Prod:
        if (fl) return {b_.create<arith::MulFOp>(loc_, a, x, fm)};
        return {b_.create<arith::MulIOp>(loc_, a, x)};  // i1: and
      case ReduceOp::Max:
      case ReduceOp::Min: {
        bool mx = op == ReduceOp::Max;
        if (fl) {
          Value k = max_key(x, mx);
          return {mx ? Value(b_.create<arith::MaxSIOp>(loc_, a, k)) : Value(b_.create<arith::MinSIOp>(loc_, a, k))};
        }
        return {max_min(a, x, t, mx)};  // i1: or / and (unsigned)
      }
      case ReduceOp::ArgMax:
      case ReduceOp::ArgMin: {
        bool mx = op == ReduceOp::ArgMax;
        Value pick;
        if (fl) {
          // x > best, or x is the first NaN.
          Value better = cmpf(mx ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT, x, a);
          Value first_nan = b_.create<arith::AndIOp>(loc_, cmpf(arith::CmpFPredicate::UNO, x, x),
                                                     cmpf(arith::CmpFPredicate::ORD, a, a));
          pick = b_.create<arith::OrIOp>(loc_, better, first_nan);
        } else {
          bool sg = is_signed(t);
          using P = arith::CmpIPredicate;
          pick = cmpi(mx ? (sg ? P::sgt : P::ugt) : (sg ? P::slt : P::ult), x, a);
        }
        return {select(pick, x, a), select(pick, pos, acc[1])};
      }
    }
    return {};
  }

  /// The value of a Reduce/Scan (register type of its dtype) from `acc`.
  Value acc_result(ReduceOp op, DType t, const std::vector<Value>& acc) {
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Prod: return round_to(t, acc[0]);
      case ReduceOp::Max:
      case ReduceOp::Min: return is_floating(t) ? from_max_key(acc[0], reg_type(ctx_, t), op == ReduceOp::Max) : acc[0];
      case ReduceOp::ArgMax:
      case ReduceOp::ArgMin: return acc[1];
    }
    return {};
  }

  // ArgMax/ArgMin in two passes (see KernelBuilder::element_loop): the
  // first pass finds the best key with a max/min fold, the second the first
  // position whose key equals it with an int64 min fold; both vectorize.
  // Keys of -0 and +0 are equal (so are the values).
  Value arg_key(Value x, DType t, bool max) {
    if (!is_floating(t)) return x;
    Value z = zero(x.getType());
    return max_key(select(cmpf(arith::CmpFPredicate::OEQ, x, z), z, x), max);
  }
  Value arg_key_init(DType t, bool max) {
    return is_floating(t) ? key_const(reg_type(ctx_, t), max ? -INFINITY : INFINITY) : int_extreme(t, !max);
  }
  Value arg_key_fold(DType t, bool max, Value acc, Value key) {
    if (!is_floating(t)) return max_min(acc, key, t, max);
    return max ? Value(b_.create<arith::MaxSIOp>(loc_, acc, key)) : Value(b_.create<arith::MinSIOp>(loc_, acc, key));
  }
  Value first_pos_init() { return int_const(64, uint64_t(INT64_MAX)); }
  Value first_pos_fold(Value acc, Value key, Value best, Value pos) {
    Value cand = select(cmpi(arith::CmpIPredicate::eq, key, best), pos, first_pos_init());
    return b_.create<arith::MinSIOp>(loc_, acc, cand);
  }
  Value first_pos_result(Value acc) {
    return select(cmpi(arith::CmpIPredicate::eq, acc, first_pos_init()), int_const(64, 0), acc);
  }

  /// Memory type of an accumulator component (i1 is kept as a byte).
  Type acc_mem_type(Type t) { return t.isInteger(1) ? i8() : t; }
  Value acc_to_mem(Value v) { return v.getType().isInteger(1) ? Value(b_.create<arith::ExtUIOp>(loc_, i8(), v)) : v; }
  Value acc_from_mem(Value v, Type t) { return t.isInteger(1) ? Value(b_.create<arith::TruncIOp>(loc_, t, v)) : v; }

  Value constant_i64(int64_t v) { return int_const(64, uint64_t(v)); }

private:
  // Keys: the float's bits as a signed integer, with the magnitude bits of
  // negative values flipped, order like the floats (-inf < ... < -0 < +0 <
  // ... < inf); NaN gets the largest key for max, the smallest for min, which
  // no other value has (those bit patterns are NaNs).
  Type key_type(Type f) { return mlir::IntegerType::get(ctx_, f.isF64() ? 64 : 32); }
  static uint64_t key_bits(double v, bool f64) {
    if (f64) {
      uint64_t b;
      std::memcpy(&b, &v, 8);
      return int64_t(b) < 0 ? b ^ 0x7fffffffffffffffull : b;
    }
    float f = float(v);
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return int32_t(b) < 0 ? b ^ 0x7fffffffu : b;
  }
  Value key_const(Type f, double v) { return int_const(f.isF64() ? 64 : 32, key_bits(v, f.isF64())); }
  Value max_key(Value x, bool max) {
    unsigned w = x.getType().isF64() ? 64 : 32;
    uint64_t pos_mask = w == 64 ? 0x7fffffffffffffffull : 0x7fffffffu;
    Value bits = b_.create<arith::BitcastOp>(loc_, key_type(x.getType()), x);
    Value neg = cmpi(arith::CmpIPredicate::slt, bits, int_const(w, 0));
    Value key = select(neg, b_.create<arith::XOrIOp>(loc_, bits, int_const(w, pos_mask)), bits);
    Value nan_key = int_const(w, max ? pos_mask : pos_mask + 1);
    return select(cmpf(arith::CmpFPredicate::UNO, x, x), nan_key, key);
  }
  Value from_max_key(Value key, Type f, bool max) {
    unsigned w = f.isF64() ? 64 : 32;
    uint64_t pos_mask = w == 64 ? 0x7fffffffffffffffull : 0x7fffffffu;
    Value nan = cmpi(arith::CmpIPredicate::eq, key, int_const(w, max ? pos_mask : pos_mask + 1));
    Value neg = cmpi(arith::CmpIPredicate::slt, key, int_const(w, 0));
    Value bits = select(neg, b_.create<arith::XOrIOp>(loc_, key, int_const(w, pos_mask)), key);
    Value v = b_.create<arith::BitcastOp>(loc_, f, bits);
    return select(nan, float_const(f, NAN), v);
  }
  /// The largest (or smallest) value of an integer dtype.
  Value int_extreme(DType t, bool max) {
    unsigned w = int_width(t);
    if (!is_signed(t)) return int_const(w, max ? ~0ull : 0);
    uint64_t top = 1ull << (w - 1);
    return int_const(w, max ? top - 1 : top);
  }

  Type f32() { return mlir::Float32Type::get(ctx_); }
  Type i8() { return mlir::IntegerType::get(ctx_, 8); }
  Type i32() { return mlir::IntegerType::get(ctx_, 32); }

  Value int_const(unsigned width, uint64_t v) {
    Type t = mlir::IntegerType::get(ctx_, width);
    // Truncate explicitly: the constant wraps to the dtype's width.
    llvm::APInt bits = llvm::APInt(64, v).trunc(width);
    return b_.create<arith::ConstantOp>(loc_, b_.getIntegerAttr(t, bits));
  }
  Value float_const(Type t, double v) {
    return b_.create<arith::ConstantOp>(loc_, b_.getFloatAttr(t, v));
  }
  Value zero(Type t) {
    if (t.isa<mlir::FloatType>()) return float_const(t, 0.0);
    return int_const(t.getIntOrFloatBitWidth(), 0);
  }
  Value cmpf(arith::CmpFPredicate p, Value a, Value b) {
    return b_.create<arith::CmpFOp>(loc_, p, a, b);
  }
  Value cmpi(arith::CmpIPredicate p, Value a, Value b) {
    return b_.create<arith::CmpIOp>(loc_, p, a, b);
  }

  /// f64 -> f32 rounding to odd: exact results stay, inexact ones are
  /// truncated toward zero with the last bit forced to 1. A following
  /// round-to-nearest-even to float16/bfloat16 then rounds as if directly
  /// from f64 (f32 keeps more than 2 extra bits), i.e. one rounding.
  Value f64_to_f32_round_odd(Value x) {
    Value t = b_.create<arith::TruncFOp>(loc_, f32(), x);
    Value back = b_.create<arith::ExtFOp>(loc_, x.getType(), t);
    Value exact = cmpf(arith::CmpFPredicate::OEQ, back, x);
    Value away = cmpf(arith::CmpFPredicate::OGT, b_.create<math::AbsFOp>(loc_, back),
                      b_.create<math::AbsFOp>(loc_, x));
    Value bits = b_.create<arith::BitcastOp>(loc_, i32(), t);
    Value toward_zero = b_.create<arith::SelectOp>(
        loc_, away, b_.create<arith::SubIOp>(loc_, bits, int_const(32, 1)), bits);
    Value odd = b_.create<arith::OrIOp>(loc_, toward_zero, int_const(32, 1));
    Value out = b_.create<arith::SelectOp>(loc_, exact, bits, odd);
    return b_.create<arith::BitcastOp>(loc_, f32(), out);
  }

  // --- Transcendentals --------------------------------------------------
  // f32 exp, sin, cos and tan are expanded here into branch-free arithmetic
  // that LLVM vectorizes. MLIR 16's polynomial approximations of these are
  // fast but not accurate enough (measured: exp off by ~30 ulp near overflow
  // and returning FLT_MIN instead of subnormals or 0, even for exp(-1e4);
  // sin/cos reduce the argument with a one-word pi/2, so sin(x) is off by
  // ~1e-7 absolute near multiples of pi and by 5e-5 at |x| = 1000). PyTorch's
  // CPU kernels (Sleef) are within 1 ulp. f64 goes to libm (scalar calls);
  // log and tanh keep MLIR's approximations (measured <= 1 and <= 5 ulp;
  // log gets a fix for subnormal inputs).
  //
  // exp2, log2, log1p, expm1 and erf (f32) are expanded here too; measured
  // on 79M inputs (every 61st bit pattern plus dense sweeps) against glibc's
  // f64 functions: exp2 0.85 ulp, log2 0.87, log1p 0.83, expm1 0.98, erf
  // 1.04. MLIR 16's versions measured: log2 treats subnormals as FLT_MIN
  // (log2(1e-45) = -126), log1p 2.4 ulp, expm1 78 ulp (2.9 at x = -1), erf
  // 4.8 ulp; its f32 exp2 is a scalar libm call (30x slower), and its f64
  // log1p/expm1 lowerings are log(1 + x)/exp(x) - 1 (log1p(1e-30) = 0), so
  // f64 log1p, expm1, erf and atan2 call libm directly. atan2 (f32 too, via
  // f64) and fmod (frem) stay scalar libm calls.
  //
  // The expansions round to an integer with the 1.5 * 2^23 trick: fma(x, c,
  // M) rounds x*c to an integer (one rounding of the exact product), and its
  // low mantissa bits hold that integer, so no float->int conversion is needed
  // (fptosi would be poison for NaN).

  static constexpr double kRoundMagic = 12582912.0;  // 1.5 * 2^23

  Value fma(Value a, Value b, Value c) { return b_.create<math::FmaOp>(loc_, a, b, c); }
  Value select(Value c, Value a, Value b) { return b_.create<arith::SelectOp>(loc_, c, a, b); }
  Value bits(Value f) { return b_.create<arith::BitcastOp>(loc_, i32(), f); }
  Value horner(Value s, std::initializer_list<double> cs) {
    Value p = float_const(s.getType(), *cs.begin());
    for (auto it = cs.begin() + 1; it != cs.end(); ++it) p = fma(p, s, float_const(s.getType(), *it));
    return p;
  }

  /// e^x, <= 1 ulp (Sleef's expf_u10 scheme): x = q ln2 + s, |s| <= ln2/2,
  /// e^s by polynomial, times 2^q as two factors so that subnormal results
  /// are rounded once. Clamping x to [-104, 89] yields 0 and inf outside;
  /// ordered compares let NaN through, and it stays NaN.
  Value exp(Value x) {
    if (x.getType().isF64()) return b_.create<math::ExpOp>(loc_, x);
    Type f = x.getType();
    auto c = [&](double v) { return float_const(f, v); };
    Value xc = select(cmpf(arith::CmpFPredicate::OLT, x, c(-104)), c(-104), x);
    xc = select(cmpf(arith::CmpFPredicate::OGT, xc, c(89)), c(89), xc);
    Value t = fma(xc, c(1.442695040888963407), c(kRoundMagic));
    Value q = b_.create<arith::SubFOp>(loc_, t, c(kRoundMagic));
    Value s = fma(q, c(-0.693145751953125), xc);  // ln2, split in two
    s = fma(q, c(-1.428606765330187045e-06), s);
    Value u = horner(s, {0.000198527617612853646278381, 0.00139304355252534151077271,
                         0.00833336077630519866943359, 0.0416664853692054748535156,
                         0.166666671633720397949219, 0.5});
    u = b_.create<arith::AddFOp>(loc_, c(1), fma(b_.create<arith::MulFOp>(loc_, s, s), u, s));
    return scale2(u, round_magic_int(t));
  }

  /// The integer in the low bits of t = n + kRoundMagic (|n| < 2^22).
  Value round_magic_int(Value t) {
    return b_.create<arith::SubIOp>(loc_, bits(t), bits(float_const(t.getType(), kRoundMagic)));
  }
  /// 2^e (f32) for an i32 e with a normal result (-126 <= e <= 127).
  Value pow2(Value e) {
    Value biased = b_.create<arith::AddIOp>(loc_, e, int_const(32, 127));
    return b_.create<arith::BitcastOp>(loc_, f32(), b_.create<arith::ShLIOp>(loc_, biased, int_const(32, 23)));
  }
  /// u * 2^q for -252 <= q <= 254, as two factors so that a subnormal
  /// result is rounded once.
  Value scale2(Value u, Value q) {
    Value q1 = b_.create<arith::ShRSIOp>(loc_, q, int_const(32, 1));
    Value q2 = b_.create<arith::SubIOp>(loc_, q, q1);
    return b_.create<arith::MulFOp>(loc_, b_.create<arith::MulFOp>(loc_, u, pow2(q1)), pow2(q2));
  }
  Value fmul(Value a, Value b) { return b_.create<arith::MulFOp>(loc_, a, b); }
  Value fadd(Value a, Value b) { return b_.create<arith::AddFOp>(loc_, a, b); }
  Value fsub(Value a, Value b) { return b_.create<arith::SubFOp>(loc_, a, b); }
  Value fdiv(Value a, Value b) { return b_.create<arith::DivFOp>(loc_, a, b); }
  Value iadd(Value a, Value b) { return b_.create<arith::AddIOp>(loc_, a, b); }
  Value iand(Value a, Value b) { return b_.create<arith::AndIOp>(loc_, a, b); }
  Value ior(Value a, Value b) { return b_.create<arith::OrIOp>(loc_, a, b); }
  Value from_bits(Value i) { return b_.create<arith::BitcastOp>(loc_, f32(), i); }
  Value sitofp(Value i) { return b_.create<arith::SIToFPOp>(loc_, f32(), i); }
  /// x clamped to [lo, hi]; ordered compares let NaN through.
  Value clampf(Value x, double lo, double hi) {
    Type f = x.getType();
    x = select(cmpf(arith::CmpFPredicate::OLT, x, float_const(f, lo)), float_const(f, lo), x);
    return select(cmpf(arith::CmpFPredicate::OGT, x, float_const(f, hi)), float_const(f, hi), x);
  }

  /// A call of the C library function `name` (declared in the module on
  /// first use); the result has the first argument's type. For f64 and
  /// for ops whose f32 expansion is not worth it (atan2): scalar calls.
  Value libm(const char* name, std::vector<Value> args) {
    auto module = b_.getInsertionBlock()->getParentOp()->getParentOfType<mlir::ModuleOp>();
    auto fn = module.lookupSymbol<func::FuncOp>(name);
    if (!fn) {
      OpBuilder mb(ctx_);
      mb.setInsertionPointToStart(module.getBody());
      std::vector<Type> in;
      for (Value v : args) in.push_back(v.getType());
      fn = mb.create<func::FuncOp>(loc_, name, mb.getFunctionType(in, {args[0].getType()}));
      fn.setPrivate();
    }
    return b_.create<func::CallOp>(loc_, fn, args).getResult(0);
  }

  /// 2^x, <= 1 ulp (Sleef's exp2f_u10 scheme): x = q + s with q = rint(x)
  /// (exact), |s| <= 1/2, 2^s = 1 + s P(s), times 2^q as in exp. Clamping x
  /// to [-151, 129] gives 0 and inf outside; NaN stays NaN.
  Value exp2(Value x) {
    if (x.getType().isF64()) return b_.create<math::Exp2Op>(loc_, x);
    Type f = x.getType();
    Value xc = clampf(x, -151, 129);
    Value t = fadd(xc, float_const(f, kRoundMagic));
    Value s = fsub(xc, fsub(t, float_const(f, kRoundMagic)));
    Value u = horner(s, {0.1535920892e-3, 0.1339262701e-2, 0.9618384764e-2, 0.5550347269e-1, 0.2402264476e+0,
                         0.6931471825e+0});
    return scale2(fma(u, s, float_const(f, 1)), round_magic_int(t));
  }

  /// x = 2^k m with m in [sqrt(2)/2, sqrt(2)) for a positive normal x:
  /// {k as f32, m}.
  std::pair<Value, Value> split_log(Value x) {
    Value ix = iadd(bits(x), int_const(32, 0x3f800000 - 0x3f3504f3));
    Value k = b_.create<arith::SubIOp>(loc_, b_.create<arith::ShRSIOp>(loc_, ix, int_const(32, 23)),
                                      int_const(32, 0x7f));
    Value m = from_bits(iadd(iand(ix, int_const(32, 0x007fffff)), int_const(32, 0x3f3504f3)));
    return {sitofp(k), m};
  }
  /// fdlibm's log kernel: for f in [sqrt(2)/2 - 1, sqrt(2) - 1], with
  /// s = f/(2+f), log(1+f) = f - hfsq + s (hfsq + R(s^2)), hfsq = f^2/2.
  /// Returns {hfsq, s (hfsq + R)}.
  std::pair<Value, Value> log_kernel(Value f) {
    Type t = f.getType();
    Value s = fdiv(f, fadd(float_const(t, 2), f));
    Value z = fmul(s, s), w = fmul(z, z);
    Value t1 = fmul(w, fadd(float_const(t, 0.40000972152), fmul(w, float_const(t, 0.24279078841))));
    Value t2 = fmul(z, fadd(float_const(t, 0.66666662693), fmul(w, float_const(t, 0.28498786688))));
    Value hfsq = fmul(float_const(t, 0.5), fmul(f, f));
    return {hfsq, fmul(s, fadd(hfsq, fadd(t2, t1)))};
  }

  /// log2, <= 1 ulp (musl's log2f): log2(2^k m) = k + log(m)/ln2, with
  /// log(m) split in hi + lo so that the product with 1/ln2 (also split)
  /// keeps the bits. Exact at powers of 2. Subnormals are scaled by 2^25.
  Value log2(Value x) {
    if (x.getType().isF64()) return b_.create<math::Log2Op>(loc_, x);
    Type t = x.getType();
    auto c = [&](double v) { return float_const(t, v); };
    Value sub = cmpf(arith::CmpFPredicate::OLT, x, c(0x1p-126));
    auto [kf, m] = split_log(select(sub, fmul(x, c(0x1p25)), x));
    kf = select(sub, fsub(kf, c(25)), kf);
    Value f = fsub(m, c(1));
    auto [hfsq, r] = log_kernel(f);
    Value hi = from_bits(iand(bits(fsub(f, hfsq)), int_const(32, 0xfffff000)));
    Value lo = fadd(fsub(fsub(f, hi), hfsq), r);
    const double ivln2hi = 1.4428710938e+00, ivln2lo = -1.7605285393e-04;
    Value res = fadd(fadd(fadd(fmul(fadd(lo, hi), c(ivln2lo)), fmul(lo, c(ivln2hi))), fmul(hi, c(ivln2hi))), kf);
    // log2(inf) = inf, log2(+-0) = -inf, log2(x < 0) = log2(NaN) = NaN.
    res = select(cmpf(arith::CmpFPredicate::OEQ, x, c(INFINITY)), x, res);
    res = select(cmpf(arith::CmpFPredicate::OEQ, x, c(0)), c(-INFINITY), res);
    return select(cmpf(arith::CmpFPredicate::ULT, x, c(0)), c(NAN), res);
  }

  /// log(1 + x), <= 1 ulp (musl's log1pf): u = 1 + x = 2^k m; log1p(x) =
  /// k ln2 + log(m) + c, where c = (1 + x - u)/u corrects the rounding of u.
  /// When k = 0, f = x is used directly (exact), so tiny x give x.
  Value log1p(Value x) {
    if (x.getType().isF64()) return libm("log1p", {x});
    Type t = x.getType();
    auto c = [&](double v) { return float_const(t, v); };
    Value u = fadd(c(1), x);
    auto [kf, m] = split_log(u);
    Value k0 = cmpf(arith::CmpFPredicate::OEQ, kf, c(0));
    Value big = cmpf(arith::CmpFPredicate::OGE, kf, c(2));
    Value corr = select(big, fsub(c(1), fsub(u, x)), fsub(x, fsub(u, c(1))));
    Value cu = select(k0, c(0), fdiv(corr, u));
    Value f = select(k0, x, fsub(m, c(1)));
    auto [hfsq, r] = log_kernel(f);
    const double ln2_hi = 6.9313812256e-01, ln2_lo = 9.0580006145e-06;
    Value res = fadd(fadd(fsub(fadd(r, fadd(fmul(kf, c(ln2_lo)), cu)), hfsq), f), fmul(kf, c(ln2_hi)));
    // log1p(inf) = inf, log1p(-1) = -inf, log1p(x < -1) = log1p(NaN) = NaN; -0 stays.
    res = select(cmpf(arith::CmpFPredicate::OEQ, x, c(INFINITY)), x, res);
    res = select(cmpf(arith::CmpFPredicate::OEQ, x, c(-1)), c(-INFINITY), res);
    res = select(cmpf(arith::CmpFPredicate::OEQ, x, c(0)), x, res);
    return select(cmpf(arith::CmpFPredicate::ULT, x, c(-1)), c(NAN), res);
  }

  /// e^x - 1, <= 1 ulp: x = q ln2 + s, expm1(s) = s + s^2 P(s) (P: a
  /// degree-7 fit on |s| < ln2, relative error 3e-10), then
  /// 2^q (1 + expm1(s)) - 1 (below). For |x| < 1.5 ln2, q = trunc(x/ln2):
  /// q = 0 gives s = x exactly and the result expm1(s), q = +-1 an s of x's
  /// sign, so nothing cancels; beyond, q = rint(x/ln2), |s| <= ln2/2.
  Value expm1(Value x) {
    if (x.getType().isF64()) return libm("expm1", {x});
    Type t = x.getType();
    auto c = [&](double v) { return float_const(t, v); };
    Value xc = clampf(x, -30, 89);
    Value y = fmul(xc, c(1.442695040888963407));
    Value near = cmpf(arith::CmpFPredicate::OLT, b_.create<math::AbsFOp>(loc_, xc), c(1.0397207708399179));
    Value n = select(near, b_.create<LLVMD::FTruncOp>(loc_, y), fsub(fadd(y, c(kRoundMagic)), c(kRoundMagic)));
    Value s = fma(n, c(-0.693145751953125), xc);
    s = fma(n, c(-1.428606765330187045e-06), s);
    Value p = horner(s, {2.7799068627774403e-06, 2.5067716636004722e-05, 0.0001984054295867658,
                         0.001388808851175529, 0.008333334032161823, 0.04166667436225617, 0.16666666665617333,
                         0.4999999998844441});
    Value em1 = fma(fmul(s, s), p, s);
    Value q = round_magic_int(fadd(n, c(kRoundMagic)));
    auto isub = [&](Value a, Value b) { return b_.create<arith::SubIOp>(loc_, a, b); };
    // q <= 0: 2^q em1 + (2^q - 1), one rounding (2^q - 1 is exact or
    // negligibly off).
    Value sc = pow2(q);
    Value neg = fma(sc, em1, fsub(sc, c(1)));
    // q > 0: (1 + em1 - 2^-q) 2^q, with 1 + em1 = S + e exactly (Fast2Sum)
    // and (S + (e - 2^-q)) rounded once; scaled by 2^(q-1) and 2 so that
    // q = 128 works.
    Value S = fadd(c(1), em1);
    Value e = fsub(em1, fsub(S, c(1)));
    Value qm = b_.create<arith::MinSIOp>(loc_, q, int_const(32, 100));
    Value pos = fmul(fmul(fadd(S, fsub(e, pow2(isub(int_const(32, 0), qm)))), pow2(isub(q, int_const(32, 1)))), c(2));
    Value res = select(cmpi(arith::CmpIPredicate::sgt, q, int_const(32, 0)), pos, neg);
    return select(cmpf(arith::CmpFPredicate::OEQ, x, c(0)), x, res);  // -0 stays
  }

  /// erf, f32 within ~1 ulp: |x| < 1: x + x Q(x^2) (Q: degree 6, abs error
  /// 1.3e-9); 1 <= |x| < 3.92: 1 - e^(-x^2) R(x) (R = erfc(x) e^(x^2): degree
  /// 12 in x - 2.46, relative error 5e-9); beyond, 1 (clamped). Both are
  /// evaluated, so the loop stays branch-free.
  Value erf(Value x) {
    if (x.getType().isF64()) return libm("erf", {x});
    Type t = x.getType();
    auto c = [&](double v) { return float_const(t, v); };
    Value ax = b_.create<math::AbsFOp>(loc_, x);
    Value qa = horner(fmul(ax, ax), {7.875875062685488e-05, -0.000801686428716587, 0.005189087423433974,
                                      -0.026854212010626412, 0.11283594715160218, -0.37612626666720334,
                                      0.12837916584835093});
    Value ra = fma(ax, qa, ax);
    Value xb = clampf(ax, 1, 3.92);
    Value rb = horner(fsub(xb, c(2.46)),
                      {1.1478536031503992e-07, -4.715333318727193e-07, 1.1019564120759728e-06, -4.201487704922703e-06,
                       1.7706697232744335e-05, -6.485340136449394e-05, 0.00022814863657701626,
                       -0.0007858759773517427, 0.002618979245387672, -0.00840841488917836, 0.02592234478617758,
                       -0.07638142701704059, 0.21382067722012252});
    Value e = exp(b_.create<arith::NegFOp>(loc_, fmul(xb, xb)));
    rb = fma(b_.create<arith::NegFOp>(loc_, e), rb, c(1));
    Value r = select(cmpf(arith::CmpFPredicate::OLT, ax, c(1)), ra, rb);
    return b_.create<math::CopySignOp>(loc_, r, x);
  }

  /// atan2 through libm's f64 atan2 (scalar calls; glibc's atan2f is off by
  /// up to 1.4 ulp, the f64 result rounded to f32 by <= 0.5 ulp).
  Value atan2(Value y, Value x) {
    if (y.getType().isF64()) return libm("atan2", {y, x});
    Type f64 = mlir::Float64Type::get(ctx_);
    Value r = libm("atan2", {b_.create<arith::ExtFOp>(loc_, f64, y), b_.create<arith::ExtFOp>(loc_, f64, x)});
    return b_.create<arith::TruncFOp>(loc_, f32(), r);
  }

  /// -1, 0 or 1 (NaN: 0); bool: itself.
  Value sign(Value a, DType t) {
    if (t == kBool) return a;
    Type ty = a.getType();
    Value z = zero(ty);
    bool fl = is_floating(t);
    auto one = [&](double v) { return fl ? float_const(ty, v) : int_const(int_width(t), uint64_t(int64_t(v))); };
    Value pos = fl ? cmpf(arith::CmpFPredicate::OGT, a, z)
                   : cmpi(is_signed(t) ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::ne, a, z);
    if (!fl && !is_signed(t)) return select(pos, one(1), z);
    Value neg = fl ? cmpf(arith::CmpFPredicate::OLT, a, z) : cmpi(arith::CmpIPredicate::slt, a, z);
    return select(pos, one(1), select(neg, one(-1), z));
  }

  /// floor, ceil, trunc, round (half to even) as the LLVM intrinsics
  /// (vroundps on x86).
  Value round_float(Op op, Value a) {
    switch (op) {
      case Op::Floor: return b_.create<LLVMD::FFloorOp>(loc_, a);
      case Op::Ceil: return b_.create<LLVMD::FCeilOp>(loc_, a);
      case Op::Trunc: return b_.create<LLVMD::FTruncOp>(loc_, a);
      default: return b_.create<LLVMD::RoundEvenOp>(loc_, a);
    }
  }

  /// Float remainder, fmod, floor_divide, trunc_divide as PyTorch's CPU
  /// kernels. fmod is C's (frem: a libm call, exact); remainder adds the
  /// divisor when the signs differ; floor_divide is c10's div_floor_floating
  /// (b == 0: a/b; else (a - fmod(a, b))/b, minus 1 when the signs differ,
  /// rounded to the nearest integer; a zero quotient gets the sign of a/b).
  /// trunc_divide truncates a/b rounded to the dtype (as PyTorch's
  /// vectorized float16/bfloat16 path does).
  Value float_div_family(Op op, Value a, Value b, DType out) {
    Type t = a.getType();
    auto c = [&](double v) { return float_const(t, v); };
    using P = arith::CmpFPredicate;
    if (op == Op::TruncDiv) return b_.create<LLVMD::FTruncOp>(loc_, round_to(out, fdiv(a, b)));
    Value m = b_.create<arith::RemFOp>(loc_, a, b);
    if (op == Op::Fmod) return round_to(out, m);
    // (m != 0) && ((b < 0) != (m < 0)), as in C (NaN != 0 is true).
    Value differ = iand(cmpf(P::UNE, m, c(0)),
                        b_.create<arith::XOrIOp>(loc_, cmpf(P::OLT, b, c(0)), cmpf(P::OLT, m, c(0))));
    if (op == Op::Remainder) return round_to(out, select(differ, fadd(m, b), m));
    Value q = fdiv(a, b);
    Value d = fdiv(fsub(a, m), b);
    d = select(differ, fsub(d, c(1)), d);
    Value fl = b_.create<LLVMD::FFloorOp>(loc_, d);
    fl = select(cmpf(P::OGT, fsub(d, fl), c(0.5)), fadd(fl, c(1)), fl);
    Value r = select(cmpf(P::UNE, d, c(0)), fl, b_.create<math::CopySignOp>(loc_, c(0), q));
    return round_to(out, select(cmpf(P::OEQ, b, c(0)), q, r));
  }

  /// Integer remainder (sign of the divisor), fmod (sign of the dividend),
  /// floor and truncating division; uint8 and bool unsigned. A divisor of 0
  /// never gets here (the API raises ZeroDivisionError) but must not trap:
  /// it and -1 (INT_MIN / -1 overflows; x86 traps) divide by 1 instead, and
  /// -1 gives -a and 0 (wrapping, as PyTorch's int8/int16 results).
  Value int_div_family(Op op, Value a, Value b, bool sg) {
    using P = arith::CmpIPredicate;
    Type t = a.getType();
    Value z = zero(t), one = int_const(t.getIntOrFloatBitWidth(), 1);
    if (!sg) {
      Value bs = select(cmpi(P::eq, b, z), one, b);
      if (op == Op::Remainder || op == Op::Fmod) return b_.create<arith::RemUIOp>(loc_, a, bs);
      return b_.create<arith::DivUIOp>(loc_, a, bs);
    }
    Value minus1 = cmpi(P::eq, b, int_const(t.getIntOrFloatBitWidth(), ~0ull));
    Value bs = select(ior(cmpi(P::eq, b, z), minus1), one, b);
    Value r = b_.create<arith::RemSIOp>(loc_, a, bs);  // 0 for b = -1 too
    Value q = select(minus1, b_.create<arith::SubIOp>(loc_, z, a), b_.create<arith::DivSIOp>(loc_, a, bs));
    if (op == Op::Fmod) return r;
    if (op == Op::TruncDiv) return q;
    Value differ = iand(cmpi(P::ne, r, z), b_.create<arith::XOrIOp>(loc_, cmpi(P::slt, r, z), cmpi(P::slt, b, z)));
    if (op == Op::Remainder) return select(differ, iadd(r, b), r);
    return select(differ, b_.create<arith::SubIOp>(loc_, q, one), q);  // FloorDiv
  }

  /// MLIR's f32 log approximation (<= 1 ulp) treats subnormal inputs as
  /// FLT_MIN; scale them into the normal range first (log(1e-40) would be
  /// -87.3 instead of -92.1).
  Value log(Value x) {
    if (x.getType().isF64()) return b_.create<math::LogOp>(loc_, x);
    Type f = x.getType();
    Value tiny = cmpf(arith::CmpFPredicate::OLT, x, float_const(f, 0x1p-126));
    Value scaled = b_.create<arith::MulFOp>(loc_, x, float_const(f, 0x1p24));
    Value l = b_.create<math::LogOp>(loc_, select(tiny, scaled, x));
    Value fixed = b_.create<arith::SubFOp>(loc_, l, float_const(f, 16.635532333438687));  // 24 ln2
    return select(tiny, fixed, l);
  }

  /// sin, cos or tan; f32 within 1.5 ulp for |x| < 1e6 (2.5 up to 5e6; tan
  /// 3). x = n pi/2 + r with a three-word pi/2 (the first fma is exact:
  /// x - n*P1 needs no more than 24 bits), then Chebyshev fits of sin and cos
  /// on [-1, 1] (error < 2^-28). For larger |x| the results are wrong (sin
  /// and cos stay in [-1, 1]; PyTorch is exact there). inf and NaN give NaN.
  Value trig(Op op, Value x) {
    if (x.getType().isF64()) {
      if (op == Op::Sin) return b_.create<math::SinOp>(loc_, x);
      if (op == Op::Cos) return b_.create<math::CosOp>(loc_, x);
      return b_.create<math::TanOp>(loc_, x);
    }
    Type f = x.getType();
    auto c = [&](double v) { return float_const(f, v); };
    Value t = fma(x, c(0.63661977236758134), c(kRoundMagic));
    Value n = b_.create<arith::SubFOp>(loc_, t, c(kRoundMagic));
    Value r = fma(n, c(-1.5707963705062866), x);
    r = fma(n, c(4.371138828673793e-08), r);
    r = fma(n, c(1.7151245100058819e-15), r);
    // n is the nearest integer to x * f32(2/pi), which for large x can be off
    // by one near the midpoints, so |r| can exceed pi/4: the polynomials are
    // fitted for |r| <= 1, enough up to |x| ~ 5e6. Beyond that r is zeroed
    // when out of range (ULE keeps the NaN of x = inf or NaN).
    Value in_range = cmpf(arith::CmpFPredicate::ULE, b_.create<math::AbsFOp>(loc_, r), c(1.0));
    r = select(in_range, r, c(0));
    Value k = bits(t);  // low bits: n mod 4

    // sin r = r + r s S(s), cos r = 1 + s C(s), s = r^2.
    Value s = b_.create<arith::MulFOp>(loc_, r, r);
    Value ps = horner(s, {2.7060668539683608e-6, -0.00019838174236287689, 0.0083333271488352664,
                          -0.16666666647343994});
    Value sin_r = fma(b_.create<arith::MulFOp>(loc_, r, s), ps, r);
    Value pc = horner(s, {2.4256144914672251e-5, -0.0013885490860454662, 0.041666598793227254,
                          -0.49999999787945914});
    Value cos_r = fma(s, pc, c(1));

    Value odd = cmpi(arith::CmpIPredicate::ne, b_.create<arith::AndIOp>(loc_, k, int_const(32, 1)),
                     int_const(32, 0));
    // Flips the sign of v when bit 1 of m is set (xor into the sign bit).
    auto negate_if_bit1 = [&](Value v, Value m) {
      Value sign = b_.create<arith::ShLIOp>(
          loc_, b_.create<arith::AndIOp>(loc_, m, int_const(32, 2)), int_const(32, 30));
      return b_.create<arith::BitcastOp>(loc_, f, b_.create<arith::XOrIOp>(loc_, bits(v), sign));
    };
    Value res;
    if (op == Op::Sin) {
      // sin, cos, -sin, -cos for n = 0..3 (mod 4).
      res = negate_if_bit1(select(odd, cos_r, sin_r), k);
    } else if (op == Op::Cos) {
      // cos, -sin, -cos, sin for n = 0..3 (mod 4).
      Value k1 = b_.create<arith::AddIOp>(loc_, k, int_const(32, 1));
      return negate_if_bit1(select(odd, sin_r, cos_r), k1);
    } else {
      // n even: sin r / cos r; odd: tan(r + pi/2) = -cos r / sin r.
      Value num = select(odd, b_.create<arith::NegFOp>(loc_, cos_r), sin_r);
      res = b_.create<arith::DivFOp>(loc_, num, select(odd, sin_r, cos_r));
    }
    // The reduction turns -0 into +0; sin and tan are odd functions.
    return select(cmpf(arith::CmpFPredicate::OEQ, x, c(0)), x, res);
  }

  /// NaN-propagating for floats (cmpf + select, not llvm.maxnum, which
  /// drops NaNs); signed/unsigned by dtype for integers; or/and for bool.
  Value max_min(Value a, Value b, DType t, bool max) {
    if (is_floating(t)) {
      Value pick_a = cmpf(max ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT, a, b);
      Value r = b_.create<arith::SelectOp>(loc_, pick_a, a, b);
      Value any_nan = cmpf(arith::CmpFPredicate::UNO, a, b);
      Value nan = b_.create<arith::AddFOp>(loc_, a, b);  // a NaN operand's NaN
      return b_.create<arith::SelectOp>(loc_, any_nan, nan, r);
    }
    if (is_signed(t))
      return max ? Value(b_.create<arith::MaxSIOp>(loc_, a, b)) : Value(b_.create<arith::MinSIOp>(loc_, a, b));
    return max ? Value(b_.create<arith::MaxUIOp>(loc_, a, b)) : Value(b_.create<arith::MinUIOp>(loc_, a, b));
  }

  Value compare(Op op, Value a, Value b, DType t) {
    if (is_floating(t)) {
      using P = arith::CmpFPredicate;
      // Ordered compares are false on NaN; Ne is unordered (NaN != x).
      P p = op == Op::Eq ? P::OEQ : op == Op::Ne ? P::UNE : op == Op::Lt ? P::OLT
          : op == Op::Le ? P::OLE : op == Op::Gt ? P::OGT : P::OGE;
      return cmpf(p, a, b);
    }
    using P = arith::CmpIPredicate;
    bool s = is_signed(t);
    P p = op == Op::Eq ? P::eq : op == Op::Ne ? P::ne
        : op == Op::Lt ? (s ? P::slt : P::ult) : op == Op::Le ? (s ? P::sle : P::ule)
        : op == Op::Gt ? (s ? P::sgt : P::ugt) : (s ? P::sge : P::uge);
    return cmpi(p, a, b);
  }

  /// Integer power by squaring with a fixed trip count (the bit width), so
  /// the loop has no data-dependent branch: LLVM unrolls it and the column
  /// loop around it still vectorizes. Wraps like repeated multiplication.
  /// (math.ipowi would need convert-math-to-funcs, which emits a branchy
  /// outlined function.)
  Value int_pow(Value base, Value exp, unsigned width) {
    Value lb = b_.create<arith::ConstantIndexOp>(loc_, 0);
    Value ub = b_.create<arith::ConstantIndexOp>(loc_, width);
    Value step = b_.create<arith::ConstantIndexOp>(loc_, 1);
    Type t = base.getType();
    Value one = int_const(width, 1);
    auto loop = b_.create<scf::ForOp>(
        loc_, lb, ub, step, mlir::ValueRange{one, base, exp},
        [&](OpBuilder& nb, Location l, Value, mlir::ValueRange it) {
          Value result = it[0], sq = it[1], e = it[2];
          Value bit = nb.create<arith::TruncIOp>(l, nb.getI1Type(), e);
          Value mul = nb.create<arith::MulIOp>(l, result, sq);
          Value next = nb.create<arith::SelectOp>(l, bit, mul, result);
          Value sq2 = nb.create<arith::MulIOp>(l, sq, sq);
          Value e2 = width == 1 ? e
                                : Value(nb.create<arith::ShRUIOp>(
                                      l, e, nb.create<arith::ConstantOp>(l, nb.getIntegerAttr(t, 1))));
          nb.create<scf::YieldOp>(l, mlir::ValueRange{next, sq2, e2});
        });
    return loop.getResult(0);
  }

  OpBuilder& b_;
  Location loc_;
  mlir::MLIRContext* ctx_;
};

// ---------------------------------------------------------------------------
// Module construction: the loop nest around the scalar body, and the wrapper.

class KernelBuilder {
public:
  KernelBuilder(mlir::MLIRContext& ctx, const Kernel& k)
      : ctx_(ctx), k_(k), b_(&ctx), loc_(mlir::NameLoc::get(b_.getStringAttr(k.name))) {}

  mlir::OwningOpRef<mlir::ModuleOp> build(const std::string& sym) {
    mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc_);
    b_.setInsertionPointToEnd(module->getBody());
    func::FuncOp body = build_body(sym + "_body");
    build_wrapper(sym, body);
    return module;
  }

private:
  Type ptr() { return LLVMD::LLVMPointerType::get(&ctx_); }
  Type i64() { return b_.getI64Type(); }
  Value i64_const(int64_t v) { return b_.create<arith::ConstantOp>(loc_, b_.getI64IntegerAttr(v)); }
  Value index(Value v) { return b_.create<arith::IndexCastOp>(loc_, b_.getIndexType(), v); }
  Value gep(Type elem, Value base, Value i) {
    return b_.create<LLVMD::GEPOp>(loc_, ptr(), elem, base, mlir::ValueRange{i}, /*inbounds=*/true);
  }
  Value load_i64(Value base, int64_t i) {
    return b_.create<LLVMD::LoadOp>(loc_, i64(), gep(i64(), base, i64_const(i)));
  }

  // Body arguments: A buffer pointers, params, row/col bounds.
  func::FuncOp build_body(const std::string& name) {
    const size_t A = k_.args.size();
    std::vector<Type> in(A + 1, ptr());
    in.insert(in.end(), 4, i64());
    auto fn = b_.create<func::FuncOp>(loc_, name, b_.getFunctionType(in, {}));
    fn.setPrivate();
    // Internal linkage: once inlined into the wrapper, O3 deletes it instead
    // of compiling the loop nest a second time.
    fn->setAttr("llvm.linkage", LLVMD::LinkageAttr::get(&ctx_, LLVMD::Linkage::Internal));
    for (size_t a = 0; a <= A; ++a) fn.setArgAttr(unsigned(a), "llvm.noalias", b_.getUnitAttr());
    mlir::Block* entry = fn.addEntryBlock();
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPointToStart(entry);
    Value params = entry->getArgument(unsigned(A));
    Value bounds[4];  // row_begin, row_end, col_begin, col_end
    for (unsigned n = 0; n < 4; ++n) bounds[n] = index(entry->getArgument(unsigned(A) + 1 + n));
    for (size_t a = 0; a < A; ++a) args_.push_back(entry->getArgument(unsigned(a)));
    v_.assign(k_.body.size(), Value());
    // Param consts: read once, before any loop (see param_bits).
    for (size_t i = 0; i < k_.body.size(); ++i) {
      const Instr& in = k_.body[i];
      if (in.kind != Instr::Kind::Const || in.param < 0) continue;
      Value bits = load_i64(params, first_scalar_param(k_) + in.param);
      if (in.dtype == kFloat64) {
        v_[i] = b_.create<arith::BitcastOp>(loc_, b_.getF64Type(), bits);
      } else {
        Value low = b_.create<arith::TruncIOp>(loc_, b_.getI32Type(), bits);
        v_[i] = b_.create<arith::BitcastOp>(loc_, b_.getF32Type(), low);
      }
    }
    if (k_.reduce_rank > 0)
      build_reduction(params, bounds);
    else
      build_elementwise(params, bounds);
    b_.setInsertionPointToEnd(entry);
    b_.create<func::ReturnOp>(loc_);
    return fn;
  }

  // --- Elementwise kernels (reduce_rank 0) -----------------------------
  // Rows, then columns; the instructions run once per element.
  void build_elementwise(Value params, Value bounds[4]) {
    const int R = k_.rank;
    const size_t A = k_.args.size();
    // Launch parameters are read once, up front (sizes: only those the row
    // unravelling divides by).
    std::vector<Value> sizes(static_cast<size_t>(R));
    for (int d = 1; d + 1 < R; ++d) sizes[size_t(d)] = load_i64(params, d);
    std::vector<std::vector<Value>> strides(A);  // outer dims, then the inner one if General
    std::vector<Value> offsets(A);
    istrides_.assign(A, {});
    int64_t at = R;  // start of arg a's block: strides, offset, index strides
    for (size_t a = 0; a < A; ++a) {
      for (int d = 0; d + 1 < R; ++d) strides[a].push_back(load_i64(params, at + d));
      if (R > 0 && k_.args[a].inner == InnerStride::General)
        strides[a].push_back(load_i64(params, at + R - 1));
      offsets[a] = load_i64(params, at + R);
      for (int j = 0; j < k_.args[a].num_index; ++j) istrides_[a].push_back(load_i64(params, at + R + 1 + j));
      at += R + 1 + k_.args[a].num_index;
    }

    Value one = b_.create<arith::ConstantIndexOp>(loc_, 1);
    auto rows = b_.create<scf::ForOp>(loc_, bounds[0], bounds[1], one);
    b_.setInsertionPointToStart(rows.getBody());

    // Unravel the row into indices of dims 0..R-2 (row-major), then each
    // arg's row base pointer.
    std::vector<Value> idx(size_t(std::max(R - 1, 0)));
    Value r = b_.create<arith::IndexCastOp>(loc_, i64(), rows.getInductionVar());
    for (int d = R - 2; d >= 1; --d) {
      idx[size_t(d)] = b_.create<arith::RemUIOp>(loc_, r, sizes[size_t(d)]);
      r = b_.create<arith::DivUIOp>(loc_, r, sizes[size_t(d)]);
    }
    if (R >= 2) idx[0] = r;
    std::vector<Value> row_ptr(A);
    for (size_t a = 0; a < A; ++a) {
      Value off = offsets[a];
      for (int d = 0; d + 1 < R; ++d)
        off = b_.create<arith::AddIOp>(
            loc_, off, b_.create<arith::MulIOp>(loc_, idx[size_t(d)], strides[a][size_t(d)]));
      row_ptr[a] = gep(mem_type(&ctx_, k_.args[a].dtype), args_[a], off);
    }

    auto cols = b_.create<scf::ForOp>(loc_, bounds[2], bounds[3], one);
    b_.setInsertionPointToStart(cols.getBody());
    Value col = b_.create<arith::IndexCastOp>(loc_, i64(), cols.getInductionVar());

    // The inner stride is structural: the constant 1 gives the vectorizer a
    // consecutive access, broadcast args do not depend on the column at all
    // (LICM hoists their loads), general ones use the launch stride.
    auto elem_ptr = [&](int a) -> Value {
      const KernelArg& arg = k_.args[size_t(a)];
      if (R == 0 || arg.inner == InnerStride::Bcast) return row_ptr[size_t(a)];
      Value i = col;
      if (arg.inner == InnerStride::General)
        i = b_.create<arith::MulIOp>(loc_, col, strides[size_t(a)].back());
      return gep(mem_type(&ctx_, arg.dtype), row_ptr[size_t(a)], i);
    };

    ScalarEmitter s(b_, loc_);
    for (size_t i = 0; i < k_.body.size(); ++i) eval(i, s, elem_ptr);
  }

  // --- Reduction kernels (reduce_rank > 0) -----------------------------
  // For each output element (rows x columns as above) the reduced dims are
  // looped row-major inside: stage 0 runs per reduced element and folds into
  // accumulators (scf.for iter_args), stage 1 runs after. Stage-0 accesses
  // use the structural class of the last reduced dim's stride (that loop is
  // the one LLVM vectorizes; float Sum/Prod carry `reassoc` so it can);
  // everything else uses launch strides. The reassociated order is fixed by
  // the reduced sizes alone, so it is the same for every output element and
  // every split of the output among threads. Max/Min fold integer keys
  // (ScalarEmitter) and ArgMax/ArgMin run in two passes (the best key, then
  // its first position), so those vectorize too without reassociation.
  //
  // When the reduced dim is strided in memory (no stage-0 arg contiguous
  // along it, some strided: a column sum, a cumsum along dim 0), a second
  // loop order is compiled as well and chosen when the output has at least 2
  // columns: per tile of kTile columns, the accumulators live in stack arrays,
  // the reduced dims are looped outside and the columns inside, so the
  // innermost loop walks the columns (usually contiguous: LLVM versions the
  // loop on the launch stride being 1) and vectorizes across output elements.
  // Each output element still folds its values one by one in row-major
  // order. The choice depends only on the launch parameters (sizes and
  // strides, see also elem_dims_), so a result does not depend on how the
  // launch splits the output among threads.
  static constexpr int64_t kTile = 512;

  using StageFn = std::function<std::vector<Value>(const std::vector<Value>& offs, Value pos,
                                                   const std::vector<Value>& acc)>;

  void build_reduction(Value params, Value bounds[4]) {
    const int R = k_.rank, O = R - k_.reduce_rank;
    const size_t A = k_.args.size();
    ScalarEmitter s(b_, loc_);
    for (int d = 0; d < R; ++d) sizes_.push_back(load_i64(params, d));
    strides_.assign(A, {});
    istrides_.assign(A, {});
    offsets_.assign(A, {});
    int64_t at = R;
    for (size_t a = 0; a < A; ++a) {
      for (int d = 0; d < R; ++d) strides_[a].push_back(load_i64(params, at + d));
      offsets_[a] = load_i64(params, at + R);
      for (int j = 0; j < k_.args[a].num_index; ++j) istrides_[a].push_back(load_i64(params, at + R + 1 + j));
      at += R + 1 + k_.args[a].num_index;
    }
    used_[0].assign(A, false);
    used_[1].assign(A, false);
    std::vector<bool> post_store(A, false);
    for (const Instr& in : k_.body) {
      if (in.kind != Instr::Kind::Load && in.kind != Instr::Kind::Store) continue;
      used_[stage_of(in)][size_t(in.arg)] = true;
      if (in.kind == Instr::Kind::Store && in.post_reduce) post_store[size_t(in.arg)] = true;
    }
    // The scheduler classifies an arg by its last reduced dim unless it is
    // written in stage 1 (then by the last output dim, which we do not use).
    bool has_contig = false, has_general = false;
    for (size_t a = 0; a < A; ++a) {
      if (post_store[a]) continue;
      InnerStride c = k_.args[a].inner;
      if (c != InnerStride::General) strides_[a][size_t(R - 1)] = i64_const(c == InnerStride::Contig ? 1 : 0);
      if (used_[0][a]) {
        has_contig |= c == InnerStride::Contig;
        has_general |= c == InnerStride::General;
      }
    }
    for (size_t i = 0; i < k_.body.size(); ++i)
      if (k_.body[i].kind == Instr::Kind::Const && k_.body[i].param < 0)
        v_[i] = s.constant(k_.body[i].dtype, k_.body[i].value);
    find_slice_.assign(k_.body.size(), false);
    for (size_t i = 0; i < k_.body.size(); ++i) {
      const Instr& in = k_.body[i];
      if (in.kind != Instr::Kind::Reduce && in.kind != Instr::Kind::Scan) continue;
      DType t = k_.body[size_t(in.operands[0])].dtype;
      Slot sl{i, in.reduce, t, acc_size_, s.acc_types(in.reduce, t)};
      acc_size_ += sl.types.size();
      bool arg = in.reduce == ReduceOp::ArgMax || in.reduce == ReduceOp::ArgMin;
      needs_pos_ |= arg;
      // Two passes recompute the operand: only from loads and computes.
      std::vector<bool> slice(k_.body.size(), false);
      sl.two_pass = in.kind == Instr::Kind::Reduce && arg && operand_slice(size_t(in.operands[0]), slice);
      if (sl.two_pass)
        for (size_t j = 0; j < slice.size(); ++j) find_slice_[j] = find_slice_[j] || slice[j];
      sl.first_e = acc_size_e_;
      acc_size_e_ += sl.two_pass ? 1 : sl.types.size();
      slots_.push_back(sl);
    }

    // The reduced loops: dims O..R-1 in order, with the weight of each in
    // the row-major position.
    const int K = k_.reduce_rank;
    natural_.resize(size_t(K));
    for (int l = K - 1; l >= 0; --l) {
      LoopDim& ld = natural_[size_t(l)];
      int d = O + l;
      ld.size = sizes_[size_t(d)];
      ld.weight = l == K - 1 ? i64_const(1) : mul(natural_[size_t(l + 1)].weight, sizes_[size_t(d + 1)]);
      for (size_t a = 0; a < A; ++a) ld.stride.push_back(strides_[a][size_t(d)]);
    }
    elem_dims_ = natural_;
    bool tiling = has_general && !has_contig;
    // Without tiling (one output column), a strided innermost reduced dim
    // (sum of a transposed matrix) is swapped with the one before when that
    // has the smaller stride: a different but fixed order, allowed when
    // nothing depends on it (no scans or stage-0 stores; float Sum/Prod are
    // reassociated anyway, the other folds do not depend on the order).
    bool order_free = true;
    for (const Instr& in : k_.body)
      if (in.kind == Instr::Kind::Scan || (in.kind == Instr::Kind::Store && !in.post_reduce)) order_free = false;
    if (tiling && K >= 2 && order_free) {
      size_t a0 = 0;
      while (!(used_[0][a0] && !post_store[a0] && k_.args[a0].inner == InnerStride::General)) ++a0;
      auto abs = [&](Value x) {
        Value neg = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::slt, x, i64_const(0));
        return Value(b_.create<arith::SelectOp>(loc_, neg, b_.create<arith::SubIOp>(loc_, i64_const(0), x), x));
      };
      Value swap = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::ult, abs(strides_[a0][size_t(R - 2)]),
                                            abs(strides_[a0][size_t(R - 1)]));
      LoopDim &x = elem_dims_[size_t(K - 2)], &y = elem_dims_[size_t(K - 1)];
      auto pick = [&](Value& u, Value& v) {
        Value nu = b_.create<arith::SelectOp>(loc_, swap, v, u), nv = b_.create<arith::SelectOp>(loc_, swap, u, v);
        u = nu;
        v = nv;
      };
      pick(x.size, y.size);
      pick(x.weight, y.weight);
      for (size_t a = 0; a < A; ++a)
        if (used_[0][a]) pick(x.stride[a], y.stride[a]);
    }
    if (!tiling) {
      MatmulPattern mm;
      if (matmul_pattern(mm)) build_matmul(mm, bounds);
      else row_loop(bounds, false);
      return;
    }
    // Accumulator arrays of the tiled order, at function entry.
    for (const Slot& sl : slots_)
      for (Type t : sl.types)
        acc_arrays_.push_back(b_.create<LLVMD::AllocaOp>(loc_, ptr(), s.acc_mem_type(t), i64_const(kTile), 32));
    Value tiled = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::sge, sizes_[size_t(O - 1)], i64_const(2));
    auto branch = b_.create<scf::IfOp>(loc_, tiled, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPointToStart(branch.thenBlock());
    row_loop(bounds, true);
    b_.setInsertionPointToStart(branch.elseBlock());
    row_loop(bounds, false);
  }

  // --- Matmul-shaped reductions -----------------------------------------
  // A Sum over one reduced dim of mul(load x, load y), float32/float64, both
  // contiguous along the reduced dim, nothing else in stage 0 (stage 1 may
  // hold an epilogue). When at launch one operand (P) has stride 0 along the
  // last output dim and the other (Q) stride 0 along the one before (a
  // matmul: P = A rows, Q = B^T rows), outputs are computed in register
  // tiles of up to kMmRows rows x kMmCols columns: one W-lane vector
  // accumulator per output element, fma over k in steps of W, then a fixed
  // pairwise horizontal sum plus a sequential fma tail for the last K % W
  // elements. Every output element is computed with exactly this arithmetic
  // whichever tile shape (full or remainder) covers it, so results do not
  // depend on how the output is split among threads. Otherwise (the stride
  // condition does not hold) the element order below runs, as for any
  // other reduction.
  static constexpr int kMmRows = 4, kMmCols = 4;
  static constexpr int64_t kMmChunkBytes = 256 * 1024;

  struct MatmulPattern {
    size_t reduce = 0;
    int x = -1, y = -1;  // the args of the two loads
    DType t = kFloat32;
  };

  bool matmul_pattern(MatmulPattern& m) {
    const int R = k_.rank;
    if (k_.reduce_rank != 1 || R < 3) return false;
    int nred = 0, mul_id = -1;
    std::vector<int> loads;
    for (size_t i = 0; i < k_.body.size(); ++i) {
      const Instr& in = k_.body[i];
      if (in.kind == Instr::Kind::Const) continue;
      if (in.kind == Instr::Kind::Scan) return false;
      if (in.kind == Instr::Kind::Reduce) {
        if (nred++ || in.reduce != ReduceOp::Sum) return false;
        m.reduce = i;
        continue;
      }
      if (stage_of(in) != 0) continue;
      if (in.kind == Instr::Kind::Load) {
        loads.push_back(int(i));
        continue;
      }
      if (in.kind == Instr::Kind::Compute && in.op == Op::Mul && mul_id < 0) {
        mul_id = int(i);
        continue;
      }
      return false;
    }
    if (nred != 1 || mul_id < 0 || loads.size() != 2) return false;
    const Instr& rd = k_.body[m.reduce];
    const Instr& mu = k_.body[size_t(mul_id)];
    DType t = rd.dtype;
    if ((t != kFloat32 && t != kFloat64) || rd.operands[0] != mul_id || mu.dtype != t) return false;
    if (!((mu.operands[0] == loads[0] && mu.operands[1] == loads[1]) ||
          (mu.operands[0] == loads[1] && mu.operands[1] == loads[0])))
      return false;
    for (int l : loads) {
      const Instr& in = k_.body[size_t(l)];
      const KernelArg& a = k_.args[size_t(in.arg)];
      if (!in.operands.empty() || a.num_index != 0 || a.is_output || a.inner != InnerStride::Contig || in.dtype != t)
        return false;
    }
    m.x = k_.body[size_t(loads[0])].arg;
    m.y = k_.body[size_t(loads[1])].arg;
    m.t = t;
    return true;
  }

  Value cmp_eq(Value a, Value b) { return b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, a, b); }
  Value sel(Value c, Value a, Value b) { return b_.create<arith::SelectOp>(loc_, c, a, b); }
  Value idx_const(int64_t v) { return b_.create<arith::ConstantIndexOp>(loc_, v); }

  /// The offsets at output row r (int64) of the args used in either stage.
  std::vector<Value> row_offsets(Value r) {
    const int O = k_.rank - k_.reduce_rank;
    const size_t A = k_.args.size();
    std::vector<Value> idx(size_t(O - 1));
    for (int d = O - 2; d >= 1; --d) {
      idx[size_t(d)] = b_.create<arith::RemUIOp>(loc_, r, sizes_[size_t(d)]);
      r = b_.create<arith::DivUIOp>(loc_, r, sizes_[size_t(d)]);
    }
    if (O >= 2) idx[0] = r;
    std::vector<Value> off(A);
    for (size_t a = 0; a < A; ++a) {
      if (!used_[0][a] && !used_[1][a]) continue;
      off[a] = offsets_[a];
      for (int d = 0; d + 1 < O; ++d) off[a] = add(off[a], mul(idx[size_t(d)], strides_[a][size_t(d)]));
    }
    return off;
  }

  /// The dot products of every row pointer in `a` with every one in `b`
  /// (element pointers at k = 0, contiguous along k), row-major; see above
  /// for the fixed per-element order.
  std::vector<Value> dot_tile(const std::vector<Value>& a, const std::vector<Value>& b, DType t) {
    const int W = t == kFloat32 ? 8 : 4;
    const size_t TR = a.size(), TC = b.size();
    Type et = reg_type(&ctx_, t);
    auto vt = mlir::VectorType::get({W}, et);
    const unsigned align = t == kFloat32 ? 4 : 8;
    Value K = sizes_[size_t(k_.rank - 1)];
    Value kv = b_.create<arith::AndIOp>(loc_, K, i64_const(~int64_t(W - 1)));
    Value zv = b_.create<arith::ConstantOp>(
        loc_, vt, mlir::DenseElementsAttr::get(vt, llvm::ArrayRef<mlir::Attribute>(b_.getFloatAttr(et, 0.0))));
    std::vector<Value> acc(TR * TC, zv);
    std::vector<Value> vsum;
    {
      OpBuilder::InsertionGuard g(b_);
      auto loop = b_.create<scf::ForOp>(loc_, idx_const(0), index(kv), idx_const(W), acc);
      b_.setInsertionPointToEnd(loop.getBody());
      Value k = to_i64(loop.getInductionVar());
      std::vector<Value> va, vb, out;
      for (Value p : a) va.push_back(b_.create<LLVMD::LoadOp>(loc_, vt, gep(et, p, k), align));
      for (Value p : b) vb.push_back(b_.create<LLVMD::LoadOp>(loc_, vt, gep(et, p, k), align));
      auto it = loop.getRegionIterArgs();
      for (size_t i = 0; i < TR; ++i)
        for (size_t j = 0; j < TC; ++j) out.push_back(b_.create<math::FmaOp>(loc_, va[i], vb[j], it[i * TC + j]));
      b_.create<scf::YieldOp>(loc_, out);
      vsum.assign(loop.getResults().begin(), loop.getResults().end());
    }
    std::vector<Value> hs;
    for (Value v : vsum) {
      std::vector<Value> l;
      for (int i = 0; i < W; ++i) l.push_back(b_.create<LLVMD::ExtractElementOp>(loc_, v, i64_const(i)));
      for (int h = W / 2; h >= 1; h /= 2)
        for (int i = 0; i < h; ++i) l[size_t(i)] = b_.create<arith::AddFOp>(loc_, l[size_t(i)], l[size_t(i + h)]);
      hs.push_back(l[0]);
    }
    Value zs = b_.create<arith::ConstantOp>(loc_, et, b_.getFloatAttr(et, 0.0));
    std::vector<Value> tail(TR * TC, zs), res;
    {
      OpBuilder::InsertionGuard g(b_);
      auto loop = b_.create<scf::ForOp>(loc_, index(kv), index(K), idx_const(1), tail);
      b_.setInsertionPointToEnd(loop.getBody());
      Value k = to_i64(loop.getInductionVar());
      std::vector<Value> sa, sb, out;
      for (Value p : a) sa.push_back(b_.create<LLVMD::LoadOp>(loc_, et, gep(et, p, k)));
      for (Value p : b) sb.push_back(b_.create<LLVMD::LoadOp>(loc_, et, gep(et, p, k)));
      auto it = loop.getRegionIterArgs();
      for (size_t i = 0; i < TR; ++i)
        for (size_t j = 0; j < TC; ++j) out.push_back(b_.create<math::FmaOp>(loc_, sa[i], sb[j], it[i * TC + j]));
      b_.create<scf::YieldOp>(loc_, out);
      tail.assign(loop.getResults().begin(), loop.getResults().end());
    }
    for (size_t e = 0; e < TR * TC; ++e) res.push_back(b_.create<arith::AddFOp>(loc_, hs[e], tail[e]));
    return res;
  }

  void build_matmul(const MatmulPattern& m, Value bounds[4]) {
    const int R = k_.rank, O = R - 1;
    const size_t x = size_t(m.x), y = size_t(m.y);
    Value z = i64_const(0);
    auto both = [&](Value u, Value v) { return b_.create<arith::AndIOp>(loc_, u, v); };
    Value c1 = both(cmp_eq(strides_[x][size_t(O - 1)], z), cmp_eq(strides_[y][size_t(O - 2)], z));
    Value c2 = both(cmp_eq(strides_[y][size_t(O - 1)], z), cmp_eq(strides_[x][size_t(O - 2)], z));
    Value ok = b_.create<arith::OrIOp>(loc_, c1, c2);
    auto branch = b_.create<scf::IfOp>(loc_, ok, /*withElseRegion=*/true);
    b_.setInsertionPointToStart(branch.elseBlock());
    row_loop(bounds, false);
    b_.setInsertionPointToStart(branch.thenBlock());
    OpBuilder::InsertionGuard guard(b_);
    ScalarEmitter s(b_, loc_);
    Type et = reg_type(&ctx_, m.t);
    // P: stride 0 along the columns; Q: the same rows for every row of a block.
    Value P = sel(c1, args_[x], args_[y]), Q = sel(c1, args_[y], args_[x]);
    Value q_col = sel(c1, strides_[y][size_t(O - 1)], strides_[x][size_t(O - 1)]);
    auto p_off = [&](const std::vector<Value>& ro) { return sel(c1, ro[x], ro[y]); };
    auto q_off = [&](const std::vector<Value>& ro) { return sel(c1, ro[y], ro[x]); };

    // The columns in chunks [cb, ce) of about kMmChunkBytes of Q rows, so
    // they stay in L2 while every row block of the launch passes over them.
    Value cb, ce;
    // Rows `rows` (their offsets): the columns of the chunk in tiles of
    // kMmCols, then one by one.
    auto do_rows = [&](const std::vector<std::vector<Value>>& rows) {
      std::vector<Value> ap;
      for (const auto& ro : rows) ap.push_back(gep(et, P, p_off(ro)));
      Value qbase = q_off(rows[0]);
      Value n = b_.create<arith::SubIOp>(loc_, ce, cb);
      Value full = b_.create<arith::AddIOp>(
          loc_, cb, b_.create<arith::MulIOp>(loc_, b_.create<arith::DivUIOp>(loc_, n, idx_const(kMmCols)),
                                                    idx_const(kMmCols)));
      auto tile = [&](Value c, int tc) {
        std::vector<Value> bp;
        for (int j = 0; j < tc; ++j) bp.push_back(gep(et, Q, add(qbase, mul(add(c, i64_const(j)), q_col))));
        std::vector<Value> res = dot_tile(ap, bp, m.t);
        for (size_t i = 0; i < rows.size(); ++i)
          for (int j = 0; j < tc; ++j) {
            v_[m.reduce] = res[i * size_t(tc) + size_t(j)];
            stage1(s, advance(rows[i], add(c, i64_const(j)), O - 1, false, true));
          }
      };
      {
        OpBuilder::InsertionGuard g(b_);
        auto cols = b_.create<scf::ForOp>(loc_, cb, full, idx_const(kMmCols));
        b_.setInsertionPointToStart(cols.getBody());
        tile(to_i64(cols.getInductionVar()), kMmCols);
      }
      OpBuilder::InsertionGuard g(b_);
      auto cols = b_.create<scf::ForOp>(loc_, full, ce, idx_const(1));
      b_.setInsertionPointToStart(cols.getBody());
      tile(to_i64(cols.getInductionVar()), 1);
    };

    Value kk = b_.create<arith::MaxUIOp>(loc_, index(sizes_[size_t(R - 1)]), idx_const(1));
    Value ch = b_.create<arith::DivUIOp>(loc_, idx_const(kMmChunkBytes / (m.t == kFloat32 ? 4 : 8)), kk);
    ch = b_.create<arith::MulIOp>(loc_, b_.create<arith::DivUIOp>(loc_, ch, idx_const(kMmCols)), idx_const(kMmCols));
    ch = b_.create<arith::MaxUIOp>(loc_, ch, idx_const(kMmCols));
    auto chunks = b_.create<scf::ForOp>(loc_, bounds[2], bounds[3], ch);
    b_.setInsertionPointToStart(chunks.getBody());
    cb = chunks.getInductionVar();
    ce = b_.create<arith::MinSIOp>(loc_, b_.create<arith::AddIOp>(loc_, cb, ch), bounds[3]);
    auto blocks = b_.create<scf::ForOp>(loc_, bounds[0], bounds[1], idx_const(kMmRows));
    b_.setInsertionPointToStart(blocks.getBody());
    Value r0 = blocks.getInductionVar();
    Value nr = b_.create<arith::MinSIOp>(loc_, b_.create<arith::SubIOp>(loc_, bounds[1], r0), idx_const(kMmRows));
    std::vector<std::vector<Value>> rows;
    Value same = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, nr, idx_const(kMmRows));
    for (int i = 0; i < kMmRows; ++i) {
      rows.push_back(row_offsets(to_i64(b_.create<arith::AddIOp>(loc_, r0, idx_const(i)))));
      if (i) same = both(same, cmp_eq(q_off(rows[size_t(i)]), q_off(rows[0])));
    }
    auto whole = b_.create<scf::IfOp>(loc_, same, /*withElseRegion=*/true);
    b_.setInsertionPointToStart(whole.thenBlock());
    do_rows(rows);
    b_.setInsertionPointToStart(whole.elseBlock());
    auto one = b_.create<scf::ForOp>(loc_, idx_const(0), nr, idx_const(1));
    b_.setInsertionPointToStart(one.getBody());
    do_rows({row_offsets(to_i64(b_.create<arith::AddIOp>(loc_, r0, one.getInductionVar())))});
  }

  struct LoopDim {
    Value size, weight;         // trip count; weight in the row-major position
    std::vector<Value> stride;  // per arg
  };

  struct Slot {
    size_t instr;             // the Reduce/Scan
    ReduceOp op;
    DType t;                  // of the folded values
    size_t first;             // its components in the flat accumulator list (tiled order)
    std::vector<Type> types;  // their register types
    bool two_pass = false;    // ArgMax/ArgMin in two passes in the element order
    size_t first_e = 0;       // its components in the element order (1 if two_pass)
  };

  size_t slot_first(const Slot& sl, bool tiled) { return tiled ? sl.first : sl.first_e; }
  size_t slot_size(const Slot& sl, bool tiled) { return !tiled && sl.two_pass ? 1 : sl.types.size(); }
  std::vector<Value> slot_acc(const Slot& sl, const std::vector<Value>& acc, bool tiled) {
    auto b = acc.begin() + long(slot_first(sl, tiled));
    return std::vector<Value>(b, b + long(slot_size(sl, tiled)));
  }
  std::vector<Value> slot_init(ScalarEmitter& s, const Slot& sl, bool tiled) {
    bool mx = sl.op == ReduceOp::ArgMax;
    if (!tiled && sl.two_pass) return {s.arg_key_init(sl.t, mx)};
    return s.acc_init(sl.op, sl.t);
  }

  /// Marks in `slice` the instructions value i is computed from; false if
  /// that includes anything but loads, constants and computes.
  bool operand_slice(size_t i, std::vector<bool>& slice) {
    if (slice[i]) return true;
    const Instr& in = k_.body[i];
    if (in.kind == Instr::Kind::Const) return true;
    if (in.kind != Instr::Kind::Load && in.kind != Instr::Kind::Compute) return false;
    slice[i] = true;
    for (int o : in.operands)
      if (!operand_slice(size_t(o), slice)) return false;
    return true;
  }

  Value add(Value a, Value b) { return b_.create<arith::AddIOp>(loc_, a, b); }
  Value mul(Value a, Value b) { return b_.create<arith::MulIOp>(loc_, a, b); }
  Value to_i64(Value index) { return b_.create<arith::IndexCastOp>(loc_, i64(), index); }

  /// offs[a] + i * strides_[a][d] for the args used in stage 0 (if `stage0`)
  /// or stage 1 (if `stage1`); the others are null.
  std::vector<Value> advance(const std::vector<Value>& offs, Value i, int d, bool stage0, bool stage1) {
    std::vector<Value> out(offs.size());
    for (size_t a = 0; a < offs.size(); ++a)
      if ((stage0 && used_[0][a]) || (stage1 && used_[1][a])) out[a] = add(offs[a], mul(i, strides_[a][size_t(d)]));
    return out;
  }

  scf::ForOp counted_loop(Value n_index, const std::vector<Value>& iter = {}) {
    Value zero = b_.create<arith::ConstantIndexOp>(loc_, 0);
    Value one = b_.create<arith::ConstantIndexOp>(loc_, 1);
    auto loop = b_.create<scf::ForOp>(loc_, zero, n_index, one, iter);
    if (iter.empty()) b_.setInsertionPointToStart(loop.getBody());
    else b_.setInsertionPointToEnd(loop.getBody());
    return loop;
  }

  void row_loop(Value bounds[4], bool tiled) {
    const int R = k_.rank, O = R - k_.reduce_rank;
    const size_t A = k_.args.size();
    OpBuilder::InsertionGuard guard(b_);
    Value one = b_.create<arith::ConstantIndexOp>(loc_, 1);
    auto rows = b_.create<scf::ForOp>(loc_, bounds[0], bounds[1], one);
    b_.setInsertionPointToStart(rows.getBody());
    std::vector<Value> idx(size_t(O - 1));
    Value r = to_i64(rows.getInductionVar());
    for (int d = O - 2; d >= 1; --d) {
      idx[size_t(d)] = b_.create<arith::RemUIOp>(loc_, r, sizes_[size_t(d)]);
      r = b_.create<arith::DivUIOp>(loc_, r, sizes_[size_t(d)]);
    }
    if (O >= 2) idx[0] = r;
    std::vector<Value> row_off(A);
    for (size_t a = 0; a < A; ++a) {
      if (!used_[0][a] && !used_[1][a]) continue;
      row_off[a] = offsets_[a];
      for (int d = 0; d + 1 < O; ++d) row_off[a] = add(row_off[a], mul(idx[size_t(d)], strides_[a][size_t(d)]));
    }
    ScalarEmitter s(b_, loc_);
    if (tiled) tile_loop(s, row_off, bounds);
    else element_loop(s, row_off, bounds);
  }

  // One output element at a time: accumulators in registers.
  void element_loop(ScalarEmitter& s, const std::vector<Value>& row_off, Value bounds[4]) {
    const int O = k_.rank - k_.reduce_rank;
    OpBuilder::InsertionGuard guard(b_);
    Value one = b_.create<arith::ConstantIndexOp>(loc_, 1);
    auto cols = b_.create<scf::ForOp>(loc_, bounds[2], bounds[3], one);
    b_.setInsertionPointToStart(cols.getBody());
    std::vector<Value> base = advance(row_off, to_i64(cols.getInductionVar()), O - 1, true, true);
    std::vector<Value> acc;
    for (const Slot& sl : slots_)
      for (Value x : slot_init(s, sl, false)) acc.push_back(x);
    acc = reduce_nest(elem_dims_, 0, base, i64_const(0), acc, [&](const std::vector<Value>& offs, Value pos,
                                                      const std::vector<Value>& in) {
      return stage0(s, offs, pos, in, /*tiled=*/false);
    });
    // Second pass of two-pass ArgMax/ArgMin: the first position of the best key.
    std::vector<const Slot*> two;
    std::vector<Value> best, first;
    for (const Slot& sl : slots_)
      if (sl.two_pass) {
        two.push_back(&sl);
        best.push_back(acc[sl.first_e]);
        first.push_back(s.first_pos_init());
      }
    if (!two.empty())
      first = reduce_nest(elem_dims_, 0, base, i64_const(0), first, [&](const std::vector<Value>& offs, Value pos,
                                                            const std::vector<Value>& in) {
        auto at = [&](int a) { return gep(mem_type(&ctx_, k_.args[size_t(a)].dtype), args_[size_t(a)], offs[size_t(a)]); };
        for (size_t i = 0; i < k_.body.size(); ++i)
          if (find_slice_[i]) eval(i, s, at);
        std::vector<Value> out;
        for (size_t j = 0; j < two.size(); ++j) {
          const Slot& sl = *two[j];
          Value key = s.arg_key(v_[size_t(k_.body[sl.instr].operands[0])], sl.t, sl.op == ReduceOp::ArgMax);
          out.push_back(s.first_pos_fold(in[j], key, best[j], pos));
        }
        return out;
      });
    for (const Slot& sl : slots_)
      if (k_.body[sl.instr].kind == Instr::Kind::Reduce && !sl.two_pass)
        v_[sl.instr] = s.acc_result(sl.op, sl.t, slot_acc(sl, acc, false));
    for (size_t j = 0; j < two.size(); ++j) v_[two[j]->instr] = s.first_pos_result(first[j]);
    stage1(s, base);
  }

  // A tile of columns at a time: accumulators in the stack arrays.
  void tile_loop(ScalarEmitter& s, const std::vector<Value>& row_off, Value bounds[4]) {
    const int O = k_.rank - k_.reduce_rank;
    OpBuilder::InsertionGuard guard(b_);
    Value step = b_.create<arith::ConstantIndexOp>(loc_, kTile);
    auto tiles = b_.create<scf::ForOp>(loc_, bounds[2], bounds[3], step);
    b_.setInsertionPointToStart(tiles.getBody());
    Value t0 = tiles.getInductionVar();
    Value t1 = b_.create<arith::MinSIOp>(loc_, b_.create<arith::AddIOp>(loc_, t0, step), bounds[3]);
    Value n = b_.create<arith::SubIOp>(loc_, t1, t0);
    Value t0_64 = to_i64(t0);
    auto acc_ptr = [&](size_t comp, Value c64) {
      return gep(s.acc_mem_type(comp_type(comp)), acc_arrays_[comp], c64);
    };
    auto load_acc = [&](Value c64) {
      std::vector<Value> acc;
      for (size_t j = 0; j < acc_size_; ++j)
        acc.push_back(s.acc_from_mem(
            b_.create<LLVMD::LoadOp>(loc_, s.acc_mem_type(comp_type(j)), acc_ptr(j, c64)), comp_type(j)));
      return acc;
    };
    auto store_acc = [&](const std::vector<Value>& acc, Value c64) {
      for (size_t j = 0; j < acc_size_; ++j) b_.create<LLVMD::StoreOp>(loc_, s.acc_to_mem(acc[j]), acc_ptr(j, c64));
    };
    {
      OpBuilder::InsertionGuard g(b_);
      auto init = counted_loop(n);
      Value c = to_i64(init.getInductionVar());
      std::vector<Value> acc;
      for (const Slot& sl : slots_)
        for (Value x : slot_init(s, sl, true)) acc.push_back(x);
      store_acc(acc, c);
    }
    reduce_nest(natural_, 0, row_off, i64_const(0), {}, [&](const std::vector<Value>& offs, Value pos, const std::vector<Value>&) {
      OpBuilder::InsertionGuard g(b_);
      auto cols = counted_loop(n);
      Value c = to_i64(cols.getInductionVar());
      std::vector<Value> here = advance(offs, add(t0_64, c), O - 1, true, false);
      store_acc(stage0(s, here, pos, load_acc(c), /*tiled=*/true), c);
      return std::vector<Value>{};
    });
    auto fin = counted_loop(n);
    Value c = to_i64(fin.getInductionVar());
    std::vector<Value> here = advance(row_off, add(t0_64, c), O - 1, false, true);
    std::vector<Value> acc = load_acc(c);
    for (const Slot& sl : slots_)
      if (k_.body[sl.instr].kind == Instr::Kind::Reduce) v_[sl.instr] = s.acc_result(sl.op, sl.t, slot_acc(sl, acc, true));
    stage1(s, here);
  }

  Type comp_type(size_t j) {
    for (const Slot& sl : slots_)
      if (j >= sl.first && j < sl.first + sl.types.size()) return sl.types[j - sl.first];
    return {};
  }

  /// Loops the reduced dims dims[l..] (outermost first) around `inner`,
  /// carrying `acc`. `offs` are the stage-0 args' offsets so far, `pos` the
  /// row-major position over the reduced dims so far (ArgMax/ArgMin only).
  std::vector<Value> reduce_nest(const std::vector<LoopDim>& dims, size_t l, const std::vector<Value>& offs, Value pos,
                                 const std::vector<Value>& acc, const StageFn& inner) {
    OpBuilder::InsertionGuard guard(b_);
    auto loop = counted_loop(index(dims[l].size), acc);
    Value r = to_i64(loop.getInductionVar());
    std::vector<Value> next(offs.size());
    for (size_t a = 0; a < offs.size(); ++a)
      if (used_[0][a]) next[a] = add(offs[a], mul(r, dims[l].stride[a]));
    Value p = needs_pos_ ? add(pos, mul(r, dims[l].weight)) : pos;
    std::vector<Value> cur(loop.getRegionIterArgs().begin(), loop.getRegionIterArgs().end());
    std::vector<Value> out = l + 1 == dims.size() ? inner(next, p, cur) : reduce_nest(dims, l + 1, next, p, cur, inner);
    if (!acc.empty()) b_.create<scf::YieldOp>(loc_, out);
    return std::vector<Value>(loop.getResults().begin(), loop.getResults().end());
  }

  /// Stage 0 at one element (offsets `offs`): evaluates the instructions,
  /// advances the scans and folds the reduced values. Returns the new
  /// accumulators. The element order reassociates float Sum/Prod (so LLVM
  /// vectorizes the innermost reduced loop) and runs ArgMax/ArgMin's first
  /// pass; the tiled order folds exactly in order.
  std::vector<Value> stage0(ScalarEmitter& s, const std::vector<Value>& offs, Value pos,
                            const std::vector<Value>& acc, bool tiled) {
    auto at = [&](int a) { return gep(mem_type(&ctx_, k_.args[size_t(a)].dtype), args_[size_t(a)], offs[size_t(a)]); };
    std::vector<Value> out = acc;
    auto fold = [&](const Slot& sl, bool re) {
      Value x = v_[size_t(k_.body[sl.instr].operands[0])];
      std::vector<Value> a = slot_acc(sl, acc, tiled), r;
      if (!tiled && sl.two_pass) {
        bool mx = sl.op == ReduceOp::ArgMax;
        r = {s.arg_key_fold(sl.t, mx, a[0], s.arg_key(x, sl.t, mx))};
      } else {
        r = s.acc_fold(sl.op, sl.t, a, x, pos, re);
      }
      std::copy(r.begin(), r.end(), out.begin() + long(slot_first(sl, tiled)));
      return r;
    };
    size_t next_slot = 0;
    for (size_t i = 0; i < k_.body.size(); ++i) {
      const Instr& in = k_.body[i];
      if (in.kind == Instr::Kind::Reduce || in.kind == Instr::Kind::Scan) {
        const Slot& sl = slots_[next_slot++];
        if (in.kind == Instr::Kind::Scan) v_[i] = s.acc_result(sl.op, sl.t, fold(sl, false));
        continue;
      }
      if (stage_of(in) == 0 && in.kind != Instr::Kind::Const) eval(i, s, at);
    }
    for (const Slot& sl : slots_)
      if (k_.body[sl.instr].kind == Instr::Kind::Reduce) fold(sl, !tiled);
    return out;
  }

  /// Stage 1 at one output element (offsets `offs`); the Reduce values are
  /// set.
  void stage1(ScalarEmitter& s, const std::vector<Value>& offs) {
    auto at = [&](int a) { return gep(mem_type(&ctx_, k_.args[size_t(a)].dtype), args_[size_t(a)], offs[size_t(a)]); };
    for (size_t i = 0; i < k_.body.size(); ++i) {
      const Instr& in = k_.body[i];
      if (in.kind != Instr::Kind::Reduce && in.kind != Instr::Kind::Const && stage_of(in) == 1) eval(i, s, at);
    }
  }

  // --- One instruction -------------------------------------------------

  /// Evaluates Load, Const, Store or Compute i (Reduce/Scan are the
  /// callers'); `at(a)` is arg a's element pointer before index terms.
  void eval(size_t i, ScalarEmitter& s, const std::function<Value(int)>& at) {
    const Instr& in = k_.body[i];
    switch (in.kind) {
      case Instr::Kind::Load: v_[i] = s.load(in.dtype, element(in, at(in.arg))); break;
      case Instr::Kind::Const:
        if (in.param < 0) v_[i] = s.constant(in.dtype, in.value);  // (params are read at entry)
        break;
      case Instr::Kind::Store: {
        Value p = element(in, at(in.arg));
        Value x = v_[size_t(in.operands[0])];
        // Accumulate in the arg's dtype: rounded for float16/bfloat16, or for bool.
        if (in.accumulate) x = s.compute(Op::Add, in.dtype, in.dtype, {s.load(in.dtype, p), x}, in.dtype);
        s.store(in.dtype, x, p);
        break;
      }
      case Instr::Kind::Compute: {
        std::vector<Value> ops;
        for (int o : in.operands) ops.push_back(v_[size_t(o)]);
        DType t = k_.body[size_t(in.operands[0])].dtype;
        DType cond = t;
        if (in.op == Op::Where) t = k_.body[size_t(in.operands[1])].dtype;
        // pow with a constant exponent may take a special path.
        const Instr& e = k_.body[size_t(in.operands.back())];
        Value v;
        if (in.op == Op::Pow && is_floating(t) && e.kind == Instr::Kind::Const && e.param < 0)
          v = s.pow_const(ops[0], e.value.to_double(), in.dtype);
        v_[i] = v ? v : s.compute(in.op, t, in.dtype, ops, cond);
        if (!v_[i]) invalid(k_, i, std::string("no CPU lowering for op ") + op_name(in.op));
        break;
      }
      case Instr::Kind::Reduce:
      case Instr::Kind::Scan:
        break;
    }
  }

  /// p plus the index terms of a Load/Store: sum_j index_j * index_stride_j.
  Value element(const Instr& in, Value p) {
    size_t first = in.kind == Instr::Kind::Store ? 1 : 0;
    if (in.operands.size() <= first) return p;
    Value off;
    for (size_t j = first; j < in.operands.size(); ++j) {
      Value term = mul(v_[size_t(in.operands[j])], istrides_[size_t(in.arg)][j - first]);
      off = off ? add(off, term) : term;
    }
    return gep(mem_type(&ctx_, k_.args[size_t(in.arg)].dtype), p, off);
  }

  // The CpuKernelFn entry point: (ptrs, params, row_begin, row_end,
  // col_begin, col_end).
  void build_wrapper(const std::string& name, func::FuncOp body) {
    std::vector<Type> in = {ptr(), ptr(), i64(), i64(), i64(), i64()};
    auto fn = b_.create<func::FuncOp>(loc_, name, b_.getFunctionType(in, {}));
    mlir::Block* entry = fn.addEntryBlock();
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPointToStart(entry);
    std::vector<Value> args;
    for (size_t a = 0; a < k_.args.size(); ++a)
      args.push_back(b_.create<LLVMD::LoadOp>(
          loc_, ptr(), gep(ptr(), entry->getArgument(0), i64_const(int64_t(a)))));
    for (unsigned i = 1; i < 6; ++i) args.push_back(entry->getArgument(i));
    b_.create<func::CallOp>(loc_, body, args);
    b_.create<func::ReturnOp>(loc_);
  }

  mlir::MLIRContext& ctx_;
  const Kernel& k_;
  OpBuilder b_;
  Location loc_;
  std::vector<Value> args_;                   // the buffer pointers
  std::vector<Value> v_;                      // SSA values of the body
  std::vector<std::vector<Value>> istrides_;  // per arg: index strides
  // Reductions: launch parameters, the args each stage accesses, the
  // accumulators.
  std::vector<Value> sizes_, offsets_;
  std::vector<std::vector<Value>> strides_;
  std::vector<bool> used_[2];
  std::vector<Slot> slots_;
  size_t acc_size_ = 0, acc_size_e_ = 0;  // accumulator components: tiled, element order
  bool needs_pos_ = false;
  std::vector<bool> find_slice_;
  std::vector<LoopDim> natural_, elem_dims_;  // reduced loops: in order; for the element order  // what the second pass of two-pass ArgMax/ArgMin recomputes
  std::vector<Value> acc_arrays_;  // tiled order: one per accumulator component
};

}  // namespace

mlir::OwningOpRef<mlir::ModuleOp> build_module(mlir::MLIRContext& ctx, const Kernel& k, const std::string& sym) {
  return KernelBuilder(ctx, k).build(sym);
}

}  // namespace kiln::cpu
