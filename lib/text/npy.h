#pragma once
// NumPy .npy files (format versions 1-3, little-endian, C order): what
// kilnc reads input values from.
#include <memory>
#include <string>

#include "graph/node.h"

namespace kiln::text {

struct NpyArray {
  DType dtype;
  Shape shape;
  std::shared_ptr<Buffer> data;  // contiguous, numel * element_size(dtype) bytes
};

/// Reads an .npy file; throws kiln::Error saying what is wrong with it.
NpyArray read_npy(const std::string& path);

/// Writes `data` (contiguous elements of dtype/shape) as an .npy file.
void write_npy(const std::string& path, DType dtype, const Shape& shape, const void* data);

}  // namespace kiln::text
