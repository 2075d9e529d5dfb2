// Reverse accumulation over the graph, building gradient nodes.
#include <functional>
#include <unordered_set>

#include "autodiff/autodiff.h"
#include "graph/value.h"

namespace kiln::autodiff {

std::unordered_map<Node*, NodeRef> gradients(const std::vector<NodeRef>& outputs,
                                             const std::vector<NodeRef>& grad_outputs) {
  // Nodes on a gradient path, inputs before users (an explicit stack: an
  // unrolled loop can make this graph far deeper than the call stack).
  std::vector<NodeRef> order;
  std::unordered_set<Node*> seen;
  for (const NodeRef& o : outputs) {
    if (!o->requires_grad || !seen.insert(o.get()).second) continue;
    std::vector<std::pair<NodeRef, size_t>> stack = {{o, 0}};
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (!n->grad_leaf && next < n->inputs.size()) {
        NodeRef x = n->inputs[next++];
        if (x->requires_grad && seen.insert(x.get()).second) stack.push_back({std::move(x), 0});
        continue;
      }
      order.push_back(n);
      stack.pop_back();
    }
  }

  std::unordered_map<Node*, NodeRef> grads;
  auto accumulate = [&](const NodeRef& n, const NodeRef& g) {
    auto it = grads.find(n.get());
    if (it == grads.end()) grads[n.get()] = g;
    // However deep the sum grows, nothing is computed here: realizing is
    // the caller's decision.
    else it->second = (graph::Value(it->second) + graph::Value(g)).node;
  };
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i]->requires_grad) accumulate(outputs[i], graph::cast(grad_outputs[i], outputs[i]->dtype));
  for (size_t k = order.size(); k-- > 0;) {
    const NodeRef& n = order[k];
    auto it = grads.find(n.get());
    if (it == grads.end() || n->grad_leaf) continue;
    std::vector<NodeRef> gs = vjp(n, it->second);
    for (size_t i = 0; i < gs.size(); ++i)
      if (gs[i]) accumulate(n->inputs[i], gs[i]);
  }
  return grads;
}

}  // namespace kiln::autodiff
