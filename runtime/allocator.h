#pragma once
// Counters of the caching allocator (runtime/buffer.cpp).
#include <cstddef>

namespace kiln {
size_t allocator_bytes_cached();
size_t allocator_bytes_in_use();
/// Returns the cached free blocks to the system (kiln::empty_cache()).
void allocator_empty_cache();
}  // namespace kiln
