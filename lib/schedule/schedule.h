#pragma once
// The scheduler cuts the graph behind the requested tensors into kernels, in
// two phases (lib/schedule/plan.h has the rules):
//  1. plan: walk each kernel from its outputs down to what it loads and
//     decide which values get a buffer of their own, and why. Every other
//     value is computed inline by the kernels that read it (views fold into
//     the index maps of loads, broadcasts are stride-0 loads).
//  2. order and lower: kernels run after what they read; stored values of
//     one shape whose kernels do not depend on each other share one kernel
//     (so common subexpressions are computed once); an elementwise value of
//     a reduction's output, one value per output element, joins the
//     reduction's kernel as its epilogue (stage 1), and a reduction only its
//     epilogues read is not stored; each kernel is lowered to Kernel IR with
//     the plan fixed.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel/kernel.h"

namespace kiln {

/// Where a launch parameter's value comes from: a full node's value
/// (field 0), or a rand/randn node's seed (0) or offset (1).
struct ScalarSource {
  const Node* node = nullptr;
  int field = 0;
};
/// That value, as the kernel reads it (param_bits).
int64_t scalar_value(const ScalarSource& s);

/// One kernel launch: the Kernel IR plus the buffers and index maps it runs on.
struct ScheduledKernel {
  Kernel kernel;
  Shape sizes;                    // iteration space (dims merged where possible)
  std::vector<NodeRef> arg_nodes; // whose buffer each argument reads or writes (a position arg: the random node)
  std::vector<Layout> arg_layouts;// each argument's strides over `sizes`
  std::vector<Shape> arg_index_strides;  // per argument, per index operand
  std::vector<int64_t> scalars;   // launch values of the param consts, by slot
  std::vector<ScalarSource> scalar_nodes;  // where each one's value comes from
  std::vector<std::string> notes; // what it writes, for printing
};

struct Schedule {
  std::vector<NodeRef> materialized;  // get fresh contiguous buffers, in order
  std::vector<ScheduledKernel> kernels;
  std::vector<NodeRef> views;         // realized at the end as views of their bases
  /// Why each materialized node has a buffer ("output", "reduction",
  /// "read 512 times per element by kernel 3 R_mul_sum (matmul operand)", ...).
  std::unordered_map<const Node*, std::string> reasons;
  /// Kernels with their notes, then every buffer with its reason.
  std::string str() const;
};

/// Targets from index `requested` on are values needed later (realize()
/// adds them: something outside the schedule still refers to them).
Schedule make_schedule(const std::vector<NodeRef>& targets, size_t requested = SIZE_MAX);

}  // namespace kiln
