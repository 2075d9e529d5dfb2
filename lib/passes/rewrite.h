#pragma once
// What the passes share: a bottom-up rewrite of a graph (an explicit stack,
// so graphs of any depth), the set of nodes no pass may merge or fold away,
// and the fold rules (the pack-contraction pass folds the nodes it builds).
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "graph/node.h"

namespace kiln::passes {

/// Rewrites a graph from its leaves up: each node once, after its inputs.
class Rewrite {
public:
  virtual ~Rewrite() = default;
  /// The replacement of `root` (rewriting what is below it first).
  NodeRef operator()(const NodeRef& root);
  /// Every output's replacement, in order.
  std::vector<NodeRef> run(const std::vector<NodeRef>& outputs);

protected:
  /// n's replacement, given its inputs' (`in`, in order; `changed`: whether
  /// any of them differs from n's own).
  virtual NodeRef rewrite(const NodeRef& n, std::vector<NodeRef>& in, bool changed) = 0;
  /// Nodes that are their own replacement, not walked into: realized values
  /// (leaves of the graph), and whatever a pass says is rewritten already.
  virtual bool settled(const Node& n) const { return n.realized(); }

private:
  // Keyed by address: every key is a node of the graph being rewritten, which
  // the caller holds for the whole rewrite, so no address is reused.
  std::unordered_map<const Node*, NodeRef> memo_;
};

/// n with `inputs` instead of its own (same op, attributes, type, grad flag).
NodeRef with_inputs(const Node& n, std::vector<NodeRef> inputs);

/// The requested values and, through unrealized views, the bases they view:
/// a requested view is realized over its base's buffer, so the base too must
/// stay a buffer of its own (x * 1 folding to x would alias x), and merging a
/// requested value with another would let a write through one data pointer
/// show in the other.
std::unordered_set<const Node*> kept_nodes(const std::vector<NodeRef>& outputs);

/// The fold rules on one node whose inputs are `in` (folded already): a
/// simpler node with the same value, or null.
NodeRef fold_node(const Node& n, const std::vector<NodeRef>& in);

}  // namespace kiln::passes
