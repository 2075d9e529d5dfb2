#pragma once
// Plan: the scheduler's fusion decisions. Every unrealized node the schedule
// gives a buffer of its own is in the plan, with the reason; every other
// node a kernel needs is computed inline by the kernels that read it.
//
// The reasons, in the order the scheduler checks them:
//   output        requested (or the base of a requested view)
//   needed later  something outside this schedule refers to it (a live
//                 Tensor, a lazy value a later schedule computes): realize()
//                 adds these targets, so no later schedule recomputes them
//   reduction/scan/write/copy   nodes that always own a buffer
//   view          a view over it cannot be expressed as strides
//   gathered      an indexed load reads it from memory
//   read N times  an elementwise producer that the consumer would recompute
//                 N times per element (a matmul operand, a value broadcast
//                 into a reduction, or a costly value under a broadcast)
//   kernel size   the kernel reading it reached max_kernel_ops(): LLVM's
//                 time grows faster than linearly in a kernel's size (a chain
//                 of 1,200 negs took 19 s against 50 ms for 600, 900 sins
//                 10 s), so long chains are cut into kernels of bounded size
//   fusion off    KILN_FUSION=0 / set_fusion_enabled(false)
#include <string>
#include <unordered_map>

#include "graph/node.h"

namespace kiln {

struct Decision {
  std::string reason;
  const Node* consumer = nullptr;  // the kernel's node whose walk decided it, if any
};

/// Fusion on or off (declared for users in kiln/runtime.h, which this layer
/// does not include; defined in schedule.cpp).
bool fusion_enabled();

/// The largest kernel the scheduler makes, in Emitter::size() units (an
/// instruction 1, a transcendental 8): 256, or KILN_MAX_KERNEL_OPS. Longer
/// chains are split by storing a value, and stored values of one shape share
/// a kernel only while their sizes sum under it, so compile time grows
/// linearly with the graph.
int max_kernel_ops();

struct Plan {
  std::unordered_map<const Node*, Decision> stored;
  bool has(const Node* n) const { return stored.count(n) > 0; }
};

}  // namespace kiln
