#pragma once
// Hand-written baselines of the benchmarked chain, each compiled in its own
// translation unit with its own flags (see bench/CMakeLists.txt).
#include <cstdint>

// -O3 -march=native: IEEE math, so sin/exp/tanh are scalar libm calls.
void chain_loop_strict(const float* x, const float* y, float* out, int64_t begin, int64_t end);
// -O3 -march=native -ffast-math: lets g++ call glibc's vector math (libmvec).
void chain_loop_fast_math(const float* x, const float* y, float* out, int64_t begin, int64_t end);
