#include "schedule/emitter.h"

#include <fmt/format.h>

#include <algorithm>

#include "graph/builders.h"

namespace kiln::sched {

namespace {

ReduceOp reduce_op_of(Op op) {
  switch (op) {
    case Op::Sum: case Op::Cumsum: return ReduceOp::Sum;
    case Op::Prod: return ReduceOp::Prod;
    case Op::Amax: return ReduceOp::Max;
    case Op::Amin: return ReduceOp::Min;
    case Op::Argmax: return ReduceOp::ArgMax;
    case Op::Argmin: return ReduceOp::ArgMin;
    default: throw Error(fmt::format("kiln: internal: {} is not a reduction", op_name(op)));
  }
}

// A reduction (or scan) iterates over the input's kept dims, then its reduced
// dims; the output is written with stride 0 along reduced dims (or, for a
// scan, at every position).
Unit reduce_unit(const NodeRef& n) {
  const NodeRef& x = n->inputs[0];
  const Shape dims = reduced_dims(*n);
  Shape perm, iter;
  for (int64_t d = 0; d < int64_t(x->shape.size()); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) perm.push_back(d);
  perm.insert(perm.end(), dims.begin(), dims.end());
  for (int64_t d : perm) iter.push_back(x->shape[d]);
  Layout out = Layout::contiguous(n->shape).permute(perm);
  bool scan = op_info(n->op).kind == OpKind::Scan;
  int reduce_rank = int(dims.size());
  if (!scan)
    for (int k = 0; k < reduce_rank; ++k) out.strides[out.strides.size() - 1 - k] = 0;
  Unit u{n, -1, x, out, {}, reduce_rank};
  u.in_chain.push_back({Op::Permute, PermuteAttrs{perm}, x});
  if (reduce_rank == 0) {  // nothing to fold: a trailing dim of size 1
    iter.push_back(1);
    u.in_chain.insert(u.in_chain.begin(), ViewStep{Op::Reshape, ShapeAttrs{iter}, x});
    u.out_layout.shape.push_back(1);
    u.out_layout.strides.push_back(0);
    u.reduce_rank = 1;
  } else {
    u.out_layout.shape = iter;
  }
  return u;
}

// Adds a compute's cost to the kernel's pending cost while the walk is
// below it (emitting its operands).
struct Pending {
  int64_t& total;
  int64_t mine;
  Pending(int64_t& t, int64_t c) : total(t), mine(c) { total += mine; }
  ~Pending() { total -= mine; }
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;
};

bool broadcasts(const Chain& chain, size_t from) {
  for (size_t i = from; i < chain.size(); ++i) {
    const ViewStep& st = chain[i];
    if (st.op == Op::Expand && numel(std::get<ShapeAttrs>(st.attrs).shape) > st.input->numel()) return true;
  }
  return false;
}

// Two layouts over one shape that address the same elements (strides along
// size-1 dims do not matter).
bool same_elements(const Layout& a, const Layout& b) {
  if (a.shape != b.shape || a.offset != b.offset) return false;
  for (size_t d = 0; d < a.shape.size(); ++d)
    if (a.shape[d] != 1 && a.strides[d] != b.strides[d]) return false;
  return true;
}

}  // namespace

std::vector<Unit> units_of(const NodeRef& n) {
  std::vector<Unit> units;
  switch (n->op) {
    case Op::ViewScatter:
      // Copy the base in, then write the view.
      units.push_back({n, 0, n->inputs[0], Layout::contiguous(n->shape)});
      units.push_back({n, 1, n->inputs[1], n->attr<StridedAttrs>().layout()});
      break;
    case Op::Cat: {
      // Each input fills its slice along dim.
      int64_t dim = n->attr<CatAttrs>().dim, start = 0;
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        Layout l = Layout::contiguous(n->shape);
        l.offset = start * l.strides[dim];
        l.shape[dim] = n->inputs[i]->shape[dim];
        start += l.shape[dim];
        units.push_back({n, int(i), n->inputs[i], l});
      }
      break;
    }
    case Op::IndexPut: {
      // Copy the base in, then write each value at its indexed position.
      units.push_back({n, 0, n->inputs[0], Layout::contiguous(n->shape)});
      const Shape& iter = n->inputs[1]->shape;
      size_t r = iter.size();
      Layout base = Layout::contiguous(n->shape);
      const auto& [map, sel, accumulate] = n->attr<IndexPutAttrs>();
      Layout out{iter, Shape(r, 0), 0};
      for (size_t o = 0; o < r; ++o)
        if (map[o] >= 0) out.strides[o] = base.strides[size_t(map[o])];
      Unit w{n, 1, n->inputs[1], out};
      for (size_t j = 2; j < n->inputs.size(); ++j) {
        w.store_index.push_back(n->inputs[j]);
        w.store_index_strides.push_back(base.strides[size_t(sel[j - 2])]);
      }
      w.accumulate = accumulate;
      units.push_back(w);
      break;
    }
    default:
      if (is_reduce(n->op)) units.push_back(reduce_unit(n));
      else units.push_back({n, -1, n, Layout::contiguous(n->shape)});
  }
  return units;
}

