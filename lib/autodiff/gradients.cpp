// The gradient rule of every op, written on graph values (compare
// PyTorch's derivatives.yaml). Each rule receives the node, its inputs and
// the gradient of its output, and returns one gradient per input. Values
// build the nodes the Tensor API would, but never compute anything.
#include <cmath>

#include "autodiff/autodiff.h"
#include "graph/value.h"

namespace kiln::autodiff {

using graph::Value;

namespace {

// Sums a broadcast gradient back to the shape its input had.
Value unbroadcast(const Value& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  int64_t lead = g.dim() - int64_t(shape.size());
  Shape dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.size(d) != 1)) dims.push_back(d);
  Value r = dims.empty() ? g : g.sum(dims, true);
  return r.reshape(shape);
}

Value zeros_of(const NodeRef& x) { return Value::zeros(x->shape, x->dtype); }

Layout attrs_layout(const Node& n) { return n.attr<StridedAttrs>().layout(); }

// Gradient of a view given by `l` (over x's contiguous order): the
// gradient written into zeros at the view's positions.
Value scatter_view(const Value& g, const NodeRef& x, const Layout& l) {
  Value src = g;
  Layout lay = l;
  // Stride-0 dims read one element many times: their gradients add up.
  Shape summed;
  for (size_t d = 0; d < lay.shape.size(); ++d)
    if (lay.strides[d] == 0 && lay.shape[d] > 1) summed.push_back(int64_t(d));
  if (!summed.empty()) {
    src = g.sum(summed, true);
    for (int64_t d : summed) lay.shape[d] = 1;
  }
  return Value(graph::view_scatter(zeros_of(x).node, src.node, lay));
}

}  // namespace

