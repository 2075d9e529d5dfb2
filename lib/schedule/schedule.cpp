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
// (view_scatter, cat), one of the regions it writes.
struct Unit {
  NodeRef node;
  int part = -1;      // -1: the whole value; else the index of the write
  NodeRef value;      // what is stored
  Layout out_layout;  // where, over the node's contiguous buffer
  Shape shape() const { return out_layout.shape; }
  bool whole() const { return part < 0; }
};

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
    default:
      units.push_back({n, -1, n, Layout::contiguous(n->shape)});
  }
  return units;
}

NodeRef view_root(NodeRef n) {
  while (!n->realized() && is_view(n->op)) n = n->inputs[0];
  return n;
}

// Builds one kernel's body from the graph.
class Emitter {
public:
  explicit Emitter(const std::unordered_set<Node*>& materialized) : mat_(materialized) {}

  void add_output(const Unit& u) {
    outputs_.insert(u.node.get());
    int v = emit(u.value, {});
    int arg = add_arg(u.node, u.out_layout, true, u.node->dtype);
    Instr st;
    st.kind = Instr::Kind::Store;
    st.arg = arg;
    st.dtype = u.node->dtype;
    st.operands = {v};
    k_.body.push_back(st);
    fused_count_ += 1;
  }

  /// Materialized nodes this kernel reads.
  const std::map<Node*, NodeRef>& deps() const { return deps_; }

  ScheduledKernel finish(const Shape& iter_shape) {
    ScheduledKernel sk;
    sk.arg_nodes = arg_nodes_;
    collapse(iter_shape, sk);
    k_.name = name();
    sk.kernel = std::move(k_);
    return sk;
  }

private:
  int add_arg(const NodeRef& n, const Layout& l, bool out, DType t) {
    for (size_t a = 0; a < arg_nodes_.size(); ++a)
      if (!out && !k_.args[a].is_output && arg_nodes_[a] == n && layouts_[a] == l) return int(a);
    KernelArg ka;
    ka.is_output = out;
    ka.dtype = t;
    k_.args.push_back(ka);
    arg_nodes_.push_back(n);
    layouts_.push_back(l);
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
    if (!n->realized()) deps_[n.get()] = n;
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
    bool materialized = mat_.count(n.get()) || op_info(n->op).kind == OpKind::Scatter;
    if (n->realized() || (materialized && !outputs_.count(n.get()))) {
      id = load(n, chain);
    } else if (n->op == Op::Full) {
      Instr in;
      in.kind = Instr::Kind::Const;
      in.dtype = n->dtype;
      in.value = n->attrs.value;
      id = push(in);
    } else if (is_view(n->op)) {
      Chain c = chain;
      c.push_back({n->op, n->attrs, n->inputs[0]});
      id = emit(n->inputs[0], c);
    } else {
      id = emit_compute(n, chain);
    }
    memo_[k] = id;
    return id;
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
  // so a plain elementwise kernel becomes one flat loop.
  void collapse(const Shape& shape, ScheduledKernel& sk) {
    std::vector<int> keep;
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] != 1) keep.push_back(int(d));
    Shape sizes;
    std::vector<Shape> strides(layouts_.size());
    for (int d : keep) {
      bool merge = !sizes.empty();
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
    if (sizes.empty()) {
      sizes.push_back(1);
      for (auto& s : strides) s.push_back(0);
    }
    sk.sizes = sizes;
    k_.rank = int(sizes.size());
    for (size_t a = 0; a < layouts_.size(); ++a) {
      sk.arg_layouts.push_back(Layout{sizes, strides[a], layouts_[a].offset});
      int64_t inner = strides[a].back();
      k_.args[a].inner = inner == 1 ? InnerStride::Contig : inner == 0 ? InnerStride::Bcast : InnerStride::General;
    }
  }

  std::string name() const {
    std::string s = "E";
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
  std::unordered_set<Node*> outputs_;
  Kernel k_;
  std::vector<NodeRef> arg_nodes_;
  std::vector<Layout> layouts_;
  std::unordered_map<std::string, int> memo_;
  std::map<Node*, NodeRef> deps_;
  std::vector<std::string> ops_;
  int fused_count_ = 0;

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
  std::unordered_map<Node*, std::set<Node*>> deps;
  std::unordered_map<Node*, NodeRef> refs;
  for (size_t i = 0; i < work.size(); ++i) {
    NodeRef n = work[i];
    refs[n.get()] = n;
    Emitter e(mat);
    for (const Unit& u : units_of(n)) e.add_output(u);
    for (auto& [d, ref] : e.deps()) {
      deps[n.get()].insert(d);
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
          if (groups[k].plain && groups[k].shape == u.shape()) { g = k; break; }
      if (g < 0) {
        groups.push_back({u.shape(), plain, {}});
        g = int(groups.size()) - 1;
      }
      groups[g].units.push_back(u);
      kernel_of[n.get()] = g;
      if (n->op == Op::ViewScatter) after = g;  // the view is written after the base
    }
  }

  for (const NodeRef& n : order) sched.materialized.push_back(n);
  for (const Group& g : groups) {
    if (numel(g.shape) == 0) continue;
    Emitter e(mat);
    for (const Unit& u : g.units) e.add_output(u);
    ScheduledKernel sk = e.finish(g.shape);
    for (const Unit& u : g.units)
      sk.notes.push_back(u.whole() ? fmt::format("{} {}", op_name(u.node->op), shape_str(u.node->shape))
                                   : fmt::format("{} {} (write {} of {})", op_name(u.node->op),
                                                 shape_str(u.node->shape), u.part, shape_str(u.shape())));
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
