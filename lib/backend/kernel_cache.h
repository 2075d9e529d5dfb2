#pragma once
// The kernel cache: what backends compiled, in memory and on disk
// (runtime/disk_cache.h), keyed by the backend's identity and the kernel's
// Kernel IR text, so structurally equal kernels (any data, any size) share
// one compilation, and a second process starts warm.
#include <cstdint>

#include "backend/backend.h"

namespace kiln {

/// The executable for `k` on `b`: from memory, else from the disk cache (a
/// damaged entry is compiled again), else compiled now. At most
/// KILN_MAX_RESIDENT_KERNELS (4096) stay loaded: beyond that the least
/// recently used one is dropped (a later use loads it from the disk cache
/// or compiles it again), so a process that meets tens of thousands of
/// kernels keeps its memory maps. The reference stays valid until the
/// kernel is unloaded (kernel_cache_evictions() counts those). Not
/// thread-safe (realize() holds the runtime lock).
const Executable& compiled_kernel(Backend& b, const Kernel& k);

/// Kernels unloaded so far: a reference compiled_kernel() returned stays
/// valid for as long as this count is unchanged (the schedule cache keeps
/// such references).
int64_t kernel_cache_evictions();
/// Counts `n` uses of loaded kernels made without a lookup (a replayed
/// schedule's launches).
void count_kernel_cache_hits(int64_t n);

struct KernelCacheStats {
  int64_t compiled = 0, from_disk = 0, hits = 0;
};
/// Counts since the start of the process (safe from any thread).
KernelCacheStats kernel_cache_stats();

}  // namespace kiln
