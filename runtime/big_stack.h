#pragma once
// Runs a program's main work on a thread with a large stack: graph walks in
// kiln recurse once per level of the graph (the passes, autodiff), and a
// .kiln file can hold a chain of 10^5 ops. The stack is reserved, and
// touched only as deep as the work goes.
#include <functional>

namespace kiln {

/// Calls `work` on a thread with a 1 GiB stack (on this thread if one cannot
/// be made) and returns its result.
int run_with_big_stack(const std::function<int()>& work);

}  // namespace kiln
