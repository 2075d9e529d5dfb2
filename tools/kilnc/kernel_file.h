#pragma once
// kilnc --kernel: a file of Kernel IR kernels, each with launch lines, run
// on every backend of this build and compared with the reference evaluator
// (kernel/reference.h). The format and the tolerances are in kKernelUsage.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace kilnc {

/// The --help text of --kernel (the file format, the defaults, the
/// tolerances).
extern const char* kKernelUsage;

struct KernelFileOptions {
  std::string file;    // as errors show it
  uint64_t seed = 0;   // of the random fills
  std::vector<std::string> emit;  // print these stages instead of running
};

/// Runs (or prints) every kernel of `source`. Returns the exit status: 0
/// when every output of every backend passed, 1 on a FAIL. Throws
/// kiln::Error "FILE:LINE: ..." for a malformed file.
int run_kernel_file(const std::string& source, const KernelFileOptions& o, std::ostream& out);

}  // namespace kilnc
