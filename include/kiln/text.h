#pragma once
// The graph behind tensors as text: the .kiln format that kilnc reads.
//
//   auto y = (kiln::rand({4, 3}) * 2).sum({1});
//   std::ofstream("y.kiln") << kiln::to_text({y});
//   // $ kilnc y.kiln --emit=schedule
//
// Computed (realized) tensors appear as inputs, with their values inline
// when they are small (at most 32 elements), else as typed inputs that
// `kilnc --run` fills with random values.
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

/// The graph that computes `tensors`, one op per line, ending with
/// `output ...` naming the tensors in order. Computes nothing.
std::string to_text(const std::vector<Tensor>& tensors);

}  // namespace kiln
