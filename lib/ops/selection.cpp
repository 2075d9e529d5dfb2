// Ops that choose between values: maximum, minimum, clamp_min, clamp_max
// (NaN-propagating for floats), the comparisons (ordered for floats, ne
// unordered: NaN != NaN), and where.
#include "ops/lowering.h"
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

using graph::Value;

/// NaN-propagating for floats (compare + select; a NaN operand's NaN);
/// signed/unsigned by dtype for integers; or/and for bool.
V max_min(Lowering& l, bool max) {
  auto& b = l.b;
  V a = l.a(), bb = l.bx();
  if (l.fl) {
    V r = b.sel(max ? b.ogt(a, bb) : b.olt(a, bb), a, bb);
    return b.sel(b.uno(a, bb), b.add(a, bb), r);
  }
  if (l.t == kBool) return max ? b.bor(a, bb) : b.band(a, bb);
  return max ? b.imax(a, bb) : b.imin(a, bb);
}

V max(Lowering& l) { return max_min(l, true); }
V min(Lowering& l) { return max_min(l, false); }

// Ties split the gradient evenly between the two sides.
Grads max_min_gradient(const GradContext& c) {
  Value a_wins = c.node->op == Op::Maximum ? c.x(0) > c.x(1) : c.x(0) < c.x(1);
  Value half = (c.x(0) == c.x(1)).to(c.g.dtype()) * 0.5;
  return {c.g * (a_wins.to(c.g.dtype()) + half),
          c.g * ((c.x(0) != c.x(1)).to(c.g.dtype()) - a_wins.to(c.g.dtype()) + half)};
}

}  // namespace

void define_selection(OpTable& ops) {
  ops[Op::Maximum] = {.gradient = max_min_gradient, .decompose = max};
  ops[Op::Minimum] = {.gradient = max_min_gradient, .decompose = min};

  // clamp_min(x, lo) = max(x, lo), but x passes at the boundary.
  ops[Op::ClampMin] = {
      .gradient = [](const GradContext& c) -> Grads {
        return {where(c.x(0) >= c.x(1), c.g, 0.0), where(c.x(0) < c.x(1), c.g, 0.0)};
      },
      .grad_fn = "ClampBackward0",
      .decompose = max,
  };
  ops[Op::ClampMax] = {
      .gradient = [](const GradContext& c) -> Grads {
        return {where(c.x(0) <= c.x(1), c.g, 0.0), where(c.x(0) > c.x(1), c.g, 0.0)};
      },
      .grad_fn = "ClampBackward0",
      .decompose = min,
  };

  for (Op op : {Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge})
    ops[op] = {
        .gradient = no_gradient,
        .decompose = [](Lowering& l) { return l.b.cmp(l.instr().op, l.a(), l.bx()); },
    };

  // where(cond, a, b); the condition is bool.
  ops[Op::Where] = {
      .gradient = [](const GradContext& c) -> Grads {
        return {Value(), where(c.x(0), c.g, 0.0), where(c.x(0), 0.0, c.g)};
      },
      .decompose =
          [](Lowering& l) {
            V cond = l.cast(l.a(), l.operand(0).dtype, kBool);
            return l.b.sel(cond, l.bx(), l.x(2));
          },
  };
}

}  // namespace kiln::ops
