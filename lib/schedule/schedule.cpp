#include "schedule/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "schedule/emitter.h"

namespace kiln {

namespace {

std::atomic<int> g_fusion{-1};  // -1: not read from the environment yet

using namespace sched;

NodeRef view_root(NodeRef n) {
  while (!n->realized() && is_view(n->op)) n = n->inputs[0];
  return n;
}

// Phase 1: every stored node and what its kernel reads. Each stored node's
// kernel is walked once; a walk is repeated only when a later decision
// stored a value that it had computed inline (its loads changed).
class Planner {
public:
  Plan plan;
  std::vector<NodeRef> work;  // stored nodes, in the order they were decided
  std::unordered_map<const Node*, std::vector<NodeRef>> deps;
  std::unordered_map<const Node*, std::unordered_set<const Node*>> in_place;  // deps read in place
  std::unordered_map<const Node*, std::unordered_set<const Node*>> aligned;   // deps read in their order
  std::unordered_map<const Node*, int64_t> size;  // instructions of its kernel alone
  std::unordered_set<const Node*> targets;        // requested or needed later (view roots)

  void store(const NodeRef& n, Decision d) {
    if (n->realized()) return;
    if (plan.stored.emplace(n.get(), std::move(d)).second) work.push_back(n);
  }

  void run() {
    size_t next = 0;
    while (true) {
      for (; next < work.size(); ++next) walk(NodeRef(work[next]));
      bool again = false;
      for (size_t i = 0; i < next; ++i) {
        NodeRef n = work[i];
        const auto& in = inlined_[n.get()];
        if (std::any_of(in.begin(), in.end(), [&](const Node* x) { return plan.has(x); })) {
          walk(n);
          again = true;
        }
      }
      if (!again && next == work.size()) return;
    }
  }

private:
  void walk(const NodeRef& n) {
    Emitter e(plan, [this](const NodeRef& m, Decision d) { store(m, std::move(d)); });
    for (const Unit& u : units_of(n)) e.add_output(u);
    deps[n.get()] = e.deps();
    size[n.get()] = e.size();
    auto& ip = in_place[n.get()];
    ip.clear();
    auto& al = aligned[n.get()];
    al.clear();
    for (const NodeRef& d : e.deps()) {
      if (e.reads_in_place(d.get())) ip.insert(d.get());
      if (e.reads_aligned(d.get())) al.insert(d.get());
    }
    inlined_[n.get()] = e.inlined();
  }

  std::unordered_map<const Node*, std::vector<const Node*>> inlined_;
};

// Dependencies first (depth-first post-order, iterative: schedules can be
// thousands of kernels deep).
std::vector<NodeRef> dependency_order(const Planner& p) {
  std::vector<NodeRef> order;
  std::unordered_map<const Node*, int> state;  // 1: on the stack, 2: done
  for (const NodeRef& root : p.work) {
    if (state[root.get()] == 2) continue;
    std::vector<std::pair<NodeRef, size_t>> stack = {{root, 0}};
    state[root.get()] = 1;
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      const auto& ds = p.deps.at(n.get());
      if (next < ds.size()) {
        NodeRef d = ds[next++];
        int& s = state[d.get()];
        if (s == 1) throw Error("kiln: internal: cyclic schedule");
        if (s == 0) {
          s = 1;
          stack.push_back({d, 0});
        }
        continue;
      }
      state[n.get()] = 2;
      order.push_back(n);
      stack.pop_back();
    }
  }
  return order;
}

// A plain reduction over at least one dim: its kernel can take epilogues.
bool folds(const Unit& u) {
  return u.whole() && is_reduce(u.node->op) && op_info(u.node->op).kind == OpKind::Reduce &&
         !reduced_dims(*u.node).empty() && u.in_chain.size() == 1;
}

Shape squeezed(const Shape& s) {
  Shape r;
  for (int64_t d : s)
    if (d != 1) r.push_back(d);
  return r;
}

}  // namespace

int max_kernel_ops() {
  static const int cap = [] {
    const char* e = std::getenv("KILN_MAX_KERNEL_OPS");
    int v = e ? std::atoi(e) : 0;
    return v > 0 ? std::max(v, 16) : 256;
  }();
  return cap;
}

bool fusion_enabled() {
  int f = g_fusion.load(std::memory_order_relaxed);
  if (f < 0) {
    const char* e = std::getenv("KILN_FUSION");
    f = e && std::strcmp(e, "0") == 0 ? 0 : 1;
    g_fusion.store(f, std::memory_order_relaxed);
  }
  return f == 1;
}