std::vector<NodeRef> vjp(const NodeRef& n, const NodeRef& gnode) {
  const auto& in = n->inputs;
  Value g(gnode);
  auto x = [&](size_t i) { return Value(in.at(i)); };
  Value out(n);
  std::vector<Value> r(in.size());
  switch (n->op) {
    // ---- leaves and plumbing
    case Op::Buffer: case Op::Full: break;
    case Op::Cast: r[0] = g.to(in[0]->dtype); break;
    case Op::Copy: case Op::Detach: r[0] = g; break;

    // ---- unary
    case Op::Neg: r[0] = -g; break;
    case Op::Abs: r[0] = g * x(0).sign(); break;
    case Op::Sqrt: r[0] = g / (2 * out); break;
    case Op::Exp: r[0] = g * out; break;
    case Op::Log: r[0] = g / x(0); break;
    case Op::Sin: r[0] = g * x(0).cos(); break;
    case Op::Cos: r[0] = -g * x(0).sin(); break;
    case Op::Tan: r[0] = g * (1 + out * out); break;
    case Op::Tanh: r[0] = g * (1 - out * out); break;
    case Op::Sigmoid: r[0] = g * out * (1 - out); break;
    case Op::Relu: r[0] = where(out > 0, g, 0.0); break;  // relu'(0) = 0
    case Op::Exp2: r[0] = g * out * M_LN2; break;
    case Op::Log2: r[0] = g / (x(0) * M_LN2); break;
    case Op::Log1p: r[0] = g / (x(0) + 1); break;
    case Op::Expm1: r[0] = g * (out + 1); break;
    case Op::Erf: r[0] = g * (2 / std::sqrt(M_PI)) * (-x(0) * x(0)).exp(); break;
    case Op::Sign: case Op::Floor: case Op::Ceil: case Op::Round: case Op::Trunc:
      r[0] = g.zeros_like();
      break;
    case Op::LogicalNot: break;

    // ---- binary (inputs may have been broadcast)
    case Op::Add: r[0] = g; r[1] = g; break;
    case Op::Sub: r[0] = g; r[1] = -g; break;
    case Op::Mul: r[0] = g * x(1); r[1] = g * x(0); break;
    case Op::Div: r[0] = g / x(1); r[1] = -g * x(0) / (x(1) * x(1)); break;
    case Op::Pow:
      // d/da a^b = b a^(b-1) (0 where b == 0); d/db = a^b log a (0 where a == 0, b >= 0).
      r[0] = where(x(1) == 0, 0.0, g * x(1) * x(0).pow(x(1) - 1));
      r[1] = where((x(0) == 0) * (x(1) >= 0), 0.0, g * out * x(0).log());
      break;
    case Op::Atan2: {
      Value d = x(0) * x(0) + x(1) * x(1);
      r[0] = g * x(1) / d;
      r[1] = -g * x(0) / d;
      break;
    }
    case Op::Hypot: r[0] = g * x(0) / out; r[1] = g * x(1) / out; break;  // NaN at (0, 0), as PyTorch
    case Op::LogAddExp:
      // d/da = e^a / (e^a + e^b), written as PyTorch does.
      r[0] = g / ((x(1) - x(0)).exp() + 1);
      r[1] = g / ((x(0) - x(1)).exp() + 1);
      break;
    case Op::Remainder: r[0] = g; r[1] = -g * x(0).div(x(1), "floor"); break;
    case Op::Fmod: r[0] = g; r[1] = -g * x(0).div(x(1), "trunc"); break;
    case Op::FloorDiv: case Op::TruncDiv: r[0] = g.zeros_like(); r[1] = g.zeros_like(); break;
    case Op::Maximum: case Op::Minimum: {
      // Ties split the gradient evenly between the two sides.
      Value a_wins = n->op == Op::Maximum ? x(0) > x(1) : x(0) < x(1);
      Value half = (x(0) == x(1)).to(g.dtype()) * 0.5;
      r[0] = g * (a_wins.to(g.dtype()) + half);
      r[1] = g * ((x(0) != x(1)).to(g.dtype()) - a_wins.to(g.dtype()) + half);
      break;
    }
    case Op::ClampMin:  // max(x, lo): x passes at the boundary
      r[0] = where(x(0) >= x(1), g, 0.0);
      r[1] = where(x(0) < x(1), g, 0.0);
      break;
    case Op::ClampMax:
      r[0] = where(x(0) <= x(1), g, 0.0);
      r[1] = where(x(0) > x(1), g, 0.0);
      break;
    case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: break;
    case Op::Where:
      r[1] = where(x(0), g, 0.0);
      r[2] = where(x(0), 0.0, g);
      break;

    // ---- reductions (out keeps the reduced dims as size 1)
    case Op::Sum: r[0] = g.expand(in[0]->shape); break;
    case Op::Prod: {
      // The product of the others, also where inputs are 0: with no zero in
      // the slice it is out / x; with one zero, only that element gets the
      // product of the rest; with more, nothing.
      const Shape& dims = n->attr<ReduceAttrs>().dims;
      Value zero = x(0) == 0;
      Value nz = zero.sum(dims, true);
      Value rest(graph::reduce(Op::Prod, where(zero, 1.0, x(0)).node, dims, in[0]->dtype));
      r[0] = g * where(nz == 0, out / x(0), where((nz == 1) * zero, rest, 0.0));
      break;
    }
    case Op::Amax: case Op::Amin: {
      // Ties share the gradient evenly.
      Value hit = (x(0) == out).to(g.dtype());
      r[0] = g * hit / hit.sum(n->attr<ReduceAttrs>().dims, true);
      break;
    }
    case Op::Argmax: case Op::Argmin: break;
    case Op::Cumsum: {
      // A scan of a 0-dim value is the value.
      if (n->shape.empty()) {
        r[0] = g;
        break;
      }
      int64_t d = n->attr<ScanAttrs>().dim;
      r[0] = g.flip({d}).cumsum(d).flip({d});
      break;
    }

    // ---- views
    case Op::Reshape: r[0] = g.reshape(in[0]->shape); break;
    case Op::Permute: {
      const Shape& dims = n->attr<PermuteAttrs>().dims;
      Shape inv(dims.size());
      for (size_t i = 0; i < inv.size(); ++i) inv[size_t(dims[i])] = int64_t(i);
      r[0] = g.permute(inv);
      break;
    }
    case Op::Expand: r[0] = unbroadcast(g, in[0]->shape); break;
    case Op::Slice:
      r[0] = scatter_view(g, in[0], *graph::apply_view(Op::Slice, n->attrs, Layout::contiguous(in[0]->shape)));
      break;
    case Op::AsStrided: r[0] = scatter_view(g, in[0], attrs_layout(*n)); break;

    // ---- writes
    case Op::ViewScatter: {
      Layout l = attrs_layout(*n);
      r[0] = Value(graph::view_scatter(gnode, Value::zeros(l.shape, g.dtype()).node, l));
      r[1] = Value(graph::as_strided(gnode, l));
      break;
    }
    case Op::Cat: {
      int64_t d = n->attr<CatAttrs>().dim, start = 0;
      for (size_t i = 0; i < in.size(); ++i) {
        r[i] = g.narrow(d, start, in[i]->shape[d]);
        start += in[i]->shape[d];
      }
      break;
    }
    case Op::Index: {
      // Every read element gets the gradient of what it was read into.
      const auto& [map, sel] = n->attr<IndexAttrs>();
      std::vector<NodeRef> idx(in.begin() + 1, in.end());
      r[0] = Value(graph::index_put(zeros_of(in[0]).node, gnode, idx, map, sel, true));
      break;
    }
    case Op::IndexPut: {
      const auto& [map, sel, accumulate] = n->attr<IndexPutAttrs>();
      std::vector<NodeRef> idx(in.begin() + 2, in.end());
      // The base keeps its gradient except where it was overwritten.
      r[0] = accumulate ? g
                        : Value(graph::index_put(gnode, Value::zeros(in[1]->shape, g.dtype()).node, idx, map, sel,
                                                 false));
      r[1] = Value(graph::index(gnode, idx, map, sel, in[1]->shape));
      break;
    }

    // ---- Kernel IR primitives never appear in a graph
    case Op::Fma: case Op::Bitcast: case Op::BitAnd: case Op::BitOr: case Op::BitXor: case Op::Shl:
    case Op::LShr: case Op::AShr: case Op::IDiv: case Op::IRem: case Op::RoundF16: case Op::RoundBF16:
      throw Error(std::string("kiln: internal: a graph node of the Kernel IR primitive ") + op_name(n->op));
  }
  std::vector<NodeRef> grads(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (!r[i].defined() || !in[i]->requires_grad) continue;
    Value gi = unbroadcast(r[i], in[i]->shape);
    if (gi.dtype() != in[i]->dtype) gi = gi.to(in[i]->dtype);
    grads[i] = gi.node;
  }
  return grads;
}

std::string grad_fn_name(const Node& n) {
  // PyTorch's names for the common ops; the rest follow the same pattern.
  std::string base;
  switch (n.op) {
    case Op::Cast: base = "To"; break;
    case Op::Copy: base = "Clone"; break;
    case Op::Amax: base = "Amax"; break;
    case Op::ClampMin: case Op::ClampMax: base = "Clamp"; break;
    case Op::Reshape: base = "View"; break;
    case Op::Index: base = "Index"; break;
    case Op::IndexPut: base = "IndexPut"; break;
    case Op::ViewScatter: base = "CopySlices"; return base;
    default: {
      std::string s = op_name(n.op);
      bool up = true;
      for (char c : s) {
        if (c == '_') { up = true; continue; }
        base += up ? char(std::toupper(c)) : c;
        up = false;
      }
    }
  }
  return base + "Backward0";
}

}  // namespace kiln::autodiff
