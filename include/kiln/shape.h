#pragma once
// Shape: the sizes of a tensor's dims (the vocabulary the graph layer shares
// with the public API).
#include <cstdint>
#include <vector>

namespace kiln {

using Shape = std::vector<int64_t>;

}  // namespace kiln
