// torch.nn.functional, written with kiln ops (PyTorch 1.13's formulas).
#include "kiln/nn.h"

#include <fmt/format.h>

#include <cmath>

#include "graph/layout.h"
#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln::nn {

namespace {

void require_floating(const char* op, const Tensor& x) {
  if (!is_floating(node_of(x, op)->dtype))
    throw Error(fmt::format("{}: expected a floating point tensor, got {} (shape {})", op, name(x.dtype()),
                            shape_str(x.shape())));
}

// Low-precision inputs are computed in float32 and rounded once at the end.
bool low_precision(const Tensor& x) { return x.dtype() == kFloat16 || x.dtype() == kBFloat16; }

Tensor reduce_loss(const Tensor& loss, const std::string& reduction, const char* op) {
  if (reduction == "mean") return loss.mean();
  if (reduction == "sum") return loss.sum();
  if (reduction == "none") return loss;
  throw Error(fmt::format("{}: reduction must be 'mean', 'sum' or 'none', got '{}'", op, reduction));
}

int64_t class_dim(const Tensor& input) { return input.dim() == 1 ? 0 : 1; }

// Per-class weights shaped to broadcast along the class dim of `input`.
Tensor class_weights(const Tensor& input, const Tensor& weight, const char* op) {
  int64_t cd = class_dim(input);
  if (weight.dim() != 1 || weight.size(0) != input.size(cd))
    throw Error(fmt::format("{}: weight of shape {} must be defined for all {} classes", op,
                            shape_str(weight.shape()), input.size(cd)));
  Shape s(static_cast<size_t>(input.dim()), 1);
  s[cd] = weight.size(0);
  return weight.reshape(s);
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  require_floating("softmax", x);  // PyTorch: not implemented for integers
  Tensor y = low_precision(x) ? x.to(kFloat32) : x;
  dim = wrap_dim(dim, y.dim(), "softmax");
  if (y.dim() > 0 && y.size(dim) == 0) return y.to(is_floating(x.dtype()) ? x.dtype() : kFloat32) * 1;  // empty, as PyTorch
  Tensor e = (y - y.amax({dim}, true)).exp();
  // As PyTorch's CPU kernel: each row times the reciprocal of its sum (a
  // value per row, computed in the sum's epilogue; no division per element).
  Tensor r = e * e.sum({dim}, true).reciprocal();
  return low_precision(x) ? r.to(x.dtype()) : r;
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  require_floating("log_softmax", x);
  Tensor y = low_precision(x) ? x.to(kFloat32) : x;
  dim = wrap_dim(dim, y.dim(), "log_softmax");
  if (y.dim() > 0 && y.size(dim) == 0) return y.to(is_floating(x.dtype()) ? x.dtype() : kFloat32) * 1;
  Tensor shifted = y - y.amax({dim}, true);
  Tensor r = shifted - shifted.exp().sum({dim}, true).log();
  return low_precision(x) ? r.to(x.dtype()) : r;
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  require_floating("gelu", x);
  Tensor y = low_precision(x) ? x.to(kFloat32) : x;
  Tensor r;
  if (approximate == "none") {
    r = y * 0.5 * (1 + (y * M_SQRT1_2).erf());
  } else if (approximate == "tanh") {
    const double k = std::sqrt(2.0 / M_PI);
    r = 0.5 * y * (1 + (k * (y + 0.044715 * y * y * y)).tanh());
  } else {
    throw Error(fmt::format("gelu: approximate must be 'none' or 'tanh', got '{}'", approximate));
  }
  return low_precision(x) ? r.to(x.dtype()) : r;
}

Tensor dropout(const Tensor& x, double p, bool training) {
  if (!(p >= 0 && p <= 1)) throw Error(fmt::format("dropout: probability has to be between 0 and 1, but got {}", p));
  if (!is_floating(x.dtype()))
    throw Error(fmt::format("dropout: expected a floating point tensor, got {}", name(x.dtype())));
  if (!training || p == 0) return x;
  if (p == 1) return x * 0;
  // PyTorch's: the mask is bernoulli(1 - p) divided by 1 - p, then x * mask.
  return x * (bernoulli(x, 1 - p) * (1 / (1 - p)));
}

Tensor silu(const Tensor& x) {
  require_floating("silu", x);
  Tensor y = low_precision(x) ? x.to(kFloat32) : x;
  Tensor r = y * y.sigmoid();
  return low_precision(x) ? r.to(x.dtype()) : r;
}

Tensor leaky_relu(const Tensor& x, double slope) { return where(x > 0, x, x * slope); }

Tensor elu(const Tensor& x, double alpha) {
  require_floating("elu", x);
  Tensor y = low_precision(x) ? x.to(kFloat32) : x;
  Tensor r = where(y > 0, y, y.expm1() * alpha);
  return low_precision(x) ? r.to(x.dtype()) : r;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  require_floating("softplus", x);
  Tensor y = low_precision(x) ? x.to(kFloat32) : x;
  Tensor bx = y * beta;
  Tensor r = where(bx > threshold, y, bx.exp().log1p() / beta);
  return low_precision(x) ? r.to(x.dtype()) : r;
}

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  broadcast_shapes(node_of(input, "mse_loss")->shape, node_of(target, "mse_loss")->shape, "mse_loss");
  Tensor d = input - target;
  return reduce_loss(d * d, reduction, "mse_loss");
}

