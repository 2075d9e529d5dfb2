#pragma once
// KILN_DEBUG=N: 1 prints each kernel with its compile and run times, 2 also
// the graph and the Kernel IR, 3 also the MLIR and LLVM IR. Output: stderr.
namespace kiln {
int debug_level();
}  // namespace kiln
