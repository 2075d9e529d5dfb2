#pragma once
// Realization, threads and counters.
#include <cstdint>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

/// Computes all the given tensors in one schedule (shared work is done once).
void realize(const std::vector<Tensor>& tensors);
template <typename... Ts> void realize(const Tensor& t, const Ts&... more) {
  realize(std::vector<Tensor>{t, more...});
}

/// Threads that run kernels (default: the cores of the machine).
void set_num_threads(int n);
int get_num_threads();

/// Fusion on (the default) or off: off, every op gets a kernel of its own
/// (views still fold into loads), for comparison and debugging. The
/// environment variable KILN_FUSION=0 turns it off at start-up. Results
/// equal the fused ones (bitwise for elementwise chains).
void set_fusion_enabled(bool on);
bool fusion_enabled();

/// The schedule cache on (the default) or off. On, a realize() of a graph
/// whose structure was realized before (the same ops, shapes, dtypes and
/// layouts; any data, any values of the floating-point constants that are
/// launch parameters) replays the kernels scheduled the first time, without
/// running the passes and the scheduler again. KILN_SCHEDULE_CACHE=0 turns
/// it off at start-up. Off, it neither replays nor records (what it kept
/// stays for when it is on again).
void set_schedule_cache_enabled(bool on);
bool schedule_cache_enabled();

/// The most elements one kernel launch may run over (its output elements
/// times the elements each one reduces): 2^42 by default, or
/// KILN_MAX_ELEMENTS at start-up. A bigger launch raises a kiln::Error
/// naming its ops and size when the value is computed, instead of running
/// for hours (a lazy `ones({1LL << 47}).sum()` allocates nothing).
void set_max_launch_elements(int64_t n);
int64_t max_launch_elements();

/// Counters for tests and tuning; they only ever grow.
struct RuntimeStats {
  int64_t kernels_compiled = 0;  ///< JIT compilations
  int64_t kernels_loaded = 0;    ///< kernels loaded from the disk cache
  int64_t kernel_cache_hits = 0; ///< kernels found already compiled
  int64_t schedule_cache_hits = 0;  ///< realizes that replayed a graph structure seen before
  int64_t kernels_launched = 0;
  int64_t nodes_alive = 0;       ///< graph nodes currently in memory
  int64_t bytes_cached = 0;      ///< free blocks held by the allocator
  int64_t bytes_in_use = 0;      ///< blocks held by live buffers
};
RuntimeStats runtime_stats();
/// Returns cached free blocks to the system.
void empty_cache();

}  // namespace kiln
