#pragma once
// Node: one value of the deferred graph. Immutable once built, except that
// realization replaces its computation by a buffer (the value is unchanged):
// the node then becomes a leaf and drops its inputs, so graphs do not grow.
#include <memory>
#include <string>
#include <vector>

#include "graph/attrs.h"
#include "graph/layout.h"
#include "kiln/device.h"
#include "kiln/scalar.h"
#include "runtime/buffer.h"

namespace kiln {

enum class Op : uint8_t {
#define OP(E, name, kind, arity, traits, attrs) E,
#include "graph/ops.def"
#undef OP
};
/// How many ops ops.def lists (Op(0) .. Op(kNumOps - 1)).
inline constexpr size_t kNumOps = 0
#define OP(E, name, kind, arity, traits, attrs) +1
#include "graph/ops.def"
#undef OP
    ;

enum class OpKind : uint8_t { Leaf, Random, Elementwise, View, Scatter, Reduce, Scan, Gather, Primitive };

/// The dtype rule of an elementwise op beyond broadcasting and type
/// promotion (graph/builders.cpp applies it; ops.def says which):
///   FloatMath    integer inputs are computed as float32 (sqrt, exp, ...)
///   Compare      a bool result of operands of one dtype
///   BoolResult   a bool result of one operand of any dtype
///   NoBool       refuses bool operands (there is no bool negative)
///   IntIdentity  the identity on integers and bool (rounding)
enum class OpTraits : uint8_t { None, FloatMath, Compare, BoolResult, NoBool, IntIdentity };

struct OpInfo {
  const char* name;
  OpKind kind;
  int arity;
  OpTraits traits;
  size_t attrs_index;  // which Attrs alternative its nodes carry
};
const OpInfo& op_info(Op op);
inline const char* op_name(Op op) { return op_info(op).name; }
inline bool is_elementwise(Op op) { return op_info(op).kind == OpKind::Elementwise; }
/// A Kernel IR primitive (ops.def): never in a graph.
inline bool is_primitive(Op op) { return op_info(op).kind == OpKind::Primitive; }
inline bool is_view(Op op) { return op_info(op).kind == OpKind::View; }
/// rand, randn: computed element by element in the kernels that read them.
inline bool is_random(Op op) { return op_info(op).kind == OpKind::Random; }
inline OpTraits op_traits(Op op) { return op_info(op).traits; }
/// Integer inputs are computed as float32 (sqrt, exp, true division, ...).
inline bool is_float_math(Op op) { return op_info(op).traits == OpTraits::FloatMath; }
/// A bool result of two operands of one dtype.
inline bool is_comparison(Op op) { return op_info(op).traits == OpTraits::Compare; }
inline bool is_reduce(Op op) {
  return op_info(op).kind == OpKind::Reduce || op_info(op).kind == OpKind::Scan;
}

/// The attributes a node of `op` starts from (its ops.def entry's struct,
/// default values).
Attrs default_attrs(Op op);
/// "dim = 1, start = 0, ..." (every field; "" for none): for messages and keys.
std::string attrs_str(const Attrs& a);

struct Node;
using NodeRef = std::shared_ptr<Node>;
/// The caller's memory behind a from_blob tensor. The tensor's in-place
/// results carry it (Node::write_back) and are copied into it when they are
/// realized, as PyTorch's from_blob/from_numpy share both ways.
struct External {
  std::shared_ptr<Buffer> buffer;
  Layout layout;
  std::weak_ptr<Node> current;  // the node that aliases the memory now
};
/// Gradient bookkeeping of a tensor whose gradient is kept (defined with
/// the tensor, in tensor/tensor_impl.h: the graph holds it, never opens it).
struct AutogradMeta;

struct Node {
  Op op;
  DType dtype;
  Shape shape;
  /// Where the value is computed and kept: a leaf's is set by whoever made
  /// it (the CPU by default); an op's is its inputs' (all on one device).
  Device device = kCPU;
  Attrs attrs;
  std::vector<NodeRef> inputs;

  // Set once the value is computed: where it lives and how it is laid out.
  std::shared_ptr<Buffer> buffer;
  Layout layout;

  // Autodiff: gradients flow through nodes that require grad and stop at
  // grad leaves (tensors created with requires_grad, whose `meta` collects
  // the gradient). Nodes that require grad keep their inputs when realized,
  // since their gradient is built from them.
  bool requires_grad = false;
  bool grad_leaf = false;
  std::shared_ptr<AutogradMeta> meta;
  /// Set on a from_blob tensor's in-place results: realize() copies the
  /// value into the caller's memory and the node then aliases it.
  std::shared_ptr<External> write_back;

  /// Throws kiln::Error (an internal error) when `attrs` is not the struct
  /// ops.def names for `op`.
  Node(Op op, DType dtype, Shape shape, Attrs attrs, std::vector<NodeRef> inputs);

  /// The attributes as their struct (ops.def names it for each op).
  template <class A> const A& attr() const { return std::get<A>(attrs); }
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  bool realized() const { return buffer != nullptr; }
  int64_t numel() const;
  /// Marks the node computed: it keeps `buf` laid out as `layout`, forgets inputs.
  void set_realized(std::shared_ptr<Buffer> buf, Layout layout);
};

/// The dims a Reduce or Scan node folds (a scan of a 0-dim value: none).
Shape reduced_dims(const Node& n);

/// Number of Node objects alive (for the leak/flatness tests).
int64_t nodes_alive();

/// Whether new nodes record that they require grad (NoGradGuard turns it
/// off for the current thread).
bool grad_mode_enabled();
void set_grad_mode_enabled(bool enabled);

}  // namespace kiln
