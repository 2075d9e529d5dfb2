// The fold pass: exact identities and view folding (see passes.h).
#include <fmt/format.h>

#include "graph/builders.h"
#include "passes/passes.h"
#include "passes/rewrite.h"

namespace kiln::passes {

namespace {

bool is_full_of(const NodeRef& n, double v) {
  if (n->op != Op::Full || n->realized()) return false;
  const Scalar& x = n->attr<FullAttrs>().value;
  return x.to_double() == v && !x.is_bool();
}

// Every value of `from` survives a round trip through `via`.
bool widens(DType from, DType via) {
  if (from == via) return true;
  if (is_floating(from) && is_floating(via)) {
    if (via == kFloat64) return true;
    if (via == kFloat32) return from != kFloat64;
    return false;  // f16 and bf16 do not contain each other
  }
  if (is_integral(from) && is_integral(via))
    return element_size(via) > element_size(from) && (is_signed(via) || !is_signed(from));
  return from == kBool && via != kBool;
}

bool is_identity_permute(const Shape& dims) {
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != int64_t(i)) return false;
  return true;
}

// A view n (reshape, permute or expand) over x, folded: x itself for an
// identity, or one view of what x views where n composes with x (views of x
// were valid when built, and their composition is a view of x). A composed
// view is folded again, so a chain of same-op views becomes one (a loop:
// such chains can be any length). Null if nothing folds.
NodeRef fold_view(const Node& n, NodeRef x) {
  NodeRef folded;  // the last composition built
  Attrs a = n.attrs;
  while (true) {
    if (n.op == Op::Reshape && x->shape == n.shape) return x;
    if (n.op == Op::Permute && is_identity_permute(std::get<PermuteAttrs>(a).dims)) return x;
    if (x->op != n.op || x->realized()) return folded;
    Attrs composed = a;
    if (n.op == Op::Permute) {
      const Shape& dims = std::get<PermuteAttrs>(a).dims;
      Shape& out = std::get<PermuteAttrs>(composed).dims;
      for (size_t i = 0; i < dims.size(); ++i) out[i] = x->attr<PermuteAttrs>().dims[size_t(dims[i])];
    }
    NodeRef below = x->inputs[0];
    if (!graph::apply_view(n.op, composed, graph::layout_of(below))) return folded;
    folded = std::make_shared<Node>(n.op, n.dtype, n.shape, composed, std::vector<NodeRef>{below});
    folded->requires_grad = n.requires_grad;
    a = std::move(composed);
    x = std::move(below);
  }
}

class Fold : public Rewrite {
public:
  explicit Fold(const std::vector<NodeRef>& outputs) : kept_(kept_nodes(outputs)) {}

private:
  NodeRef rewrite(const NodeRef& n, std::vector<NodeRef>& in, bool changed) override {
    if (!kept_.count(n.get()))
      if (NodeRef f = fold_node(*n, in)) return f;
    return changed ? with_inputs(*n, in) : n;
  }

  std::unordered_set<const Node*> kept_;
};

}  // namespace

NodeRef fold_node(const Node& n, const std::vector<NodeRef>& in) {
  auto same_shape = [&](const NodeRef& x) { return x->shape == n.shape ? x : nullptr; };
  switch (n.op) {
    case Op::Mul:
      if (is_full_of(in[1], 1)) return same_shape(in[0]);
      if (is_full_of(in[0], 1)) return same_shape(in[1]);
      break;
    case Op::Div:
    case Op::Pow:
      if (is_full_of(in[1], 1)) return same_shape(in[0]);
      break;
    case Op::Copy:
      if (in[0]->op == Op::Copy && !in[0]->realized()) return in[0];
      break;
    case Op::Cast:
      // A lossless round trip: f32 -> f64 -> f32 is the identity.
      if (in[0]->op == Op::Cast && !in[0]->realized() && in[0]->inputs[0]->dtype == n.dtype &&
          widens(n.dtype, in[0]->dtype))
        return in[0]->inputs[0];
      break;
    case Op::Reshape:
    case Op::Permute:
    case Op::Expand:
      return fold_view(n, in[0]);
    default: break;
  }
  return nullptr;
}

std::vector<NodeRef> fold(const std::vector<NodeRef>& outputs) { return Fold(outputs).run(outputs); }

}  // namespace kiln::passes