// Writes and reductions (their kernels have their own shape) and copies (the
// user asked for the value laid out contiguously: contiguous(), clone(),
// reshape's copy).
const char* always_stored(Op op) {
  switch (op_info(op).kind) {
    case OpKind::Scatter: return "write";
    case OpKind::Reduce: return "reduction";
    case OpKind::Scan: return "scan";
    default: return op == Op::Copy ? "copy" : nullptr;
  }
}

void Emitter::add_output(const Unit& u) {
  outputs_.insert(u.node.get());
  unit_node_ = u.node.get();
  unit_numel_ = u.epilogue ? u.node->numel() : numel(u.iter());
  unit_iter_ = u.iter();
  reduce_rank_ = u.reduce_rank;
  post_ = u.epilogue;
  chain_base_ = u.chain_base;
  // sum_k a[.., k] * b[.., k] with both operands broadcast: a contraction.
  const NodeRef& v = u.value;
  contraction_ = u.node->op == Op::Sum && v->op == Op::Mul && !v->realized() && !plan_.has(v.get()) &&
                 v->inputs[0]->shape != v->shape && v->inputs[1]->shape != v->shape;
  bool post = false;
  int val = emit(u.value, u.in_chain);
  if (val < 0)
    throw Error(fmt::format("kiln: internal: the schedule left a view of {} without strides", op_name(u.node->op)));
  if (u.reduce_rank > 0 && !u.epilogue) {
    Instr r;
    bool scan = op_info(u.node->op).kind == OpKind::Scan;
    r.kind = scan ? Instr::Kind::Scan : Instr::Kind::Reduce;
    r.reduce = reduce_op_of(u.node->op);
    r.dtype = u.node->dtype;
    r.operands = {val};
    r.post_reduce = post = !scan;
    val = push(r);
    ops_.push_back(op_name(u.node->op));
    if (!scan) reduced_[u.node.get()] = {val, u.out_layout};
  }
  post |= u.epilogue;
  if (!u.store) {
    post_ = false;
    return;
  }
  std::vector<int> idx;
  for (const NodeRef& i : u.store_index) idx.push_back(emit(i, {}));
  int arg = add_arg(u.node, u.out_layout, true, u.node->dtype, u.store_index_strides);
  if (post) post_args_.insert(arg);
  Instr st;
  st.kind = Instr::Kind::Store;
  st.arg = arg;
  st.dtype = u.node->dtype;
  st.operands = {val};
  st.operands.insert(st.operands.end(), idx.begin(), idx.end());
  st.post_reduce = post;
  st.accumulate = u.accumulate;
  // Indexed writes may hit one element twice: a fixed order decides.
  if (!u.store_index.empty()) k_.serial = true;
  k_.body.push_back(st);
  post_ = false;
  chain_base_ = 0;
}

void Emitter::store(const NodeRef& n, std::string reason) {
  if (!decide_)
    throw Error(fmt::format("kiln: internal: unplanned buffer for {} {} ({})", op_name(n->op),
                            shape_str(n->shape), reason));
  decide_(n, Decision{std::move(reason), unit_node_});
}

