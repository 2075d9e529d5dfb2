#pragma once
// TensorImpl: what a kiln::Tensor handle points at. It names the node that
// holds the tensor's current value. A view also remembers its base tensor
// and where it sits in it, so that in-place ops on either side stay visible
// to the other (the functional core: both are rebound to new nodes).
#include <mutex>

#include "graph/builders.h"
#include "kiln/tensor.h"

namespace kiln {

/// The lock under which values shared between threads change: realize()
/// holds it (one schedule at a time), and so do backward's accumulation
/// into .grad, .grad() itself and set_num_threads. Recursive: a gradient
/// being built may realize.
std::recursive_mutex& runtime_mutex();

/// Gradient bookkeeping of a tensor whose gradient is kept (a leaf that
/// requires grad, or a tensor that called retain_grad()): shared by the
/// tensor and every node it is bound to.
struct AutogradMeta {
  Tensor grad;  // .grad (undefined until a backward reaches it)
};

struct TensorImpl {
  explicit TensorImpl(NodeRef n) : node_(std::move(n)) {}

  /// The current value (re-derived from the base if the base changed).
  const NodeRef& node();
  /// Rebinds this tensor to `value` (same shape); a view also rewrites its base.
  void assign(const NodeRef& value);

  /// Makes `view` (the view op `op` applied to this tensor) a tensor that
  /// tracks this one's root, so in-place writes on either side propagate.
  static Tensor make_view(const std::shared_ptr<TensorImpl>& self, NodeRef view, Op op,
                          const Attrs& attrs);

  /// Makes this tensor a grad leaf (or stops it being one).
  void set_requires_grad(bool on);
  /// Gradient bookkeeping, for leaves and tensors that retain their grad.
  std::shared_ptr<AutogradMeta> meta;
  /// A from_blob tensor: the caller's memory its in-place results go to.
  std::shared_ptr<External> external;

private:
  void rebind(NodeRef v);  // new value of this (root) tensor

  NodeRef node_;
  std::shared_ptr<TensorImpl> base_;  // the root tensor, when this is a view
  Layout in_base_;                    // over base_'s contiguous element order
  uint64_t version_ = 0;              // bumped by every assign()
  uint64_t base_version_ = 0;         // base_->version_ when node_ was derived
};

/// `v`, the view op `op` applied to t, as a tensor that tracks t's root.
Tensor view_of(const Tensor& t, NodeRef v, Op op, const Attrs& attrs);

/// The error for an undefined tensor given to `op`.
[[noreturn]] void undefined_tensor(const char* op);
/// t's node. `op` names the function that needs it (by default the caller,
/// which for the public API is the method or function the user called).
inline const NodeRef& node_of(const Tensor& t, const char* op = __builtin_FUNCTION()) {
  if (!t.defined()) undefined_tensor(op);
  return t.impl()->node();
}
/// A new tensor for `n`.
Tensor wrap(NodeRef n);
/// A factory's checks, its errors naming `op`: the device is one kiln
/// supports; no dimension is negative and the element count fits int64.
void check_device(const TensorOptions& o, const char* op);
void check_shape(const Shape& s, const char* op);

}  // namespace kiln
