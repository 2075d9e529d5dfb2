// Contractions (Kernel::contraction) in register tiles: see kernel_builder.h
// for the fixed per-element arithmetic that keeps results independent of the
// tile shape and the thread split.
#include "codegen/cpu/kernel_builder.h"

#include <algorithm>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace kiln::cpu {

bool KernelBuilder::matmul_pattern(MatmulPattern& m) {
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

void KernelBuilder::build_matmul(const MatmulPattern& m, Value bounds[4]) {
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

}  // namespace kiln::cpu