int Emitter::add_arg(const NodeRef& n, const Layout& l, bool out, DType t, const Shape& index_strides, bool position) {
  // (An input is shared by the loads of one stage: each stage walks its own dims.)
  bool post = !out && post_;
  for (size_t a = 0; a < arg_nodes_.size(); ++a)
    if (!out && !k_.args[a].is_output && k_.args[a].position == position && arg_nodes_[a] == n && layouts_[a] == l &&
        index_strides_[a] == index_strides && post_args_.count(int(a)) == size_t(post))
      return int(a);
  if (post) post_args_.insert(int(k_.args.size()));
  KernelArg ka;
  ka.is_output = out;
  ka.position = position;
  ka.dtype = t;
  ka.num_index = int(index_strides.size());
  k_.args.push_back(ka);
  arg_nodes_.push_back(n);
  layouts_.push_back(l);
  index_strides_.push_back(index_strides);
  return int(k_.args.size() - 1);
}

int Emitter::push(Instr in) {
  size_ += in.kind == Instr::Kind::Compute ? cost(in.op) : 1;
  if (post_ && (in.kind == Instr::Kind::Load || in.kind == Instr::Kind::Compute)) in.post_reduce = true;
  k_.body.push_back(std::move(in));
  return int(k_.body.size() - 1);
}

void Emitter::add_dep(const NodeRef& n) {
  if (std::find(deps_.begin(), deps_.end(), n) == deps_.end()) deps_.push_back(n);
}

// Applies the views of `chain` (innermost first) to `l`; false (and
// blocked_ names the value a view has no strides over) if one cannot be.
bool Emitter::through(const Chain& chain, Layout& l) {
  for (size_t i = chain.size(); i-- > 0;) {
    auto next = graph::apply_view(chain[i].op, chain[i].attrs, l);
    if (!next) {
      blocked_ = chain[i].input.get();
      blocked_reason_ = fmt::format("view: {} {} over it has no strides", op_name(chain[i].op),
                                    attrs_str(chain[i].attrs));
      return false;
    }
    l = *next;
  }
  return true;
}

// A load of n (a buffer) through the views of `chain`; -1 if blocked.
int Emitter::load(const NodeRef& n, const Chain& chain) {
  Layout l = n->realized() ? n->layout : Layout::contiguous(n->shape);
  if (!through(chain, l)) return -1;
  if (!n->realized()) {
    add_dep(n);
    if (!chain.empty()) remapped_.insert(n.get());
    if (n->numel() != numel(unit_iter_) || !same_elements(l, Layout::contiguous(unit_iter_)))
      misaligned_.insert(n.get());
  }
  Instr in;
  in.kind = Instr::Kind::Load;
  in.dtype = n->dtype;
  in.arg = add_arg(n, l, false, n->dtype);
  return push(in);
}

std::string Emitter::memo_key(const NodeRef& n, const Chain& chain) const {
  std::string key = fmt::format("{}{}", post_ ? "post " : "", static_cast<const void*>(n.get()));
  for (auto& st : chain) key += fmt::format("|{}:{}", int(st.op), attrs_str(st.attrs));
  return key;
}

