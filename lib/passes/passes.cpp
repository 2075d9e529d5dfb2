#include "passes/passes.h"

#include <fmt/format.h>

#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "graph/builders.h"

namespace kiln::passes {

namespace {

bool is_full_of(const NodeRef& n, double v) {
  if (n->op != Op::Full || n->realized()) return false;
  const Scalar& x = n->attr<FullAttrs>().value;
  return x.to_double() == v && !x.is_bool();
}

// Every value of `from` survives a round trip through `via`.
bool widens(DType from, DType via) {
  if (from == via) return true;
  if (is_floating(from) && is_floating(via)) {
    if (via == kFloat64) return true;
    if (via == kFloat32) return from != kFloat64;
    return false;  // f16 and bf16 do not contain each other
  }
  if (is_integral(from) && is_integral(via))
    return element_size(via) > element_size(from) && (is_signed(via) || !is_signed(from));
  return from == kBool && via != kBool;
}

std::string key_of(const Node& n, const std::vector<NodeRef>& inputs) {
  std::string k = fmt::format("{}|{}|{}|{}", int(n.op), int(n.dtype), fmt::join(n.shape, ","), attrs_str(n.attrs));
  for (const NodeRef& x : inputs) k += fmt::format("|{}", static_cast<const void*>(x.get()));
  return k;
}

class Optimizer {
public:
  explicit Optimizer(const std::vector<NodeRef>& outputs) {
    // A requested view is realized over its base's buffer: the base, too,
    // must stay a buffer of its own (x * 1 folding to x would alias x).
    for (const NodeRef& o : outputs)
      for (const Node* n = o.get(); n; n = !n->realized() && is_view(n->op) ? n->inputs[0].get() : nullptr)
        keep_.insert(n);
  }

  NodeRef rebuild(const NodeRef& n) {
    if (auto it = memo_.find(n.get()); it != memo_.end()) return it->second.second;
    NodeRef r = n->realized() ? n : simplify(n);
    memo_[n.get()] = {n, r};
    return r;
  }

private:
  NodeRef simplify(const NodeRef& n) {
    std::vector<NodeRef> in;
    bool changed = false;
    for (const NodeRef& x : n->inputs) {
      in.push_back(rebuild(x));
      changed |= in.back() != x;
    }
    // Requested values keep their own node (and buffer): merging one with
    // another would let a write through one data pointer show in the other.
    bool requested = keep_.count(n.get()) > 0;
    if (n->op == Op::Sum)
      if (NodeRef m = pack_contraction(*n, in[0])) {
        in[0] = m;
        changed = true;
      }
    if (!requested)
      if (NodeRef f = fold(*n, in)) return f;
    std::string key = key_of(*n, in);
    if (!requested)
      if (auto it = table_.find(key); it != table_.end()) return it->second;
    NodeRef r = n;
    if (changed) {
      r = std::make_shared<Node>(n->op, n->dtype, n->shape, n->attrs, in);
      r->requires_grad = n->requires_grad;
    }
    table_.emplace(key, r);
    return r;
  }

  // A simpler node with the same value, or null.
  NodeRef fold(const Node& n, const std::vector<NodeRef>& in) {
    auto same_shape = [&](const NodeRef& x) { return x->shape == n.shape ? x : nullptr; };
    switch (n.op) {
      case Op::Mul:
        if (is_full_of(in[1], 1)) return same_shape(in[0]);
        if (is_full_of(in[0], 1)) return same_shape(in[1]);
        break;
      case Op::Div:
      case Op::Pow:
        if (is_full_of(in[1], 1)) return same_shape(in[0]);
        break;
      case Op::Copy:
        if (in[0]->op == Op::Copy && !in[0]->realized()) return in[0];
        break;
      case Op::Cast:
        // A lossless round trip: f32 -> f64 -> f32 is the identity.
        if (in[0]->op == Op::Cast && !in[0]->realized() && in[0]->inputs[0]->dtype == n.dtype &&
            widens(n.dtype, in[0]->dtype))
          return in[0]->inputs[0];
        break;
      case Op::Reshape:
        if (in[0]->shape == n.shape) return in[0];
        if (in[0]->op == Op::Reshape && !in[0]->realized()) return view(n, in[0]->inputs[0], n.attrs);
        break;
      case Op::Permute: {
        bool identity = true;
        const Shape& dims = n.attr<PermuteAttrs>().dims;
        for (size_t i = 0; i < dims.size(); ++i) identity &= dims[i] == int64_t(i);
        if (identity) return in[0];
        if (in[0]->op == Op::Permute && !in[0]->realized()) {
          PermuteAttrs a{dims};
          for (size_t i = 0; i < a.dims.size(); ++i) a.dims[i] = in[0]->attr<PermuteAttrs>().dims[size_t(dims[i])];
          return view(n, in[0]->inputs[0], a);
        }
        break;
      }
      case Op::Expand:
        if (in[0]->op == Op::Expand && !in[0]->realized()) return view(n, in[0]->inputs[0], n.attrs);
        break;
      default: break;
    }
    return nullptr;
  }

