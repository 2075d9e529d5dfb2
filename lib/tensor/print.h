#pragma once
// The tensor printer: PyTorch 1.13's repr(tensor) text (torch/_tensor_str.py
// with the default print options: precision 4, threshold 1000, edgeitems 3,
// linewidth 80, sci_mode chosen automatically).
#include <string>
#include <vector>

#include "kiln/dtype.h"
#include "kiln/tensor.h"

namespace kiln {

/// Formats the tensor whose element [0, ..., 0] is at `data` and whose
/// element at multi-index i is at data + sum(i_d * strides_d) elements
/// (strides may be 0 or non-contiguous), e.g.
///   "tensor([[1., 2.],\n        [3., 4.]])".
/// `extra_suffixes` ("requires_grad=True", "grad_fn=<MulBackward0>") follow
/// the size/dtype suffixes, wrapped at the line width the way PyTorch does.
std::string format_tensor(const void* data, DType dtype, const Shape& shape, const Shape& strides,
                          const std::vector<std::string>& extra_suffixes = {});

}  // namespace kiln
