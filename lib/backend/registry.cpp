// The registry: the one place that names concrete backends. A new backend
// is one more entry here (and its directory under codegen/).
#include <fmt/format.h>

#include "backend/backend.h"
#include "codegen/cpu/cpu_backend.h"
#include "kiln/error.h"

namespace kiln {

const std::vector<Backend*>& backends() {
  static const std::vector<Backend*> all = {&cpu::backend()};
  return all;
}

const std::vector<PlannedBackend>& planned_backends() {
  static const std::vector<PlannedBackend> planned = [] {
    std::vector<PlannedBackend> p;
    auto have = [](const std::string& n) {
      for (Backend* b : backends())
        if (b->name() == n) return true;
      return false;
    };
    if (!have("cuda"))
      p.push_back({"cuda", "NVIDIA GPUs: CUDA C++ -> NVRTC -> PTX (not supported yet)",
                   {{"cuda", "each kernel as CUDA C++", "//"}, {"ptx", "each kernel as PTX", "//"}}});
    return p;
  }();
  return planned;
}

Backend& find_backend(const std::string& name) {
  std::string have;
  for (Backend* b : backends()) {
    if (b->name() == name) return *b;
    have += (have.empty() ? "" : ", ") + b->name();
  }
  if (name == "cuda")
    throw Error(fmt::format("target 'cuda' is not supported yet: this build of kiln has no CUDA backend "
                            "(supported targets: {})",
                            have));
  throw Error(fmt::format("unknown target '{}' (supported targets: {})", name, have));
}

Backend& backend_for(Device device) {
  for (Backend* b : backends())
    if (b->device() == device.type) return *b;
  throw Error(fmt::format("device {} is not supported yet: this build of kiln has no backend for it", device.str()));
}

}  // namespace kiln
