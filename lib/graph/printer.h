#pragma once
// Text form of a graph, one node per line, inputs first:
//   %0 = buffer : f32[4, 3]
//   %1 = sin(%0) : f32[4, 3]
//   %2 = full {value=1} : f32[]
//   %3 = add(%1, %2) : f32[4, 3]
#include <string>
#include <vector>

#include "graph/node.h"

namespace kiln {
std::string graph_str(const std::vector<NodeRef>& outputs);
}  // namespace kiln
