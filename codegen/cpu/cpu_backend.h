#pragma once
// The CPU as a kiln Backend: cpu_jit compiles and loads, and kernels run on
// the runtime's thread pool, split over rows or column ranges.
#include <memory>

#include "backend/backend.h"

namespace kiln::cpu {

/// The CPU backend (one per process).
Backend& backend();

}  // namespace kiln::cpu
