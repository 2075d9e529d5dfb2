#pragma once
// The CPU backend: Kernel IR -> MLIR (scf/arith/math) -> LLVM IR -> machine
// code, through one long-lived ORC LLJIT tuned for the host CPU. This header
// is free of MLIR/LLVM types so the rest of kiln compiles without them.
#include <cstdint>
#include <string>

#include "kernel/kernel.h"

namespace kiln::cpu {

/// The CPU entry point of a kernel: it computes rows [row_begin, row_end) x
/// columns [col_begin, col_end) of the output space (kernel.h), where a row
/// is one index of dims 0..O-2 (row-major) and columns index dim O-1; the
/// reduced dims are looped inside. `params` is kernel.h's launch layout.
using CpuKernelFn = void (*)(void* const* ptrs, const int64_t* params, int64_t row_begin, int64_t row_end,
                             int64_t col_begin, int64_t col_end);

/// What besides a kernel's text decides its machine code: the code
/// generator's sources, LLVM's version, the host CPU and its features.
const std::string& identity();

/// The vector width the code generator tiles for: 512 bits where the host
/// has AVX-512, else 256 (AVX2). KILN_CPU_VECTOR_BITS=256 forces the
/// narrower tiles (to test them on an AVX-512 host); it is part of
/// identity().
int vector_bits();

/// Relocatable object code for `k` (what the disk cache keeps). Throws
/// kiln::Error naming the kernel if compilation fails.
std::string compile_object(const Kernel& k);

/// Loads object code that compile_object made for `k` into the JIT and
/// returns its entry point (a CpuKernelFn), or null
/// with the reason in *err (a damaged object). Not thread-safe.
CpuKernelFn load_object(const Kernel& k, const std::string& object, std::string* err);

/// Unmaps a kernel load_object returned; `fn` must not run again (nor be
/// running).
void release(CpuKernelFn fn);

/// The stages of compiling `k`, as text (for KILN_DEBUG=3 and kilnc).
enum class Stage { Mlir, LoweredMlir, LlvmIr, Assembly };
std::string emit(const Kernel& k, Stage stage);

}  // namespace kiln::cpu
