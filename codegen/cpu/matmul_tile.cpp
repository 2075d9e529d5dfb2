// Contractions (Kernel::contraction) in register tiles: see kernel_builder.h
// for the fixed per-element arithmetic that keeps results independent of the
// tile shape and the thread split.
#include "codegen/cpu/kernel_builder.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "codegen/cpu/cpu_jit.h"
#include "kiln/error.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace kiln::cpu {

bool KernelBuilder::matmul_pattern(MatmulPattern& m) {
  // The scheduler marks contractions (Kernel::contraction: the sum of a
  // product of two loads over one reduced dim). The tiles also need a row
  // dim to block over (rank >= 3), float32/float64 throughout and operands
  // that move along the reduced dim; the dot tile needs both contiguous
  // there.
  if (!k_.contraction || k_.rank < 3) return false;
  for (size_t i = 0; i < k_.body.size(); ++i)
    if (k_.body[i].kind == Instr::Kind::Reduce) m.reduce = i;
  const Instr& mu = k_.body[size_t(k_.body[m.reduce].operands[0])];
  DType t = mu.dtype;
  if (t != kFloat32 && t != kFloat64) return false;
  m.dot = true;
  for (int l : mu.operands) {
    const KernelArg& a = k_.args[size_t(k_.body[size_t(l)].arg)];
    if (a.dtype != t || a.inner == InnerStride::Bcast) return false;
    m.dot &= a.inner == InnerStride::Contig;
  }
  // The operands in body order.
  m.x = k_.body[size_t(std::min(mu.operands[0], mu.operands[1]))].arg;
  m.y = k_.body[size_t(std::max(mu.operands[0], mu.operands[1]))].arg;
  m.t = t;
  return true;
}

LLVMD::LLVMFuncOp KernelBuilder::extern_fn(const char* name, Type result, const std::vector<Type>& params) {
  auto module = b_.getInsertionBlock()->getParentOp()->getParentOfType<mlir::ModuleOp>();
  if (auto f = module.lookupSymbol<LLVMD::LLVMFuncOp>(name)) return f;
  OpBuilder::InsertionGuard g(b_);
  b_.setInsertionPointToStart(module.getBody());
  return b_.create<LLVMD::LLVMFuncOp>(loc_, name, LLVMD::LLVMFunctionType::get(result, params));
}

