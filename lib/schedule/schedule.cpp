#include "schedule/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "graph/builders.h"

namespace kiln {

namespace {

// A view applied on the way down from a kernel's output to a load: the op,
// and the node it is applied to (materialized if the view cannot compose).
struct ViewStep {
  Op op;
  Attrs attrs;
  NodeRef input;
};
using Chain = std::vector<ViewStep>;  // outermost view first

// Thrown while emitting when a view over `node` cannot be expressed as strides.
struct NeedMaterialize {
  NodeRef node;
};

// What one kernel computes: `node`'s whole value, or, for a write node
// (view_scatter, cat), one of the regions it writes. A unit iterates over
// `iter`; for a reduction its last `reduce_rank` dims are folded.
struct Unit {
  NodeRef node;
  int part = -1;      // -1: the whole value; else the index of the write
  NodeRef value;      // what is stored (a reduction: what is folded)
  Layout out_layout;  // where, over the node's contiguous buffer, per `iter`
  Chain in_chain;     // views from the iteration space to `value`
  int reduce_rank = 0;
  // Indexed writes (index_put): where each element goes also depends on
  // these int64 values (of the iteration shape), times these strides.
  std::vector<NodeRef> store_index = {};
  Shape store_index_strides = {};
  bool accumulate = false;
  const Shape& iter() const { return out_layout.shape; }
  bool whole() const { return part < 0; }
};

ReduceOp reduce_op_of(Op op) {
  switch (op) {
    case Op::Prod: return ReduceOp::Prod;
    case Op::Amax: return ReduceOp::Max;
    case Op::Amin: return ReduceOp::Min;
    case Op::Argmax: return ReduceOp::ArgMax;
    case Op::Argmin: return ReduceOp::ArgMin;
    default: return ReduceOp::Sum;
  }
}

// A reduction (or scan) iterates over the input's kept dims, then its reduced
// dims; the output is written with stride 0 along reduced dims (or, for a
// scan, at every position).
Unit reduce_unit(const NodeRef& n) {
  const NodeRef& x = n->inputs[0];
  const Shape& dims = n->attrs.ints;
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
  Attrs p;
  p.ints = perm;
  u.in_chain.push_back({Op::Permute, p, x});
  if (reduce_rank == 0) {  // nothing to fold: a trailing dim of size 1
    Attrs r;
    iter.push_back(1);
    r.ints = iter;
    u.in_chain.insert(u.in_chain.begin(), ViewStep{Op::Reshape, r, x});
    u.out_layout.shape.push_back(1);
    u.out_layout.strides.push_back(0);
    u.reduce_rank = 1;
  } else {
    u.out_layout.shape = iter;
  }
  return u;
}

// The units of a materialized node, in the order they must run.
std::vector<Unit> units_of(const NodeRef& n) {
  std::vector<Unit> units;
  switch (n->op) {
    case Op::ViewScatter:
      // Copy the base in, then write the view.
      units.push_back({n, 0, n->inputs[0], Layout::contiguous(n->shape)});
      units.push_back({n, 1, n->inputs[1], decode_layout(n->attrs.ints)});
      break;
    case Op::Cat: {
      // Each input fills its slice along attrs.ints[0].
      int64_t dim = n->attrs.ints[0], start = 0;
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
      Layout out{iter, Shape(r, 0), 0};
      for (size_t o = 0; o < r; ++o)
        if (n->attrs.ints[o] >= 0) out.strides[o] = base.strides[n->attrs.ints[o]];
      Unit w{n, 1, n->inputs[1], out};
      for (size_t j = 2; j < n->inputs.size(); ++j) {
        w.store_index.push_back(n->inputs[j]);
        w.store_index_strides.push_back(base.strides[n->attrs.ints[r + j - 2]]);
      }
      w.accumulate = n->attrs.value.to_bool();
      units.push_back(w);
      break;
    }
    default:
      if (is_reduce(n->op)) units.push_back(reduce_unit(n));
      else units.push_back({n, -1, n, Layout::contiguous(n->shape)});
  }
  return units;
}

// Nodes that get a buffer of their own wherever they are used: writes and
// reductions (their kernels have their own shape) and copies (the user asked
// for the value laid out contiguously: contiguous(), clone(), reshape's copy).
bool always_materialized(Op op) {
  return op_info(op).kind == OpKind::Scatter || is_reduce(op) || op == Op::Copy;
}

NodeRef view_root(NodeRef n) {
  while (!n->realized() && is_view(n->op)) n = n->inputs[0];
  return n;
}

// Builds one kernel's body from the graph.
class Emitter {
public:
  /// While discovering the schedule, `materialize` (if given) is called for
  /// each node the emitter decides must get a buffer (then read as a load);
  /// without it such a decision throws NeedMaterialize.
  explicit Emitter(const std::unordered_set<Node*>& materialized,
                   std::function<void(const NodeRef&)> materialize = nullptr)
      : mat_(materialized), materialize_(std::move(materialize)) {}

