#pragma once
// The schedule cache: a realize() of a graph whose structure was seen before
// skips the passes, the scheduler and the kernel lookups, and replays the
// launches recorded the first time over the new graph's buffers.
//
// The key is the graph behind the targets in a canonical order (depth first
// from the requested targets, inputs in order). For each node: its op,
// attributes (constants' values too: the passes fold on them), dtype, shape,
// device and the positions of its inputs. For each realized leaf: its dtype,
// shape, layout, device and the first leaf that shares its buffer. Then which
// nodes are requested and which are needed later, and the settings the
// scheduler reads (fusion, the kernel size cap). Equal keys mean equal
// schedules: the launches (kernels, sizes, strides, scalars) recorded for one
// graph are valid for the other, and only the buffers differ. Those are
// recorded by position ("leaf 3's buffer", "fresh buffer 1").
//
// Not thread-safe: realize() holds the runtime lock.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backend/backend.h"
#include "schedule/schedule.h"

namespace kiln {

/// The graph behind a realize()'s targets, in canonical order, with its key.
struct GraphWalk {
  /// The requested targets (what `nodes` point into for them), and the same
  /// followed by the values needed later.
  std::vector<NodeRef> roots, targets;
  size_t requested = 0;
  /// Every node reached, in canonical order (pointers into the graph: valid
  /// while it is not changed), and the positions of the realized leaves.
  std::vector<const NodeRef*> nodes;
  std::vector<int32_t> leaves;
  /// Positions of the constants and random values whose values are launch
  /// parameters (left out of the key).
  std::vector<int32_t> free_constants;
  std::vector<int64_t> key;
  uint64_t hash = 0;
  bool cacheable = true;  // false where a node writes back into a caller's memory
};

/// Walks the graph behind `requested` (unrealized nodes) and adds the values
/// needed later: a value this schedule computes that something outside it
/// still refers to (a live Tensor, or a lazy value that is not part of this
/// schedule, such as next step's parameters or the gradient graph built on a
/// forward pass). Those are stored too and become realized leaves, so that
/// whatever needs them later reads them instead of computing them (and
/// their history) again. "Outside" is what the shared_ptr count says beyond
/// the edges inside the graph. Constants are recomputed for free and stay
/// inline.
GraphWalk walk_graph(std::vector<NodeRef> requested);

/// What realize() did for one graph, replayable on any graph of the same key.
class Replay {
public:
  /// Starts recording the run of `sched` over `g` (whose nodes it keeps
  /// alive until finish()).
  Replay(const GraphWalk& g, const Schedule& sched);
  /// Records one launch of the schedule, in order.
  void record_launch(const ScheduledKernel& sk, const Executable& exe);
  /// After the run: records how each node of the graph was realized.
  /// Returns false when something is not expressible by position (a buffer
  /// that is neither a leaf's nor a fresh one); the replay is then dropped.
  bool finish(const Schedule& sched);
  /// Runs the recorded launches over `g`'s buffers (lib/launches.h) and
  /// realizes `g`'s nodes as the recorded run did.
  void run(const GraphWalk& g, const Backend& backend) const;
  /// The largest launch, in elements (checked against the launch limit).
  int64_t max_launch_elements() const { return max_elements_; }

private:
  // Where an argument's (or a realized node's) memory comes from.
  struct Source {
    bool fresh;     // a buffer this schedule allocates, else a leaf's
    int32_t index;  // into fresh_, or into the walk's leaves; -1: no memory (a position arg)
  };
  struct Launch {
    Kernel kernel;
    const Executable* exe;
    Shape sizes;
    std::vector<int64_t> params;
    std::vector<Source> args;
    struct ParamSource {
      int32_t at;    // index in params
      int32_t node;  // the free constant's position
      int field;     // which of its values (ScalarSource)
    };
    std::vector<ParamSource> scalars;
  };
  struct Outcome {
    int32_t node;  // position in the walk
    Source source;
    Layout layout;
  };
  bool leaf_source(const Buffer* b, Source* s) const;

  // While recording.
  std::vector<NodeRef> kept_;
  std::unordered_map<const Node*, int32_t> leaf_of_node_;
  std::unordered_map<const Buffer*, int32_t> leaf_of_buffer_;  // the first leaf of each buffer
  std::unordered_map<const Node*, int32_t> fresh_of_node_;
  std::vector<char> was_leaf_;
  std::unordered_map<const Node*, int32_t> free_constant_;
  std::unordered_set<const Node*> key_constant_;  // constants whose values are in the key
  bool is_key_constant(const Node* n) const { return key_constant_.count(n) > 0; }
  bool ok_ = true;
  // The replay.
  std::vector<std::pair<int64_t, int64_t>> fresh_;  // numel, element size
  std::vector<Launch> launches_;
  std::vector<Outcome> outcomes_;
  int64_t max_elements_ = 0;
  int64_t evictions_ = 0;  // the kernel cache's, when recorded
  friend const Replay* find_replay(const GraphWalk& g);
};

/// The replay recorded for `g`'s key, or null.
const Replay* find_replay(const GraphWalk& g);
/// Keeps `r` for `g`'s key.
void keep_replay(const GraphWalk& g, std::unique_ptr<Replay> r);
/// Replays run since the start of the process.
int64_t schedule_cache_hits();

}  // namespace kiln
