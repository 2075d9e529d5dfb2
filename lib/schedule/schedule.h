#pragma once
// The scheduler cuts the graph behind the requested tensors into kernels.
//
// Fusion rule: every node that is not materialized is computed inline by the
// kernels that read it. A node is materialized (gets a buffer) when
//  - it is requested (or is the base a requested view is a view of),
//  - it is a write (view_scatter), which needs a buffer to write into, or
//  - a view over it cannot be expressed as strides of what is below it
//    (a reshape of a transposed value): then its value must be laid out
//    contiguously first, as PyTorch's reshape would copy.
// Views fold into the index maps of the loads below them; broadcasts are
// stride-0 loads. Materialized nodes of one shape whose kernels do not depend
// on each other share one kernel, so common subexpressions are computed once.
#include <string>
#include <vector>

#include "kernel/kernel.h"

namespace kiln {

/// One kernel launch: the Kernel IR plus the buffers and index maps it runs on.
struct ScheduledKernel {
  Kernel kernel;
  Shape sizes;                    // iteration space (dims merged where possible)
  std::vector<NodeRef> arg_nodes; // whose buffer each argument reads or writes
  std::vector<Layout> arg_layouts;// each argument's strides over `sizes`
  std::vector<Shape> arg_index_strides;  // per argument, per index operand
  std::vector<std::string> notes; // fusion decisions, for printing
};

struct Schedule {
  std::vector<NodeRef> materialized;  // get fresh contiguous buffers, in order
  std::vector<ScheduledKernel> kernels;
  std::vector<NodeRef> views;         // realized at the end as views of their bases
  std::string str() const;
};

Schedule make_schedule(const std::vector<NodeRef>& targets);

}  // namespace kiln
