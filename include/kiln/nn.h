#pragma once
// Neural-network functions (PyTorch's torch.nn.functional), written with
// kiln's ops so they fuse and differentiate like everything else.
#include <optional>
#include <string>

#include "kiln/tensor.h"

namespace kiln::nn {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
/// approximate: "none" (erf) or "tanh".
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
/// reduction: "mean", "sum" or "none".
Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
/// Negative log likelihood of log-probabilities `input` ([N, C, ...] or [C])
/// at int64 class `target` ([N, ...] or []).
Tensor nll_loss(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight = std::nullopt,
                int64_t ignore_index = -100, const std::string& reduction = "mean");
/// `target`: int64 class indices, or class probabilities shaped like `input`.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight = std::nullopt,
                     int64_t ignore_index = -100, const std::string& reduction = "mean",
                     double label_smoothing = 0.0);
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const std::optional<Tensor>& weight = std::nullopt,
                  const std::optional<Tensor>& bias = std::nullopt, double eps = 1e-5);
/// Zeroes each element with probability p (a mask drawn lazily from the
/// global generator, computed in the kernels that use it) and scales the
/// rest by 1 / (1 - p); the identity when not training.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);
/// x @ weight.T + bias.
Tensor linear(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias = std::nullopt);

}  // namespace kiln::nn
