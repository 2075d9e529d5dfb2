// Factories: tensors from values, constants, ranges and caller memory.
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln {

void check_device(const TensorOptions& o, const char* op) {
  if (!o.device().is_cpu())
    throw Error(fmt::format("{}: device {} is not supported yet (only cpu)", op, o.device().str()));
}

void check_shape(const Shape& s, const char* op) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw Error(fmt::format("{}: negative dimension {} in shape {}", op, d, shape_str(s)));
    if (__builtin_mul_overflow(n, d, &n))
      throw Error(fmt::format("{}: shape {} has too many elements (overflows int64)", op, shape_str(s)));
  }
}

namespace {

DType dtype_or(const TensorOptions& o, DType d) { return o.dtype().value_or(d); }


Tensor finish(NodeRef n, const TensorOptions& o) {
  Tensor t = wrap(std::move(n));
  if (o.requires_grad()) t.requires_grad_(true);
  return t;
}

// Writes `v` converted to dtype `t` at `p`.
void store_scalar(void* p, DType t, const Scalar& v) {
  visit_dtype(t, [&](auto z) {
    using T = decltype(z);
    T x;
    if constexpr (std::is_same_v<T, bool>) x = v.to_bool();
    else if constexpr (std::is_integral_v<T>) x = static_cast<T>(v.to_int());
    else if constexpr (std::is_same_v<T, double>) x = v.to_double();
    else x = T(static_cast<float>(v.to_double()));
    std::memcpy(p, &x, sizeof(T));
  });
}

Tensor new_buffer(DType t, const Shape& shape) {
  auto buf = Buffer::allocate_elements(numel(shape), element_size(t));
  return wrap(graph::buffer(std::move(buf), t, Layout::contiguous(shape)));
}


// Shape of a nested list: the lengths along the first path, then checked
// everywhere (the list must be rectangular).
Shape nested_shape(const NestedList& l) {
  Shape shape;
  for (const NestedList* p = &l; !p->is_scalar(); p = &p->items()[0]) {
    shape.push_back(int64_t(p->items().size()));
    if (p->items().empty()) break;
  }
  return shape;
}

void check_nested(const NestedList& l, const Shape& shape, size_t depth) {
  if (l.is_scalar() != (depth == shape.size()) ||
      (!l.is_scalar() && int64_t(l.items().size()) != shape[depth]))
    throw Error(fmt::format("tensor: nested lists are not rectangular: expected shape {}", shape_str(shape)));
  for (auto& item : l.items()) check_nested(item, shape, depth + 1);
}

void flatten_list(const NestedList& l, std::vector<Scalar>& out) {
  if (l.is_scalar()) { out.push_back(l.scalar()); return; }
  for (auto& item : l.items()) flatten_list(item, out);
}

}  // namespace

Tensor tensor(const NestedList& data, TensorOptions opts) {
  check_device(opts, "tensor");
  Shape shape = nested_shape(data);
  check_nested(data, shape, 0);
  std::vector<Scalar> values;
  flatten_list(data, values);
  DType inferred = kFloat32;
  if (!values.empty()) {
    inferred = kBool;
    for (auto& v : values) {
      if (v.is_floating()) inferred = kFloat32;
      else if (v.is_integral() && inferred == kBool) inferred = kInt64;
    }
  }
  DType t = dtype_or(opts, inferred);
  Tensor r = new_buffer(t, shape);
  char* p = static_cast<char*>(node_of(r)->buffer->data());
  for (size_t i = 0; i < values.size(); ++i) store_scalar(p + i * element_size(t), t, values[i]);
  return finish(node_of(r), opts);
}

Tensor scalar_tensor(const Scalar& v, TensorOptions opts) { return tensor(NestedList(v), opts); }

Tensor empty(const Shape& shape, TensorOptions opts) {
  check_device(opts, "empty");
  check_shape(shape, "empty");
  return finish(node_of(new_buffer(dtype_or(opts, kFloat32), shape)), opts);
}

namespace {
// full and the factories made of it, each raising errors under its own name.
Tensor filled(const Shape& shape, const Scalar& value, TensorOptions opts, const char* op) {
  check_device(opts, op);
  check_shape(shape, op);
  DType t = dtype_or(opts, value.default_dtype());
  if (!value.fits(t))
    throw Error(fmt::format("{}: value {} cannot be converted to type {} without overflow", op, value.str(), name(t)));
  return finish(graph::full(value, t, shape), opts);
}
}  // namespace

