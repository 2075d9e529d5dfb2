// Shape and dtype rules of every op, and the user errors they raise.
#include "graph/builders.h"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::graph {

namespace {

NodeRef make(Op op, DType dtype, Shape shape, std::vector<NodeRef> inputs, Attrs attrs = NoAttrs{}) {
  auto n = std::make_shared<Node>(op, dtype, std::move(shape), std::move(attrs), std::move(inputs));
  // A float result of an input that requires grad requires grad (integer
  // and bool values carry no gradient).
  if (grad_mode_enabled() && is_floating(n->dtype))
    for (const NodeRef& x : n->inputs)
      if (x->requires_grad) {
        n->requires_grad = true;
        break;
      }
  return n;
}

// PyTorch's combine_categories: a higher-priority class of operands decides
// the dtype unless a lower one brings a higher category.
std::optional<DType> combine(std::optional<DType> higher, std::optional<DType> lower) {
  if (!higher) return lower;
  if (!lower) return higher;
  if (is_floating(*higher)) return higher;
  if (*higher == kBool || is_floating(*lower)) return promote_types(*higher, *lower);
  return higher;
}

// PyTorch's result_type over operands get(0), ..., get(n - 1), by reference:
// building an op runs this, and copying an Operand copies its NodeRef.
template <class Get>
DType result_type_of(size_t n, Get get) {
  std::optional<DType> dim, zero, wrapped;
  auto upd = [](std::optional<DType>& s, DType t) { s = s ? promote_types(*s, t) : t; };
  for (size_t i = 0; i < n; ++i) {
    const Operand& o = get(i);
    if (!o.node) {
      // A Python float scalar counts as the default dtype (float32).
      upd(wrapped, o.scalar->default_dtype());
    } else if (o.node->shape.empty()) {
      upd(zero, o.node->dtype);
    } else {
      upd(dim, o.node->dtype);
    }
  }
  return *combine(dim, combine(zero, wrapped));
}

DType result_type_of(const Operand& a, const Operand& b) {
  return result_type_of(2, [&](size_t i) -> const Operand& { return i ? b : a; });
}
}  // namespace

DType result_type(const std::vector<Operand>& ops) {
  return result_type_of(ops.size(), [&](size_t i) -> const Operand& { return ops[i]; });
}