// The walk is depth-first. A view adds its step to the chain and the walk
// goes on to its input in a loop, since chains of views can be any length;
// a compute recurses into its operands, which the kernel size cap bounds:
// the computes waiting on the way down count towards it (pending_), so
// planning stores a value before the walk gets deeper than
// max_kernel_ops(), and lowering follows the plan.
int Emitter::emit(const NodeRef& root, const Chain& root_chain) {
  struct Through {  // a view walked through, with its memo key
    NodeRef node;
    std::string key;
  };
  std::vector<Through> views;
  Chain chain = root_chain;
  NodeRef n = root;
  int id;
  while (true) {
    std::string key = memo_key(n, chain);
    if (auto it = memo_.find(key); it != memo_.end()) {
      id = it->second;
      break;
    }
    if (auto it = reduced_.find(n.get()); it != reduced_.end() && post_) {
      // An epilogue reads this kernel's reduction from its accumulator: at
      // every point, the output element the reduction writes there.
      Layout l = Layout::contiguous(n->shape);
      if (!through(chain, l) || !same_elements(l, it->second.layout))
        throw Error(fmt::format("kiln: internal: an epilogue reads {} {} out of order", op_name(n->op),
                                shape_str(n->shape)));
      id = it->second.id;
      memo_[key] = id;
      break;
    }
    if (!n->realized() && !plan_.has(n.get()) && !outputs_.count(n.get()))
      if (const char* why = always_stored(n->op)) store(n, why);
    if (n->realized() || stored(n.get())) {
      id = load(n, chain);
    } else if (n->op == Op::Full) {
      Instr in;
      in.kind = Instr::Kind::Const;
      in.dtype = n->dtype;
      in.value = n->attr<FullAttrs>().value;
      if (is_param_scalar(in.dtype, in.value)) {
        in.param = int(scalars_.size());
        scalars_.push_back(param_bits(in.dtype, in.value));
        scalar_nodes_.push_back({n.get(), 0});
      }
      id = push(in);
    } else if (is_view(n->op)) {
      if (decide_ && !outputs_.count(n.get())) inlined_.push_back(n.get());
      NodeRef input = n->inputs[0];
      chain.push_back({n->op, n->attrs, input});
      views.push_back({std::move(n), std::move(key)});
      n = std::move(input);
      continue;
    } else {
      id = unblock(n, chain, emit_inline(n, chain));
    }
    if (id >= 0) memo_[key] = id;
    break;
  }
  // Back up the views, innermost first, as the calls of a recursive walk return.
  for (size_t i = views.size(); i-- > 0;) {
    chain.pop_back();
    id = unblock(views[i].node, chain, id);
    if (id >= 0) memo_[views[i].key] = id;
  }
  return id;
}

// `id` is -1 when a view over n has no strides (blocked_ names n): n is then
// stored and read back.
int Emitter::unblock(const NodeRef& n, const Chain& chain, int id) {
  if (id < 0 && blocked_ == n.get() && !outputs_.count(n.get())) {
    blocked_ = nullptr;
    store(n, blocked_reason_);
    id = load(n, chain);
  }
  return id;
}

// A node that is neither a view, a constant nor a buffer (a compute, a
// gather, rand/randn): computed here, unless it is better stored.
int Emitter::emit_inline(const NodeRef& n, const Chain& chain) {
  if (!outputs_.count(n.get())) {
    std::string why = recompute_reason(n, chain);
    // What this kernel will hold is what it holds, plus the computes above
    // this node still waiting for it.
    if (why.empty() && decide_ && size() + pending_ >= max_kernel_ops())
      why = fmt::format("kernel size: its consumer reached the cap of {}", max_kernel_ops());
    if (!why.empty()) {
      store(n, why);
      return load(n, chain);
    }
  }
  if (decide_ && !outputs_.count(n.get())) inlined_.push_back(n.get());
  if (n->op == Op::Index) return emit_index(n, chain);
  if (is_random(n->op)) return emit_random(n, chain);
  return emit_compute(n, chain);
}

// Why a node this kernel would compute inline gets a buffer instead, or "".
// Under a broadcast each of its values is computed once per use: in a
// reduction (a matmul operand, a gradient broadcast into a sum) that is
// N recomputations of every element for an N-long fold, so anything beyond a
// cast is stored; in an elementwise kernel a few cheap ops cost less than
// the load they save, so only costly values are.
std::string Emitter::recompute_reason(const NodeRef& n, const Chain& chain) const {
  if (!fusion_enabled()) return "fusion off";
  if (n->op == Op::Cast || n->op == Op::Copy || n->op == Op::Index || !broadcasts(chain, chain_base_)) return "";
  int64_t times = n->numel() > 0 ? unit_numel_ / n->numel() : 0;
  if (times <= 1) return "";
  if (reduce_rank_ > 0 && !post_)
    return fmt::format("read {} times per element by its consumer ({})", times,
                       contraction_ ? "matmul operand" : "broadcast into a reduction");
  if (costly(n)) return fmt::format("read {} times per element by its consumer (costly to recompute)", times);
  return "";
}