  // A contraction sum_k a[.., k] * b[.., k] (both operands broadcast, one
  // reduced dim) runs on the backend's tiled path only when each operand is
  // contiguous along k. An operand that is not (a transposed gradient, a
  // batch-major input in a weight gradient) is laid out with k innermost
  // first: its distinct elements (the broadcast dims sliced to one) copied
  // in that order and read back through views, the same value. Its producer
  // then runs once per element in the copy instead of once per use.
  NodeRef pack_contraction(const Node& sum, const NodeRef& mul) {
    if (mul->realized() || mul->op != Op::Mul || sum.attr<ReduceAttrs>().dims.size() != 1) return nullptr;
    if (mul->dtype != kFloat32 && mul->dtype != kFloat64) return nullptr;
    const Shape& full = mul->shape;
    size_t R = full.size(), d = size_t(sum.attr<ReduceAttrs>().dims[0]);
    if (full[d] <= 1) return nullptr;
    std::vector<NodeRef> ops = mul->inputs;
    bool changed = false;
    for (NodeRef& u : ops) {
      Shape s(R - u->shape.size(), 1);
      s.insert(s.end(), u->shape.begin(), u->shape.end());
      NodeRef v = s == u->shape ? u : graph::view(u, s);
      Layout l = graph::layout_of(v);
      std::vector<size_t> expanded;  // broadcast dims that hold a size (stride 0)
      bool broadcast = false;
      for (size_t i = 0; i < R; ++i) {
        if (s[i] == 1 && full[i] > 1) broadcast = true;
        if (s[i] > 1 && l.strides[i] == 0) {
          broadcast = true;
          expanded.push_back(i);
        }
      }
      // Not a contraction over d; or an operand constant along k (an expand),
      // which no layout makes a plain load contiguous along k.
      if (!broadcast || s[d] == 1 || l.strides[d] == 0) return nullptr;
      if (l.strides[d] == 1) continue;
      for (size_t b : expanded) v = graph::slice(v, int64_t(b), 0, 1);
      Shape p, inv(R);
      for (size_t i = 0; i < R; ++i)
        if (i != d) p.push_back(int64_t(i));
      p.push_back(int64_t(d));
      for (size_t i = 0; i < R; ++i) inv[size_t(p[i])] = int64_t(i);
      u = graph::permute(graph::copy(graph::permute(v, p)), inv);
      changed = true;
    }
    if (!changed) return nullptr;
    NodeRef m = graph::binary(Op::Mul, ops[0], ops[1]);
    if (m->shape != full) return nullptr;
    return rebuild(m);
  }

  // The view op of n applied directly to x (x composes with it: views of x
  // were valid when built, and their composition is a view of x).
  NodeRef view(const Node& n, const NodeRef& x, const Attrs& a) {
    if (!graph::apply_view(n.op, a, graph::layout_of(x))) return nullptr;
    auto r = std::make_shared<Node>(n.op, n.dtype, n.shape, a, std::vector<NodeRef>{x});
    r->requires_grad = n.requires_grad;
    return rebuild_new(r);
  }

  NodeRef rebuild_new(const NodeRef& r) {
    if (NodeRef f = fold(*r, r->inputs)) return f;
    std::string key = key_of(*r, r->inputs);
    if (auto it = table_.find(key); it != table_.end()) return it->second;
    table_.emplace(key, r);
    return r;
  }

  std::unordered_set<const Node*> keep_;
  // Keyed by address, so each key node is held too: a node the pass made and
  // dropped must not free its address for a later node to hit its entry.
  std::unordered_map<const Node*, std::pair<NodeRef, NodeRef>> memo_;
  std::unordered_map<std::string, NodeRef> table_;
};

}  // namespace

std::vector<NodeRef> optimize(const std::vector<NodeRef>& outputs) {
  Optimizer opt(outputs);
  std::vector<NodeRef> out;
  for (const NodeRef& o : outputs) out.push_back(opt.rebuild(o));
  return out;
}

}  // namespace kiln::passes
