#pragma once
// Backend: what the runtime needs from a target to run Kernel IR. realize()
// and kilnc reach a target only through this interface and the registry
// (lib/backend/registry.cpp, the one place that names concrete backends);
// the kernel cache (kernel_cache.h) keeps what a backend compiled, in memory
// and on disk, keyed by the backend's identity and the kernel's text.
//
// A backend turns a kernel into an artifact (object code, PTX...), loads an
// artifact into something it can launch, and launches it with its own
// parallel mapping of the iteration space. It allocates the buffers of its
// device, and declares the ops it computes natively; every other op reaches
// it decomposed into Kernel IR primitives (ops/decompose.h).
#include <memory>
#include <string>
#include <vector>

#include "ops/decompose.h"
#include "kernel/kernel.h"
#include "kiln/device.h"
#include "runtime/buffer.h"

namespace kiln {

/// A compiled kernel, loaded and ready to run.
class Executable {
public:
  virtual ~Executable() = default;
  /// Runs the kernel over the iteration space `sizes`, with the argument
  /// buffers `ptrs` and the launch parameters `params` (kernel.h's layout).
  virtual void launch(const Kernel& k, void* const* ptrs, const int64_t* params, const Shape& sizes) const = 0;
  /// The same on the calling thread alone: the runtime runs blocks of rows
  /// of several launches in parallel itself (lib/launches.h).
  virtual void launch_on_caller(const Kernel& k, void* const* ptrs, const int64_t* params,
                                const Shape& sizes) const {
    launch(k, ptrs, params, sizes);
  }
};

/// One stage of a backend's compilation that kilnc --emit can print.
struct BackendStage {
  std::string name;     // what --emit takes
  std::string help;     // one line for --help
  std::string comment;  // the stage's line-comment prefix ("//", ";", "#")
};

class Backend {
public:
  virtual ~Backend() = default;
  /// "cpu", "cuda": the name kilnc --target takes.
  virtual const std::string& name() const = 0;
  /// One line for kilnc --help.
  virtual const std::string& description() const = 0;
  virtual DeviceType device() const = 0;
  /// Everything besides a kernel's text that decides its code (the code
  /// generator's sources, the compiler's version, the target machine).
  virtual const std::string& identity() const = 0;
  virtual const std::vector<BackendStage>& stages() const = 0;
  /// Whether it computes `op` on registers of dtype `t` itself (a libm
  /// call, an instruction); every other op reaches it decomposed into
  /// Kernel IR primitives (ops/decompose.h), PyTorch's numerics written
  /// once for all backends.
  virtual bool native(Op op, DType t) const = 0;
  /// `k` as this backend lowers it: decomposed into primitives and its
  /// native ops (kilnc --emit=primitives).
  Kernel primitives(const Kernel& k) const {
    return decompose(k, [this](Op op, DType t) { return native(op, t); });
  }
  /// Kernel `k` at one of stages(), as text.
  virtual std::string emit(const Kernel& k, const std::string& stage) const = 0;
  /// The artifact for `k` (what the disk cache keeps).
  virtual std::string compile(const Kernel& k) const = 0;
  /// A buffer of `numel` elements of `element_size` bytes on its device
  /// (the CPU's: the runtime's caching allocator).
  virtual std::shared_ptr<Buffer> allocate(int64_t numel, int64_t element_size) const = 0;
  /// Loads an artifact compile() made for `k`, or returns null with the
  /// reason in *why when it cannot (a damaged cache entry).
  virtual std::unique_ptr<Executable> load(const Kernel& k, const std::string& artifact, std::string* why) const = 0;
  /// Consecutive launches that touch the same rows of large buffers run in
  /// blocks of rows of about this many bytes, each block through all of
  /// them while it is in cache (lib/launches.h); 0: each launch whole.
  virtual int64_t row_block_bytes() const { return 0; }
};

/// The backends of this build, the default (cpu) first.
const std::vector<Backend*>& backends();
/// A backend planned but not in this build: what kilnc lists for it (its
/// name, one line, its stages); using it throws.
struct PlannedBackend {
  std::string name, description;
  std::vector<BackendStage> stages;
};
const std::vector<PlannedBackend>& planned_backends();
/// The backend named `name`; throws kiln::Error when it is unknown or not
/// part of this build ("target 'cuda' is not supported yet ...").
Backend& find_backend(const std::string& name);
/// The backend that computes values on `device`.
Backend& backend_for(Device device);

}  // namespace kiln