namespace {
// nll_loss, raising its errors under the name of the op the user called.
Tensor negative_log_likelihood(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight, int64_t ignore_index,
                               const std::string& reduction, const char* op) {
  require_floating(op, input);
  if (target.dtype() != kInt64)
    throw Error(fmt::format("{}: expected int64 class indices as target, got {}", op, name(target.dtype())));
  int64_t cd = class_dim(input);
  Shape expected = input.shape();
  expected.erase(expected.begin() + cd);
  if (target.shape() != expected)
    throw Error(fmt::format("{}: expected target of shape {} for input of shape {}, got {}",
                            op, shape_str(expected), shape_str(input.shape()), shape_str(target.shape())));
  if (weight && (weight->dim() != 1 || weight->size(0) != input.size(cd)))
    throw Error(fmt::format("{}: weight tensor should be defined either for all {} classes or no classes but "
                            "got weight tensor of shape: {}",
                            op, input.size(cd), shape_str(weight->shape())));
  // Class indices are checked here, where the error can name the op (the
  // gather below would name itself). Having read them, the ignored mask and
  // the indices to gather are made from the values at hand: a lazy index
  // would cost the gather's own check a realize of its own.
  int64_t classes = input.size(cd);
  std::vector<int64_t> tv = target.to_vector<int64_t>();
  for (int64_t t : tv)
    if (t != ignore_index && (t < 0 || t >= classes))
      throw Error(fmt::format("{}: target {} is out of bounds for {} classes (input of shape {})", op, t, classes,
                              shape_str(input.shape())));
  Tensor ignored = empty(target.shape(), kBool), safe = empty(target.shape(), kInt64);
  bool* ip = ignored.data_ptr<bool>();
  int64_t* sp = safe.data_ptr<int64_t>();
  for (size_t i = 0; i < tv.size(); ++i) {
    ip[i] = tv[i] == ignore_index;
    sp[i] = ip[i] ? 0 : tv[i];
  }
  // -input[i, t_i] * w[t_i], zero where ignored.
  Tensor picked = input.gather(cd, safe.unsqueeze(cd)).squeeze(cd);
  Tensor w = weight ? weight->index_select(0, safe.reshape({-1})).reshape(safe.shape()) : ones_like(picked);
  w = where(ignored, 0.0, w).to(input.dtype());
  Tensor loss = -picked * w;
  if (reduction == "mean") return loss.sum() / w.sum();
  return reduce_loss(loss, reduction, op);
}

}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight,
                int64_t ignore_index, const std::string& reduction) {
  return negative_log_likelihood(input, target, weight, ignore_index, reduction, "nll_loss");
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight,
                     int64_t ignore_index, const std::string& reduction, double label_smoothing) {
  require_floating("cross_entropy", input);
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    throw Error(fmt::format("cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {}", label_smoothing));
  int64_t cd = class_dim(input);
  int64_t n_classes = input.size(cd);
  Tensor logp = log_softmax(input, cd);
  if (is_floating(target.dtype())) {
    // Class probabilities.
    if (target.shape() != input.shape())
      throw Error(fmt::format("cross_entropy: probability target of shape {} must match input shape {}",
                              shape_str(target.shape()), shape_str(input.shape())));
    Tensor t = label_smoothing > 0 ? target * (1 - label_smoothing) + label_smoothing / double(n_classes) : target;
    Tensor prod = logp * t;
    if (weight) prod = prod * class_weights(input, *weight, "cross_entropy");
    if (reduction == "mean") return -prod.sum() / double(input.numel() / std::max<int64_t>(n_classes, 1));
    if (reduction == "sum") return -prod.sum();
    if (reduction == "none") return -prod.sum({cd});
    return reduce_loss(prod, reduction, "cross_entropy");
  }
  Tensor nll = negative_log_likelihood(logp, target, weight, ignore_index, reduction, "cross_entropy");
  if (label_smoothing <= 0) return nll;
  Tensor ignored = target == ignore_index;
  Tensor lp = weight ? logp * class_weights(input, *weight, "cross_entropy") : logp;
  Tensor smooth = where(ignored, 0.0, -lp.sum({cd}));
  Tensor ret;
  if (reduction == "mean") {
    if (weight) {
      Tensor safe = where(ignored, int64_t(0), target);
      Tensor w = where(ignored, 0.0, weight->index_select(0, safe.reshape({-1})).reshape(safe.shape()));
      ret = smooth.sum() / w.sum();
    } else {
      ret = smooth.sum() / ignored.logical_not().sum().to(input.dtype());
    }
  } else if (reduction == "sum") {
    ret = smooth.sum();
  } else {
    ret = smooth;
  }
  return (1 - label_smoothing) * nll + ret * (label_smoothing / double(n_classes));
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const std::optional<Tensor>& weight,
                  const std::optional<Tensor>& bias, double eps) {
  require_floating("layer_norm", x);
  int64_t k = int64_t(normalized_shape.size());
  bool ok = k >= 1 && k <= x.dim();
  for (int64_t i = 0; ok && i < k; ++i) ok = x.size(x.dim() - k + i) == normalized_shape[i];
  if (!ok)
    throw Error(fmt::format("layer_norm: input of shape {} does not end with normalized_shape {}",
                            shape_str(x.shape()), shape_str(normalized_shape)));
  for (const auto* p : {&weight, &bias})
    if (*p && (*p)->shape() != normalized_shape)
      throw Error(fmt::format("layer_norm: weight/bias of shape {} must have shape {}", shape_str((*p)->shape()),
                              shape_str(normalized_shape)));
  Tensor y = low_precision(x) ? x.to(kFloat32) : x;
  Shape dims;
  for (int64_t i = 0; i < k; ++i) dims.push_back(x.dim() - k + i);
  Tensor mean = y.mean(dims, true);
  Tensor var = y.var(dims, 0, true);
  Tensor r = (y - mean) * (var + eps).rsqrt();
  if (weight) r = r * *weight;
  if (bias) r = r + *bias;
  return low_precision(x) ? r.to(x.dtype()) : r;
}

Tensor linear(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias) {
  node_of(x, "linear");
  if (node_of(weight, "linear")->shape.size() != 2 || x.dim() == 0 || x.size(-1) != weight.size(1))
    throw Error(fmt::format("linear: mat1 and mat2 shapes cannot be multiplied ({}x{} and {}) (input {}, weight {})",
                            x.dim() ? x.numel() / std::max<int64_t>(x.size(-1), 1) : 1, x.dim() ? x.size(-1) : 1,
                            weight.dim() == 2 ? fmt::format("{}x{}", weight.size(1), weight.size(0))
                                              : shape_str(weight.shape()),
                            shape_str(x.shape()), shape_str(weight.shape())));
  Tensor r = matmul(x, weight.t());
  return bias ? r + *bias : r;
}

}  // namespace kiln::nn