Shape broadcast(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error(fmt::format(
          "{}: the size of tensor a ({}) must match the size of tensor b ({}) at non-singleton "
          "dimension {} (shapes {} and {} do not broadcast)",
          op, da, db, i, shape_str(a), shape_str(b)));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

NodeRef buffer(std::shared_ptr<Buffer> buf, DType dtype, Layout layout) {
  auto n = make(Op::Buffer, dtype, layout.shape, {});
  n->set_realized(std::move(buf), std::move(layout));
  return n;
}

NodeRef full(const Scalar& value, DType dtype, const Shape& shape) {
  return make(Op::Full, dtype, shape, {}, FullAttrs{value});
}

NodeRef random(Op op, DType dtype, const Shape& shape, uint64_t seed, uint64_t offset) {
  if (!is_random(op) || !is_floating(dtype))
    throw Error(fmt::format("kiln: internal: {} of {}", op_name(op), name(dtype)));
  return make(op, dtype, shape, {}, RandomAttrs{int64_t(seed), int64_t(offset)});
}

NodeRef cast(const NodeRef& x, DType dtype) {
  if (x->dtype == dtype) return x;
  // A constant is cast at build time: kernels then see one constant.
  if (x->op == Op::Full) {
    Scalar v = x->attr<FullAttrs>().value;
    if (dtype == kBool) v = Scalar(v.to_bool());
    else if (is_integral(dtype)) v = Scalar(v.to_int());
    else v = Scalar(v.to_double());
    return full(v, dtype, x->shape);
  }
  return make(Op::Cast, dtype, x->shape, {x});
}

NodeRef copy(const NodeRef& x) { return make(Op::Copy, x->dtype, x->shape, {x}); }

NodeRef unary(Op op, const NodeRef& x) {
  const char* opname = op_name(op);
  DType t = x->dtype;
  switch (op_traits(op)) {
    case OpTraits::NoBool:
      if (t == kBool)
        throw Error(fmt::format("{}: not supported for bool tensors (shape {}); use logical_not() to "
                                "invert a mask",
                                opname, shape_str(x->shape)));
      break;
    case OpTraits::BoolResult: return make(op, kBool, x->shape, {x});
    case OpTraits::IntIdentity:
      if (!is_floating(t)) return x;
      break;
    case OpTraits::FloatMath:
      if (!is_floating(t)) return make(op, kFloat32, x->shape, {cast(x, kFloat32)});
      break;
    default: break;
  }
  return make(op, t, x->shape, {x});
}

NodeRef binary(Op op, const Operand& a, const Operand& b) {
  const char* opname = op_name(op);
  DType compute = result_type_of(a, b);
  if (is_float_math(op) && !is_floating(compute)) compute = kFloat32;
  if (op_traits(op) == OpTraits::NoBool && compute == kBool)
    throw Error(fmt::format("{0}: {0} of two bool tensors is not supported; use logical_xor() or logical_not() "
                            "instead",
                            opname));
  auto node_of = [&](const Operand& o) {
    return o.node ? cast(o.node, compute) : full(*o.scalar, compute, {});
  };
  std::vector<NodeRef> in;
  in.reserve(2);
  in.push_back(node_of(a));
  in.push_back(node_of(b));
  Shape shape = broadcast(in[0]->shape, in[1]->shape, opname);
  DType out = is_comparison(op) ? kBool : compute;
  return make(op, out, std::move(shape), std::move(in));
}

NodeRef where(const NodeRef& cond, const Operand& a, const Operand& b) {
  if (cond->dtype != kBool)
    throw Error(fmt::format("where: expected condition to be a bool tensor, but got {} (shape {})",
                            name(cond->dtype), shape_str(cond->shape)));
  DType t = result_type_of(a, b);
  NodeRef x = a.node ? cast(a.node, t) : full(*a.scalar, t, {});
  NodeRef y = b.node ? cast(b.node, t) : full(*b.scalar, t, {});
  Shape shape = broadcast(broadcast(cond->shape, x->shape, "where"), y->shape, "where");
  return make(Op::Where, t, std::move(shape), {cond, x, y});
}

// ---- views ----

std::optional<Layout> apply_view(Op op, const Attrs& attrs, const Layout& in) {
  switch (op) {
    case Op::Reshape: return in.reshape(std::get<ShapeAttrs>(attrs).shape);
    case Op::Permute: return in.permute(std::get<PermuteAttrs>(attrs).dims);
    case Op::Expand: return in.expand(std::get<ShapeAttrs>(attrs).shape);
    case Op::Detach: return in;
    case Op::Slice: {
      Layout l = in;
      const auto& [dim, start, len, step] = std::get<SliceAttrs>(attrs);
      l.offset += start * l.strides[dim];
      l.shape[dim] = len;
      l.strides[dim] *= step;
      return l;
    }
    case Op::AsStrided: {
      if (!in.is_contiguous()) return std::nullopt;
      Layout l = std::get<StridedAttrs>(attrs).layout();
      l.offset += in.offset;
      return l;
    }
    default: break;
  }
  throw Error(fmt::format("internal: {} is not a view op", op_name(op)));
}

Layout layout_of(const NodeRef& x) {
  // Down the chain of unrealized views to what has a layout of its own,
  // then back up applying each view (a loop: chains can be any length).
  std::vector<const Node*> views;
  const Node* n = x.get();
  for (; !n->realized() && is_view(n->op); n = n->inputs[0].get()) views.push_back(n);
  Layout l = n->realized() ? n->layout : Layout::contiguous(n->shape);
  for (size_t i = views.size(); i-- > 0;) {
    auto next = apply_view(views[i]->op, views[i]->attrs, l);
    if (!next) throw Error("internal: view " + std::string(op_name(views[i]->op)) + " no longer composes");
    l = std::move(*next);
  }
  return l;
}

namespace {

// A view node; computed at once (sharing the buffer) when its input is.
NodeRef make_view(Op op, const NodeRef& x, Shape shape, Attrs attrs) {
  auto n = make(op, x->dtype, std::move(shape), {x}, attrs);
  if (x->realized()) n->set_realized(x->buffer, *apply_view(op, attrs, x->layout));
  return n;
}

}  // namespace

Shape infer_shape(const Shape& shape, int64_t n, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw Error(fmt::format("{}: only one dimension can be inferred (got {})", op, shape_str(shape)));
      infer = int64_t(i);
    } else if (shape[i] < 0) {
      throw Error(fmt::format("{}: invalid shape dimension {} in {}", op, shape[i], shape_str(shape)));
    } else if (__builtin_mul_overflow(known, shape[i], &known)) {
      throw Error(fmt::format("{}: shape {} has too many elements", op, shape_str(shape)));
    }
  }
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      throw Error(fmt::format("{}: shape {} is invalid for input of size {}", op, shape_str(shape), n));
    out[infer] = n / known;
  } else if (known != n) {
    throw Error(fmt::format("{}: shape {} is invalid for input of size {}", op, shape_str(shape), n));
  }
  return out;
}