// An elementwise expression with a transcendental, a random value or more
// than a handful of ops before the values it loads.
bool Emitter::costly(const NodeRef& root) const {
  int ops = 0;
  std::vector<const Node*> stack = {root.get()};
  std::unordered_set<const Node*> seen;
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    if (n->realized() || plan_.has(n) || always_stored(n->op)) continue;
    if (is_random(n->op)) return true;
    if (is_elementwise(n->op) && n->op != Op::Cast && n->op != Op::Copy)
      if (is_float_math(n->op) || ++ops > 4) return true;
    for (const NodeRef& x : n->inputs) stack.push_back(x.get());
  }
  return false;
}

// A gather: the source must sit in a buffer; its layout over the output
// walks the mapped dims, and each index value adds index * stride.
int Emitter::emit_index(const NodeRef& n, const Chain& chain) {
  const NodeRef& src = n->inputs[0];
  if (!src->realized() && !plan_.has(src.get())) {
    const char* why = always_stored(src->op);
    store(src, why ? why : "gathered: an indexed load reads it from memory");
  }
  Layout ls = src->realized() ? src->layout : Layout::contiguous(src->shape);
  size_t r = n->shape.size();
  Layout l{n->shape, Shape(r, 0), ls.offset};
  const auto& [map, sel] = n->attr<IndexAttrs>();
  for (size_t o = 0; o < r; ++o)
    if (map[o] >= 0) l.strides[o] = ls.strides[size_t(map[o])];
  if (!through(chain, l)) return -1;
  Shape istrides;
  Instr in;
  in.kind = Instr::Kind::Load;
  in.dtype = src->dtype;
  Pending pending(pending_, 1);  // the load waits for its index values
  for (size_t j = 1; j < n->inputs.size(); ++j) {
    istrides.push_back(ls.strides[size_t(sel[j - 1])]);
    int id = emit(n->inputs[j], chain);
    if (id < 0) return -1;
    in.operands.push_back(id);
  }
  if (!src->realized()) {
    add_dep(src);
    remapped_.insert(src.get());
    misaligned_.insert(src.get());  // (it reads wherever the indices say)
  }
  in.arg = add_arg(src, l, false, src->dtype, istrides);
  ops_.push_back("index");
  return push(in);
}

// rand/randn, computed where it is read: the element's position in the
// node's contiguous order (a position arg walked through the chain's views)
// and the seed and offset as launch parameters, so every draw runs the same
// compiled kernel.
int Emitter::emit_random(const NodeRef& n, const Chain& chain) {
  Layout l = Layout::contiguous(n->shape);
  if (!through(chain, l)) return -1;
  Instr pos;
  pos.kind = Instr::Kind::Load;
  pos.dtype = kInt64;
  pos.arg = add_arg(n, l, false, kInt64, {}, /*position=*/true);
  Instr in;
  in.kind = Instr::Kind::Compute;
  in.op = n->op;
  in.dtype = n->dtype;
  in.operands.push_back(push(pos));
  const RandomAttrs& a = n->attr<RandomAttrs>();
  int field = 0;
  for (int64_t v : {a.seed, a.offset}) {
    Instr c;
    c.kind = Instr::Kind::Const;
    c.dtype = kInt64;
    c.value = Scalar(v);
    c.param = int(scalars_.size());
    scalars_.push_back(v);
    scalar_nodes_.push_back({n.get(), field++});
    in.operands.push_back(push(c));
  }
  ops_.push_back(op_name(n->op));
  return push(in);
}

int Emitter::emit_compute(const NodeRef& n, const Chain& chain) {
  if (!is_elementwise(n->op))
    throw Error(fmt::format("kiln: internal: cannot fuse op {} into an elementwise kernel", op_name(n->op)));
  Instr in;
  in.kind = Instr::Kind::Compute;
  in.op = n->op;
  in.dtype = n->dtype;
  Pending pending(pending_, cost(n->op));
  for (const NodeRef& x : n->inputs) {
    if (n->op == Op::Pow && x == n->inputs[1]) {
      // A constant exponent stays a literal: x^2, x^0.5, x^-1 have fast paths.
      const Node* e = x.get();
      while (!e->realized() && is_view(e->op)) e = e->inputs[0].get();
      if (!e->realized() && e->op == Op::Full) {
        Instr c;
        c.kind = Instr::Kind::Const;
        c.dtype = e->dtype;
        c.value = e->attr<FullAttrs>().value;
        in.operands.push_back(push(c));
        continue;
      }
    }
    Chain c = chain;
    if (x->shape != n->shape) {  // implicit broadcast
      c.push_back({Op::Expand, ShapeAttrs{n->shape}, x});
    }
    int id = emit(x, c);
    if (id < 0) return -1;
    in.operands.push_back(id);
  }
  ops_.push_back(op_name(n->op));
  return push(in);
}

