#pragma once
// Node: one value of the deferred graph. Immutable once built, except that
// realization replaces its computation by a buffer (the value is unchanged):
// the node then becomes a leaf and drops its inputs, so graphs do not grow.
#include <memory>
#include <string>
#include <vector>

#include "graph/layout.h"
#include "kiln/scalar.h"
#include "runtime/buffer.h"

namespace kiln {

enum class Op : uint8_t {
#define OP(E, name, kind, arity) E,
#include "graph/ops.def"
#undef OP
};

enum class OpKind : uint8_t { Leaf, Elementwise, View, Scatter, Reduce, Scan, Gather };

struct OpInfo {
  const char* name;
  OpKind kind;
  int arity;
};
const OpInfo& op_info(Op op);
inline const char* op_name(Op op) { return op_info(op).name; }
inline bool is_elementwise(Op op) { return op_info(op).kind == OpKind::Elementwise; }
inline bool is_view(Op op) { return op_info(op).kind == OpKind::View; }
inline bool is_reduce(Op op) {
  return op_info(op).kind == OpKind::Reduce || op_info(op).kind == OpKind::Scan;
}

/// Op attributes; each op uses the fields its table entry names.
struct Attrs {
  Scalar value;      // Full
  DType dtype = kFloat32;  // Cast
  Shape ints;        // Reshape/Expand: shape; Permute: dims
};

struct Node;
using NodeRef = std::shared_ptr<Node>;

struct Node {
  Op op;
  DType dtype;
  Shape shape;
  Attrs attrs;
  std::vector<NodeRef> inputs;

  // Set once the value is computed: where it lives and how it is laid out.
  std::shared_ptr<Buffer> buffer;
  Layout layout;

  Node(Op op, DType dtype, Shape shape, Attrs attrs, std::vector<NodeRef> inputs);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  bool realized() const { return buffer != nullptr; }
  int64_t numel() const;
  /// Marks the node computed: it keeps `buf` laid out as `layout`, forgets inputs.
  void set_realized(std::shared_ptr<Buffer> buf, Layout layout);
};

/// Number of Node objects alive (for the leak/flatness tests).
int64_t nodes_alive();

}  // namespace kiln
