// The CPU's scalar lowering (scalar_emitter.h): primitives, natives,
// memory formats and reduction accumulators as MLIR arith/math/llvm ops.
#include "codegen/cpu/scalar_emitter.h"

#include <cmath>
#include <cstring>
#include <string>

#include "llvm/ADT/APInt.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::cpu {

namespace arith = mlir::arith;
namespace math = mlir::math;
namespace func = mlir::func;
namespace LLVMD = mlir::LLVM;
using mlir::OpBuilder;
using mlir::Type;
using mlir::Value;

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

Type mem_type(mlir::MLIRContext* ctx, DType t) {
  switch (t) {
    case kBool: return mlir::IntegerType::get(ctx, 8);
    case kFloat16: return mlir::Float16Type::get(ctx);
    case kBFloat16: return mlir::IntegerType::get(ctx, 16);
    default: return reg_type(ctx, t);
  }
}

namespace {

unsigned int_width(DType t) {
  switch (t) {
    case kBool: return 1;
    case kInt8: case kUInt8: return 8;
    case kInt16: return 16;
    case kInt32: return 32;
    default: return 64;
  }
}

}  // namespace

// float64 transcendentals are MLIR's math ops (LLVM intrinsics or libm
// calls: MLIR approximates only f32) or direct libm calls where MLIR 16's
// lowering is inaccurate (its f64 log1p/expm1 are log(1 + x)/exp(x) - 1:
// log1p(1e-30) = 0). atan2 (f32 through f64: glibc's atan2f is off by up to
// 1.4 ulp, the f64 result rounded by <= 0.5), fmod (frem: exact) and pow
// are libm calls for both widths.
bool native_op(Op op, DType t) {
  switch (op) {
    case Op::Exp: case Op::Log: case Op::Sin: case Op::Cos: case Op::Tan: case Op::Tanh: case Op::Exp2:
    case Op::Log2: case Op::Log1p: case Op::Expm1: case Op::Erf:
      return t == kFloat64;
    case Op::Atan2: case Op::Fmod: case Op::Pow: return t == kFloat32 || t == kFloat64;
    default: return false;
  }
}

Value ScalarEmitter::constant(DType t, const Scalar& v) {
  if (t == kBool) return int_const(1, v.to_bool());
  if (is_integral(t)) return int_const(int_width(t), uint64_t(v.to_int()));
  return float_const(reg_type(ctx_, t), v.to_double());
}

Value ScalarEmitter::load(DType t, Value ptr) {
  Value raw = b_.create<LLVMD::LoadOp>(loc_, mem_type(ctx_, t), ptr);
  switch (t) {
    case kBool: return b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::ne, raw, int_const(8, 0));
    case kFloat16: return b_.create<arith::ExtFOp>(loc_, f32(), raw);
    case kBFloat16: {
      Value wide = b_.create<arith::ExtUIOp>(loc_, i32(), raw);
      Value bits = b_.create<arith::ShLIOp>(loc_, wide, int_const(32, 16));
      return b_.create<arith::BitcastOp>(loc_, f32(), bits);
    }
    default: return raw;
  }
}

void ScalarEmitter::store(DType t, Value v, Value ptr) {
  // Register values of float16/bfloat16 are always exactly representable
  // (the decompositions round every producer), so these conversions are exact.
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

/// The primitive cast: integers wrap or extend by the source's signedness,
/// floats truncate toward zero into int32/int64, to bool is != 0.
Value ScalarEmitter::cast(Value v, DType from, DType to) {
  if (from == to) return v;
  if (to == kBool) {
    if (is_floating(from)) return b_.create<arith::CmpFOp>(loc_, arith::CmpFPredicate::UNE, v, zero(v.getType()));
    return b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::ne, v, zero(v.getType()));
  }
  Type dst = reg_type(ctx_, to);
  if (is_floating(from) && is_floating(to)) {
    if (to == kFloat64) return b_.create<arith::ExtFOp>(loc_, dst, v);
    return b_.create<arith::TruncFOp>(loc_, dst, v);
  }
  if (is_floating(from)) return b_.create<arith::FPToSIOp>(loc_, dst, v);
  if (is_floating(to)) {
    if (is_signed(from)) return b_.create<arith::SIToFPOp>(loc_, dst, v);
    return b_.create<arith::UIToFPOp>(loc_, dst, v);
  }
  unsigned wf = int_width(from), wt = int_width(to);
  if (wf == wt) return v;
  if (wf > wt) return b_.create<arith::TruncIOp>(loc_, dst, v);
  if (is_signed(from)) return b_.create<arith::ExtSIOp>(loc_, dst, v);
  return b_.create<arith::ExtUIOp>(loc_, dst, v);
}

