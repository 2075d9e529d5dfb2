#pragma once
// KernelBuilder: builds the MLIR module of one (decomposed) kernel, its loop
// nest around the scalar body. One class, three files by concept:
// kernel_to_mlir.cpp (the entry point, elementwise loops, one instruction,
// the wrapper), reduction_loops.cpp (reduced dims, accumulators, the tiled
// column order) and matmul_tile.cpp (register-tiled contractions).
#include <functional>
#include <string>
#include <vector>

#include "codegen/cpu/lowering.h"
#include "codegen/cpu/scalar_emitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::cpu {

namespace arith = mlir::arith;
namespace math = mlir::math;
namespace scf = mlir::scf;
namespace func = mlir::func;
namespace LLVMD = mlir::LLVM;
using mlir::Location;
using mlir::OpBuilder;
using mlir::Type;
using mlir::Value;

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
  /// Element i of arg a from `base`. A position arg has no memory (its
  /// pointer is null, or whatever a caller passes): its elements are bytes,
  /// so its address less its pointer is the position (computed, never
  /// dereferenced; not inbounds).
  Value arg_gep(int a, Value base, Value i) {
    const KernelArg& arg = k_.args[size_t(a)];
    if (arg.position) return b_.create<LLVMD::GEPOp>(loc_, ptr(), b_.getI8Type(), base, mlir::ValueRange{i}, false);
    return gep(mem_type(&ctx_, arg.dtype), base, i);
  }
  Value load_i64(Value base, int64_t i) {
    return b_.create<LLVMD::LoadOp>(loc_, i64(), gep(i64(), base, i64_const(i)));
  }

  // Body arguments: A buffer pointers, params, row/col bounds.
  func::FuncOp build_body(const std::string& name);

  // --- Elementwise kernels (reduce_rank 0) -----------------------------
  // Rows, then columns; the instructions run once per element. With an arg
  // strided along the columns, column blocks of kBlockCols outside the rows.
  // 16: a transposing copy of 1000^2 / 1024^2 / 2048^2 / 3000^2 floats took
  // 0.5 / 1.2 / 5 / 12 ms on a Zen 4 core, against 1.6-2.2 / 3.1 / 10-12 /
  // 17-22 ms with blocks of 32 and 1.3 / 1.3 / 6 / 16 ms with blocks of 8
  // (a Xeon measured no difference between 8, 16 and 32).
  void build_elementwise(Value params, Value bounds[4]);
  static constexpr int64_t kBlockCols = 16;

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
  static constexpr int64_t kTile = 2048, kTileStackBytes = 64 * 1024;
  // The tiled order folds kJamRows elements of the innermost reduced dim
  // per load and store of the accumulators (kernels whose stage 0 has at
  // most kJamMaxInstrs instructions).
  static constexpr int64_t kJamRows = 4, kJamMaxInstrs = 12;
  int64_t jam_rows() const;
  int64_t tile_cols_ = kTile;  // this kernel's tile (see build_reduction)

  using StageFn = std::function<std::vector<Value>(const std::vector<Value>& offs, Value pos,
                                                   const std::vector<Value>& acc)>;

  void build_reduction(Value params, Value bounds[4]);

  // --- Matmul-shaped reductions -----------------------------------------
  // A Sum over one reduced dim of mul(load x, load y), float32/float64, both
  // contiguous along the reduced dim, nothing else in stage 0 (stage 1 may
  // hold an epilogue). When at launch one operand (P) has stride 0 along the
  // last output dim and the other (Q) stride 0 along the one before (a
  // matmul: P = A rows, Q = B^T rows), outputs are computed in register
  // tiles of up to kMmRows rows x kMmCols columns (8 x 3 with AVX-512):
  // one W-lane vector accumulator per output element, fma over k in steps
  // of W, then a fixed pairwise horizontal sum plus a sequential fma tail
  // for the last K % W elements. Every output element is computed with
  // exactly this arithmetic whichever tile shape (full or remainder) covers
  // it, so results do not depend on how the output is split among threads.
  // Otherwise (the stride condition does not hold) the element order below
  // runs, as for any other reduction.
  static constexpr int kMmRows = 4, kMmCols = 4;
  static constexpr int64_t kMmChunkBytes = 256 * 1024;
  static constexpr int64_t kMmPackBlocks = 2;

  struct MatmulPattern {
    size_t reduce = 0;
    int x = -1, y = -1;  // the args of the two loads
    DType t = kFloat32;
    bool dot = false;  // both contiguous along k: the dot tile's
  };

  /// Whether the kernel is a contraction a tile can take (then `m` says
  /// which operands and tile).
  bool matmul_pattern(MatmulPattern& m);

  Value cmp_eq(Value a, Value b) { return b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, a, b); }
  Value sel(Value c, Value a, Value b) { return b_.create<arith::SelectOp>(loc_, c, a, b); }
  Value idx_const(int64_t v) { return b_.create<arith::ConstantIndexOp>(loc_, v); }

  /// The offsets at output row r (int64) of the args used in either stage.
  std::vector<Value> row_offsets(Value r);

  /// The dot products of every row pointer in `a` with every one in `b`
  /// (element pointers at k = 0, contiguous along k), row-major; see above
  /// for the fixed per-element order.
  std::vector<Value> dot_tile(const std::vector<Value>& a, const std::vector<Value>& b, DType t);

  void build_matmul(const MatmulPattern& m, Value bounds[4]);

  // Contractions with an operand strided along k (x @ w, the backward
  // matmuls of a training step): when at launch one operand (Q) is
  // contiguous along the output columns and stride 0 along the rows, and
  // the other (P) stride 0 along the columns, an outer product. Tiles of 6
  // (AVX2) or 8 rows x 2 vectors of columns, per k one broadcast P element
  // times two Q vectors; the last columns with masked loads; column chunks
  // sized like the dot tile's, each copied into contiguous panels first
  // where Q's rows are a multiple of 4 KiB apart; the epilogue with its
  // column strides constant where they are all 1, so it vectorizes. Each
  // element is one fma chain over k in order from 0, whichever tile
  // computes it. Otherwise `other` builds the general orders.
  void build_outer_matmul(const MatmulPattern& m, Value bounds[4], const std::function<void()>& other);

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
  std::vector<Value> slot_acc(const Slot& sl, const std::vector<Value>& acc, bool tiled);
  std::vector<Value> slot_init(ScalarEmitter& s, const Slot& sl, bool tiled);

  /// Marks in `slice` the instructions value i is computed from; false if
  /// that includes anything but loads, constants and computes.
  bool operand_slice(size_t i, std::vector<bool>& slice);

  /// The module's declaration of the C library's function `name`.
  LLVMD::LLVMFuncOp extern_fn(const char* name, Type result, const std::vector<Type>& params);
  LLVMD::LLVMFuncOp malloc_fn() { return extern_fn("malloc", ptr(), {i64()}); }
  LLVMD::LLVMFuncOp free_fn() { return extern_fn("free", LLVMD::LLVMVoidType::get(&ctx_), {ptr()}); }

  Value add(Value a, Value b) { return b_.create<arith::AddIOp>(loc_, a, b); }
  Value mul(Value a, Value b) { return b_.create<arith::MulIOp>(loc_, a, b); }
  Value to_i64(Value index) { return b_.create<arith::IndexCastOp>(loc_, i64(), index); }

  /// offs[a] + i * strides_[a][d] for the args used in stage 0 (if `stage0`)
  /// or stage 1 (if `stage1`); the others are null.
  std::vector<Value> advance(const std::vector<Value>& offs, Value i, int d, bool stage0, bool stage1);

  scf::ForOp counted_loop(Value n_index, const std::vector<Value>& iter = {});

  void row_loop(Value bounds[4], bool tiled);

  // One output element at a time: accumulators in registers.
  void element_loop(ScalarEmitter& s, const std::vector<Value>& row_off, Value bounds[4]);

  // A tile of columns at a time: accumulators in the stack arrays.
  void tile_loop(ScalarEmitter& s, const std::vector<Value>& row_off, Value bounds[4]);

  Type comp_type(size_t j);

  /// Loops the reduced dims dims[l..] (outermost first) around `inner`,
  /// carrying `acc`. `offs` are the stage-0 args' offsets so far, `pos` the
  /// row-major position over the reduced dims so far (ArgMax/ArgMin only).
  std::vector<Value> reduce_nest(const std::vector<LoopDim>& dims, size_t l, const std::vector<Value>& offs, Value pos,
                                 const std::vector<Value>& acc, const StageFn& inner);

  /// Stage 0 at one element (offsets `offs`): evaluates the instructions,
  /// advances the scans and folds the reduced values. Returns the new
  /// accumulators. The element order reassociates float Sum/Prod (so LLVM
  /// vectorizes the innermost reduced loop) and runs ArgMax/ArgMin's first
  /// pass; the tiled order folds exactly in order.
  std::vector<Value> stage0(ScalarEmitter& s, const std::vector<Value>& offs, Value pos,
                            const std::vector<Value>& acc, bool tiled);

  /// Stage 1 at one output element (offsets `offs`); the Reduce values are
  /// set.
  void stage1(ScalarEmitter& s, const std::vector<Value>& offs);

  // --- One instruction -------------------------------------------------

  /// Evaluates Load, Const, Store or Compute i (Reduce/Scan are the
  /// callers'); `at(a)` is arg a's element pointer before index terms.
  void eval(size_t i, ScalarEmitter& s, const std::function<Value(int)>& at);

  /// p plus the index terms of a Load/Store: sum_j index_j * index_stride_j.
  Value element(const Instr& in, Value p);

  // The CpuKernelFn entry point: (ptrs, params, row_begin, row_end,
  // col_begin, col_end).
  void build_wrapper(const std::string& name, func::FuncOp body);

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

}  // namespace kiln::cpu
