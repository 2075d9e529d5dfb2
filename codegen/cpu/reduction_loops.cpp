// Reduction kernels: the reduced dims looped inside each output element (or,
// for strided reductions, outside a tile of columns), their accumulators and
// the two stages. The loop orders are documented in kernel_builder.h.
#include "codegen/cpu/kernel_builder.h"

#include <algorithm>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace kiln::cpu {

void KernelBuilder::build_reduction(Value params, Value bounds[4]) {
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
  MatmulPattern mm;
  bool matmul = matmul_pattern(mm);
  auto orders = [&] {
    if (!tiling) {
      if (matmul && mm.dot) build_matmul(mm, bounds);
      else row_loop(bounds, false);
      return;
    }
    // Accumulator arrays of the tiled order, at function entry: kTile
    // columns, fewer where the kernel has so many accumulators that they
    // would take more than kTileStackBytes of the stack.
    int64_t bytes = 0;
    for (const Slot& sl : slots_)
      for (Type t : sl.types) {
        Type m = s.acc_mem_type(t);
        bytes += m.isIntOrFloat() ? (m.getIntOrFloatBitWidth() + 7) / 8 : 16;
      }
    tile_cols_ = std::clamp<int64_t>(kTileStackBytes / std::max<int64_t>(bytes, 1) / 64 * 64, 64, kTile);
    for (const Slot& sl : slots_)
      for (Type t : sl.types)
        acc_arrays_.push_back(b_.create<LLVMD::AllocaOp>(loc_, ptr(), s.acc_mem_type(t), i64_const(tile_cols_), 32));
    Value tiled = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::sge, sizes_[size_t(O - 1)], i64_const(2));
    auto branch = b_.create<scf::IfOp>(loc_, tiled, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPointToStart(branch.thenBlock());
    row_loop(bounds, true);
    b_.setInsertionPointToStart(branch.elseBlock());
    row_loop(bounds, false);
  };
  if (matmul && !mm.dot) build_outer_matmul(mm, bounds, orders);
  else orders();
}

std::vector<Value> KernelBuilder::slot_acc(const Slot& sl, const std::vector<Value>& acc, bool tiled) {
  auto b = acc.begin() + long(slot_first(sl, tiled));
  return std::vector<Value>(b, b + long(slot_size(sl, tiled)));
}

std::vector<Value> KernelBuilder::slot_init(ScalarEmitter& s, const Slot& sl, bool tiled) {
  bool mx = sl.op == ReduceOp::ArgMax;
  if (!tiled && sl.two_pass) return {s.arg_key_init(sl.t, mx)};
  return s.acc_init(sl.op, sl.t);
}

bool KernelBuilder::operand_slice(size_t i, std::vector<bool>& slice) {
  if (slice[i]) return true;
  const Instr& in = k_.body[i];
  if (in.kind == Instr::Kind::Const) return true;
  if (in.kind != Instr::Kind::Load && in.kind != Instr::Kind::Compute) return false;
  slice[i] = true;
  for (int o : in.operands)
    if (!operand_slice(size_t(o), slice)) return false;
  return true;
}

std::vector<Value> KernelBuilder::advance(const std::vector<Value>& offs, Value i, int d, bool stage0, bool stage1) {
  std::vector<Value> out(offs.size());
  for (size_t a = 0; a < offs.size(); ++a)
    if ((stage0 && used_[0][a]) || (stage1 && used_[1][a])) out[a] = add(offs[a], mul(i, strides_[a][size_t(d)]));
  return out;
}

scf::ForOp KernelBuilder::counted_loop(Value n_index, const std::vector<Value>& iter) {
  Value zero = b_.create<arith::ConstantIndexOp>(loc_, 0);
  Value one = b_.create<arith::ConstantIndexOp>(loc_, 1);
  auto loop = b_.create<scf::ForOp>(loc_, zero, n_index, one, iter);
  if (iter.empty()) b_.setInsertionPointToStart(loop.getBody());
  else b_.setInsertionPointToEnd(loop.getBody());
  return loop;
}

