#pragma once
// The CPU backend: Kernel IR -> MLIR (scf/arith/math) -> LLVM IR -> machine
// code, through one long-lived ORC LLJIT tuned for the host CPU. This header
// is free of MLIR/LLVM types so the rest of kiln compiles without them.
#include <string>

#include "kernel/kernel.h"

namespace kiln::cpu {

/// What besides a kernel's text decides its machine code: the code
/// generator's sources, LLVM's version, the host CPU and its features.
const std::string& identity();

/// Relocatable object code for `k` (what the disk cache keeps). Throws
/// kiln::Error naming the kernel if compilation fails.
std::string compile_object(const Kernel& k);

/// Loads object code that compile_object made for `k` into the JIT and
/// returns its entry point (see CpuKernelFn in kernel/kernel.h), or null
/// with the reason in *err (a damaged object). Not thread-safe.
CpuKernelFn load_object(const Kernel& k, const std::string& object, std::string* err);

/// Unmaps a kernel load_object returned; `fn` must not run again (nor be
/// running).
void release(CpuKernelFn fn);

/// The stages of compiling `k`, as text (for KILN_DEBUG=3 and kilnc).
enum class Stage { Mlir, LoweredMlir, LlvmIr, Assembly };
std::string emit(const Kernel& k, Stage stage);

}  // namespace kiln::cpu
