#pragma once
// The reference evaluator: a slow, scalar interpreter of Kernel IR that
// states the semantics every backend must reproduce, one element and one
// instruction at a time, in the fixed row-major order of kernel.h.
//
//  - Integers and bool are exact, wrapping to their width (bool add is or,
//    sub xor, mul and). Integer division by zero and integer pow with a
//    negative exponent are refused (undefined: the API never builds them).
//  - float16/bfloat16 compute in float32 and are rounded to their type
//    after every op (round to nearest even), as the backends do; float32
//    arithmetic (add, sub, mul, div, sqrt, fmod) is IEEE float32, so it is
//    exact; transcendentals (exp, log, sin, tanh, erf, pow, ...) are the C
//    library's double-precision functions rounded to the dtype.
//  - Reductions fold sequentially in row-major order over the reduced dims
//    (Sum/Prod of float16/bfloat16 in float32, rounded once); Max/Min and
//    ArgMax/ArgMin propagate NaN (the first NaN wins), Max takes +0 over -0.
//  - A float-to-integer cast of a value out of the integer range (or NaN)
//    is refused: backends leave it undefined.
// Ops it does not know throw "reference evaluator: op X not supported yet".
#include <cstdint>
#include <vector>

#include "kernel/kernel.h"

namespace kiln {

/// One argument's buffer: its memory and how many elements it holds (every
/// access is checked against it).
struct ReferenceBuffer {
  void* data = nullptr;
  int64_t numel = 0;
};

/// Runs `k` over the iteration space `sizes` with the launch parameters
/// `params` (kernel.h's layout, as backends get them). Throws kiln::Error
/// "reference evaluator: ..." naming the instruction for an access outside
/// a buffer and for the refused cases above.
void run_reference(const Kernel& k, const std::vector<ReferenceBuffer>& buffers, const std::vector<int64_t>& params,
                   const Shape& sizes);

}  // namespace kiln
