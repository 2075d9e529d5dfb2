#pragma once
// Hand-fused baselines of the row-wise nn ops and the sums over a row-major
// [rows, cols] float32 matrix, rows [r0, r1) (a thread's share); compiled
// -O3 -march=native -ffast-math, so exp and log are glibc's vector math
// (bench/CMakeLists.txt).
#include <cstdint>

void softmax_rows(const float* x, float* out, int64_t cols, int64_t r0, int64_t r1);
void log_softmax_rows(const float* x, float* out, int64_t cols, int64_t r0, int64_t r1);
void layer_norm_rows(const float* x, const float* w, const float* b, float* out, int64_t cols, int64_t r0, int64_t r1);
/// out[j] = sum over rows [r0, r1) of x[i, j], for columns [c0, c1).
void sum_cols(const float* x, float* out, int64_t cols, int64_t rows, int64_t c0, int64_t c1);
/// out[i] = sum over the columns of x[i, :].
void sum_rows(const float* x, float* out, int64_t cols, int64_t r0, int64_t r1);
