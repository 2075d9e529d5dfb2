#pragma once
// Graph passes, run by realize() before scheduling and shown by kilnc's
// --emit=optimized:
//  - view folding: chains of views become one view where the ops compose
//    (reshape of reshape, permute of permute, expand of expand);
//  - algebraic folding that is exact in IEEE arithmetic (x * 1, x / 1,
//    x ** 1, casts to the same dtype, a copy of a copy);
//  - common subexpression elimination: structurally equal nodes (same op,
//    attributes, dtype, shape and inputs) become one.
// The passes never change a value: the optimized graph computes exactly what
// the original did. Realized nodes are leaves and are kept as they are.
#include <vector>

#include "graph/node.h"

namespace kiln::passes {

/// The optimized equivalents of `outputs` (same order); the input graph is
/// not modified.
std::vector<NodeRef> optimize(const std::vector<NodeRef>& outputs);

}  // namespace kiln::passes
