// The user's side of autodiff: requires_grad, backward, .grad, grad(),
// detach and the grad-mode guards.
#include "kiln/autograd.h"

#include <fmt/format.h>

#include "autodiff/autodiff.h"
#include "graph/builders.h"
#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {

// Grad mode for the scope of one computation of gradients.
class GradMode {
public:
  explicit GradMode(bool on) : prev_(grad_mode_enabled()) { set_grad_mode_enabled(on); }
  ~GradMode() { set_grad_mode_enabled(prev_); }

private:
  bool prev_;
};

NodeRef seed_gradient(const Tensor& out, const Tensor& gradient, const char* op) {
  if (gradient.defined()) {
    if (gradient.shape() != out.shape())
      throw Error(fmt::format("{}: mismatch in shape: grad_output has shape {} and output has shape {}", op,
                              shape_str(gradient.shape()), shape_str(out.shape())));
    return node_of(gradient);
  }
  if (out.numel() != 1)
    throw Error(fmt::format("{}: grad can be implicitly created only for scalar outputs (output has shape {}); "
                            "pass a gradient",
                            op, shape_str(out.shape())));
  return graph::full(1, out.dtype(), out.shape());
}

}  // namespace

bool Tensor::requires_grad() const { return node_of(*this)->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  node_of(*this);
  impl_->set_requires_grad(on);
  return *this;
}

bool Tensor::is_leaf() const {
  const NodeRef& n = node_of(*this);
  return !n->requires_grad || n->grad_leaf;
}

Tensor Tensor::grad() const {
  node_of(*this);
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());  // backward may be writing it
  return impl_->meta ? impl_->meta->grad : Tensor();
}

Tensor& Tensor::mutable_grad() {
  node_of(*this);
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
  if (!impl_->meta) impl_->meta = std::make_shared<AutogradMeta>();
  return impl_->meta->grad;
}

void Tensor::retain_grad() {
  const NodeRef& n = node_of(*this);
  if (!n->requires_grad) throw Error("retain_grad: can't retain_grad on a tensor that does not require grad");
  if (n->grad_leaf) return;  // leaves keep their gradient anyway
  if (!impl_->meta) impl_->meta = std::make_shared<AutogradMeta>();
  n->meta = impl_->meta;
}

bool Tensor::retains_grad() const {
  const NodeRef& n = node_of(*this);
  return !n->grad_leaf && n->meta != nullptr;
}

namespace {
// A chain of views, contiguous over all of its root, down to a value not
// computed yet (whose buffer will then hold just the view's elements).
bool fresh_contiguous_view(const NodeRef& g) {
  NodeRef root = g;
  while (is_view(root->op) && !root->realized()) root = root->inputs[0];
  if (root->realized() || root->grad_leaf || is_view(root->op) || g->numel() != root->numel()) return false;
  Layout l = graph::layout_of(g);
  return l.is_contiguous() && l.offset == 0;
}
}  // namespace

void Tensor::backward(const Tensor& gradient, bool create_graph) const {
  const NodeRef& out = node_of(*this);
  if (!out->requires_grad)
    throw Error(fmt::format("backward: tensor of shape {} does not require grad and has no grad_fn",
                            shape_str(out->shape)));
  NodeRef seed = seed_gradient(*this, gradient, "backward");
  // Threads may run backward on graphs that share leaves: their gradients
  // add up in .grad one after the other, none is lost (as in PyTorch).
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
  GradMode mode(create_graph);
  auto grads = autodiff::gradients({out}, {seed});
  for (auto& [node, g] : grads) {
    if (!node->meta) continue;
    Tensor& slot = node->meta->grad;
    if (!slot.defined()) {
      // A tensor of its own: laid out like a fresh tensor (not a broadcast
      // or permuted view), never the caller's gradient tensor (or any leaf)
      // itself. A contiguous view of a value computed here (a weight's
      // gradient summed over the batch, then reshaped) is one already.
      slot = wrap(g->grad_leaf || g->realized() || (is_view(g->op) && !fresh_contiguous_view(g)) ? graph::copy(g) : g);
    } else {
      slot.impl()->assign(graph::binary(Op::Add, node_of(slot), g));  // accumulates in place
    }
  }
}

Tensor Tensor::detach() const { return wrap(graph::detach(node_of(*this))); }

std::string Tensor::grad_fn_name() const {
  const NodeRef& n = node_of(*this);
  return n->requires_grad && !n->grad_leaf ? autodiff::grad_fn_name(*n) : "";
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool create_graph, bool allow_unused) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw Error(fmt::format("grad: got {} grad_outputs for {} outputs", grad_outputs.size(), outputs.size()));
  std::vector<NodeRef> outs, seeds;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].requires_grad())
      throw Error(fmt::format("grad: output {} does not require grad and has no grad_fn", i));
    outs.push_back(node_of(outputs[i]));
    seeds.push_back(seed_gradient(outputs[i], grad_outputs.empty() ? Tensor() : grad_outputs[i], "grad"));
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].requires_grad()) throw Error(fmt::format("grad: input {} does not require grad", i));
  GradMode mode(create_graph);
  auto grads = autodiff::gradients(outs, seeds);
  std::vector<Tensor> result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto it = grads.find(node_of(inputs[i]).get());
    if (it == grads.end()) {
      if (!allow_unused)
        throw Error(fmt::format("grad: input {} (shape {}) was not used to compute the outputs; pass "
                                "allow_unused=true",
                                i, shape_str(inputs[i].shape())));
      result.emplace_back();
      continue;
    }
    result.push_back(wrap(it->second));
  }
  return result;
}

bool is_grad_enabled() { return grad_mode_enabled(); }

NoGradGuard::NoGradGuard() : prev_(grad_mode_enabled()) { set_grad_mode_enabled(false); }
NoGradGuard::~NoGradGuard() { set_grad_mode_enabled(prev_); }
EnableGradGuard::EnableGradGuard() : prev_(grad_mode_enabled()) { set_grad_mode_enabled(true); }
EnableGradGuard::~EnableGradGuard() { set_grad_mode_enabled(prev_); }

}  // namespace kiln
