#pragma once
// The CPU backend: Kernel IR -> MLIR (scf/arith/math) -> LLVM IR -> machine
// code, through one long-lived ORC LLJIT tuned for the host CPU. This header
// is free of MLIR/LLVM types so the rest of kiln compiles without them.
#include <string>

#include "kernel/kernel.h"

namespace kiln::cpu {

/// Compiles `k` and returns its entry point (see CpuKernelFn in
/// kernel/kernel.h), or loads its object code from the disk cache
/// (runtime/disk_cache.h; *from_disk tells which). Throws kiln::Error naming
/// the kernel if compilation fails. Not thread-safe; the caller caches the
/// result.
CpuKernelFn compile(const Kernel& k, bool* from_disk = nullptr);

/// Unmaps a kernel compile() returned; `fn` must not run again (nor be
/// running).
void release(CpuKernelFn fn);

/// The stages of compiling `k`, as text (for KILN_DEBUG=3 and kilnc).
enum class Stage { Mlir, LoweredMlir, LlvmIr, Assembly };
std::string emit(const Kernel& k, Stage stage);

}  // namespace kiln::cpu