ScheduledKernel Emitter::finish(const Shape& iter_shape) {
  ScheduledKernel sk;
  sk.arg_nodes = arg_nodes_;
  sk.arg_index_strides = index_strides_;
  sk.scalars = scalars_;
  sk.scalar_nodes = scalar_nodes_;
  collapse(iter_shape, sk);
  k_.contraction = is_contraction(k_);
  k_.name = name();
  sk.kernel = std::move(k_);
  return sk;
}

// Drops size-1 dims and merges dims that every argument walks contiguously,
// so a plain elementwise kernel becomes one flat loop. Output dims and
// reduced dims are collapsed separately; each keeps at least one dim.
void Emitter::collapse(const Shape& shape, ScheduledKernel& sk) {
  int out_rank = int(shape.size()) - reduce_rank_;
  Shape sizes;
  std::vector<Shape> strides(layouts_.size());
  int new_out_rank = 0;
  for (int group = 0; group < 2; ++group) {
    int lo = group == 0 ? 0 : out_rank, hi = group == 0 ? out_rank : int(shape.size());
    if (group == 1 && reduce_rank_ == 0) break;
    size_t start = sizes.size();
    for (int d = lo; d < hi; ++d) {
      if (shape[d] == 1) continue;
      bool merge = sizes.size() > start;
      for (size_t a = 0; a < layouts_.size() && merge; ++a)
        merge = strides[a].back() == layouts_[a].strides[d] * shape[d];
      if (merge) {
        sizes.back() *= shape[d];
        for (size_t a = 0; a < layouts_.size(); ++a) strides[a].back() = layouts_[a].strides[d];
      } else {
        sizes.push_back(shape[d]);
        for (size_t a = 0; a < layouts_.size(); ++a) strides[a].push_back(layouts_[a].strides[d]);
      }
    }
    if (sizes.size() == start) {
      sizes.push_back(1);
      for (auto& st : strides) st.push_back(0);
    }
    if (group == 0) new_out_rank = int(sizes.size());
  }
  sk.sizes = sizes;
  k_.rank = int(sizes.size());
  k_.reduce_rank = k_.rank - new_out_rank;
  for (size_t a = 0; a < layouts_.size(); ++a) {
    sk.arg_layouts.push_back(Layout{sizes, strides[a], layouts_[a].offset});
    // The loop that vectorizes is the innermost one: the last reduced dim
    // for stage-0 accesses of a reduction, else the last output dim.
    bool stage0 = k_.reduce_rank > 0 && !post_args_.count(int(a));
    int64_t inner = stage0 ? strides[a].back() : strides[a][new_out_rank - 1];
    k_.args[a].inner = inner == 1 ? InnerStride::Contig : inner == 0 ? InnerStride::Bcast : InnerStride::General;
  }
}

// The first 6 distinct ops it computes; a reduction's own op stays in the
// name even when the fused body before it is longer.
std::string Emitter::name() const {
  std::string s = reduce_rank_ ? "R" : "E";
  std::vector<std::string> seen;
  for (auto& o : ops_)
    if (std::find(seen.begin(), seen.end(), o) == seen.end()) seen.push_back(o);
  if (seen.size() > 6) {
    std::string last = seen.back();
    seen.resize(6);
    if (reduce_rank_ && std::find(seen.begin(), seen.end(), last) == seen.end()) seen.back() = last;
  }
  for (auto& o : seen) s += "_" + o;
  if (ops_.empty()) s += "_copy";
  return s;
}

}  // namespace kiln::sched
