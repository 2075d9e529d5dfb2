#pragma once
// Gradients. kiln differentiates symbolically: a gradient is a lazy tensor
// whose graph is built from the forward graph, so it fuses and compiles like
// any other (kiln::realize(loss, w.grad()) runs forward and backward as one
// schedule), and it can be differentiated again (create_graph).
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

/// Gradients of sum_i <outputs[i], grad_outputs[i]> with respect to each of
/// `inputs`, without touching .grad. grad_outputs may be empty for one-element
/// outputs (ones). With create_graph the results can be differentiated again.
/// An input the outputs do not depend on gets an undefined tensor when
/// allow_unused, else an error.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool create_graph = false,
                         bool allow_unused = false);

bool is_grad_enabled();

/// Within its scope, new results record no gradient history (torch.no_grad()).
class NoGradGuard {
public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
  bool prev_;
};

/// Within its scope gradients are recorded, even inside a NoGradGuard.
class EnableGradGuard {
public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

private:
  bool prev_;
};

}  // namespace kiln
