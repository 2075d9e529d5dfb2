#pragma once
// kilnc's compilation targets. The target-neutral stages (graph, grad,
// optimized, schedule, kernel) come before; a target adds its own stages,
// each an emitter of one kernel's code, and runs programs.
//
// The targets are the registry's backends (lib/backend/registry.cpp), and
// the backends it plans: kilnc names none itself.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "kernel/kernel.h"
#include "kiln/tensor.h"

namespace kilnc {

using Stage = kiln::BackendStage;

/// A backend that exists in this build.
class Backend {
public:
  virtual ~Backend() = default;
  /// One kernel's code at `stage` (one of the target's stages).
  virtual std::string emit(const std::string& stage, const kiln::Kernel& k) const = 0;
  /// Computes the tensors (their graphs run on this target).
  virtual void run(const std::vector<kiln::Tensor>& outputs) const = 0;
  /// Compiles (through the kernel cache) and launches one kernel with
  /// kernel.h's launch layout (kilnc --kernel).
  virtual void launch(const kiln::Kernel& k, void* const* ptrs, const int64_t* params,
                      const kiln::Shape& sizes) const = 0;
};

struct Target {
  std::string name;
  std::string help;
  std::vector<Stage> stages;
  /// The backend; throws kiln::Error when the target is not supported yet.
  std::function<std::unique_ptr<Backend>()> make;
};

/// Every target kilnc knows, the default (cpu) first.
const std::vector<Target>& targets();
const Target* find_target(const std::string& name);

}  // namespace kilnc