std::vector<Value> KernelBuilder::row_offsets(Value r) {
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

std::vector<Value> KernelBuilder::dot_tile(const std::vector<Value>& a, const std::vector<Value>& b, DType t) {
  // One vector register per accumulator: 16 or 8 float32 lanes (8 or 4 float64).
  const int W = vector_bits() / (t == kFloat32 ? 32 : 64);
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
  // Each accumulator's lanes summed pairwise: lane i += lane i + h for h =
  // W/2, ..., 1. Up to W accumulators at once, as vectors: two vectors that
  // each hold accumulators of g lanes give one holding them with g/2 lanes
  // (the low half of each plus its high half), so W accumulators take W - 1
  // vector adds instead of W (W - 1) scalar ones. Missing accumulators of a
  // remainder tile are zeros; lanes of different accumulators never mix.
  std::vector<Value> hs;
  for (size_t g0 = 0; g0 < vsum.size(); g0 += size_t(W)) {
    std::vector<Value> vs(vsum.begin() + long(g0), vsum.begin() + long(std::min(vsum.size(), g0 + size_t(W))));
    size_t real = vs.size();
    while (vs.size() < size_t(W)) vs.push_back(zv);
    for (int g = W; g > 1; g /= 2) {
      std::vector<Value> next;
      for (size_t i = 0; i < vs.size(); i += 2) {
        std::vector<int32_t> lo, hi;
        for (int v = 0; v < 2; ++v)
          for (int a = 0; a < W / g; ++a)
            for (int l = 0; l < g / 2; ++l) {
              lo.push_back(v * W + a * g + l);
              hi.push_back(v * W + a * g + g / 2 + l);
            }
        Value L = b_.create<LLVMD::ShuffleVectorOp>(loc_, vs[i], vs[i + 1], lo);
        Value H = b_.create<LLVMD::ShuffleVectorOp>(loc_, vs[i], vs[i + 1], hi);
        next.push_back(b_.create<arith::AddFOp>(loc_, L, H));
      }
      vs = std::move(next);
    }
    for (size_t j = 0; j < real; ++j) hs.push_back(b_.create<LLVMD::ExtractElementOp>(loc_, vs[0], i64_const(int64_t(j))));
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

void KernelBuilder::build_matmul(const MatmulPattern& m, Value bounds[4]) {
  const int R = k_.rank, O = R - 1;
  // AVX-512's 32 registers hold 8 x 3 accumulators: per step of k, 3 loads
  // of B (from L2, the bound here) for 24 fma instead of 4 for 16.
  const int dot_rows = vector_bits() == 512 ? 8 : kMmRows, dot_cols = vector_bits() == 512 ? 3 : kMmCols;
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
  // dot_cols, then one by one.
  auto do_rows = [&](const std::vector<std::vector<Value>>& rows) {
    std::vector<Value> ap;
    for (const auto& ro : rows) ap.push_back(gep(et, P, p_off(ro)));
    Value qbase = q_off(rows[0]);
    Value n = b_.create<arith::SubIOp>(loc_, ce, cb);
    Value full = b_.create<arith::AddIOp>(
        loc_, cb, b_.create<arith::MulIOp>(loc_, b_.create<arith::DivUIOp>(loc_, n, idx_const(dot_cols)),
                                                  idx_const(dot_cols)));
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
      auto cols = b_.create<scf::ForOp>(loc_, cb, full, idx_const(dot_cols));
      b_.setInsertionPointToStart(cols.getBody());
      tile(to_i64(cols.getInductionVar()), dot_cols);
    }
    OpBuilder::InsertionGuard g(b_);
    auto cols = b_.create<scf::ForOp>(loc_, full, ce, idx_const(1));
    b_.setInsertionPointToStart(cols.getBody());
    tile(to_i64(cols.getInductionVar()), 1);
  };

  Value kk = b_.create<arith::MaxUIOp>(loc_, index(sizes_[size_t(R - 1)]), idx_const(1));
  Value ch = b_.create<arith::DivUIOp>(loc_, idx_const(kMmChunkBytes / (m.t == kFloat32 ? 4 : 8)), kk);
  ch = b_.create<arith::MulIOp>(loc_, b_.create<arith::DivUIOp>(loc_, ch, idx_const(dot_cols)), idx_const(dot_cols));
  ch = b_.create<arith::MaxUIOp>(loc_, ch, idx_const(dot_cols));
  auto chunks = b_.create<scf::ForOp>(loc_, bounds[2], bounds[3], ch);
  b_.setInsertionPointToStart(chunks.getBody());
  cb = chunks.getInductionVar();
  ce = b_.create<arith::MinSIOp>(loc_, b_.create<arith::AddIOp>(loc_, cb, ch), bounds[3]);
  auto blocks = b_.create<scf::ForOp>(loc_, bounds[0], bounds[1], idx_const(dot_rows));
  b_.setInsertionPointToStart(blocks.getBody());
  Value r0 = blocks.getInductionVar();
  Value nr = b_.create<arith::MinSIOp>(loc_, b_.create<arith::SubIOp>(loc_, bounds[1], r0), idx_const(dot_rows));
  std::vector<std::vector<Value>> rows;
  Value same = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, nr, idx_const(dot_rows));
  for (int i = 0; i < dot_rows; ++i) {
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

void KernelBuilder::build_outer_matmul(const MatmulPattern& m, Value bounds[4], const std::function<void()>& other) {
  const int R = k_.rank, O = R - 1;
  const size_t x = size_t(m.x), y = size_t(m.y);
  const int W = vector_bits() / (m.t == kFloat32 ? 32 : 64);
  // Rows x NV = 2 vectors of columns: 2 MR accumulators, 2 B vectors and
  // one broadcast A value in registers (16 of them with AVX2, 32 with
  // AVX-512; 8 x 3 vectors there measured no faster).
  const int MR = vector_bits() == 512 ? 8 : 6, NV = 2, NC = NV * W;
  Type et = reg_type(&ctx_, m.t);
  auto vt = mlir::VectorType::get({W}, et);
  const unsigned esize = m.t == kFloat32 ? 4 : 8;
  Value z = i64_const(0), one = i64_const(1);
  auto both = [&](Value u, Value v) { return b_.create<arith::AndIOp>(loc_, u, v); };
  // P: stride 0 along the columns (A's rows); Q: stride 0 along the rows
  // before them and stride 1 along the columns (B, row-major in [k, n]).
  Value c1 = both(both(cmp_eq(strides_[x][size_t(O - 1)], z), cmp_eq(strides_[y][size_t(O - 2)], z)),
                  cmp_eq(strides_[y][size_t(O - 1)], one));
  Value c2 = both(both(cmp_eq(strides_[y][size_t(O - 1)], z), cmp_eq(strides_[x][size_t(O - 2)], z)),
                  cmp_eq(strides_[x][size_t(O - 1)], one));
  // The tile's sums, for the epilogue: MR x NC elements.
  Value buf = b_.create<LLVMD::AllocaOp>(loc_, ptr(), et, i64_const(int64_t(MR) * NC), 64);
  auto branch = b_.create<scf::IfOp>(loc_, b_.create<arith::OrIOp>(loc_, c1, c2), /*withElseRegion=*/true);
  b_.setInsertionPointToStart(branch.elseBlock());
  other();
  b_.setInsertionPointToStart(branch.thenBlock());
  OpBuilder::InsertionGuard guard(b_);
  ScalarEmitter s(b_, loc_);
  Value P = sel(c1, args_[x], args_[y]), Q = sel(c1, args_[y], args_[x]);
  Value pk = sel(c1, strides_[x][size_t(R - 1)], strides_[y][size_t(R - 1)]);
  Value qk = sel(c1, strides_[y][size_t(R - 1)], strides_[x][size_t(R - 1)]);
  auto p_off = [&](const std::vector<Value>& ro) { return sel(c1, ro[x], ro[y]); };
  auto q_off = [&](const std::vector<Value>& ro) { return sel(c1, ro[y], ro[x]); };
  Value K = sizes_[size_t(R - 1)];

  // Every element is fma(p_k, q_k, acc) for k = 0, 1, ... from acc = 0, in
  // whichever lane of whichever tile (full, one row, masked) computes it,
  // so no tile shape and no split among threads changes a value.
  auto splat = [&](Value v, mlir::VectorType type) {
    Value u = b_.create<LLVMD::UndefOp>(loc_, type);
    u = b_.create<LLVMD::InsertElementOp>(loc_, u, v, i64_const(0));
    return Value(b_.create<LLVMD::ShuffleVectorOp>(loc_, u, u, std::vector<int32_t>(size_t(W), 0)));
  };
  // The sums of rows `ap` (P at k = 0) x columns [c, c + NC) (Q at k = 0,
  // column c: qp, rows q_step apart) into buf, row i at i * NC. With `mask`
  // (the last columns), only the lanes it sets are loaded (the others are
  // unused).
  auto vector_tile = [&](const std::vector<Value>& ap, Value qp, Value q_step, const std::vector<Value>& mask) {
    Value zv = b_.create<arith::ConstantOp>(
        loc_, vt, mlir::DenseElementsAttr::get(vt, llvm::ArrayRef<mlir::Attribute>(b_.getFloatAttr(et, 0.0))));
    std::vector<Value> acc(ap.size() * NV, zv);
    OpBuilder::InsertionGuard g(b_);
    auto loop = b_.create<scf::ForOp>(loc_, idx_const(0), index(K), idx_const(1), acc);
    b_.setInsertionPointToEnd(loop.getBody());
    Value k = to_i64(loop.getInductionVar());
    Value qrow = gep(et, qp, mul(k, q_step));
    std::vector<Value> bv;
    for (int v = 0; v < NV; ++v) {
      Value at = gep(et, qrow, i64_const(v * W));
      bv.push_back(mask.empty() ? Value(b_.create<LLVMD::LoadOp>(loc_, vt, at, esize))
                                : Value(b_.create<LLVMD::MaskedLoadOp>(loc_, vt, at, mask[size_t(v)],
                                                                       mlir::ValueRange{zv}, esize)));
    }
    auto it = loop.getRegionIterArgs();
    std::vector<Value> out;
    Value kp = mul(k, pk);
    for (size_t i = 0; i < ap.size(); ++i) {
      Value a = splat(b_.create<LLVMD::LoadOp>(loc_, et, gep(et, ap[i], kp)), vt);
      for (int v = 0; v < NV; ++v) out.push_back(b_.create<math::FmaOp>(loc_, a, bv[size_t(v)], it[NV * i + v]));
    }
    b_.create<scf::YieldOp>(loc_, out);
    b_.setInsertionPointAfter(loop);
    for (size_t i = 0; i < ap.size(); ++i)
      for (int v = 0; v < NV; ++v)
        b_.create<LLVMD::StoreOp>(loc_, loop.getResult(unsigned(NV * i + size_t(v))),
                                  gep(et, buf, i64_const(int64_t(i) * NC + v * W)), esize);
  };
  // The epilogue (stage 1) of rows [r0, r0 + nr) x columns [c, c + nc),
  // their sums in buf.
  auto epilogue_loops = [&](Value r0, Value nr, Value c, Value nc) {
    OpBuilder::InsertionGuard g(b_);
    auto rows = b_.create<scf::ForOp>(loc_, idx_const(0), index(nr), idx_const(1));
    b_.setInsertionPointToStart(rows.getBody());
    Value i = to_i64(rows.getInductionVar());
    std::vector<Value> ro = row_offsets(add(r0, i));
    auto cols = b_.create<scf::ForOp>(loc_, idx_const(0), index(nc), idx_const(1));
    b_.setInsertionPointToStart(cols.getBody());
    Value j = to_i64(cols.getInductionVar());
    v_[m.reduce] = b_.create<LLVMD::LoadOp>(loc_, et, gep(et, buf, add(mul(i, i64_const(NC)), j)));
    stage1(s, advance(ro, add(c, j), O - 1, false, true));
  };
  // Where every arg of stage 1 is contiguous along the columns (the output,
  // a bias, a residual: the common case), a copy of the loops with that
  // stride a constant, so LLVM turns the columns into vector loads and
  // stores; the element-wise arithmetic is the same either way.
  Value contig = b_.create<arith::ConstantOp>(loc_, b_.getBoolAttr(true));
  for (size_t a = 0; a < k_.args.size(); ++a)
    if (used_[1][a]) contig = both(contig, cmp_eq(strides_[a][size_t(O - 1)], one));
  auto epilogue = [&](Value r0, Value nr, Value c, Value nc) {
    OpBuilder::InsertionGuard g(b_);
    auto branch = b_.create<scf::IfOp>(loc_, contig, /*withElseRegion=*/true);
    b_.setInsertionPointToStart(branch.elseBlock());
    epilogue_loops(r0, nr, c, nc);
    b_.setInsertionPointToStart(branch.thenBlock());
    std::vector<Value> saved(k_.args.size());
    for (size_t a = 0; a < k_.args.size(); ++a)
      if (used_[1][a]) saved[a] = std::exchange(strides_[a][size_t(O - 1)], one);
    epilogue_loops(r0, nr, c, nc);
    for (size_t a = 0; a < k_.args.size(); ++a)
      if (used_[1][a]) strides_[a][size_t(O - 1)] = saved[a];
  };

  Value cb = to_i64(bounds[2]), ce = to_i64(bounds[3]);
  Value n = b_.create<arith::SubIOp>(loc_, ce, cb);
  Value full = add(cb, mul(b_.create<arith::DivUIOp>(loc_, n, i64_const(NC)), i64_const(NC)));
  Value kk = b_.create<arith::MaxSIOp>(loc_, K, one);
  Value ch = b_.create<arith::DivSIOp>(loc_, i64_const(kMmChunkBytes / int64_t(esize)), kk);
  ch = b_.create<arith::MaxSIOp>(loc_, mul(b_.create<arith::DivSIOp>(loc_, ch, i64_const(NC)), i64_const(NC)),
                                 i64_const(NC));
  // Q's K rows a multiple of 4 KiB apart fall into a few cache sets, and
  // its chunk does not stay in L2. Where that is so, the rows are one dim
  // (Q is the same panel for every row) and there are at least
  // kMmPackBlocks row blocks to pass over it, each chunk of Q is first
  // copied into a panel per tile, K x NC contiguous, that the tiles read as
  // one stream. (At other strides the copy costs more than it saves.) The
  // copy is per thread, in a heap buffer of K x ch elements.
  const bool packs = O == 2;
  Value pack_on, pack;
  if (packs) {
    Value nrows = b_.create<arith::SubIOp>(loc_, to_i64(bounds[1]), to_i64(bounds[0]));
    pack_on = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::sge, nrows, i64_const(kMmPackBlocks * MR));
    pack_on = both(pack_on, b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::sgt, full, cb));
    Value qbytes = mul(qk, i64_const(int64_t(esize)));
    pack_on = both(pack_on, cmp_eq(b_.create<arith::AndIOp>(loc_, qbytes, i64_const(4095)), z));
    // The buffer only where the copy is made (no allocator call per launch
    // task otherwise; free(null) is a no-op).
    auto alloc = b_.create<scf::IfOp>(loc_, mlir::TypeRange{ptr()}, pack_on, /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard ga(b_);
      b_.setInsertionPointToStart(alloc.thenBlock());
      Value bytes = mul(mul(kk, ch), i64_const(int64_t(esize)));
      b_.create<scf::YieldOp>(loc_, b_.create<LLVMD::CallOp>(loc_, malloc_fn(), mlir::ValueRange{bytes}).getResult());
      b_.setInsertionPointToStart(alloc.elseBlock());
      b_.create<scf::YieldOp>(loc_, Value(b_.create<LLVMD::NullOp>(loc_, ptr())));
    }
    pack = alloc.getResult(0);
    // Without the memory, the tiles read Q where it is.
    Value got = b_.create<LLVMD::PtrToIntOp>(loc_, i64(), pack);
    pack_on = both(pack_on, b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::ne, got, z));
  }
  Value qbase0 = packs ? q_off(row_offsets(to_i64(bounds[0]))) : Value();
  // Q's columns [c0, c1) (whole tiles) into pack: tile t's k-th row of NC
  // at (t K + k) NC.
  auto pack_panel = [&](Value c0, Value c1) {
    OpBuilder::InsertionGuard g(b_);
    auto tl = b_.create<scf::ForOp>(loc_, index(c0), index(c1), idx_const(NC));
    b_.setInsertionPointToStart(tl.getBody());
    Value c = to_i64(tl.getInductionVar());
    Value src = gep(et, Q, add(qbase0, c));
    Value dst = gep(et, pack, mul(b_.create<arith::SubIOp>(loc_, c, c0), K));
    auto kl = b_.create<scf::ForOp>(loc_, idx_const(0), index(K), idx_const(1));
    b_.setInsertionPointToStart(kl.getBody());
    Value k = to_i64(kl.getInductionVar());
    Value from = gep(et, src, mul(k, qk)), to = gep(et, dst, mul(k, i64_const(NC)));
    for (int v = 0; v < NV; ++v)
      b_.create<LLVMD::StoreOp>(loc_, b_.create<LLVMD::LoadOp>(loc_, vt, gep(et, from, i64_const(v * W)), esize),
                                gep(et, to, i64_const(v * W)), esize);
  };
  // Columns [c0, c1) in tiles of NC (nc of them in the epilogue), inside
  // blocks of MR rows: a block's MR x K of P stays in L1 while the tiles pass.
  // With `packed` (the chunk [c0, c1) of Q copied into `pack` where pack_on
  // says so, see above), the tiles read Q from there.
  auto row_blocks = [&](Value c0, Value c1, Value nc, const std::vector<Value>& mask, bool packed) {
    auto blocks = b_.create<scf::ForOp>(loc_, bounds[0], bounds[1], idx_const(MR));
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPointToStart(blocks.getBody());
    Value r0 = to_i64(blocks.getInductionVar());
    Value nr = b_.create<arith::MinSIOp>(loc_, b_.create<arith::SubIOp>(loc_, to_i64(bounds[1]), r0), i64_const(MR));
    std::vector<std::vector<Value>> rows;
    Value same = cmp_eq(nr, i64_const(MR));
    for (int i = 0; i < MR; ++i) {
      rows.push_back(row_offsets(add(r0, i64_const(i))));
      if (i) same = both(same, cmp_eq(q_off(rows[size_t(i)]), q_off(rows[0])));
    }
    auto tiles = [&](const std::vector<Value>& ap, Value qbase, Value r, Value n_rows) {
      OpBuilder::InsertionGuard gc(b_);
      auto cols = b_.create<scf::ForOp>(loc_, index(c0), index(c1), idx_const(NC));
      b_.setInsertionPointToStart(cols.getBody());
      Value c = to_i64(cols.getInductionVar());
      Value qp = gep(et, Q, add(qbase, c)), q_k = qk;
      if (packed) {
        qp = sel(pack_on, gep(et, pack, mul(b_.create<arith::SubIOp>(loc_, c, c0), K)), qp);
        q_k = sel(pack_on, i64_const(NC), qk);
      }
      vector_tile(ap, qp, q_k, mask);
      epilogue(r, n_rows, c, nc);
    };
    auto whole = b_.create<scf::IfOp>(loc_, same, /*withElseRegion=*/true);
    b_.setInsertionPointToStart(whole.thenBlock());
    {
      std::vector<Value> ap;
      for (const auto& ro : rows) ap.push_back(gep(et, P, p_off(ro)));
      tiles(ap, q_off(rows[0]), r0, i64_const(MR));
    }
    b_.setInsertionPointToStart(whole.elseBlock());
    auto single = b_.create<scf::ForOp>(loc_, idx_const(0), index(nr), idx_const(1));
    b_.setInsertionPointToStart(single.getBody());
    Value r = add(r0, to_i64(single.getInductionVar()));
    std::vector<Value> ro = row_offsets(r);
    tiles({gep(et, P, p_off(ro))}, q_off(ro), r, one);
  };
  // The full tiles in chunks of columns whose K x chunk panel of Q (about
  // kMmChunkBytes) stays in L2 while every row block passes over it; then
  // the last columns in one masked tile.
  {
    OpBuilder::InsertionGuard g(b_);
    auto chunks = b_.create<scf::ForOp>(loc_, index(cb), index(full), index(ch));
    b_.setInsertionPointToStart(chunks.getBody());
    Value c0 = to_i64(chunks.getInductionVar());
    Value c1 = b_.create<arith::MinSIOp>(loc_, add(c0, ch), full);
    if (packs) {
      auto pb = b_.create<scf::IfOp>(loc_, pack_on, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard gp(b_);
      b_.setInsertionPointToStart(pb.thenBlock());
      pack_panel(c0, c1);
    }
    row_blocks(c0, c1, i64_const(NC), {}, packs);
  }
  if (packs) b_.create<LLVMD::CallOp>(loc_, free_fn(), mlir::ValueRange{pack});
  Value rest = b_.create<arith::SubIOp>(loc_, ce, full);
  auto last = b_.create<scf::IfOp>(loc_, b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::sgt, rest, z),
                                   /*withElseRegion=*/false);
  b_.setInsertionPointToStart(last.thenBlock());
  auto it = mlir::VectorType::get({W}, b_.getI64Type());
  std::vector<int64_t> lanes(static_cast<size_t>(W), 0);
  for (int l = 0; l < W; ++l) lanes[size_t(l)] = l;
  Value iota = b_.create<arith::ConstantOp>(loc_, it, mlir::DenseElementsAttr::get(it, llvm::ArrayRef<int64_t>(lanes)));
  std::vector<Value> mask;
  for (int v = 0; v < NV; ++v)
    mask.push_back(b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::slt, iota,
                                            splat(b_.create<arith::SubIOp>(loc_, rest, i64_const(v * W)), it)));
  row_blocks(full, ce, rest, mask, false);
}

}  // namespace kiln::cpu
