#pragma once
// Building graph nodes: every op's shape rule and dtype rule, and the errors
// they raise. The Tensor API and graph values (graph/value.h) call these;
// nothing else creates nodes.
#include <optional>
#include <vector>

#include "graph/node.h"

namespace kiln::graph {

/// An operand for type promotion: a node, or a Python-style scalar (which
/// only decides the dtype when no tensor of its category does).
struct Operand {
  NodeRef node;              // null for a scalar
  std::optional<Scalar> scalar;
  Operand(NodeRef n) : node(std::move(n)) {}  // NOLINT
  Operand(const Scalar& s) : scalar(s) {}  // NOLINT
  DType dtype() const { return node ? node->dtype : scalar->default_dtype(); }
};

/// PyTorch's result_type over operands (dimensioned > 0-dim > scalars).
DType result_type(const std::vector<Operand>& ops);
/// Broadcast shape of a and b; throws kiln::Error naming `op` if none.
Shape broadcast(const Shape& a, const Shape& b, const char* op);

// ---- leaves ----
NodeRef buffer(std::shared_ptr<Buffer> buf, DType dtype, Layout layout);
NodeRef full(const Scalar& value, DType dtype, const Shape& shape);
/// rand or randn (op) of a floating dtype: element p of the contiguous
/// order from Philox block offset + p under key `seed`.
NodeRef random(Op op, DType dtype, const Shape& shape, uint64_t seed, uint64_t offset);

// ---- elementwise ----
/// Converts to `dtype` (returns `x` itself when it already has it).
NodeRef cast(const NodeRef& x, DType dtype);
NodeRef copy(const NodeRef& x);
NodeRef unary(Op op, const NodeRef& x);
/// Binary ops with PyTorch promotion; scalars become constants of the
/// computation dtype.
NodeRef binary(Op op, const Operand& a, const Operand& b);
NodeRef where(const NodeRef& cond, const Operand& a, const Operand& b);

// ---- views ----
/// The layout x has, or will have once computed (views compose over their
/// input's; other nodes are computed contiguously).
Layout layout_of(const NodeRef& x);
/// Applies a view op to a layout; nullopt if strides cannot express it.
std::optional<Layout> apply_view(Op op, const Attrs& attrs, const Layout& in);
/// `view` semantics: throws when strides cannot express the new shape.
NodeRef view(const NodeRef& x, const Shape& shape);
/// `reshape` semantics: a view when possible, else a copy then a view.
NodeRef reshape(const NodeRef& x, const Shape& shape);
NodeRef permute(const NodeRef& x, const Shape& dims);
NodeRef expand(const NodeRef& x, const Shape& shape, const char* op = "expand");
/// Elements start, start+step, ... (`length` of them) along dim (in range).
NodeRef slice(const NodeRef& x, int64_t dim, int64_t start, int64_t length, int64_t step = 1);
/// Inputs joined along dim (promoted to a common dtype).
NodeRef cat(const std::vector<NodeRef>& xs, int64_t dim);
/// A reduction (sum, prod, amax, amin, argmax, argmin) over `dims` (wrapped,
/// deduplicated); the result keeps the reduced dims as size 1. For cumsum,
/// dims holds the one scan dim and the shape is unchanged. Sums and products
/// of integers are int64 unless `acc` names the result dtype.
/// `user_op` names the op the user called in errors (default: op's own name).
NodeRef reduce(Op op, const NodeRef& x, const Shape& dims, std::optional<DType> acc = std::nullopt,
               const char* user_op = nullptr);
/// The dims a reduction of a rank-`rank` value over `dims` covers, wrapped,
/// in the order given (none given: all of them; a 0-dim value has none).
/// Throws naming `op` for a dim out of range or given twice.
Shape reduction_dims(int64_t rank, const Shape& dims, const char* op);
/// reduce() over every dim of x (the result keeps them as size 1). A large
/// contiguous sum or product, or max/min of values that need no gradient,
/// folds in two stages so that it runs on more than one thread.
NodeRef reduce_all(Op op, const NodeRef& x, const char* user_op = nullptr);
/// src read at data-dependent positions: output element i reads
/// src[j] where j[map[o]] = i[o] for each output dim o with map[o] >= 0, and
/// j[sel[k]] = idx[k][i]. Index inputs are int64, of `out_shape`, in range.
NodeRef index(const NodeRef& src, const std::vector<NodeRef>& idx, const Shape& map, const Shape& sel,
              const Shape& out_shape);
/// A copy of `base` where, for every i of the index shape, the element at
/// the position index() would read is set to (or, accumulating, increased
/// by) value[i] (value broadcasts to the index shape).
NodeRef index_put(const NodeRef& base, const NodeRef& value, const std::vector<NodeRef>& idx, const Shape& map,
                  const Shape& sel, bool accumulate);
/// The same value (sharing the buffer) with no gradient history.
NodeRef detach(const NodeRef& x);
/// The view `l` (over x's contiguous element order) of x.
NodeRef as_strided(const NodeRef& x, const Layout& l);
/// A copy of `base` whose elements at the view `l` are `src` (same shape as l).
NodeRef view_scatter(const NodeRef& base, const NodeRef& src, const Layout& l);
/// Resolves -1 in `shape` against numel; throws naming `op` if impossible.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op);

}  // namespace kiln::graph