Tensor full(const Shape& shape, const Scalar& value, TensorOptions opts) { return filled(shape, value, opts, "full"); }
Tensor zeros(const Shape& shape, TensorOptions opts) {
  return filled(shape, 0, opts.dtype(dtype_or(opts, kFloat32)), "zeros");
}
Tensor ones(const Shape& shape, TensorOptions opts) {
  return filled(shape, 1, opts.dtype(dtype_or(opts, kFloat32)), "ones");
}
Tensor full_like(const Tensor& t, const Scalar& v, std::optional<DType> d) {
  return filled(t.shape(), v, d.value_or(t.dtype()), "full_like");
}
Tensor zeros_like(const Tensor& t, std::optional<DType> d) { return filled(t.shape(), 0, d.value_or(t.dtype()), "zeros_like"); }
Tensor ones_like(const Tensor& t, std::optional<DType> d) { return filled(t.shape(), 1, d.value_or(t.dtype()), "ones_like"); }
Tensor empty_like(const Tensor& t, std::optional<DType> d) { return empty(t.shape(), d.value_or(t.dtype())); }

Tensor arange(const Scalar& end, TensorOptions opts) { return arange(0, end, 1, opts); }

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions opts) {
  check_device(opts, "arange");
  bool any_float = start.is_floating() || end.is_floating() || step.is_floating();
  DType t = dtype_or(opts, any_float ? kFloat32 : kInt64);
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  if (st == 0) throw Error("arange: step must be nonzero");
  if (!std::isfinite(s) || !std::isfinite(e))
    throw Error(fmt::format("arange: unsupported range: {} -> {}", start.str(), end.str()));
  if ((st > 0 && e < s) || (st < 0 && e > s))
    throw Error(fmt::format("arange: upper bound and larger bound inconsistent with step sign "
                            "(start {}, end {}, step {})",
                            start.str(), end.str(), step.str()));
  double count = std::ceil((e - s) / st);
  // 2^53 elements are more than any memory holds; past it doubles lose the count.
  if (!(count < 0x1p53))
    throw Error(fmt::format("arange: invalid size {} (start {}, end {}, step {}), possible overflow?", count,
                            start.str(), end.str(), step.str()));
  int64_t n = int64_t(count);
  Tensor r = new_buffer(t, {n});
  char* p = static_cast<char*>(node_of(r)->buffer->data());
  bool ints = !any_float;
  for (int64_t i = 0; i < n; ++i) {
    Scalar v = ints ? Scalar(start.to_int() + i * step.to_int()) : Scalar(s + double(i) * st);
    store_scalar(p + i * element_size(t), t, v);
  }
  return finish(node_of(r), opts);
}

Tensor linspace(const Scalar& start, const Scalar& end, int64_t steps, TensorOptions opts) {
  check_device(opts, "linspace");
  if (steps < 0) throw Error(fmt::format("linspace: number of steps must be non-negative (got {})", steps));
  DType t = dtype_or(opts, kFloat32);
  Tensor r = new_buffer(t, {steps});
  char* p = static_cast<char*>(node_of(r)->buffer->data());
  double a = start.to_double(), b = end.to_double();
  double step = steps > 1 ? (b - a) / double(steps - 1) : 0;
  // PyTorch fills from both ends so the last element is exactly `end`.
  for (int64_t i = 0; i < steps; ++i) {
    double v = i < steps / 2 ? a + step * double(i) : b - step * double(steps - i - 1);
    store_scalar(p + i * element_size(t), t, is_floating(t) ? Scalar(v) : Scalar(int64_t(v)));
  }
  return finish(node_of(r), opts);
}

Tensor from_blob(void* data, const Shape& shape, TensorOptions opts) {
  return from_blob(data, shape, Layout::contiguous(shape).strides, nullptr, opts);
}

Tensor from_blob(void* data, const Shape& shape, const Shape& strides, TensorOptions opts) {
  return from_blob(data, shape, strides, nullptr, opts);
}

Tensor from_blob(void* data, const Shape& shape, std::function<void(void*)> deleter, TensorOptions opts) {
  return from_blob(data, shape, Layout::contiguous(shape).strides, std::move(deleter), opts);
}

Tensor from_blob(void* data, const Shape& shape, const Shape& strides, std::function<void(void*)> deleter,
                 TensorOptions opts) {
  check_device(opts, "from_blob");
  check_shape(shape, "from_blob");
  if (strides.size() != shape.size())
    throw Error(fmt::format("from_blob: {} strides given for shape {}", strides.size(), shape_str(shape)));
  DType t = dtype_or(opts, kFloat32);
  int64_t extent = 1;
  for (size_t i = 0; i < shape.size(); ++i) extent += (shape[i] - 1) * std::abs(strides[i]);
  if (!data && numel(shape) > 0)
    throw Error(fmt::format("from_blob: data is a null pointer (shape {})", shape_str(shape)));
  auto buf = Buffer::borrow(data, size_t(extent * element_size(t)), kCPU, std::move(deleter));
  Layout l{shape, strides, 0};
  NodeRef leaf = graph::buffer(buf, t, l);
  auto ext = std::make_shared<External>(External{buf, l, leaf});
  Tensor r = finish(std::move(leaf), opts);
  r.impl()->external = std::move(ext);
  return r;
}

}  // namespace kiln