void KernelBuilder::row_loop(Value bounds[4], bool tiled) {
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

void KernelBuilder::element_loop(ScalarEmitter& s, const std::vector<Value>& row_off, Value bounds[4]) {
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
      auto at = [&](int a) { return arg_gep(a, args_[size_t(a)], offs[size_t(a)]); };
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

void KernelBuilder::tile_loop(ScalarEmitter& s, const std::vector<Value>& row_off, Value bounds[4]) {
  const int O = k_.rank - k_.reduce_rank;
  OpBuilder::InsertionGuard guard(b_);
  Value step = b_.create<arith::ConstantIndexOp>(loc_, tile_cols_);
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
  // The innermost reduced dim in steps of kJam: per column the accumulators
  // are loaded once, fold kJam elements in order and are stored once (the
  // same folds, in the same order, as one element at a time).
  const LoopDim& last = natural_.back();
  const int64_t jam = jam_rows();
  auto columns = [&](const std::vector<Value>& offs, Value r, Value pos, int64_t count) {
    OpBuilder::InsertionGuard g(b_);
    auto cols = counted_loop(n);
    Value c = to_i64(cols.getInductionVar());
    std::vector<Value> acc = load_acc(c);
    for (int64_t u = 0; u < count; ++u) {
      Value ru = add(r, i64_const(u));
      std::vector<Value> at(offs.size());
      for (size_t a = 0; a < offs.size(); ++a)
        if (used_[0][a]) at[a] = add(offs[a], mul(ru, last.stride[a]));
      Value p = needs_pos_ ? add(pos, mul(ru, last.weight)) : pos;
      acc = stage0(s, advance(at, add(t0_64, c), O - 1, true, false), p, acc, /*tiled=*/true);
    }
    store_acc(acc, c);
  };
  auto innermost = [&](const std::vector<Value>& offs, Value pos, const std::vector<Value>&) {
    OpBuilder::InsertionGuard g(b_);
    Value size = index(last.size);
    Value main = b_.create<arith::ConstantIndexOp>(loc_, 0);  // where the one-at-a-time loop starts
    if (jam > 1) {
      Value j = b_.create<arith::ConstantIndexOp>(loc_, jam);
      main = b_.create<arith::SubIOp>(loc_, size, b_.create<arith::RemUIOp>(loc_, size, j));
      auto body = b_.create<scf::ForOp>(loc_, b_.create<arith::ConstantIndexOp>(loc_, 0), main, j);
      OpBuilder::InsertionGuard g2(b_);
      b_.setInsertionPointToStart(body.getBody());
      columns(offs, to_i64(body.getInductionVar()), pos, jam);
    }
    auto rest = b_.create<scf::ForOp>(loc_, main, size, b_.create<arith::ConstantIndexOp>(loc_, 1));
    b_.setInsertionPointToStart(rest.getBody());
    columns(offs, to_i64(rest.getInductionVar()), pos, 1);
    return std::vector<Value>{};
  };
  if (natural_.size() == 1) {
    innermost(row_off, i64_const(0), {});
  } else {
    std::vector<LoopDim> outer(natural_.begin(), natural_.end() - 1);
    reduce_nest(outer, 0, row_off, i64_const(0), {}, innermost);
  }
  auto fin = counted_loop(n);
  Value c = to_i64(fin.getInductionVar());
  std::vector<Value> here = advance(row_off, add(t0_64, c), O - 1, false, true);
  std::vector<Value> acc = load_acc(c);
  for (const Slot& sl : slots_)
    if (k_.body[sl.instr].kind == Instr::Kind::Reduce) v_[sl.instr] = s.acc_result(sl.op, sl.t, slot_acc(sl, acc, true));
  stage1(s, here);
}

// Jamming copies stage 0 kJamRows times: only for small bodies.
int64_t KernelBuilder::jam_rows() const {
  int64_t stage0 = 0;
  for (const Instr& in : k_.body)
    if (stage_of(in) == 0 && in.kind != Instr::Kind::Const) ++stage0;
  return stage0 <= kJamMaxInstrs ? kJamRows : 1;
}

Type KernelBuilder::comp_type(size_t j) {
  for (const Slot& sl : slots_)
    if (j >= sl.first && j < sl.first + sl.types.size()) return sl.types[j - sl.first];
  return {};
}

std::vector<Value> KernelBuilder::reduce_nest(const std::vector<LoopDim>& dims, size_t l, const std::vector<Value>& offs, Value pos,
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

std::vector<Value> KernelBuilder::stage0(ScalarEmitter& s, const std::vector<Value>& offs, Value pos,
                          const std::vector<Value>& acc, bool tiled) {
  auto at = [&](int a) { return arg_gep(a, args_[size_t(a)], offs[size_t(a)]); };
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

void KernelBuilder::stage1(ScalarEmitter& s, const std::vector<Value>& offs) {
  auto at = [&](int a) { return arg_gep(a, args_[size_t(a)], offs[size_t(a)]); };
  for (size_t i = 0; i < k_.body.size(); ++i) {
    const Instr& in = k_.body[i];
    if (in.kind != Instr::Kind::Reduce && in.kind != Instr::Kind::Const && stage_of(in) == 1) eval(i, s, at);
  }
}

}  // namespace kiln::cpu
