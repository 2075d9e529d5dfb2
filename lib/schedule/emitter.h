#pragma once
// The walk from a kernel's outputs down to the values it loads, shared by
// the two phases of the scheduler: planning (the walk may decide that a node
// it meets must be stored, and records what it reads) and lowering (the plan
// is fixed; the walk builds the Kernel IR).
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "schedule/plan.h"
#include "schedule/schedule.h"

namespace kiln::sched {

// A view applied on the way down from a kernel's output to a load: the op,
// and the node it is applied to.
struct ViewStep {
  Op op;
  Attrs attrs;
  NodeRef input;
};
using Chain = std::vector<ViewStep>;  // outermost view first

// What one kernel computes: `node`'s whole value, or, for a write node
// (view_scatter, cat, index_put), one of the regions it writes. A unit
// iterates over `iter`; for a reduction its last `reduce_rank` dims are folded.
struct Unit {
  NodeRef node;
  int part = -1;      // -1: the whole value; else the index of the write
  NodeRef value;      // what is stored (a reduction: what is folded)
  Layout out_layout;  // where, over the node's contiguous buffer, per `iter`
  Chain in_chain = {};  // views from the iteration space to `value`
  int reduce_rank = 0;
  // Indexed writes (index_put): where each element goes also depends on
  // these int64 values (of the iteration shape), times these strides.
  std::vector<NodeRef> store_index = {};
  Shape store_index_strides = {};
  bool accumulate = false;
  /// An elementwise value computed in stage 1 of a reduction's kernel (its
  /// epilogue): `iter` is the reduction's, the value is computed once per
  /// output element, and the reduction's own value comes from its
  /// accumulator. `chain_base` views at the front of in_chain map the
  /// iteration space to the value's shape.
  bool epilogue = false;
  size_t chain_base = 0;
  /// False for a reduction that only its kernel's epilogues read: its value
  /// never leaves the registers.
  bool store = true;
  const Shape& iter() const { return out_layout.shape; }
  bool whole() const { return part < 0; }
};

/// The units of a materialized node, in the order they must run.
std::vector<Unit> units_of(const NodeRef& n);

/// Nodes that own a buffer wherever they are used, and why (else null).
const char* always_stored(Op op);

class Emitter {
public:
  /// Planning: `decide` records a new decision (and queues the node).
  using Decide = std::function<void(const NodeRef&, Decision)>;
  explicit Emitter(const Plan& plan, Decide decide = nullptr) : plan_(plan), decide_(std::move(decide)) {}

  /// Adds a unit's computation and store. Planning resolves everything it
  /// meets; when lowering, every decision is already in the plan.
  void add_output(const Unit& u);

  /// Planned nodes this kernel loads, in the order it first reads them
  /// (never by address: the schedule must not depend on memory layout).
  const std::vector<NodeRef>& deps() const { return deps_; }
  /// Whether every load of dep `n` reads element i at element i (no view):
  /// a kernel that also computes n can then use the value it computed.
  bool reads_in_place(const Node* n) const { return !remapped_.count(n); }
  /// Whether every load of dep `n` reads element i of n's contiguous order
  /// at element i of the kernel's (possibly through views that only reshape
  /// it): an epilogue of n's reduction can then take n from its accumulator.
  bool reads_aligned(const Node* n) const { return !misaligned_.count(n); }
  /// Unplanned nodes the walk computed inline (planning re-walks a kernel
  /// when a later decision stores one of them).
  const std::vector<const Node*>& inlined() const { return inlined_; }

  /// The kernel's size so far, as code generation sees it: an instruction
  /// counts 1, a transcendental (exp, sin, erf: dozens of LLVM instructions
  /// once expanded) counts 8.
  int64_t size() const { return size_; }
  static int64_t cost(Op op) { return is_float_math(op) || is_random(op) ? 8 : 1; }

  ScheduledKernel finish(const Shape& iter_shape);

private:
  bool stored(const Node* n) const { return plan_.has(n) && !outputs_.count(n); }
  void store(const NodeRef& n, std::string reason);
  int add_arg(const NodeRef& n, const Layout& l, bool out, DType t, const Shape& index_strides = {},
              bool position = false);
  int push(Instr in);
  bool through(const Chain& chain, Layout& l);
  int load(const NodeRef& n, const Chain& chain);
  std::string memo_key(const NodeRef& n, const Chain& chain) const;
  int emit(const NodeRef& n, const Chain& chain);
  int unblock(const NodeRef& n, const Chain& chain, int id);
  int emit_inline(const NodeRef& n, const Chain& chain);
  int emit_index(const NodeRef& n, const Chain& chain);
  int emit_random(const NodeRef& n, const Chain& chain);
  int emit_compute(const NodeRef& n, const Chain& chain);
  std::string recompute_reason(const NodeRef& n, const Chain& chain) const;
  bool costly(const NodeRef& root) const;
  void add_dep(const NodeRef& n);
  void collapse(const Shape& shape, ScheduledKernel& sk);
  std::string name() const;

  const Plan& plan_;
  Decide decide_;
  // A walk that cannot go on until this node is stored (a view over it has
  // no strides): the emit of that node stores it and loads it instead.
  const Node* blocked_ = nullptr;
  std::string blocked_reason_;

  std::unordered_set<const Node*> outputs_;
  const Node* unit_node_ = nullptr;  // the unit being added
  int64_t unit_numel_ = 0;           // its iteration space's size (an epilogue's: its value's)
  Shape unit_iter_;
  bool contraction_ = false;         // a sum over a product of two broadcasts
  Kernel k_;
  std::vector<int64_t> scalars_;  // launch values of k_'s param consts
  std::vector<ScalarSource> scalar_nodes_;  // and the nodes they come from
  std::vector<NodeRef> arg_nodes_;
  std::vector<Layout> layouts_;
  std::vector<Shape> index_strides_;
  std::unordered_map<std::string, int> memo_;
  std::vector<NodeRef> deps_;
  std::unordered_set<const Node*> remapped_;  // deps loaded through a view
  std::unordered_set<const Node*> misaligned_;  // deps loaded in another order
  // Stage 1 (an epilogue unit being added): its loads and computes run once
  // per output element; the first chain_base_ views of a chain are the
  // unit's own (reduction space to value), not the graph's.
  bool post_ = false;
  size_t chain_base_ = 0;
  struct Reduced {
    int id;         // the Reduce instruction
    Layout layout;  // its output over the iteration space
  };
  std::unordered_map<const Node*, Reduced> reduced_;
  std::vector<const Node*> inlined_;
  std::vector<std::string> ops_;
  int reduce_rank_ = 0;
  int64_t size_ = 0;
  int64_t pending_ = 0;  // cost of the computes (and indexed loads) entered, not pushed yet
  std::set<int> post_args_;  // args accessed after the reduction (outputs)
};

}  // namespace kiln::sched
