#pragma once
// The CPU's lowering of one Kernel IR value to MLIR: loads and stores
// (memory formats), the primitives of decomposed Kernel IR
// (lib/ops/decompose.h), the ops the CPU has natively (libm calls and
// MLIR's math ops for float64 transcendentals; atan2, pow and fmod), and the
// accumulators of reductions. PyTorch's semantics are not here: they are in
// the decompositions, which every backend shares.
#include <vector>

#include "kernel/kernel.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

namespace kiln::cpu {

/// Register type of a dtype: bool is i1, float16/bfloat16 compute in f32.
mlir::Type reg_type(mlir::MLIRContext* ctx, DType t);
/// In-memory type: bool is one byte, bfloat16 is handled as its 16 bits.
mlir::Type mem_type(mlir::MLIRContext* ctx, DType t);
/// The ops the CPU computes itself (what decompose() leaves to it).
bool native_op(Op op, DType t);

class ScalarEmitter {
public:
  ScalarEmitter(mlir::OpBuilder& b, mlir::Location loc) : b_(b), loc_(loc), ctx_(b.getContext()) {}

  mlir::Value constant(DType t, const Scalar& v);
  /// The value at `ptr` of an arg of dtype `t`, as a register value.
  mlir::Value load(DType t, mlir::Value ptr);
  /// Stores register value v (exactly representable in t) to an arg of dtype t.
  void store(DType t, mlir::Value v, mlir::Value ptr);
  /// One primitive or native op; `t` is the first operand's dtype (Where:
  /// of a and b), `out` the result's. Null if `op` is neither.
  mlir::Value compute(Op op, DType t, DType out, const std::vector<mlir::Value>& x);

  // --- Reductions -------------------------------------------------------
  // A Reduce/Scan over values of dtype t keeps an accumulator of one or two
  // register values ("components"):
  //   Sum, Prod      the running value; bool: or / and
  //   Max, Min       floats: an integer key ordered like the float, NaN
  //                  mapped to the extreme key (max_key), so the fold is an
  //                  integer max/min that LLVM vectorizes and NaN propagates
  //   ArgMax, ArgMin the best value and its int64 position; the first of
  //                  equal values stays, the first NaN wins
  std::vector<mlir::Type> acc_types(ReduceOp op, DType t);
  std::vector<mlir::Value> acc_init(ReduceOp op, DType t);
  /// Folds x (at int64 position `pos`, used by ArgMax/ArgMin) into `acc`.
  /// `reassoc` lets LLVM reorder a float Sum/Prod (to vectorize it).
  std::vector<mlir::Value> acc_fold(ReduceOp op, DType t, const std::vector<mlir::Value>& acc, mlir::Value x,
                                    mlir::Value pos, bool reassoc);
  /// The value of a Reduce/Scan (register type of its dtype) from `acc`.
  mlir::Value acc_result(ReduceOp op, DType t, const std::vector<mlir::Value>& acc);

  // ArgMax/ArgMin in two passes (see KernelBuilder::element_loop): the
  // first pass finds the best key with a max/min fold, the second the first
  // position whose key equals it with an int64 min fold; both vectorize.
  // Keys of -0 and +0 are equal (so are the values).
  mlir::Value arg_key(mlir::Value x, DType t, bool max);
  mlir::Value arg_key_init(DType t, bool max);
  mlir::Value arg_key_fold(DType t, bool max, mlir::Value acc, mlir::Value key);
  mlir::Value first_pos_init();
  mlir::Value first_pos_fold(mlir::Value acc, mlir::Value key, mlir::Value best, mlir::Value pos);
  mlir::Value first_pos_result(mlir::Value acc);

  /// Memory type of an accumulator component (i1 is kept as a byte).
  mlir::Type acc_mem_type(mlir::Type t);
  mlir::Value acc_to_mem(mlir::Value v);
  mlir::Value acc_from_mem(mlir::Value v, mlir::Type t);

private:
  mlir::Value cast(mlir::Value v, DType from, DType to);
  mlir::Value native(Op op, DType t, const std::vector<mlir::Value>& x);
  mlir::Value libm(const char* name, std::vector<mlir::Value> args);
  mlir::Value max_min(mlir::Value a, mlir::Value b, DType t, bool max);
  mlir::Value compare(Op op, mlir::Value a, mlir::Value b, DType t);
  mlir::Type key_type(mlir::Type f);
  mlir::Value key_const(mlir::Type f, double v);
  mlir::Value max_key(mlir::Value x, bool max);
  mlir::Value from_max_key(mlir::Value key, mlir::Type f, bool max);
  mlir::Value int_extreme(DType t, bool max);
  mlir::Value int_const(unsigned width, uint64_t v);
  mlir::Value float_const(mlir::Type t, double v);
  mlir::Value zero(mlir::Type t);
  mlir::Value select(mlir::Value c, mlir::Value a, mlir::Value b);
  mlir::Type f32();
  mlir::Type i8();
  mlir::Type i32();

  mlir::OpBuilder& b_;
  mlir::Location loc_;
  mlir::MLIRContext* ctx_;
};

}  // namespace kiln::cpu
