#pragma once
// Layout: how a shape's elements sit in linear memory (strides + offset, in
// elements). Views are layouts composed with a view op; the only view op that
// can fail to compose is a reshape of a non-contiguous layout, exactly when
// PyTorch's view() fails.
#include <optional>
#include <string>

#include "kiln/error.h"
#include "kiln/shape.h"

namespace kiln {

struct Layout {
  Shape shape;
  Shape strides;
  int64_t offset = 0;

  static Layout contiguous(const Shape& shape);
  bool is_contiguous() const;
  int64_t numel() const;

  Layout permute(const Shape& dims) const;
  /// Broadcast to `shape` (left-pads dims; size-1 dims get stride 0).
  Layout expand(const Shape& shape) const;
  /// nullopt when strides cannot express the new shape over this layout.
  std::optional<Layout> reshape(const Shape& shape) const;

  friend bool operator==(const Layout& a, const Layout& b) {
    return a.shape == b.shape && a.strides == b.strides && a.offset == b.offset;
  }
};

int64_t numel(const Shape& s);
/// [0, 1, ..., n-1]: every dim of a rank-n tensor.
Shape all_dims(int64_t n);
std::string shape_str(const Shape& s);  // "[2, 3]"
/// Wraps a possibly negative dim into [0, ndim); throws naming `op` if out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace kiln

