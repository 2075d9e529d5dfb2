// The pass driver and the bottom-up rewrite the passes are written with.
#include "passes/passes.h"

#include "passes/rewrite.h"

namespace kiln::passes {

NodeRef Rewrite::operator()(const NodeRef& root) {
  if (auto it = memo_.find(root.get()); it != memo_.end()) return it->second;
  // Depth-first post-order, inputs in order (the order decides which of two
  // equal nodes CSE keeps); `next` is the next input to visit.
  std::vector<std::pair<NodeRef, size_t>> stack = {{root, 0}};
  std::vector<NodeRef> in;
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (!settled(*n) && next < n->inputs.size()) {
      const NodeRef& x = n->inputs[next++];
      if (!memo_.count(x.get())) stack.push_back({x, 0});  // (n is not used after this)
      continue;
    }
    NodeRef node = std::move(n);
    stack.pop_back();
    NodeRef r = node;
    if (!settled(*node)) {
      in.clear();
      bool changed = false;
      for (const NodeRef& x : node->inputs) {
        in.push_back(memo_.at(x.get()));
        changed |= in.back() != x;
      }
      r = rewrite(node, in, changed);
    }
    memo_.emplace(node.get(), std::move(r));
  }
  return memo_.at(root.get());
}

std::vector<NodeRef> Rewrite::run(const std::vector<NodeRef>& outputs) {
  std::vector<NodeRef> out;
  for (const NodeRef& o : outputs) out.push_back((*this)(o));
  return out;
}

NodeRef with_inputs(const Node& n, std::vector<NodeRef> inputs) {
  auto r = std::make_shared<Node>(n.op, n.dtype, n.shape, n.attrs, std::move(inputs));
  r->requires_grad = n.requires_grad;
  return r;
}

std::unordered_set<const Node*> kept_nodes(const std::vector<NodeRef>& outputs) {
  std::unordered_set<const Node*> kept;
  for (const NodeRef& o : outputs)
    for (const Node* n = o.get(); n; n = !n->realized() && is_view(n->op) ? n->inputs[0].get() : nullptr)
      kept.insert(n);
  return kept;
}

const std::vector<Pass>& pipeline() {
  // Folding first: contraction packing looks at the operands' layouts as the
  // scheduler will see them (x * 1 gone, view chains composed), and CSE last
  // merges what the other two built.
  static const std::vector<Pass> passes = {
      {"fold", fold},
      {"pack-contraction", pack_contraction},
      {"cse", cse},
  };
  return passes;
}

std::vector<NodeRef> optimize(const std::vector<NodeRef>& outputs, const PassLog& log) {
  std::vector<NodeRef> graph = outputs;
  for (const Pass& pass : pipeline()) {
    std::vector<NodeRef> next = pass.run(graph);
    // A pass rebuilds every node above one it changed, so a changed graph
    // has a changed output.
    if (log && next != graph) log(pass.name, next);
    graph = std::move(next);
  }
  return graph;
}

}  // namespace kiln::passes
