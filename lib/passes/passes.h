#pragma once
// Graph passes, run by realize() before scheduling and shown by kilnc's
// --emit=passes (each pass) and --emit=optimized (the result). The optimizer
// is a sequence of named passes, run in this order by optimize():
//  - fold: exact identities (x * 1, x / 1, x ** 1, a cast to a wider dtype
//    and back, a copy of a copy) and view folding (an identity reshape or
//    permute disappears; reshape of reshape, permute of permute and expand
//    of expand become one view where they compose);
//  - pack-contraction: an operand of a contraction sum_k a[.., k] * b[.., k]
//    that is not contiguous along k is copied with k innermost (see
//    pack_contraction.cpp);
//  - cse: structurally equal nodes (same op, attributes, dtype, shape and
//    inputs) become one.
// The passes never change a value: the optimized graph computes exactly what
// the original did. Realized nodes are leaves and are kept as they are; so
// are the requested values and the bases of requested views (a value and
// what a requested view aliases keep a buffer of their own). Every walk is
// iterative: graphs may be any depth.
#include <functional>
#include <vector>

#include "graph/node.h"

namespace kiln::passes {

/// One pass: the rewritten equivalents of `outputs` (same order); the input
/// graph is not modified, and unchanged parts are shared with it.
struct Pass {
  const char* name;
  std::vector<NodeRef> (*run)(const std::vector<NodeRef>& outputs);
};

/// The optimizer's passes, in the order optimize() runs them.
const std::vector<Pass>& pipeline();

/// Called after each pass that changed the graph, with the pass's name and
/// the rewritten outputs (realize() prints them under KILN_DEBUG=2).
using PassLog = std::function<void(const char* pass, const std::vector<NodeRef>& outputs)>;

/// The optimized equivalents of `outputs` (same order): every pass of
/// pipeline() in turn. The input graph is not modified.
std::vector<NodeRef> optimize(const std::vector<NodeRef>& outputs, const PassLog& log = nullptr);

// The passes themselves (pipeline() lists them by name).
std::vector<NodeRef> fold(const std::vector<NodeRef>& outputs);
std::vector<NodeRef> pack_contraction(const std::vector<NodeRef>& outputs);
std::vector<NodeRef> cse(const std::vector<NodeRef>& outputs);

}  // namespace kiln::passes
