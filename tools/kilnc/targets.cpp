#include "targets.h"

#include <fmt/format.h>

#include <algorithm>

#include "backend/backend.h"
#include "backend/kernel_cache.h"
#include "kiln/runtime.h"

namespace kilnc {

namespace {

// A backend of the registry, as kilnc drives it.
class RegisteredBackend : public Backend {
public:
  explicit RegisteredBackend(kiln::Backend& b) : b_(b) {}
  std::string emit(const std::string& stage, const kiln::Kernel& k) const override { return b_.emit(k, stage); }
  void run(const std::vector<kiln::Tensor>& outputs) const override { kiln::realize(outputs); }
  void launch(const kiln::Kernel& k, void* const* ptrs, const int64_t* params,
              const kiln::Shape& sizes) const override {
    kiln::compiled_kernel(b_, k).launch(k, ptrs, params, sizes);
  }

private:
  kiln::Backend& b_;
};

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = [] {
    std::vector<Target> ts;
    for (kiln::Backend* b : kiln::backends()) {
      Target t{b->name(), b->description(), {}, [b] { return std::make_unique<RegisteredBackend>(*b); }};
      t.stages = b->stages();
      ts.push_back(std::move(t));
    }
    // Backends planned but not in this build: listed, so their stages are
    // known, and refused by the registry when used.
    for (const kiln::PlannedBackend& p : kiln::planned_backends())
      ts.push_back({p.name, p.description, p.stages, [name = p.name]() -> std::unique_ptr<Backend> {
                      kiln::find_backend(name);  // throws: not in this build
                      return nullptr;
                    }});
    return ts;
  }();
  return all;
}

const Target* find_target(const std::string& name) {
  for (const Target& t : targets())
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace kilnc
