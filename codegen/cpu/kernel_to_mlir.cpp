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
// The kernel is first decomposed (lib/ops/decompose.h): what arrives here
// is primitives and the CPU's native ops, PyTorch's scalar semantics being
// the shared decompositions'. ScalarEmitter lowers one instruction;
// KernelBuilder (kernel_builder.h) the loops around them.
//
// Indexed loads and stores add sum_j index_j * index_stride_j to the element
// offset. Reduction kernels (reduce_rank > 0) loop the reduced dims inside
// each output element (reduction_loops.cpp): stage 0 per reduced element,
// folding into accumulators, stage 1 once per output element. Contractions
// run in register tiles (matmul_tile.cpp).
#include "codegen/cpu/kernel_builder.h"

#include <algorithm>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "ops/decompose.h"

namespace kiln::cpu {

func::FuncOp KernelBuilder::build_body(const std::string& name) {
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
    if (in.dtype == kInt64) {
      v_[i] = bits;
    } else if (in.dtype == kFloat64) {
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

void KernelBuilder::build_elementwise(Value params, Value bounds[4]) {
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
  // An arg walked with a launch stride along the columns (a transpose, a
  // strided view) reads one element per cache line in a row: the columns
  // are then done in blocks of kBlockCols, each block over every row, so
  // those lines are used by the next rows before they leave L1. Elements
  // are independent, so the order changes no value.
  Value col_begin = bounds[2], col_end = bounds[3];
  bool blocked = R >= 2 && std::any_of(k_.args.begin(), k_.args.end(),
                                       [](const KernelArg& a) { return a.inner == InnerStride::General; });
  if (blocked) {
    auto blocks = b_.create<scf::ForOp>(loc_, bounds[2], bounds[3], b_.create<arith::ConstantIndexOp>(loc_, kBlockCols));
    b_.setInsertionPointToStart(blocks.getBody());
    col_begin = blocks.getInductionVar();
    col_end = b_.create<arith::MinSIOp>(
        loc_, b_.create<arith::AddIOp>(loc_, col_begin, b_.create<arith::ConstantIndexOp>(loc_, kBlockCols)),
        bounds[3]);
  }
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
    row_ptr[a] = arg_gep(int(a), args_[a], off);
  }

  auto cols = b_.create<scf::ForOp>(loc_, col_begin, col_end, one);
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
    return arg_gep(a, row_ptr[size_t(a)], i);
  };

  ScalarEmitter s(b_, loc_);
  for (size_t i = 0; i < k_.body.size(); ++i) eval(i, s, elem_ptr);
}

void KernelBuilder::eval(size_t i, ScalarEmitter& s, const std::function<Value(int)>& at) {
  const Instr& in = k_.body[i];
  switch (in.kind) {
    case Instr::Kind::Load:
      if (k_.args[size_t(in.arg)].position)  // the element's position: its byte address less the base's
        v_[i] = b_.create<arith::SubIOp>(loc_, b_.create<LLVMD::PtrToIntOp>(loc_, i64(), at(in.arg)),
                                         b_.create<LLVMD::PtrToIntOp>(loc_, i64(), args_[size_t(in.arg)]));
      else
        v_[i] = s.load(k_.args[size_t(in.arg)].dtype, element(in, at(in.arg)));
      break;
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

Value KernelBuilder::element(const Instr& in, Value p) {
  size_t first = in.kind == Instr::Kind::Store ? 1 : 0;
  if (in.operands.size() <= first) return p;
  Value off;
  for (size_t j = first; j < in.operands.size(); ++j) {
    Value term = mul(v_[size_t(in.operands[j])], istrides_[size_t(in.arg)][j - first]);
    off = off ? add(off, term) : term;
  }
  return arg_gep(in.arg, p, off);
}

void KernelBuilder::build_wrapper(const std::string& name, func::FuncOp body) {
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

mlir::OwningOpRef<mlir::ModuleOp> build_module(mlir::MLIRContext& ctx, const Kernel& k, const std::string& sym) {
  Kernel primitives = decompose(k, native_op);  // what Backend::primitives gives
  return KernelBuilder(ctx, primitives).build(sym);
}

}  // namespace kiln::cpu