void set_fusion_enabled(bool on) { g_fusion.store(on ? 1 : 0, std::memory_order_relaxed); }

Schedule make_schedule(const std::vector<NodeRef>& targets, size_t requested) {
  Schedule sched;
  Planner p;
  for (size_t i = 0; i < targets.size(); ++i) {
    const NodeRef& t = targets[i];
    if (t->realized()) continue;
    NodeRef r = view_root(t);
    if (r != t) sched.views.push_back(t);
    p.store(r, Decision{i < requested ? "output" : "needed later (a value outside this schedule refers to it)"});
    p.targets.insert(r.get());
  }
  p.run();
  std::vector<NodeRef> order = dependency_order(p);

  // Group units into kernels: a plain unit joins the latest kernel of its
  // shape that runs after everything it reads (never with fusion off). A
  // value it reads in place from a plain unit of its shape may come from
  // the same kernel: the kernel stores it and uses it while in registers.
  // An elementwise value of a reduction's output (a matmul's bias and relu,
  // an SGD step on a gradient) joins the reduction's kernel as its
  // epilogue, when it reads the reduction in its own order.
  struct Group {
    Shape shape;
    int reduce_rank;
    bool plain;
    std::vector<Unit> units;
    int64_t size = 0;  // Emitter::size() of each unit alone, summed (an upper bound)
    bool folds = false;  // a reduction kernel (no scans, writes, or folds over nothing) an epilogue may join
  };
  std::vector<Group> groups;
  std::unordered_map<const Node*, int> group_of;
  std::unordered_set<const Node*> epilogues;
  bool fuse = fusion_enabled();
  // The group whose epilogue n can be, or -1: the last group n reads from
  // is a reduction kernel, n reads each of its reductions in their order and
  // each of its epilogues in place, n has one value per output element of
  // the group, and the kernel stays under the size cap.
  auto epilogue_group = [&](const NodeRef& n, int64_t size) {
    int g = -1;
    for (const NodeRef& d : p.deps.at(n.get())) g = std::max(g, group_of.at(d.get()));
    if (g < 0 || !groups[size_t(g)].folds || groups[size_t(g)].size + size > max_kernel_ops()) return -1;
    const Group& gr = groups[size_t(g)];
    Shape out(gr.shape.begin(), gr.shape.end() - gr.reduce_rank);
    if (n->numel() != numel(out) || squeezed(n->shape) != squeezed(out)) return -1;
    for (const NodeRef& d : p.deps.at(n.get())) {
      if (group_of.at(d.get()) != g) continue;
      bool ok = epilogues.count(d.get()) ? p.in_place.at(n.get()).count(d.get()) && d->shape == n->shape
                                         : is_reduce(d->op) && p.aligned.at(n.get()).count(d.get());
      if (!ok) return -1;
    }
    return g;
  };
  for (const NodeRef& n : order) {
    int after = -1, with = -1;  // after every hard dependency, at or after the soft ones
    std::vector<Unit> units = units_of(n);
    bool plain_elementwise = fuse && units.size() == 1 && units[0].whole() && units[0].reduce_rank == 0;
    if (plain_elementwise) {
      int64_t size = p.size.at(n.get());
      if (int g = epilogue_group(n, size); g >= 0) {
        // Over the reduction's iteration space: n's shape reshaped to the
        // reduction's, broadcast along the reduced dims, permuted as its input.
        Group& gr = groups[size_t(g)];
        const Unit& r = gr.units[0];
        Unit u = units[0];
        u.epilogue = true;
        u.reduce_rank = gr.reduce_rank;
        u.out_layout = r.out_layout;
        u.in_chain = {r.in_chain[0], ViewStep{Op::Expand, ShapeAttrs{r.value->shape}, n},
                      ViewStep{Op::Reshape, ShapeAttrs{r.node->shape}, n}};
        u.chain_base = u.in_chain.size();
        gr.units.push_back(u);
        gr.size += size;
        group_of[n.get()] = g;
        epilogues.insert(n.get());
        continue;
      }
    }
    for (const NodeRef& d : p.deps.at(n.get())) {
      int gd = group_of.at(d.get());
      const Group& dg = groups[size_t(gd)];
      bool soft = plain_elementwise && p.in_place.at(n.get()).count(d.get()) && dg.plain &&
                  dg.reduce_rank == 0 && d->shape == n->shape && !is_reduce(d->op) && d->op != Op::Copy;
      if (soft) with = std::max(with, gd);
      else after = std::max(after, gd);
    }
    for (const Unit& u : units) {
      bool plain = u.whole() && fuse;
      int g = -1;
      int64_t size = p.size.at(n.get());
      if (plain)
        for (int k = int(groups.size()) - 1; k > after && k >= with; --k)
          if (groups[k].plain && groups[k].shape == u.iter() && groups[k].reduce_rank == u.reduce_rank &&
              groups[k].size + size <= max_kernel_ops()) {
            g = k;
            break;
          }
      if (g < 0) {
        groups.push_back({u.iter(), u.reduce_rank, plain, {}, 0, folds(u)});
        g = int(groups.size()) - 1;
      }
      groups[g].units.push_back(u);
      groups[g].size += size;
      groups[g].folds &= folds(u);
      group_of[n.get()] = g;
      // A write node's own writes come after its base is copied in.
      if (n->op == Op::ViewScatter || n->op == Op::IndexPut) after = g;
    }
  }

  // A reduction that is not a target and that only epilogues of its own
  // kernel read is not stored.
  std::unordered_map<const Node*, int> readers;  // kernels that load it, other than its epilogues
  for (const NodeRef& n : order)
    for (const NodeRef& d : p.deps.at(n.get()))
      if (!epilogues.count(n.get()) || group_of.at(n.get()) != group_of.at(d.get())) readers[d.get()]++;
  std::unordered_set<const Node*> unstored;
  for (Group& g : groups)
    for (Unit& u : g.units)
      if (g.folds && !u.epilogue && g.units.size() > 1 && !readers.count(u.node.get()) &&
          !p.targets.count(u.node.get())) {
        bool read = false;  // by an epilogue of this kernel
        for (const Unit& e : g.units)
          if (e.epilogue)
            for (const NodeRef& d : p.deps.at(e.node.get())) read |= d == u.node;
        if (read) {
          u.store = false;
          unstored.insert(u.node.get());
        }
      }

  // Phase 2: lower each kernel with the plan fixed.
  for (const NodeRef& n : order)
    if (!unstored.count(n.get())) sched.materialized.push_back(n);
  std::vector<int> kernel_of_group(groups.size(), -1);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    // Nothing to write (a reduction over an empty dim still writes its identity).
    if (numel(Shape(g.shape.begin(), g.shape.end() - g.reduce_rank)) == 0) continue;
    Emitter e(p.plan);
    for (const Unit& u : g.units) e.add_output(u);
    ScheduledKernel sk = e.finish(g.shape);
    for (const Unit& u : g.units)
      sk.notes.push_back(u.whole() ? fmt::format("{} {}", op_name(u.node->op), shape_str(u.node->shape))
                                   : fmt::format("{} {} (write {} of {})", op_name(u.node->op),
                                                 shape_str(u.node->shape), u.part, shape_str(u.iter())));
    kernel_of_group[gi] = int(sched.kernels.size());
    sched.kernels.push_back(std::move(sk));
  }

  // The reasons, naming the kernel whose walk decided them.
  for (const auto& [n, d] : p.plan.stored) {
    std::string r = d.reason;
    if (auto at = r.find("its consumer"); at != std::string::npos && d.consumer) {
      int k = kernel_of_group.at(size_t(group_of.at(d.consumer)));
      if (k >= 0) r.replace(at, 12, fmt::format("kernel {} {}", k, sched.kernels[size_t(k)].kernel.name));
    }
    sched.reasons.emplace(n, std::move(r));
  }
  return sched;
}

int64_t scalar_value(const ScalarSource& s) {
  const Node& n = *s.node;
  if (is_random(n.op)) {
    const RandomAttrs& a = n.attr<RandomAttrs>();
    return s.field == 0 ? a.seed : a.offset;
  }
  return param_bits(n.dtype, n.attr<FullAttrs>().value);
}

std::string Schedule::str() const {
  std::string s;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const auto& k = kernels[i];
    s += fmt::format("kernel {} {} over {}: {}\n", i, k.kernel.name, shape_str(k.sizes), fmt::join(k.notes, ", "));
    std::unordered_set<const Node*> listed;
    for (size_t a = 0; a < k.arg_nodes.size(); ++a) {
      const Node* n = k.arg_nodes[a].get();
      auto it = reasons.find(n);
      if (!k.kernel.args[a].is_output || it == reasons.end() || !listed.insert(n).second) continue;
      s += fmt::format("  stores {} {}: {}\n", op_name(n->op), shape_str(n->shape), it->second);
    }
  }
  return s;
}

}  // namespace kiln
