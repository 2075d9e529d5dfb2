#pragma once
// The Kernel IR parser: reads exactly the text Kernel::str() prints (the
// format is shown at the top of kernel.h), so that
//   parse_kernel(k.str()).str() == k.str()
// for every kernel. Op names are looked up in the op table (graph/ops.def),
// so an op added there parses without a change here. Blank lines and
// comments ('#' to the end of a line) are skipped.
#include <string_view>

#include "kernel/kernel.h"

namespace kiln {

/// Parses one kernel and runs the Kernel IR verifier (kernel/verify.h) on
/// it. Throws kiln::Error "line N: ..." naming what was expected, or the
/// verifier's complaint at the instruction's line. `first_line` is the line
/// number of text's first line (for a kernel inside a larger file).
Kernel parse_kernel(std::string_view text, int first_line = 1);

}  // namespace kiln
