#pragma once
// The definition of every op: what its ops.def entry (name, kind, arity,
// dtype rule, typed attributes) does not already say.
//
// One block per op in the file of its family (lib/ops/<family>.cpp), e.g.
//
//   ops[Op::Exp] = {
//       .gradient = [](const GradContext& c) -> Grads { return {c.g * c.out}; },
//       .decompose = [](Lowering& l) { return l.round(l.transcendental(Op::Exp, l.a())); },
//   };
//
// holds its gradient rule (on graph values, graph/value.h: it builds nodes
// and never computes) and its numerics (Kernel IR primitives, what every
// backend shares: ops/lowering.h). The layers below keep the op-neutral
// machinery: the shape and dtype rules by family and trait
// (graph/builders.cpp), the backward walk (autodiff/), the decomposition
// driver (ops/decompose.cpp).
#include <array>
#include <vector>

#include "graph/value.h"
#include "kernel/decompose_builder.h"

namespace kiln::ops {

class Lowering;

/// What a gradient rule sees: the node, its output and the gradient of it.
struct GradContext {
  const NodeRef& node;
  graph::Value g;    // d(loss)/d(output)
  graph::Value out;  // the output itself
  graph::Value x(size_t i) const { return graph::Value(node->inputs.at(i)); }
  const NodeRef& input(size_t i) const { return node->inputs.at(i); }
  template <class T>
  const T& attr() const { return node->attr<T>(); }
};
/// One gradient per input, in order; an undefined Value (or a missing
/// trailing entry) is no gradient. They may still have the broadcast shape
/// and the compute dtype: the caller sums them back to each input's shape
/// and casts them to its dtype.
using Grads = std::vector<graph::Value>;

struct OpDef {
  /// The vector-Jacobian product. Every graph op has one; ops through which
  /// nothing flows (comparisons, argmax) use no_gradient.
  Grads (*gradient)(const GradContext&) = nullptr;
  /// PyTorch's grad_fn name less "Backward0" where it is not the op's name
  /// in CamelCase ("Clone" for copy).
  const char* grad_fn = nullptr;
  /// Elementwise ops: the op as Kernel IR primitives and native ops, with
  /// PyTorch's CPU semantics. Random ops: their value from (position,
  /// seed, offset).
  decomp::V (*decompose)(Lowering&) = nullptr;
};

/// The rule of ops whose inputs get no gradient.
inline Grads no_gradient(const GradContext&) { return {}; }

/// The definition of `op`; throws kiln::Error (an internal error) for an
/// op that lacks what its kind needs: every op definition is checked when
/// the table is first built.
const OpDef& op_def(Op op);

/// The table the family files fill (ops/op_table.cpp builds it).
struct OpTable {
  std::array<OpDef, kNumOps> defs{};
  OpDef& operator[](Op op) { return defs[size_t(op)]; }
};

// The families (one file each).
void define_plumbing(OpTable& ops);        // buffer, full, cast, copy, detach
void define_unary(OpTable& ops);           // neg, abs, relu, sign, rounding, logical_not, sqrt
void define_transcendental(OpTable& ops);  // exp, log, sin, ..., sigmoid, erf
void define_arithmetic(OpTable& ops);      // add, sub, mul, div, pow, atan2, hypot, logaddexp
void define_division(OpTable& ops);        // remainder, fmod, floor/trunc divide
void define_selection(OpTable& ops);       // maximum, minimum, clamp, comparisons, where
void define_reductions(OpTable& ops);      // sum, prod, amax, amin, argmax, argmin, cumsum
void define_views(OpTable& ops);           // reshape, permute, expand, slice, as_strided
void define_writes(OpTable& ops);          // view_scatter, cat, index, index_put
void define_random(OpTable& ops);          // rand, randn

}  // namespace kiln::ops