Value ScalarEmitter::compute(Op op, DType t, DType out, const std::vector<Value>& x) {
  const bool fl = is_floating(t);
  const bool sg = is_signed(t);
  Value a = x.empty() ? Value() : x[0];
  Value bb = x.size() > 1 ? x[1] : Value();
  switch (op) {
    case Op::Cast: return cast(a, t, out);
    case Op::Bitcast: return b_.create<arith::BitcastOp>(loc_, reg_type(ctx_, out), a);
    case Op::Neg: return b_.create<arith::NegFOp>(loc_, a);
    case Op::Abs: return b_.create<math::AbsFOp>(loc_, a);
    case Op::Sqrt: return b_.create<math::SqrtOp>(loc_, a);
    // floor, ceil, trunc, round (half to even) as the LLVM intrinsics
    // (vroundps on x86).
    case Op::Floor: return b_.create<LLVMD::FFloorOp>(loc_, a);
    case Op::Ceil: return b_.create<LLVMD::FCeilOp>(loc_, a);
    case Op::Trunc: return b_.create<LLVMD::FTruncOp>(loc_, a);
    case Op::Round: return b_.create<LLVMD::RoundEvenOp>(loc_, a);
    case Op::LogicalNot: return b_.create<arith::XOrIOp>(loc_, a, int_const(1, 1));
    case Op::Add: return fl ? Value(b_.create<arith::AddFOp>(loc_, a, bb)) : Value(b_.create<arith::AddIOp>(loc_, a, bb));
    case Op::Sub: return fl ? Value(b_.create<arith::SubFOp>(loc_, a, bb)) : Value(b_.create<arith::SubIOp>(loc_, a, bb));
    case Op::Mul: return fl ? Value(b_.create<arith::MulFOp>(loc_, a, bb)) : Value(b_.create<arith::MulIOp>(loc_, a, bb));
    case Op::Div: return b_.create<arith::DivFOp>(loc_, a, bb);
    case Op::Fma: return b_.create<math::FmaOp>(loc_, a, bb, x[2]);
    case Op::BitAnd: return b_.create<arith::AndIOp>(loc_, a, bb);
    case Op::BitOr: return b_.create<arith::OrIOp>(loc_, a, bb);
    case Op::BitXor: return b_.create<arith::XOrIOp>(loc_, a, bb);
    case Op::Shl: return b_.create<arith::ShLIOp>(loc_, a, bb);
    case Op::LShr: return b_.create<arith::ShRUIOp>(loc_, a, bb);
    case Op::AShr: return b_.create<arith::ShRSIOp>(loc_, a, bb);
    case Op::IDiv: return sg ? Value(b_.create<arith::DivSIOp>(loc_, a, bb)) : Value(b_.create<arith::DivUIOp>(loc_, a, bb));
    case Op::IRem: return sg ? Value(b_.create<arith::RemSIOp>(loc_, a, bb)) : Value(b_.create<arith::RemUIOp>(loc_, a, bb));
    case Op::RoundF16: {
      Value h = b_.create<arith::TruncFOp>(loc_, mlir::Float16Type::get(ctx_), a);
      return b_.create<arith::ExtFOp>(loc_, f32(), h);
    }
    case Op::Maximum: case Op::Minimum: return max_min(a, bb, t, op == Op::Maximum);
    case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: return compare(op, a, bb, t);
    case Op::Where: return select(a, bb, x[2]);
    default: break;
  }
  if (native_op(op, t)) return native(op, t, x);
  return {};  // neither: reported by the caller
}

/// The CPU's native ops (native_op).
Value ScalarEmitter::native(Op op, DType t, const std::vector<Value>& x) {
  Value a = x[0];
  if (op == Op::Atan2) {
    if (t == kFloat64) return libm("atan2", {a, x[1]});
    Type f64 = mlir::Float64Type::get(ctx_);
    Value r = libm("atan2", {b_.create<arith::ExtFOp>(loc_, f64, a), b_.create<arith::ExtFOp>(loc_, f64, x[1])});
    return b_.create<arith::TruncFOp>(loc_, f32(), r);
  }
  switch (op) {
    case Op::Fmod: return b_.create<arith::RemFOp>(loc_, a, x[1]);
    case Op::Pow: return b_.create<math::PowFOp>(loc_, a, x[1]);
    case Op::Exp: return b_.create<math::ExpOp>(loc_, a);
    case Op::Log: return b_.create<math::LogOp>(loc_, a);
    case Op::Sin: return b_.create<math::SinOp>(loc_, a);
    case Op::Cos: return b_.create<math::CosOp>(loc_, a);
    case Op::Tan: return b_.create<math::TanOp>(loc_, a);
    case Op::Tanh: return b_.create<math::TanhOp>(loc_, a);
    case Op::Exp2: return b_.create<math::Exp2Op>(loc_, a);
    case Op::Log2: return b_.create<math::Log2Op>(loc_, a);
    case Op::Log1p: return libm("log1p", {a});
    case Op::Expm1: return libm("expm1", {a});
    case Op::Erf: return libm("erf", {a});
    default: return {};
  }
}