NodeRef view(const NodeRef& x, const Shape& shape) {
  Shape to = infer_shape(shape, x->numel(), "view");
  ShapeAttrs a{to};
  if (!layout_of(x).reshape(to))
    throw Error(fmt::format("view: view size {} is not compatible with input tensor's size {} and "
                            "stride {} (at least one dimension spans across two contiguous "
                            "subspaces); use reshape() instead",
                            shape_str(to), shape_str(x->shape), shape_str(layout_of(x).strides)));
  return make_view(Op::Reshape, x, to, a);
}

NodeRef reshape(const NodeRef& x, const Shape& shape) {
  Shape to = infer_shape(shape, x->numel(), "reshape");
  if (to == x->shape) return x;
  ShapeAttrs a{to};
  NodeRef in = layout_of(x).reshape(to) ? x : copy(x);
  return make_view(Op::Reshape, in, to, a);
}

NodeRef permute(const NodeRef& x, const Shape& dims) {
  int64_t n = int64_t(x->shape.size());
  if (int64_t(dims.size()) != n)
    throw Error(fmt::format("permute: number of dims don't match: got {} for a tensor of shape {}",
                            shape_str(dims), shape_str(x->shape)));
  Shape d(dims.size());
  std::vector<bool> seen(n, false);
  for (int64_t i = 0; i < n; ++i) {
    d[i] = wrap_dim(dims[i], n, "permute");
    if (seen[d[i]]) throw Error(fmt::format("permute: repeated dim in {}", shape_str(dims)));
    seen[d[i]] = true;
  }
  Shape shape(n);
  for (int64_t i = 0; i < n; ++i) shape[i] = x->shape[d[i]];
  return make_view(Op::Permute, x, shape, PermuteAttrs{d});
}

NodeRef expand(const NodeRef& x, const Shape& shape, const char* op) {
  const Shape& in = x->shape;
  if (shape.size() < in.size())
    throw Error(fmt::format("{}: the number of sizes provided ({}) must be greater or equal to "
                            "the number of dimensions in the tensor ({}); shape {} to {}",
                            op, shape.size(), in.size(), shape_str(in), shape_str(shape)));
  Shape to = shape;
  size_t lead = shape.size() - in.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      if (shape[i] < 0) throw Error(fmt::format("{}: -1 is not allowed in a leading, new dimension ({})", op, shape_str(shape)));
      continue;
    }
    int64_t d = in[i - lead];
    if (shape[i] == -1) to[i] = d;
    else if (d != 1 && d != shape[i])
      throw Error(fmt::format("{}: the expanded size of the tensor ({}) must match the existing "
                              "size ({}) at non-singleton dimension {}; shape {} to {}",
                              op, shape[i], d, i, shape_str(in), shape_str(shape)));
  }
  int64_t total = 1;
  for (int64_t d : to)
    if (d < 0 || __builtin_mul_overflow(total, d, &total))
      throw Error(fmt::format("{}: shape {} to {}: {}", op, shape_str(in), shape_str(shape),
                              d < 0 ? "negative size" : "too many elements (overflows int64)"));
  if (to == in) return x;
  return make_view(Op::Expand, x, to, ShapeAttrs{to});
}

NodeRef slice(const NodeRef& x, int64_t dim, int64_t start, int64_t length, int64_t step) {
  if (start == 0 && step == 1 && length == x->shape[dim]) return x;
  Shape shape = x->shape;
  shape[dim] = length;
  return make_view(Op::Slice, x, shape, SliceAttrs{dim, start, length, step});
}