  void add_output(const Unit& u) {
    outputs_.insert(u.node.get());
    reduce_rank_ = u.reduce_rank;
    bool post = false;
    int v = emit(u.value, u.in_chain);
    if (u.reduce_rank > 0) {
      Instr r;
      bool scan = op_info(u.node->op).kind == OpKind::Scan;
      r.kind = scan ? Instr::Kind::Scan : Instr::Kind::Reduce;
      r.reduce = reduce_op_of(u.node->op);
      r.dtype = u.node->dtype;
      r.operands = {v};
      r.post_reduce = post = !scan;
      v = push(r);
      ops_.push_back(op_name(u.node->op));
    }
    std::vector<int> idx;
    for (const NodeRef& i : u.store_index) idx.push_back(emit(i, {}));
    int arg = add_arg(u.node, u.out_layout, true, u.node->dtype, u.store_index_strides);
    if (post) post_args_.insert(arg);
    Instr st;
    st.kind = Instr::Kind::Store;
    st.arg = arg;
    st.dtype = u.node->dtype;
    st.operands = {v};
    st.operands.insert(st.operands.end(), idx.begin(), idx.end());
    st.post_reduce = post;
    st.accumulate = u.accumulate;
    // Indexed writes may hit one element twice: a fixed order decides.
    if (!u.store_index.empty()) k_.serial = true;
    k_.body.push_back(st);
    fused_count_ += 1;
  }

  /// Materialized nodes this kernel reads.
  /// In the order the kernel first reads them (never by address: the
  /// schedule must not depend on where nodes sit in memory).
  const std::vector<NodeRef>& deps() const { return deps_; }

  ScheduledKernel finish(const Shape& iter_shape) {
    ScheduledKernel sk;
    sk.arg_nodes = arg_nodes_;
    sk.arg_index_strides = index_strides_;
    collapse(iter_shape, sk);
    k_.name = name();
    sk.kernel = std::move(k_);
    return sk;
  }

private:
  int add_arg(const NodeRef& n, const Layout& l, bool out, DType t, const Shape& index_strides = {}) {
    for (size_t a = 0; a < arg_nodes_.size(); ++a)
      if (!out && !k_.args[a].is_output && arg_nodes_[a] == n && layouts_[a] == l &&
          index_strides_[a] == index_strides)
        return int(a);
    KernelArg ka;
    ka.is_output = out;
    ka.dtype = t;
    ka.num_index = int(index_strides.size());
    k_.args.push_back(ka);
    arg_nodes_.push_back(n);
    layouts_.push_back(l);
    index_strides_.push_back(index_strides);
    return int(k_.args.size() - 1);
  }

  int push(Instr in) {
    k_.body.push_back(std::move(in));
    return int(k_.body.size() - 1);
  }

  static std::string key(const Node* n, const Chain& c) {
    std::string s = fmt::format("{}", static_cast<const void*>(n));
    for (auto& st : c) s += fmt::format("|{}:{}", int(st.op), fmt::join(st.attrs.ints, ","));
    return s;
  }

  int load(const NodeRef& n, const Chain& chain) {
    Layout l = n->realized() ? n->layout : Layout::contiguous(n->shape);
    for (size_t i = chain.size(); i-- > 0;) {
      auto next = graph::apply_view(chain[i].op, chain[i].attrs, l);
      if (!next) throw NeedMaterialize{chain[i].input};
      l = *next;
    }
    if (!n->realized()) add_dep(n);
    Instr in;
    in.kind = Instr::Kind::Load;
    in.dtype = n->dtype;
    in.arg = add_arg(n, l, false, n->dtype);
    return push(in);
  }

  int emit(const NodeRef& n, const Chain& chain) {
    std::string k = key(n.get(), chain);
    if (auto it = memo_.find(k); it != memo_.end()) return it->second;
    int id;
    bool materialized = always_materialized(n->op) || mat_.count(n.get());
    if (n->realized() || (materialized && !outputs_.count(n.get()))) {
      id = load(n, chain);
    } else if (n->op == Op::Full) {
      Instr in;
      in.kind = Instr::Kind::Const;
      in.dtype = n->dtype;
      in.value = n->attrs.value;
      id = push(in);
    } else {
      try {
        id = emit_inline(n, chain);
      } catch (const NeedMaterialize& m) {
        // This node must sit in a buffer: read it from there instead.
        if (!materialize_ || m.node != n || outputs_.count(n.get())) throw;
        materialize_(n);
        id = load(n, chain);
      }
    }
    memo_[k] = id;
    return id;
  }

