// vjp(): an op's gradient rule (its definition, lib/ops/<family>.cpp)
// applied to a node, and the gradients brought back to each input's shape
// and dtype.
#include <cctype>

#include "autodiff/autodiff.h"
#include "ops/op_def.h"

namespace kiln::autodiff {

using graph::Value;

std::vector<NodeRef> vjp(const NodeRef& n, const NodeRef& gnode) {
  if (is_primitive(n->op))
    throw Error(std::string("kiln: internal: a graph node of the Kernel IR primitive ") + op_name(n->op));
  const auto& in = n->inputs;
  ops::Grads r = ops::op_def(n->op).gradient(ops::GradContext{n, Value(gnode), Value(n)});
  std::vector<NodeRef> grads(in.size());
  for (size_t i = 0; i < in.size() && i < r.size(); ++i) {
    if (!r[i].defined() || !in[i]->requires_grad) continue;
    Value gi = r[i].sum_to(in[i]->shape);
    if (gi.dtype() != in[i]->dtype) gi = gi.to(in[i]->dtype);
    grads[i] = gi.node;
  }
  return grads;
}

std::string grad_fn_name(const Node& n) {
  if (const char* name = ops::op_def(n.op).grad_fn) return name;
  // PyTorch's pattern: the op's name in CamelCase.
  std::string base;
  bool up = true;
  for (char c : std::string(op_name(n.op))) {
    if (c == '_') {
      up = true;
      continue;
    }
    base += up ? char(std::toupper(c)) : c;
    up = false;
  }
  return base + "Backward0";
}

}  // namespace kiln::autodiff