NodeRef cat(const std::vector<NodeRef>& xs, int64_t dim) {
  if (xs.empty()) throw Error("cat: expected a non-empty list of tensors");
  // PyTorch skips 1-d empty tensors (legacy behaviour) when others exist.
  std::vector<NodeRef> ins;
  for (const NodeRef& x : xs)
    if (!(x->shape.size() == 1 && x->shape[0] == 0)) ins.push_back(x);
  if (ins.empty()) ins.push_back(xs[0]);
  const Shape& ref = ins[0]->shape;
  int64_t d = wrap_dim(dim, int64_t(ref.size()), "cat");
  if (ref.empty()) throw Error("cat: zero-dimensional tensor cannot be concatenated");
  std::vector<Operand> ops(ins.begin(), ins.end());
  DType t = result_type(ops);
  Shape shape = ref;
  shape[d] = 0;
  for (size_t i = 0; i < ins.size(); ++i) {
    const Shape& s = ins[i]->shape;
    bool ok = s.size() == ref.size();
    for (size_t k = 0; ok && k < s.size(); ++k) ok = (int64_t(k) == d) || s[k] == ref[k];
    if (!ok)
      throw Error(fmt::format("cat: sizes of tensors must match except in dimension {}: tensor 0 has "
                              "shape {} but tensor {} has shape {}",
                              d, shape_str(ref), i, shape_str(s)));
    shape[d] += s[d];
  }
  std::vector<NodeRef> casted;
  for (const NodeRef& x : ins) casted.push_back(cast(x, t));
  if (casted.size() == 1) return copy(casted[0]);
  return make(Op::Cat, t, shape, casted, CatAttrs{d});
}

NodeRef reduce(Op op, const NodeRef& x, const Shape& dims, std::optional<DType> acc, const char* user_op) {
  const char* opname = user_op ? user_op : op_name(op);
  int64_t n = int64_t(x->shape.size());
  Shape ds;
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, n, opname);
    if (n == 0) continue;  // a 0-dim tensor reduces over nothing
    if (std::find(ds.begin(), ds.end(), w) != ds.end())
      throw Error(fmt::format("{}: dim {} appears multiple times in the list of dims", opname, w));
    ds.push_back(w);
  }
  std::sort(ds.begin(), ds.end());
  Shape shape = x->shape;
  bool empty = false;
  for (int64_t d : ds) {
    empty |= shape[d] == 0;
    shape[d] = 1;
  }
  // max/min/argmax of nothing has no value (bool max/min does: false/true).
  bool has_identity = op == Op::Sum || op == Op::Prod || op == Op::Cumsum ||
                      (x->dtype == kBool && (op == Op::Amax || op == Op::Amin));
  if (!has_identity && empty && numel(shape) > 0)
    throw Error(fmt::format("{}: cannot reduce a tensor with no elements (shape {}) over dims {}: the "
                            "operation has no identity",
                            opname, shape_str(x->shape), shape_str(ds)));
  DType t = x->dtype;
  if ((op == Op::Sum || op == Op::Prod || op == Op::Cumsum) && !is_floating(t)) t = kInt64;
  if (acc) t = *acc;
  if (op == Op::Argmax || op == Op::Argmin) t = kInt64;
  NodeRef in = (op == Op::Sum || op == Op::Prod || op == Op::Cumsum) ? cast(x, t) : x;
  if (op == Op::Cumsum) return make(op, t, x->shape, {in}, ScanAttrs{ds.empty() ? 0 : ds[0]});
  return make(op, t, shape, {in}, ReduceAttrs{ds});
}

Shape reduction_dims(int64_t rank, const Shape& dims, const char* op) {
  if (dims.empty()) return all_dims(rank);
  if (rank == 0) {  // dim 0 (or -1) of a 0-dim value: the value itself, as in PyTorch
    for (int64_t d : dims) wrap_dim(d, 0, op);
    return {};
  }
  Shape out;
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, rank, op);
    if (std::find(out.begin(), out.end(), w) != out.end())
      throw Error(fmt::format("{}: dim {} appears multiple times in the list of dims", op, w));
    out.push_back(w);
  }
  return out;
}