  int emit_inline(const NodeRef& n, const Chain& chain) {
    if (n->op == Op::Index) return emit_index(n, chain);
    if (is_view(n->op)) {
      Chain c = chain;
      c.push_back({n->op, n->attrs, n->inputs[0]});
      return emit(n->inputs[0], c);
    }
    // Recompute, or store and reload? Under a broadcast each value is
    // computed once per use: worth it for a few cheap ops (the load it
    // saves costs more), not for transcendentals or longer chains.
    if (broadcasts(chain) && costly(n)) throw NeedMaterialize{n};
    return emit_compute(n, chain);
  }

  static bool broadcasts(const Chain& chain) {
    for (const ViewStep& st : chain)
      if (st.op == Op::Expand && numel(st.attrs.ints) > st.input->numel()) return true;
    return false;
  }

  // An elementwise expression with a transcendental or more than a handful
  // of ops before the values it loads.
  bool costly(const NodeRef& root) const {
    int ops = 0;
    std::vector<const Node*> stack = {root.get()}, seen;
    while (!stack.empty()) {
      const Node* n = stack.back();
      stack.pop_back();
      if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
      seen.push_back(n);
      if (n->realized() || mat_.count(const_cast<Node*>(n)) || always_materialized(n->op)) continue;
      if (is_elementwise(n->op) && n->op != Op::Cast && n->op != Op::Copy) {
        if (is_float_math(n->op) || ++ops > 4) return true;
      }
      for (const NodeRef& x : n->inputs) stack.push_back(x.get());
    }
    return false;
  }

  // A gather: the source must sit in a buffer; its layout over the output
  // walks the mapped dims, and each index value adds index * stride.
  int emit_index(const NodeRef& n, const Chain& chain) {
    const NodeRef& src = n->inputs[0];
    bool loadable = src->realized() || mat_.count(src.get()) || always_materialized(src->op);
    if (!loadable) {
      if (!materialize_) throw NeedMaterialize{src};
      materialize_(src);
    }
    Layout ls = src->realized() ? src->layout : Layout::contiguous(src->shape);
    size_t r = n->shape.size();
    Layout l{n->shape, Shape(r, 0), ls.offset};
    for (size_t o = 0; o < r; ++o)
      if (n->attrs.ints[o] >= 0) l.strides[o] = ls.strides[n->attrs.ints[o]];
    for (size_t i = chain.size(); i-- > 0;) {
      auto next = graph::apply_view(chain[i].op, chain[i].attrs, l);
      if (!next) throw NeedMaterialize{chain[i].input};
      l = *next;
    }
    Shape istrides;
    Instr in;
    in.kind = Instr::Kind::Load;
    in.dtype = src->dtype;
    for (size_t j = 1; j < n->inputs.size(); ++j) {
      istrides.push_back(ls.strides[n->attrs.ints[r + j - 1]]);
      in.operands.push_back(emit(n->inputs[j], chain));
    }
    if (!src->realized()) add_dep(src);
    in.arg = add_arg(src, l, false, src->dtype, istrides);
    ops_.push_back("index");
    return push(in);
  }

  int emit_compute(const NodeRef& n, const Chain& chain) {
    if (!is_elementwise(n->op))
      throw Error(fmt::format("kiln: internal: cannot fuse op {} into an elementwise kernel", op_name(n->op)));
    if (n->op == Op::Full) return emit(n, chain);
    Instr in;
    in.kind = Instr::Kind::Compute;
    in.op = n->op;
    in.dtype = n->dtype;
    for (const NodeRef& x : n->inputs) {
      Chain c = chain;
      if (x->shape != n->shape) {  // implicit broadcast
        Attrs a;
        a.ints = n->shape;
        c.push_back({Op::Expand, a, x});
      }
      in.operands.push_back(emit(x, c));
    }
    ops_.push_back(op_name(n->op));
    return push(in);
  }

