// Reverse accumulation over the graph, building gradient nodes.
#include <functional>
#include <unordered_set>

#include "autodiff/autodiff.h"
#include "graph/builders.h"

namespace kiln::autodiff {

std::unordered_map<Node*, NodeRef> gradients(const std::vector<NodeRef>& outputs,
                                             const std::vector<NodeRef>& grad_outputs) {
  // Nodes on a gradient path, inputs before users.
  std::vector<NodeRef> order;
  std::unordered_set<Node*> seen;
  std::function<void(const NodeRef&)> visit = [&](const NodeRef& n) {
    if (!n->requires_grad || !seen.insert(n.get()).second) return;
    if (!n->grad_leaf)
      for (const NodeRef& x : n->inputs) visit(x);
    order.push_back(n);
  };
  for (const NodeRef& o : outputs) visit(o);

  std::unordered_map<Node*, NodeRef> grads;
  auto accumulate = [&](const NodeRef& n, const NodeRef& g) {
    auto it = grads.find(n.get());
    if (it == grads.end()) grads[n.get()] = g;
    else it->second = graph::binary(Op::Add, it->second, g);
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