/// A call of the C library function `name` (declared in the module on
/// first use); the result has the first argument's type.
Value ScalarEmitter::libm(const char* name, std::vector<Value> args) {
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

/// Integers only (floats are decomposed): signed/unsigned by dtype, or/and
/// for bool.
Value ScalarEmitter::max_min(Value a, Value b, DType t, bool max) {
  if (is_signed(t))
    return max ? Value(b_.create<arith::MaxSIOp>(loc_, a, b)) : Value(b_.create<arith::MinSIOp>(loc_, a, b));
  return max ? Value(b_.create<arith::MaxUIOp>(loc_, a, b)) : Value(b_.create<arith::MinUIOp>(loc_, a, b));
}

Value ScalarEmitter::compare(Op op, Value a, Value b, DType t) {
  if (is_floating(t)) {
    using P = arith::CmpFPredicate;
    // Ordered compares are false on NaN; Ne is unordered (NaN != x).
    P p = op == Op::Eq ? P::OEQ : op == Op::Ne ? P::UNE : op == Op::Lt ? P::OLT
        : op == Op::Le ? P::OLE : op == Op::Gt ? P::OGT : P::OGE;
    return b_.create<arith::CmpFOp>(loc_, p, a, b);
  }
  using P = arith::CmpIPredicate;
  bool s = is_signed(t);
  P p = op == Op::Eq ? P::eq : op == Op::Ne ? P::ne
      : op == Op::Lt ? (s ? P::slt : P::ult) : op == Op::Le ? (s ? P::sle : P::ule)
      : op == Op::Gt ? (s ? P::sgt : P::ugt) : (s ? P::sge : P::uge);
  return b_.create<arith::CmpIOp>(loc_, p, a, b);
}

std::vector<Type> ScalarEmitter::acc_types(ReduceOp op, DType t) {
  Type r = reg_type(ctx_, t);
  if ((op == ReduceOp::Max || op == ReduceOp::Min) && is_floating(t)) return {key_type(r)};
  if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) return {r, mlir::IntegerType::get(ctx_, 64)};
  return {r};
}

std::vector<Value> ScalarEmitter::acc_init(ReduceOp op, DType t) {
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
std::vector<Value> ScalarEmitter::acc_fold(ReduceOp op, DType t, const std::vector<Value>& acc, Value x, Value pos,
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
        Value better = b_.create<arith::CmpFOp>(loc_, mx ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT, x, a);
        Value first_nan = b_.create<arith::AndIOp>(loc_, b_.create<arith::CmpFOp>(loc_, arith::CmpFPredicate::UNO, x, x),
                                                   b_.create<arith::CmpFOp>(loc_, arith::CmpFPredicate::ORD, a, a));
        pick = b_.create<arith::OrIOp>(loc_, better, first_nan);
      } else {
        bool sg = is_signed(t);
        using P = arith::CmpIPredicate;
        pick = b_.create<arith::CmpIOp>(loc_, mx ? (sg ? P::sgt : P::ugt) : (sg ? P::slt : P::ult), x, a);
      }
      return {select(pick, x, a), select(pick, pos, acc[1])};
    }
  }
  return {};
}

/// The value of a Reduce/Scan (register type of its dtype) from `acc`.
Value ScalarEmitter::acc_result(ReduceOp op, DType t, const std::vector<Value>& acc) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Prod: return acc[0];  // (decompose() rounds float16/bfloat16 results)
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
Value ScalarEmitter::arg_key(Value x, DType t, bool max) {
  if (!is_floating(t)) return x;
  Value z = zero(x.getType());
  return max_key(select(b_.create<arith::CmpFOp>(loc_, arith::CmpFPredicate::OEQ, x, z), z, x), max);
}
Value ScalarEmitter::arg_key_init(DType t, bool max) {
  return is_floating(t) ? key_const(reg_type(ctx_, t), max ? -INFINITY : INFINITY) : int_extreme(t, !max);
}
Value ScalarEmitter::arg_key_fold(DType t, bool max, Value acc, Value key) {
  if (!is_floating(t)) return max_min(acc, key, t, max);
  return max ? Value(b_.create<arith::MaxSIOp>(loc_, acc, key)) : Value(b_.create<arith::MinSIOp>(loc_, acc, key));
}
Value ScalarEmitter::first_pos_init() { return int_const(64, uint64_t(INT64_MAX)); }
Value ScalarEmitter::first_pos_fold(Value acc, Value key, Value best, Value pos) {
  Value cand = select(b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, key, best), pos, first_pos_init());
  return b_.create<arith::MinSIOp>(loc_, acc, cand);
}
Value ScalarEmitter::first_pos_result(Value acc) {
  return select(b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, acc, first_pos_init()), int_const(64, 0), acc);
}