  // Drops size-1 dims and merges dims that every argument walks contiguously,
  // so a plain elementwise kernel becomes one flat loop. Output dims and
  // reduced dims are collapsed separately; each keeps at least one dim.
  void collapse(const Shape& shape, ScheduledKernel& sk) {
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

  std::string name() const {
    std::string s = reduce_rank_ ? "R" : "E";
    std::vector<std::string> seen;
    for (auto& o : ops_) {
      if (std::find(seen.begin(), seen.end(), o) != seen.end()) continue;
      seen.push_back(o);
      if (seen.size() > 6) break;
      s += "_" + o;
    }
    if (ops_.empty()) s += "_copy";
    return s;
  }

  const std::unordered_set<Node*>& mat_;
  std::function<void(const NodeRef&)> materialize_;
  std::unordered_set<Node*> outputs_;
  Kernel k_;
  std::vector<NodeRef> arg_nodes_;
  std::vector<Layout> layouts_;
  std::vector<Shape> index_strides_;
  std::unordered_map<std::string, int> memo_;
  void add_dep(const NodeRef& n) {
    if (std::find(deps_.begin(), deps_.end(), n) == deps_.end()) deps_.push_back(n);
  }
  std::vector<NodeRef> deps_;
  std::vector<std::string> ops_;
  int fused_count_ = 0;
  int reduce_rank_ = 0;
  std::set<int> post_args_;  // args accessed after the reduction (outputs)

public:
  int fused_count() const { return fused_count_; }
};

}  // namespace

namespace {

Schedule build(const std::vector<NodeRef>& targets, const std::vector<NodeRef>& forced) {
  Schedule sched;
  std::vector<NodeRef> work;
  std::unordered_set<Node*> mat;
  auto add = [&](const NodeRef& n) {
    if (!n->realized() && mat.insert(n.get()).second) work.push_back(n);
  };
  for (const NodeRef& t : targets) {
    if (t->realized()) continue;
    NodeRef r = view_root(t);
    if (r != t) sched.views.push_back(t);
    add(r);
  }
  for (const NodeRef& f : forced) add(f);

  // Discover every materialized node and what each one reads.
  std::unordered_map<Node*, std::vector<Node*>> deps;
  std::unordered_map<Node*, NodeRef> refs;
  for (size_t i = 0; i < work.size(); ++i) {
    NodeRef n = work[i];
    refs[n.get()] = n;
    Emitter e(mat, add);
    for (const Unit& u : units_of(n)) e.add_output(u);
    for (const NodeRef& ref : e.deps()) {
      deps[n.get()].push_back(ref.get());
      add(ref);  // view_scatter nodes are met here first
    }
  }

  // Order: dependencies first (depth-first post-order).
  std::vector<NodeRef> order;
  std::unordered_map<Node*, int> state;
  std::function<void(Node*)> visit = [&](Node* n) {
    if (state[n] == 2) return;
    if (state[n] == 1) throw Error("kiln: internal: cyclic schedule");
    state[n] = 1;
    for (Node* d : deps[n]) visit(d);
    state[n] = 2;
    order.push_back(refs[n]);
  };
  for (const NodeRef& n : work) visit(n.get());

  // Group units into kernels: a plain unit joins the latest kernel of its
  // shape that runs after everything it reads.
  struct Group {
    Shape shape;
    int reduce_rank;
    bool plain;
    std::vector<Unit> units;
  };
  std::vector<Group> groups;
  std::unordered_map<Node*, int> kernel_of;
  for (const NodeRef& n : order) {
    int after = -1;
    for (Node* d : deps[n.get()]) after = std::max(after, kernel_of.at(d));
    for (const Unit& u : units_of(n)) {
      bool plain = u.whole();
      int g = -1;
      if (plain)
        for (int k = int(groups.size()) - 1; k > after; --k)
          if (groups[k].plain && groups[k].shape == u.iter() && groups[k].reduce_rank == u.reduce_rank) {
            g = k;
            break;
          }
      if (g < 0) {
        groups.push_back({u.iter(), u.reduce_rank, plain, {}});
        g = int(groups.size()) - 1;
      }
      groups[g].units.push_back(u);
      kernel_of[n.get()] = g;
      // A write node's own writes come after its base is copied in.
      if (n->op == Op::ViewScatter || n->op == Op::IndexPut) after = g;
    }
  }

  for (const NodeRef& n : order) sched.materialized.push_back(n);
  for (const Group& g : groups) {
    // Nothing to write (a reduction over an empty dim still writes its identity).
    if (numel(Shape(g.shape.begin(), g.shape.end() - g.reduce_rank)) == 0) continue;
    Emitter e(mat);
    for (const Unit& u : g.units) e.add_output(u);
    ScheduledKernel sk = e.finish(g.shape);
    for (const Unit& u : g.units)
      sk.notes.push_back(u.whole() ? fmt::format("{} {}", op_name(u.node->op), shape_str(u.node->shape))
                                   : fmt::format("{} {} (write {} of {})", op_name(u.node->op),
                                                 shape_str(u.node->shape), u.part, shape_str(u.iter())));
    sched.kernels.push_back(std::move(sk));
  }
  return sched;
}

}  // namespace

Schedule make_schedule(const std::vector<NodeRef>& targets) {
  std::vector<NodeRef> forced;
  while (true) {
    try {
      return build(targets, forced);
    } catch (const NeedMaterialize& m) {
      // A view that strides cannot express over this node: compute it first.
      for (auto& f : forced)
        if (f == m.node) throw Error("kiln: internal: materialization did not resolve a view");
      forced.push_back(m.node);
    }
  }
}

std::string Schedule::str() const {
  std::string s;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const auto& k = kernels[i];
    s += fmt::format("kernel {} {} over {}: {}\n", i, k.kernel.name, shape_str(k.sizes),
                     fmt::join(k.notes, ", "));
  }
  return s;
}

}  // namespace kiln
