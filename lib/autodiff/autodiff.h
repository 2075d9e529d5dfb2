#pragma once
// Symbolic autodiff: the gradient of a graph is more graph.
//
// vjp() applies an op's gradient rule (its definition in lib/ops/, written
// on graph values, graph/value.h); gradients() walks the graph backwards from some outputs
// and sums, for each requested node, the contributions of every path.
// Nothing here computes a value: the resulting nodes are lazy like any
// others, they fuse and compile with the forward pass when realized
// together, and, built with grad mode on (create_graph), they require grad
// themselves, so they can be differentiated again. The user's side
// (backward, .grad, grad()) is the frontend's: lib/tensor/autograd.cpp.
#include <unordered_map>
#include <vector>

#include "graph/node.h"

namespace kiln::autodiff {

/// Gradients of n's inputs given the gradient `g` of n (null entries: no
/// gradient for that input).
std::vector<NodeRef> vjp(const NodeRef& n, const NodeRef& g);

/// d(sum_i <outputs[i], grad_outputs[i]>) / d(node) for every node that
/// requires grad on the way back from `outputs` (stopping at grad leaves).
/// Nodes the outputs do not depend on are absent from the result.
std::unordered_map<Node*, NodeRef> gradients(const std::vector<NodeRef>& outputs,
                                             const std::vector<NodeRef>& grad_outputs);

/// PyTorch's name of the backward function of n ("MulBackward0").
std::string grad_fn_name(const Node& n);

}  // namespace kiln::autodiff
