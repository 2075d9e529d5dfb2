// The pack-contraction pass (see passes.h).
//
// A contraction sum_k a[.., k] * b[.., k] (both operands broadcast, one
// reduced dim) runs on the backend's tiled path only when each operand is
// contiguous along k. An operand that is not (a transposed gradient, a
// batch-major input in a weight gradient) is laid out with k innermost
// first: its distinct elements (the broadcast dims sliced to one) copied in
// that order and read back through views, the same value. Its producer then
// runs once per element in the copy instead of once per use.
#include <cstdlib>
#include <unordered_set>

#include "graph/builders.h"
#include "passes/passes.h"
#include "passes/rewrite.h"

namespace kiln::passes {

namespace {

// Folds the nodes a packing built (a reshape of a reshape, an identity
// permute), stopping at the graph they were built on, which is folded
// already (and holds kept nodes, which must not fold).
class FoldBuilt : public Rewrite {
public:
  explicit FoldBuilt(const std::unordered_set<const Node*>& built) : built_(built) {}

private:
  bool settled(const Node& n) const override { return n.realized() || !built_.count(&n); }
  NodeRef rewrite(const NodeRef& n, std::vector<NodeRef>& in, bool changed) override {
    if (NodeRef f = fold_node(*n, in)) return f;
    return changed ? with_inputs(*n, in) : n;
  }

  const std::unordered_set<const Node*>& built_;
};

class PackContraction : public Rewrite {
private:
  NodeRef rewrite(const NodeRef& n, std::vector<NodeRef>& in, bool changed) override {
    if (n->op == Op::Sum)
      if (NodeRef m = pack(*n, in[0])) {
        in[0] = m;
        changed = true;
      }
    return changed ? with_inputs(*n, in) : n;
  }

  // Whether the backend's outer-product tile takes the contraction: in the
  // kernel's order (the other dims, then k), one operand (B) is contiguous
  // along the output columns (the last other dim) and broadcast along the
  // rows (the one before), the other (A) broadcast along the columns. A
  // weight's gradient (dY^T X) and a backward matmul through a weight (dY W)
  // are such: packing B would copy a transpose. Returns A's index, or -1.
  // The tile reads A in place (`a_direct`) unless A's step along k is a
  // multiple of 4 KiB (a large transposed A, as in A^T B): its K rows then
  // share a few cache sets, and a copy contiguous along k (M x K elements,
  // for M x N x K products) is worth it. At other strides (dY^T in a
  // training step) the transposing copy costs more than it saves.
  static int outer_product(const std::vector<NodeRef>& ops, const Shape& full, size_t d, size_t esize,
                           bool& a_direct) {
    size_t R = full.size();
    if (R < 3 || ops.size() != 2) return -1;
    std::vector<size_t> order;
    for (size_t i = 0; i < R; ++i)
      if (i != d) order.push_back(i);
    order.push_back(d);
    // Sizes and strides in that order (dims the operand lacks: size 1).
    auto layout = [&](const NodeRef& u, Shape& s, Shape& st) {
      Layout l = graph::layout_of(u);
      size_t lead = R - u->shape.size();
      for (size_t i : order) {
        s.push_back(i < lead ? 1 : u->shape[i - lead]);
        st.push_back(i < lead ? 0 : l.strides[i - lead]);
      }
    };
    const size_t col = R - 2, row = R - 3, k = R - 1;
    if (full[order[row]] <= 1) return -1;
    for (size_t b = 0; b < 2; ++b) {
      Shape sb, tb, sa, ta;
      layout(ops[b], sb, tb);
      layout(ops[1 - b], sa, ta);
      bool b_cols = sb[col] > 1 && tb[col] == 1 && sb[k] > 1 && tb[k] != 1;
      bool b_rows_bcast = sb[row] == 1 || tb[row] == 0;
      bool a_cols_bcast = sa[col] == 1 || ta[col] == 0;
      if (b_cols && b_rows_bcast && a_cols_bcast) {
        a_direct = sa[k] == 1 || ta[k] == 1 || (std::abs(ta[k]) * int64_t(esize)) % 4096 != 0;
        return int(1 - b);
      }
    }
    return -1;
  }

