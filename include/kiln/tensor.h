#pragma once
// kiln::Tensor: a handle to a lazily computed n-d array.
//
// Every op records a node in a deferred graph and infers its shape and dtype
// at once (errors are thrown at the call). Values are computed when they are
// needed: item(), to_vector(), printing, data_ptr(), or kiln::realize().
// Copies of a Tensor share one underlying tensor, as in LibTorch; in-place
// ops rebind it (and the base of a view) to a new node.
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kiln/device.h"
#include "kiln/dtype.h"
#include "kiln/error.h"
#include "kiln/indexing.h"
#include "kiln/scalar.h"
#include "kiln/shape.h"

namespace kiln {

struct TensorImpl;

/// Factory options: `kiln::zeros({2, 3}, kFloat64)` or
/// `kiln::ones({3}, TensorOptions().dtype(kInt32).requires_grad(true))`.
class TensorOptions {
public:
  TensorOptions() = default;
  TensorOptions(DType d) : dtype_(d) {}  // NOLINT: implicit like LibTorch
  TensorOptions(Device d) : device_(d) {}  // NOLINT
  TensorOptions dtype(DType d) const { auto o = *this; o.dtype_ = d; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  TensorOptions requires_grad(bool r) const { auto o = *this; o.requires_grad_ = r; return o; }
  std::optional<DType> dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool requires_grad() const { return requires_grad_; }

private:
  std::optional<DType> dtype_;
  Device device_;
  bool requires_grad_ = false;
};

/// A nested list of numbers, for kiln::tensor({{1., 2.}, {3., 4.}}).
class NestedList {
public:
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  NestedList(T v) : scalar_(Scalar(v)) {}  // NOLINT
  NestedList(Scalar v) : scalar_(v) {}  // NOLINT
  NestedList(std::initializer_list<NestedList> items) : items_(items) {}
  bool is_scalar() const { return scalar_.has_value(); }
  const Scalar& scalar() const { return *scalar_; }
  const std::vector<NestedList>& items() const { return items_; }

private:
  std::optional<Scalar> scalar_;
  std::vector<NestedList> items_;
};

class Tensor {
public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl);