namespace {
// A reduction of everything to one value would run on one thread (threads
// split output elements). Large ones are folded in two stages instead: a
// fixed number of chunks in parallel, then their partial results. The chunk
// count depends on the size only, so results never depend on the thread
// count. (max/min under autograd stay whole: ties must share the gradient
// evenly across chunks.)
constexpr int64_t kSplitAt = int64_t(1) << 18, kChunks = 64;

bool splits_in_two_stages(Op op, const NodeRef& x) {
  bool splittable = op == Op::Sum || op == Op::Prod || ((op == Op::Amax || op == Op::Amin) && !x->requires_grad);
  return splittable && x->numel() >= kSplitAt && layout_of(x).is_contiguous();
}
}  // namespace

NodeRef reduce_all(Op op, const NodeRef& x, const char* user_op) {
  int64_t rank = int64_t(x->shape.size());
  if (!splits_in_two_stages(op, x)) return reduce(op, x, all_dims(rank), std::nullopt, user_op);
  DType t = x->dtype;
  // Partial sums of low-precision floats stay in float32: one rounding at the end.
  std::optional<DType> acc;
  if ((t == kFloat16 || t == kBFloat16) && (op == Op::Sum || op == Op::Prod)) acc = kFloat32;
  int64_t n = x->numel(), q = n / kChunks, body = q * kChunks;
  NodeRef flat = view(x, {n});
  NodeRef parts = reduce(op, view(slice(flat, 0, 0, body), {kChunks, q}), {1}, acc);
  NodeRef total = reduce(op, parts, {0, 1});
  if (body < n) {
    NodeRef tail = view(reduce(op, slice(flat, 0, body, n - body), {0}, acc), {1, 1});
    Op merge = op == Op::Sum ? Op::Add : op == Op::Prod ? Op::Mul : op == Op::Amax ? Op::Maximum : Op::Minimum;
    total = binary(merge, total, tail);
  }
  if (acc) total = cast(total, t);
  return view(total, Shape(size_t(rank), 1));
}

namespace {
void check_index_inputs(const char* op, const std::vector<NodeRef>& idx, const Shape& shape) {
  for (const NodeRef& i : idx)
    if (i->dtype != kInt64 || i->shape != shape)
      throw Error(fmt::format("{}: internal: index inputs must be int64 of shape {} (got {}{})", op,
                              shape_str(shape), name(i->dtype), shape_str(i->shape)));
}
}  // namespace

NodeRef index(const NodeRef& src, const std::vector<NodeRef>& idx, const Shape& map, const Shape& sel,
              const Shape& out_shape) {
  check_index_inputs("index", idx, out_shape);
  std::vector<NodeRef> ins = {src};
  ins.insert(ins.end(), idx.begin(), idx.end());
  return make(Op::Index, src->dtype, out_shape, ins, IndexAttrs{map, sel});
}

NodeRef index_put(const NodeRef& base, const NodeRef& value, const std::vector<NodeRef>& idx, const Shape& map,
                  const Shape& sel, bool accumulate) {
  const Shape& iter = idx.at(0)->shape;
  check_index_inputs("index_put", idx, iter);
  IndexPutAttrs a{map, sel, accumulate};
  std::vector<NodeRef> ins = {base, expand(cast(value, base->dtype), iter)};
  ins.insert(ins.end(), idx.begin(), idx.end());
  return make(Op::IndexPut, base->dtype, base->shape, ins, a);
}

NodeRef detach(const NodeRef& x) {
  auto n = std::make_shared<Node>(Op::Detach, x->dtype, x->shape, NoAttrs{}, std::vector<NodeRef>{x});
  if (x->realized()) n->set_realized(x->buffer, x->layout);
  return n;
}

NodeRef as_strided(const NodeRef& x, const Layout& l) {
  NodeRef in = layout_of(x).is_contiguous() ? x : copy(x);
  return make_view(Op::AsStrided, in, l.shape, StridedAttrs::of(l));
}

NodeRef view_scatter(const NodeRef& base, const NodeRef& src, const Layout& l) {
  return make(Op::ViewScatter, base->dtype, base->shape, {base, cast(src, base->dtype)}, StridedAttrs::of(l));
}

}  // namespace kiln::graph