  // A large A B^T, both operands contiguous along k: the backend's dot tile
  // reads B's rows from beyond L2 for every row block of A (at 2048^3 it ran
  // at 0.6x of the outer-product tile). B is copied with its columns
  // innermost, k outside them, so the outer tile takes it: a copy of K x N
  // elements against M x N x K fma. Only where B is at least 16 MiB and A
  // has 1024 rows or more: below that the transposing copy measured more
  // than the tile saves on one of the two CPUs tried (Xeon at 1024^3). Null
  // where it does not apply.
  static NodeRef pack_for_outer_product(std::vector<NodeRef> ops, const Shape& full, size_t d, size_t esize) {
    size_t R = full.size();
    if (R < 3 || ops.size() != 2) return nullptr;
    std::vector<size_t> other;
    for (size_t i = 0; i < R; ++i)
      if (i != d) other.push_back(i);
    const size_t col = other.back(), row = other[other.size() - 2];
    if (full[row] < 1024 || double(full[col]) * double(full[d]) * double(esize) < double(16 << 20)) return nullptr;
    // B: varies along the columns and is broadcast along the rows; A the reverse.
    auto padded = [&](const NodeRef& u) {
      Shape sh(R - u->shape.size(), 1);
      sh.insert(sh.end(), u->shape.begin(), u->shape.end());
      return sh;
    };
    int b = -1;
    for (int o = 0; o < 2; ++o) {
      Shape so = padded(ops[size_t(o)]), sa = padded(ops[size_t(1 - o)]);
      if (so[col] > 1 && so[row] == 1 && sa[row] > 1 && sa[col] == 1) b = o;
    }
    if (b < 0) return nullptr;
    for (const NodeRef& u : ops) {  // both read in place, contiguous along k
      Shape sh = padded(u);
      Layout l = graph::layout_of(sh == u->shape ? u : graph::view(u, sh));
      if (sh[d] <= 1 || l.strides[d] != 1) return nullptr;
    }
    NodeRef& u = ops[size_t(b)];
    Shape sh = padded(u);
    NodeRef v = sh == u->shape ? u : graph::view(u, sh);
    Shape p, inv(R);
    for (size_t i = 0; i < R; ++i)
      if (i != d && i != col) p.push_back(int64_t(i));
    p.push_back(int64_t(d));
    p.push_back(int64_t(col));
    for (size_t i = 0; i < R; ++i) inv[size_t(p[i])] = int64_t(i);
    u = graph::permute(graph::copy(graph::permute(v, p)), inv);
    NodeRef m = graph::binary(Op::Mul, ops[0], ops[1]);
    return m->shape == full ? m : nullptr;
  }

  // The product `mul` summed by `sum` with its operands packed, or null if
  // it is no contraction or every operand is contiguous along k already.
  NodeRef pack(const Node& sum, const NodeRef& mul) {
    if (mul->realized() || mul->op != Op::Mul || sum.attr<ReduceAttrs>().dims.size() != 1) return nullptr;
    if (mul->dtype != kFloat32 && mul->dtype != kFloat64) return nullptr;
    const Shape& full = mul->shape;
    size_t R = full.size(), d = size_t(sum.attr<ReduceAttrs>().dims[0]);
    if (full[d] <= 1) return nullptr;
    std::vector<NodeRef> ops = mul->inputs;
    bool a_direct = false;
    const size_t esize = element_size(mul->dtype);
    const int a = outer_product(ops, full, d, esize, a_direct);
    if (a >= 0 && a_direct) return nullptr;
    if (a < 0)
      if (NodeRef m = pack_for_outer_product(ops, full, d, esize)) return m;
    std::unordered_set<const Node*> built;  // the nodes made here
    auto made = [&](NodeRef r, const NodeRef& from) {
      if (r != from) built.insert(r.get());
      return r;
    };
    bool changed = false;
    for (size_t o = 0; o < ops.size(); ++o) {
      if (a >= 0 && int(o) != a) continue;  // the outer tile's B stays
      NodeRef& u = ops[o];
      Shape s(R - u->shape.size(), 1);
      s.insert(s.end(), u->shape.begin(), u->shape.end());
      NodeRef v = s == u->shape ? u : made(graph::view(u, s), u);
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
      for (size_t b : expanded) v = made(graph::slice(v, int64_t(b), 0, 1), v);
      Shape p, inv(R);
      for (size_t i = 0; i < R; ++i)
        if (i != d) p.push_back(int64_t(i));
      p.push_back(int64_t(d));
      for (size_t i = 0; i < R; ++i) inv[size_t(p[i])] = int64_t(i);
      NodeRef lead = made(graph::permute(v, p), v);
      NodeRef packed = made(graph::copy(lead), lead);
      u = made(graph::permute(packed, inv), packed);
      changed = true;
    }
    if (!changed) return nullptr;
    NodeRef m = made(graph::binary(Op::Mul, ops[0], ops[1]), nullptr);
    if (m->shape != full) return nullptr;
    return FoldBuilt(built)(m);
  }
};

}  // namespace

std::vector<NodeRef> pack_contraction(const std::vector<NodeRef>& outputs) {
  return PackContraction().run(outputs);
}

}  // namespace kiln::passes