/// Memory type of an accumulator component (i1 is kept as a byte).
Type ScalarEmitter::acc_mem_type(Type t) { return t.isInteger(1) ? i8() : t; }
Value ScalarEmitter::acc_to_mem(Value v) { return v.getType().isInteger(1) ? Value(b_.create<arith::ExtUIOp>(loc_, i8(), v)) : v; }
Value ScalarEmitter::acc_from_mem(Value v, Type t) { return t.isInteger(1) ? Value(b_.create<arith::TruncIOp>(loc_, t, v)) : v; }


// Keys: the float's bits as a signed integer, with the magnitude bits of
// negative values flipped, order like the floats (-inf < ... < -0 < +0 <
// ... < inf); NaN gets the largest key for max, the smallest for min, which
// no other value has (those bit patterns are NaNs).
Type ScalarEmitter::key_type(Type f) { return mlir::IntegerType::get(ctx_, f.isF64() ? 64 : 32); }
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
Value ScalarEmitter::key_const(Type f, double v) { return int_const(f.isF64() ? 64 : 32, key_bits(v, f.isF64())); }
Value ScalarEmitter::max_key(Value x, bool max) {
  unsigned w = x.getType().isF64() ? 64 : 32;
  uint64_t pos_mask = w == 64 ? 0x7fffffffffffffffull : 0x7fffffffu;
  Value bits = b_.create<arith::BitcastOp>(loc_, key_type(x.getType()), x);
  Value neg = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::slt, bits, int_const(w, 0));
  Value key = select(neg, b_.create<arith::XOrIOp>(loc_, bits, int_const(w, pos_mask)), bits);
  Value nan_key = int_const(w, max ? pos_mask : pos_mask + 1);
  return select(b_.create<arith::CmpFOp>(loc_, arith::CmpFPredicate::UNO, x, x), nan_key, key);
}
Value ScalarEmitter::from_max_key(Value key, Type f, bool max) {
  unsigned w = f.isF64() ? 64 : 32;
  uint64_t pos_mask = w == 64 ? 0x7fffffffffffffffull : 0x7fffffffu;
  Value nan = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, key, int_const(w, max ? pos_mask : pos_mask + 1));
  Value neg = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::slt, key, int_const(w, 0));
  Value bits = select(neg, b_.create<arith::XOrIOp>(loc_, key, int_const(w, pos_mask)), key);
  Value v = b_.create<arith::BitcastOp>(loc_, f, bits);
  return select(nan, float_const(f, NAN), v);
}
/// The largest (or smallest) value of an integer dtype.
Value ScalarEmitter::int_extreme(DType t, bool max) {
  unsigned w = int_width(t);
  if (!is_signed(t)) return int_const(w, max ? ~0ull : 0);
  uint64_t top = 1ull << (w - 1);
  return int_const(w, max ? top - 1 : top);
}


Type ScalarEmitter::f32() { return mlir::Float32Type::get(ctx_); }
Type ScalarEmitter::i8() { return mlir::IntegerType::get(ctx_, 8); }
Type ScalarEmitter::i32() { return mlir::IntegerType::get(ctx_, 32); }

Value ScalarEmitter::int_const(unsigned width, uint64_t v) {
  Type t = mlir::IntegerType::get(ctx_, width);
  // Truncate explicitly: the constant wraps to the dtype's width.
  llvm::APInt bits = llvm::APInt(64, v).trunc(width);
  return b_.create<arith::ConstantOp>(loc_, b_.getIntegerAttr(t, bits));
}
Value ScalarEmitter::float_const(Type t, double v) { return b_.create<arith::ConstantOp>(loc_, b_.getFloatAttr(t, v)); }
Value ScalarEmitter::zero(Type t) {
  if (t.isa<mlir::FloatType>()) return float_const(t, 0.0);
  return int_const(t.getIntOrFloatBitWidth(), 0);
}
Value ScalarEmitter::select(Value c, Value a, Value b) { return b_.create<arith::SelectOp>(loc_, c, a, b); }

}  // namespace kiln::cpu