  // ---- metadata (never computes anything) ----
  bool defined() const { return impl_ != nullptr; }
  DType dtype() const;
  DType scalar_type() const { return dtype(); }
  const Shape& shape() const;
  const Shape& sizes() const { return shape(); }
  int64_t size(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  Device device() const;
  /// The strides this tensor has (or will have once realized), in elements.
  Shape strides() const;
  int64_t stride(int64_t dim) const;
  bool is_contiguous() const;
  /// True once the value is computed and held in a buffer.
  bool is_realized() const;

  // ---- values (these compute) ----
  template <typename T> T item() const;
  Scalar item() const;
  template <typename T> std::vector<T> to_vector() const;
  /// Pointer to the first element (after computing it), PyTorch's data_ptr().
  void* data_ptr() const;
  template <typename T> T* data_ptr() const;
  /// Computes the value now; returns *this.
  const Tensor& realize() const;

  // ---- conversion and views ----
  Tensor to(DType t) const;
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;
  Tensor T() const;
  Tensor permute(const Shape& dims) const;
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  /// The slice at `index` along dim, which is removed (t[..., index, ...]).
  Tensor select(int64_t dim, int64_t index) const;
  /// start:end:step along dim, bounds clamped like Python's.
  Tensor slice(int64_t dim, std::optional<int64_t> start = std::nullopt,
               std::optional<int64_t> end = std::nullopt, int64_t step = 1) const;
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  std::vector<Tensor> split(const Shape& sizes, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;
  Tensor movedim(const Shape& source, const Shape& destination) const;
  Tensor movedim(int64_t source, int64_t destination) const;
  Tensor broadcast_to(const Shape& shape) const;
  Tensor flip(const Shape& dims) const;
  Tensor repeat(const Shape& repeats) const;
  Tensor tile(const Shape& reps) const;

  // ---- linear algebra ----
  Tensor matmul(const Tensor& o) const;
  Tensor mm(const Tensor& o) const;
  Tensor bmm(const Tensor& o) const;
  Tensor dot(const Tensor& o) const;
  Tensor outer(const Tensor& o) const;

  // ---- reductions: an empty `dims` means all dims ----
  Tensor sum(std::optional<DType> dtype = std::nullopt) const;
  Tensor sum(const Shape& dims, bool keepdim = false, std::optional<DType> dtype = std::nullopt) const;
  Tensor mean(std::optional<DType> dtype = std::nullopt) const;
  Tensor mean(const Shape& dims, bool keepdim = false, std::optional<DType> dtype = std::nullopt) const;
  Tensor prod(std::optional<DType> dtype = std::nullopt) const;
  Tensor prod(int64_t dim, bool keepdim = false, std::optional<DType> dtype = std::nullopt) const;
  Tensor amax(const Shape& dims = {}, bool keepdim = false) const;
  Tensor amin(const Shape& dims = {}, bool keepdim = false) const;
  /// The largest element (0-dim), or (values, int64 indices) along dim.
  Tensor max() const;
  std::tuple<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;
  Tensor min() const;
  std::tuple<Tensor, Tensor> min(int64_t dim, bool keepdim = false) const;
  /// Index of the first max/min; without dim, into the flattened tensor.
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor argmin(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  /// Divides by N - correction (1: unbiased, PyTorch's default).
  Tensor var(const Shape& dims = {}, double correction = 1, bool keepdim = false) const;
  Tensor std(const Shape& dims = {}, double correction = 1, bool keepdim = false) const;
  /// p = 1, 2, inf, -inf, or any other number; 2 is also 'fro'.
  Tensor norm(const Scalar& p = 2, const Shape& dims = {}, bool keepdim = false) const;
  Tensor logsumexp(const Shape& dims, bool keepdim = false) const;
  Tensor cumsum(int64_t dim, std::optional<DType> dtype = std::nullopt) const;
  Tensor all() const;
  Tensor all(int64_t dim, bool keepdim = false) const;
  Tensor any() const;
  Tensor any(int64_t dim, bool keepdim = false) const;

  // ---- indexing (see kiln/indexing.h) ----
  Tensor index(const std::vector<TensorIndex>& indices) const;
  Tensor operator[](int64_t i) const { return select(0, i); }
  Tensor& index_put_(const std::vector<TensorIndex>& indices, const Tensor& value);
  Tensor& index_put_(const std::vector<TensorIndex>& indices, const Scalar& value);
  Tensor index_select(int64_t dim, const Tensor& index) const;
  /// out[i][j][k] = self[i][index[i][j][k]][k] (dim = 1), PyTorch's gather.
  Tensor gather(int64_t dim, const Tensor& index) const;
  /// A copy of self where src[i][j][k] is added at [i][index[i][j][k]][k] (dim = 1).
  Tensor scatter_add(int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor masked_fill(const Tensor& mask, const Scalar& value) const;
  Tensor masked_fill(const Tensor& mask, const Tensor& value) const;

  // ---- elementwise ----
  Tensor add(const Tensor& o, const Scalar& alpha = 1) const;
  Tensor add(const Scalar& o, const Scalar& alpha = 1) const;
  Tensor sub(const Tensor& o, const Scalar& alpha = 1) const;
  Tensor sub(const Scalar& o, const Scalar& alpha = 1) const;
  Tensor mul(const Tensor& o) const;
  Tensor mul(const Scalar& o) const;
  Tensor div(const Tensor& o) const;
  Tensor div(const Scalar& o) const;
  Tensor pow(const Tensor& e) const;
  Tensor pow(const Scalar& e) const;
  Tensor maximum(const Tensor& o) const;
  Tensor minimum(const Tensor& o) const;
  Tensor eq(const Tensor& o) const;
  Tensor eq(const Scalar& o) const;
  Tensor ne(const Tensor& o) const;
  Tensor ne(const Scalar& o) const;
  Tensor lt(const Tensor& o) const;
  Tensor lt(const Scalar& o) const;
  Tensor le(const Tensor& o) const;
  Tensor le(const Scalar& o) const;
  Tensor gt(const Tensor& o) const;
  Tensor gt(const Scalar& o) const;
  Tensor ge(const Tensor& o) const;
  Tensor ge(const Scalar& o) const;
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt) const;
  Tensor clamp(const std::optional<Tensor>& min, const std::optional<Tensor>& max = std::nullopt) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor sqrt() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tan() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor logical_not() const;
  Tensor rsqrt() const;
  Tensor reciprocal() const;
  Tensor square() const;
  Tensor exp2() const;
  Tensor log2() const;
  Tensor log1p() const;
  Tensor expm1() const;
  Tensor erf() const;
  Tensor sign() const;
  Tensor floor() const;
  Tensor ceil() const;
  /// Half to even, like PyTorch.
  Tensor round() const;
  Tensor trunc() const;
  Tensor atan2(const Tensor& o) const;
  Tensor hypot(const Tensor& o) const;
  Tensor logaddexp(const Tensor& o) const;
  /// Python's %: the result takes the divisor's sign.
  Tensor remainder(const Tensor& o) const;
  Tensor remainder(const Scalar& o) const;
  /// C's fmod: the result takes the dividend's sign.
  Tensor fmod(const Tensor& o) const;
  Tensor fmod(const Scalar& o) const;
  /// rounding_mode "floor" or "trunc" (integer division for integers; by
  /// zero it throws); no mode is true division.
  Tensor div(const Tensor& o, const std::string& rounding_mode) const;
  Tensor div(const Scalar& o, const std::string& rounding_mode) const;

  // ---- in place: rebind this tensor (and its view base) to a new node ----
  Tensor& add_(const Tensor& o, const Scalar& alpha = 1);
  Tensor& add_(const Scalar& o, const Scalar& alpha = 1);
  Tensor& sub_(const Tensor& o, const Scalar& alpha = 1);
  Tensor& sub_(const Scalar& o, const Scalar& alpha = 1);
  Tensor& mul_(const Tensor& o);
  Tensor& mul_(const Scalar& o);
  Tensor& div_(const Tensor& o);
  Tensor& div_(const Scalar& o);
  Tensor& fill_(const Scalar& v);
  Tensor& zero_();
  Tensor& copy_(const Tensor& src);
  /// Fill with random values of the global generator (floating tensors):
  /// uniform in [from, to), normal with mean and std, 1 with probability p.
  Tensor& uniform_(double from = 0, double to = 1);
  Tensor& normal_(double mean = 0, double std = 1);
  Tensor& bernoulli_(double p = 0.5);

  Tensor& operator+=(const Tensor& o) { return add_(o); }
  Tensor& operator+=(const Scalar& o) { return add_(o); }
  Tensor& operator-=(const Tensor& o) { return sub_(o); }
  Tensor& operator-=(const Scalar& o) { return sub_(o); }
  Tensor& operator*=(const Tensor& o) { return mul_(o); }
  Tensor& operator*=(const Scalar& o) { return mul_(o); }
  Tensor& operator/=(const Tensor& o) { return div_(o); }
  Tensor& operator/=(const Scalar& o) { return div_(o); }

  // ---- autograd (see kiln/autograd.h) ----
  bool requires_grad() const;
  /// Makes this (leaf) tensor record gradients into grad().
  Tensor& requires_grad_(bool on = true);
  /// Created by the user rather than by an op that records gradients.
  bool is_leaf() const;
  /// The accumulated gradient (undefined before any backward()).
  Tensor grad() const;
  /// The gradient slot itself: `t.mutable_grad() = kiln::Tensor();` resets it.
  Tensor& mutable_grad();
  /// Keep the gradient of this non-leaf tensor in grad() too.
  void retain_grad();
  bool retains_grad() const;
  /// Accumulates d(this)/d(leaf) into each leaf's grad(). Without `gradient`
  /// this must have one element (the gradient is 1).
  void backward(const Tensor& gradient = Tensor(), bool create_graph = false) const;
  /// The same value (sharing the buffer) without gradient history.
  Tensor detach() const;
  /// PyTorch's name of the function that computes this tensor's gradient,
  /// e.g. "MulBackward0"; empty for leaves.
  std::string grad_fn_name() const;

  /// The same tensor object (copies of a Tensor share it).
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  std::string str() const;
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace kiln
