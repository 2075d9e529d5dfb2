#pragma once
// Kernel IR: one fused kernel as a target-neutral, printable value.
//
// A kernel iterates over an n-d shape (its "iteration space"); every argument
// is a buffer read or written through strides over that space. The body is a
// list of scalar instructions in SSA form, evaluated once per element:
//
//   kernel E_sin_mul_add rank=1 {
//     arg0: in f32 inner=contig
//     arg1: in f32 inner=bcast
//     arg2: out f32 inner=contig
//     %0 = load arg0 : f32
//     %1 = sin %0 : f32
//     %2 = load arg1 : f32
//     %3 = mul %1, %2 : f32
//     %4 = const 1 : f32
//     %5 = add %3, %4 : f32
//     store arg2, %5
//   }
//
// Sizes, strides and offsets are launch parameters, not part of the kernel,
// so one compiled kernel serves every size. Only the innermost stride's class
// (contiguous, broadcast or general) is structural, because it decides how
// the loop vectorizes. The printed text is the cache key.
#include <cstdint>
#include <string>
#include <vector>

#include "graph/node.h"

namespace kiln {

enum class InnerStride : uint8_t { Contig, Bcast, General };

struct KernelArg {
  bool is_output = false;
  DType dtype = kFloat32;
  InnerStride inner = InnerStride::Contig;
};

struct Instr {
  enum class Kind : uint8_t { Load, Const, Compute, Store };
  Kind kind = Kind::Compute;
  Op op = Op::Add;           // Compute: the elementwise graph op
  DType dtype = kFloat32;    // type of the result (Store: of the stored value)
  std::vector<int> operands; // SSA ids of earlier instructions
  int arg = -1;              // Load/Store: argument index
  Scalar value;              // Const

  // Compute ops with a dtype attribute (Cast) take it from `dtype`.
};

struct Kernel {
  std::string name;
  int rank = 1;
  std::vector<KernelArg> args;
  std::vector<Instr> body;  // SSA id = index in body

  /// Canonical text (above); equal texts mean interchangeable kernels.
  std::string str() const;
};

/// Launch parameter layout shared by every backend: for a kernel of rank R
/// with A args, `params` holds sizes[R], then per arg strides[R] and offset:
///   params = [size_0..size_{R-1}, (stride_0..stride_{R-1}, offset) x A]
/// The CPU entry point computes rows [row_begin, row_end) x columns
/// [col_begin, col_end), where a row is one index of dims 0..R-2 (row-major)
/// and columns index the last dim:
///   void fn(void** ptrs, const int64_t* params,
///           int64_t row_begin, int64_t row_end, int64_t col_begin, int64_t col_end);
using CpuKernelFn = void (*)(void* const* ptrs, const int64_t* params, int64_t row_begin,
                             int64_t row_end, int64_t col_begin, int64_t col_end);

}  // namespace kiln
