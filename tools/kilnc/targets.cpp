#include "targets.h"

#include <fmt/format.h>

#include "codegen/cpu/cpu_jit.h"
#include "kiln/runtime.h"

namespace kilnc {

namespace {

class CpuBackend : public Backend {
public:
  std::string emit(const std::string& stage, const kiln::Kernel& k) const override {
    using kiln::cpu::Stage;
    Stage s = stage == "mlir" ? Stage::Mlir
              : stage == "mlir-lowered" ? Stage::LoweredMlir
              : stage == "llvm" ? Stage::LlvmIr
                                : Stage::Assembly;
    return kiln::cpu::emit(k, s);
  }
  void run(const std::vector<kiln::Tensor>& outputs) const override { kiln::realize(outputs); }
};

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"cpu",
       "the host CPU: MLIR -> LLVM IR -> native code (ORC JIT)",
       {{"mlir", "each kernel as MLIR (func, scf, arith, math, llvm dialects)", "//"},
        {"mlir-lowered", "each kernel's MLIR lowered to the LLVM dialect", "//"},
        {"llvm", "each kernel as optimized LLVM IR", ";"},
        {"asm", "each kernel as host assembly", "#"}},
       [] { return std::make_unique<CpuBackend>(); }},
      {"cuda",
       "NVIDIA GPUs: CUDA C++ -> NVRTC -> PTX (not supported yet)",
       {{"cuda", "each kernel as CUDA C++", "//"}, {"ptx", "each kernel as PTX", "//"}},
       []() -> std::unique_ptr<Backend> {
         throw kiln::Error(
             "target 'cuda' is not supported yet: this build of kiln has no CUDA backend (supported targets: cpu)");
       }},
  };
  return all;
}

const Target* find_target(const std::string& name) {
  for (const Target& t : targets())
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace kilnc
