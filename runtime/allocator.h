#pragma once
// Counters of the caching allocator (runtime/buffer.cpp).
#include <cstddef>

namespace kiln {
size_t allocator_bytes_cached();
size_t allocator_bytes_in_use();
}  // namespace kiln
