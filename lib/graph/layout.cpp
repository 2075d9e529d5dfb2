#include "graph/layout.h"

#include <fmt/format.h>

namespace kiln {

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n)) throw Error("shape " + shape_str(s) + " has too many elements");
  return n;
}

Shape all_dims(int64_t n) {
  Shape s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) s[i] = i;
  return s;
}

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  if (dim < lo || dim > hi)
    throw Error(fmt::format("{}: dimension out of range (expected to be in range of [{}, {}], but got {})",
                            op, lo, hi, dim));
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Layout Layout::contiguous(const Shape& shape) {
  Layout l{shape, Shape(shape.size()), 0};
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    l.strides[i] = s;
    // Saturates: only a shape with no elements gets this far (numel()
    // rejects the others), and its strides are never used.
    if (__builtin_mul_overflow(s, std::max<int64_t>(shape[i], 1), &s)) s = INT64_MAX;
  }
  return l;
}

int64_t Layout::numel() const { return kiln::numel(shape); }

bool Layout::is_contiguous() const {
  // PyTorch's rule: size-1 dims may have any stride.
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (shape[i] == 0) return true;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

Layout Layout::permute(const Shape& dims) const {
  Layout l{Shape(dims.size()), Shape(dims.size()), offset};
  for (size_t i = 0; i < dims.size(); ++i) {
    l.shape[i] = shape[dims[i]];
    l.strides[i] = strides[dims[i]];
  }
  return l;
}

Layout Layout::expand(const Shape& to) const {
  Layout l{to, Shape(to.size(), 0), offset};
  size_t lead = to.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    l.strides[lead + i] = (shape[i] == to[lead + i]) ? strides[i] : 0;
  return l;
}

// PyTorch's computeStride (aten/src/ATen/TensorUtils.cpp): walk the old dims
// in chunks that are contiguous among themselves and split each chunk over
// the new dims of the same element count.
std::optional<Layout> Layout::reshape(const Shape& to) const {
  Layout l{to, Shape(to.size(), 1), offset};
  int64_t n = numel();
  if (n == 0 || is_contiguous()) {
    Layout c = contiguous(to);
    c.offset = offset;
    return c;
  }
  int64_t view_d = int64_t(to.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || to[view_d] == 1)) {
        l.strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= to[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return l;
}

}  // namespace kiln

