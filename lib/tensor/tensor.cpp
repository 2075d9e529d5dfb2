// kiln::Tensor: metadata, value access, views, elementwise ops and in-place
// ops. Shape/dtype rules live in graph/builders.cpp; this file is the surface.
#include <fmt/format.h>

#include <cstring>
#include <ostream>

#include "kiln/ops.h"
#include "kiln/runtime.h"
#include "autodiff/autodiff.h"
#include "tensor/print.h"
#include "tensor/tensor_impl.h"

namespace kiln {

using graph::Operand;

// ---------------------------------------------------------------- TensorImpl

const NodeRef& TensorImpl::node() {
  if (base_ && base_->version_ != base_version_) {
    node_ = graph::as_strided(base_->node(), in_base_);
    base_version_ = base_->version_;
  }
  return node_;
}

void TensorImpl::assign(const NodeRef& value) {
  // PyTorch's rule: a leaf that requires grad (or a view of one) cannot be
  // written in place while gradients are recorded.
  const NodeRef& root = base_ ? base_->node() : node();
  if (root->grad_leaf && grad_mode_enabled())
    throw Error(std::string("in-place operation on a ") + (base_ ? "view of a " : "") +
                "leaf tensor that requires grad; use kiln::NoGradGuard or detach() first");
  NodeRef v = graph::cast(value, node()->dtype);
  // A tensor written in place stays laid out contiguously, as in PyTorch.
  if (is_view(v->op)) v = graph::copy(v);
  if (v->shape != node_->shape)
    throw Error(fmt::format("in-place: result shape {} does not match the tensor's shape {}",
                            shape_str(v->shape), shape_str(node_->shape)));
  if (base_) {
    for (size_t i = 0; i < in_base_.shape.size(); ++i)
      if (in_base_.strides[i] == 0 && in_base_.shape[i] > 1)
        throw Error(fmt::format("in-place: unsupported operation on an expanded view (shape {}): more "
                                "than one element refers to the same memory location; clone() first",
                                shape_str(in_base_.shape)));
    // The view is then re-derived from the new base (node()), so it keeps
    // PyTorch's strides and aliases the base's buffer once computed.
    base_->rebind(graph::view_scatter(base_->node(), v, in_base_));
    return;
  }
  rebind(v);
}

void TensorImpl::rebind(NodeRef v) {
  // A leaf written under no_grad stays a leaf, with its gradient.
  if (node_->grad_leaf) {
    v = graph::detach(v);
    v->requires_grad = v->grad_leaf = true;
    v->meta = node_->meta;
  }
  if (external) v->write_back = external;
  node_ = std::move(v);
  version_++;
}

void TensorImpl::set_requires_grad(bool on) {
  const NodeRef& n = node();
  if (on && !is_floating(n->dtype))
    throw Error(fmt::format("requires_grad_: only tensors of floating point dtype can require gradients (got {})",
                            name(n->dtype)));
  if (n->requires_grad && !n->grad_leaf)
    throw Error("requires_grad_: you can only change requires_grad flags of leaf tensors; use detach()");
  if (n->grad_leaf == on) return;
  // A fresh node (sharing the value) so other tensors of this node are not affected.
  NodeRef leaf = graph::detach(n);
  leaf->requires_grad = leaf->grad_leaf = on;
  if (on) {
    if (!meta) meta = std::make_shared<AutogradMeta>();
    leaf->meta = meta;
  } else {
    meta.reset();
  }
  node_ = leaf;
}

Tensor TensorImpl::make_view(const std::shared_ptr<TensorImpl>& self, NodeRef view, Op op,
                             const Attrs& attrs) {
  auto impl = std::make_shared<TensorImpl>(std::move(view));
  Layout self_in_root = self->base_ ? self->in_base_ : Layout::contiguous(self->node()->shape);
  if (auto in_root = graph::apply_view(op, attrs, self_in_root)) {
    impl->base_ = self->base_ ? self->base_ : self;
    impl->in_base_ = *in_root;
    impl->base_version_ = impl->base_->version_;
  }
  return Tensor(impl);
}

Tensor wrap(NodeRef n) { return Tensor(std::make_shared<TensorImpl>(std::move(n))); }

Tensor view_of(const Tensor& t, NodeRef v, Op op, const Attrs& attrs) {
  if (v == t.impl()->node()) return t;
  return TensorImpl::make_view(t.impl(), std::move(v), op, attrs);
}

// -------------------------------------------------------------------- Tensor

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

void undefined_tensor(const char* op) {
  std::string_view name = op ? op : "";
  bool named = !name.empty() && name.find("operator") == std::string_view::npos && name[0] != '_';
  throw Error(fmt::format("{}: expected a defined tensor, got an undefined one (a default-constructed "
                          "kiln::Tensor holds no value)",
                          named ? name : "kiln"));
}

DType Tensor::dtype() const { return node_of(*this)->dtype; }
const Shape& Tensor::shape() const { return node_of(*this)->shape; }
namespace {
// PyTorch's IndexError for a dim of a 0-dim tensor.
void require_dims(const Tensor& t, int64_t d, const char* op) {
  if (node_of(t, op)->shape.empty())
    throw Error(fmt::format("{}: dimension specified as {} but tensor has no dimensions", op, d));
}
}  // namespace

int64_t Tensor::size(int64_t d) const {
  require_dims(*this, d, "size");
  return shape()[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::dim() const { return int64_t(node_of(*this, "dim")->shape.size()); }
int64_t Tensor::numel() const { return node_of(*this)->numel(); }
Device Tensor::device() const { return node_of(*this, "device")->device; }
Shape Tensor::strides() const { return graph::layout_of(node_of(*this)).strides; }
int64_t Tensor::stride(int64_t d) const {
  require_dims(*this, d, "stride");
  return strides()[wrap_dim(d, dim(), "stride")];
}
bool Tensor::is_contiguous() const { return graph::layout_of(node_of(*this)).is_contiguous(); }
bool Tensor::is_realized() const { return node_of(*this)->realized(); }

const Tensor& Tensor::realize() const {
  kiln::realize(std::vector<Tensor>{*this});
  return *this;
}

void* Tensor::data_ptr() const {
  realize();
  const auto& n = node_of(*this);
  return static_cast<char*>(n->buffer->data()) + n->layout.offset * element_size(n->dtype);
}

template <typename T> T* Tensor::data_ptr() const {
  if (dtype_of_v<T> != dtype())
    throw Error(fmt::format("data_ptr: expected a tensor of dtype {} but got {}", name(dtype_of_v<T>),
                            name(dtype())));
  return static_cast<T*>(data_ptr());
}

namespace {

// Element `i` (row-major over the layout's shape) converted to T.
template <typename T> T read_element(const Node& n, int64_t i) {
  const Layout& l = n.layout;
  int64_t off = l.offset;
  for (size_t d = l.shape.size(); d-- > 0;) {
    off += (i % l.shape[d]) * l.strides[d];
    i /= l.shape[d];
  }
  const char* p = static_cast<const char*>(n.buffer->data()) + off * element_size(n.dtype);
  return visit_dtype(n.dtype, [&](auto v) -> T {
    using S = decltype(v);
    S s;
    std::memcpy(&s, p, sizeof(S));
    if constexpr (std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>) {
      if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return T(float(s));
      else return static_cast<T>(float(s));
    } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      return T(float(s));
    } else {
      return static_cast<T>(s);
    }
  });
}

}  // namespace

template <typename T> T Tensor::item() const {
  if (node_of(*this, "item")->numel() != 1)
    throw Error(fmt::format("item: a Tensor with {} elements cannot be converted to a scalar (shape {})",
                            numel(), shape_str(shape())));
  realize();
  return read_element<T>(*node_of(*this), 0);
}

Scalar Tensor::item() const {
  DType t = dtype();
  if (t == kBool) return Scalar(item<bool>());
  if (is_integral(t)) return Scalar(item<int64_t>());
  return Scalar(item<double>());
}

template <typename T> std::vector<T> Tensor::to_vector() const {
  // As strict as data_ptr<T>(): a silent conversion would hide a dtype bug.
  if (node_of(*this, "to_vector")->dtype != dtype_of_v<T>)
    throw Error(fmt::format("to_vector: expected a tensor of dtype {} but got {} (shape {}); convert with .to() first",
                            name(dtype_of_v<T>), name(dtype()), shape_str(shape())));
  realize();
  const auto& n = node_of(*this);
  std::vector<T> out(size_t(n->numel()));
  if constexpr (!std::is_same_v<T, bool>) {
    if (n->layout.is_contiguous() && n->dtype == dtype_of_v<T> && !out.empty()) {
      std::memcpy(out.data(), data_ptr(), out.size() * sizeof(T));
      return out;
    }
  }
  for (int64_t i = 0; i < n->numel(); ++i) out[size_t(i)] = read_element<T>(*n, i);
  return out;
}

#define KILN_INSTANTIATE(T)                                 \
  template T Tensor::item<T>() const;                       \
  template std::vector<T> Tensor::to_vector<T>() const;     \
  template T* Tensor::data_ptr<T>() const;
KILN_INSTANTIATE(bool)
KILN_INSTANTIATE(int8_t)
KILN_INSTANTIATE(uint8_t)
KILN_INSTANTIATE(int16_t)
KILN_INSTANTIATE(int32_t)
KILN_INSTANTIATE(int64_t)
KILN_INSTANTIATE(Half)
KILN_INSTANTIATE(BFloat16)
KILN_INSTANTIATE(float)
KILN_INSTANTIATE(double)
#undef KILN_INSTANTIATE

std::string Tensor::str() const {
  if (!defined()) return "[ Tensor (undefined) ]";
  realize();
  const auto& n = node_of(*this);
  std::vector<std::string> extra;
  if (n->grad_leaf) extra.push_back("requires_grad=True");
  else if (n->requires_grad) extra.push_back("grad_fn=<" + autodiff::grad_fn_name(*n) + ">");
  return format_tensor(data_ptr(), n->dtype, n->shape, n->layout.strides, extra);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// ------------------------------------------------------------ views & shape

Tensor Tensor::to(DType t) const { return t == node_of(*this, "to")->dtype ? *this : wrap(graph::cast(node_of(*this), t)); }

Tensor Tensor::view(const Shape& shape) const {
  NodeRef v = graph::view(node_of(*this), shape);
  return view_of(*this, v, Op::Reshape, ShapeAttrs{v->shape});
}

Tensor Tensor::reshape(const Shape& shape) const {
  const NodeRef& x = node_of(*this);
  Shape to = graph::infer_shape(shape, x->numel(), "reshape");
  if (!graph::layout_of(x).reshape(to)) return wrap(graph::reshape(x, to));  // a copy
  return view(to);
}

Tensor Tensor::permute(const Shape& dims) const {
  NodeRef v = graph::permute(node_of(*this), dims);
  return view_of(*this, v, Op::Permute, v->attrs);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  int64_t n = dim();
  Shape dims = all_dims(n);
  if (n == 0) {
    wrap_dim(d0, 0, "transpose");
    wrap_dim(d1, 0, "transpose");
    return *this;
  }
  std::swap(dims[wrap_dim(d0, n, "transpose")], dims[wrap_dim(d1, n, "transpose")]);
  return permute(dims);
}

Tensor Tensor::t() const {
  if (dim() > 2)
    throw Error(fmt::format("t: expects a tensor with <= 2 dimensions, but got {} (shape {}); use "
                            "transpose() or permute()",
                            dim(), shape_str(shape())));
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::T() const {
  Shape dims(static_cast<size_t>(dim()));
  for (int64_t i = 0; i < dim(); ++i) dims[i] = dim() - 1 - i;
  return permute(dims);
}

Tensor Tensor::expand(const Shape& shape) const {
  NodeRef v = graph::expand(node_of(*this), shape);
  return view_of(*this, v, Op::Expand, v->attrs);
}

Tensor Tensor::expand_as(const Tensor& other) const { return expand(other.shape()); }

Tensor Tensor::unsqueeze(int64_t d) const {
  Shape s = shape();
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  s.insert(s.begin() + d, 1);
  return view(s);
}

Tensor Tensor::squeeze() const {
  Shape s;
  for (int64_t d : shape())
    if (d != 1) s.push_back(d);
  return view(s);
}

Tensor Tensor::squeeze(int64_t d) const {
  Shape s = shape();
  if (s.empty()) {
    wrap_dim(d, 0, "squeeze");
    return *this;
  }
  d = wrap_dim(d, dim(), "squeeze");
  if (s[d] != 1) return *this;
  s.erase(s.begin() + d);
  return view(s);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) {
    wrap_dim(start, 0, "flatten");
    wrap_dim(end, 0, "flatten");
    return reshape({1});
  }
  start = wrap_dim(start, dim(), "flatten");
  end = wrap_dim(end, dim(), "flatten");
  if (start > end)
    throw Error(fmt::format("flatten: start_dim ({}) cannot come after end_dim ({})", start, end));
  Shape s(shape().begin(), shape().begin() + start);
  int64_t m = 1;
  for (int64_t i = start; i <= end; ++i) m *= shape()[i];
  s.push_back(m);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }
Tensor Tensor::clone() const {
  Tensor c = wrap(graph::copy(node_of(*this)));
  // A copy of the caller's memory (from_blob) is taken now, as PyTorch's is:
  // later writes to that memory do not reach it.
  const Node* root = node_of(*this).get();
  while (!root->realized() && is_view(root->op)) root = root->inputs[0].get();
  if (root->realized() && root->buffer->borrowed()) c.realize();
  return c;
}

// --------------------------------------------------------------- elementwise

namespace {

Tensor bin(Op op, const Operand& a, const Operand& b) { return wrap(graph::binary(op, a, b)); }

// a + alpha * b; a float alpha needs a float result (PyTorch's rule).
Tensor add_alpha(Op op, const Operand& a, const Operand& b, const Scalar& alpha) {
  if (alpha == Scalar(1)) return bin(op, a, b);
  DType t = graph::result_type({a, b});
  if (!is_floating(t) && alpha.is_floating())
    throw Error(fmt::format("{}: for integral input tensors (dtype {}), argument alpha must not be a "
                            "floating point number (got {})",
                            op_name(op), name(t), alpha.str()));
  if (t == kBool && !alpha.is_bool())
    throw Error(fmt::format("{}: boolean alpha only supported for bool tensors", op_name(op)));
  Operand scaled = b.node ? Operand(graph::binary(Op::Mul, graph::cast(b.node, t), alpha))
                          : Operand(graph::binary(Op::Mul, graph::full(*b.scalar, t, {}), alpha));
  return bin(op, a, scaled);
}

NodeRef n(const Tensor& t, const char* op = __builtin_FUNCTION()) { return node_of(t, op); }

}  // namespace

Tensor Tensor::add(const Tensor& o, const Scalar& alpha) const { return add_alpha(Op::Add, n(*this), n(o), alpha); }
Tensor Tensor::add(const Scalar& o, const Scalar& alpha) const { return add_alpha(Op::Add, n(*this), o, alpha); }
Tensor Tensor::sub(const Tensor& o, const Scalar& alpha) const { return add_alpha(Op::Sub, n(*this), n(o), alpha); }
Tensor Tensor::sub(const Scalar& o, const Scalar& alpha) const { return add_alpha(Op::Sub, n(*this), o, alpha); }
Tensor Tensor::mul(const Tensor& o) const { return bin(Op::Mul, n(*this), n(o)); }
Tensor Tensor::mul(const Scalar& o) const { return bin(Op::Mul, n(*this), o); }
Tensor Tensor::div(const Tensor& o) const { return bin(Op::Div, n(*this), n(o)); }
Tensor Tensor::div(const Scalar& o) const { return bin(Op::Div, n(*this), o); }
Tensor Tensor::pow(const Tensor& e) const { return bin(Op::Pow, n(*this), n(e)); }
Tensor Tensor::pow(const Scalar& e) const {
  if (!is_floating(dtype()) && !e.is_floating() && e.to_int() < 0)
    throw Error(fmt::format("pow: integers to negative integer powers are not allowed (dtype {}, "
                            "exponent {})",
                            name(dtype()), e.str()));
  // (PyTorch's special exponents 2, 3, 0.5, -0.5, -1, -2 take their faster,
  // differently rounded paths in the CPU backend.)
  return bin(Op::Pow, n(*this), e);
}
Tensor Tensor::maximum(const Tensor& o) const { return bin(Op::Maximum, n(*this), n(o)); }
Tensor Tensor::minimum(const Tensor& o) const { return bin(Op::Minimum, n(*this), n(o)); }
Tensor Tensor::eq(const Tensor& o) const { return bin(Op::Eq, n(*this), n(o)); }
Tensor Tensor::eq(const Scalar& o) const { return bin(Op::Eq, n(*this), o); }
Tensor Tensor::ne(const Tensor& o) const { return bin(Op::Ne, n(*this), n(o)); }
Tensor Tensor::ne(const Scalar& o) const { return bin(Op::Ne, n(*this), o); }
Tensor Tensor::lt(const Tensor& o) const { return bin(Op::Lt, n(*this), n(o)); }
Tensor Tensor::lt(const Scalar& o) const { return bin(Op::Lt, n(*this), o); }
Tensor Tensor::le(const Tensor& o) const { return bin(Op::Le, n(*this), n(o)); }
Tensor Tensor::le(const Scalar& o) const { return bin(Op::Le, n(*this), o); }
Tensor Tensor::gt(const Tensor& o) const { return bin(Op::Gt, n(*this), n(o)); }
Tensor Tensor::gt(const Scalar& o) const { return bin(Op::Gt, n(*this), o); }
Tensor Tensor::ge(const Tensor& o) const { return bin(Op::Ge, n(*this), n(o)); }
Tensor Tensor::ge(const Scalar& o) const { return bin(Op::Ge, n(*this), o); }

Tensor Tensor::clamp(std::optional<Scalar> lo, std::optional<Scalar> hi) const {
  if (!lo && !hi) throw Error("clamp: at least one of 'min' or 'max' must not be None");
  Tensor r = *this;
  if (lo) r = bin(Op::ClampMin, n(r), *lo);
  if (hi) r = bin(Op::ClampMax, n(r), *hi);
  return r;
}

Tensor Tensor::clamp(const std::optional<Tensor>& lo, const std::optional<Tensor>& hi) const {
  if (!lo && !hi) throw Error("clamp: at least one of 'min' or 'max' must not be None");
  Shape shape = n(*this, "clamp")->shape;
  if (lo) shape = graph::broadcast(shape, n(*lo, "clamp")->shape, "clamp");
  if (hi) shape = graph::broadcast(shape, n(*hi, "clamp")->shape, "clamp");
  Tensor r = *this;
  if (lo) r = bin(Op::ClampMin, n(r), n(*lo));
  if (hi) r = bin(Op::ClampMax, n(r), n(*hi));
  return r;
}

#define KILN_UNARY(method, OP) \
  Tensor Tensor::method() const { return wrap(graph::unary(Op::OP, n(*this))); }
KILN_UNARY(neg, Neg)
KILN_UNARY(abs, Abs)
KILN_UNARY(sqrt, Sqrt)
KILN_UNARY(exp, Exp)
KILN_UNARY(log, Log)
KILN_UNARY(sin, Sin)
KILN_UNARY(cos, Cos)
KILN_UNARY(tan, Tan)
KILN_UNARY(tanh, Tanh)
KILN_UNARY(sigmoid, Sigmoid)
KILN_UNARY(relu, Relu)
KILN_UNARY(logical_not, LogicalNot)
#undef KILN_UNARY

// ------------------------------------------------------------------ in place

namespace {

// PyTorch's can_cast: no float -> integer, no number -> bool.
void check_inplace_cast(const char* op, DType result, DType self) {
  auto cat = [](DType t) { return t == kBool ? 0 : is_floating(t) ? 2 : 1; };
  if (cat(result) > cat(self))
    throw Error(fmt::format("{}: result type {} can't be cast to the desired output type {}", op,
                            name(result), name(self)));
}

}  // namespace

namespace {
// Rebinds `self` to `r` (an op's result on self), as PyTorch's in-place ops.
Tensor& write_back(Tensor& self, const char* op, const Tensor& r) {
  if (r.shape() != self.shape())
    throw Error(fmt::format("{}: output with shape {} doesn't match the broadcast shape {}", op,
                            shape_str(self.shape()), shape_str(r.shape())));
  check_inplace_cast(op, r.dtype(), self.dtype());
  self.impl()->assign(node_of(r));
  return self;
}
}  // namespace

Tensor& Tensor::add_(const Tensor& o, const Scalar& alpha) { return write_back(*this, "add_", add(o, alpha)); }
Tensor& Tensor::add_(const Scalar& o, const Scalar& alpha) { return write_back(*this, "add_", add(o, alpha)); }
Tensor& Tensor::sub_(const Tensor& o, const Scalar& alpha) { return write_back(*this, "sub_", sub(o, alpha)); }
Tensor& Tensor::sub_(const Scalar& o, const Scalar& alpha) { return write_back(*this, "sub_", sub(o, alpha)); }
Tensor& Tensor::mul_(const Tensor& o) { return write_back(*this, "mul_", mul(o)); }
Tensor& Tensor::mul_(const Scalar& o) { return write_back(*this, "mul_", mul(o)); }
Tensor& Tensor::div_(const Tensor& o) { return write_back(*this, "div_", div(o)); }
Tensor& Tensor::div_(const Scalar& o) { return write_back(*this, "div_", div(o)); }

Tensor& Tensor::fill_(const Scalar& v) {
  if (!v.fits(dtype()))
    throw Error(fmt::format("fill_: value {} cannot be converted to type {} without overflow", v.str(), name(dtype())));
  impl_->assign(graph::full(v, dtype(), shape()));
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

Tensor& Tensor::copy_(const Tensor& src) {
  NodeRef s = n(src);
  graph::broadcast(s->shape, shape(), "copy_");
  impl_->assign(graph::copy(graph::expand(graph::cast(s, dtype()), shape())));
  return *this;
}

}  // namespace kiln
