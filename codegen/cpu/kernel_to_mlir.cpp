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
#include "codegen/cpu/scalar_emitter.h"
#include "kernel/decompose.h"

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
    // The scheduler marks contractions (Kernel::contraction: the sum of a
    // product of two loads). The tile also needs a row dim to block over
    // (rank >= 3), float32/float64 throughout and both operands walked
    // contiguously along the reduced dim.
    if (!k_.contraction || k_.rank < 3) return false;
    for (size_t i = 0; i < k_.body.size(); ++i)
      if (k_.body[i].kind == Instr::Kind::Reduce) m.reduce = i;
    const Instr& mu = k_.body[size_t(k_.body[m.reduce].operands[0])];
    DType t = mu.dtype;
    if (t != kFloat32 && t != kFloat64) return false;
    for (int l : mu.operands) {
      const Instr& in = k_.body[size_t(l)];
      const KernelArg& a = k_.args[size_t(in.arg)];
      if (a.inner != InnerStride::Contig || a.dtype != t) return false;
    }
    // The operands in body order.
    m.x = k_.body[size_t(std::min(mu.operands[0], mu.operands[1]))].arg;
    m.y = k_.body[size_t(std::max(mu.operands[0], mu.operands[1]))].arg;
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
      case Instr::Kind::Load: v_[i] = s.load(k_.args[size_t(in.arg)].dtype, element(in, at(in.arg))); break;
      case Instr::Kind::Const:
        if (in.param < 0) v_[i] = s.constant(in.dtype, in.value);  // (params are read at entry)
        break;
      case Instr::Kind::Store:
        // (decompose() turned accumulating stores into load, add, store.)
        s.store(k_.args[size_t(in.arg)].dtype, v_[size_t(in.operands[0])], element(in, at(in.arg)));
        break;
      case Instr::Kind::Compute: {
        std::vector<Value> ops;
        for (int o : in.operands) ops.push_back(v_[size_t(o)]);
        DType t = k_.body[size_t(in.operands[in.op == Op::Where ? 1 : 0])].dtype;
        v_[i] = s.compute(in.op, t, in.dtype, ops);
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
  Kernel primitives = decompose(k, native_op);  // what Backend::primitives gives
  return KernelBuilder(ctx, primitives).build(sym);
}

}  // namespace kiln::cpu
