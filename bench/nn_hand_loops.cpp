#include "nn_hand_loops.h"

#include <cmath>

namespace {
float row_max(const float* r, int64_t cols) {
  float m = r[0];
  for (int64_t j = 0; j < cols; ++j) m = std::fmax(m, r[j]);
  return m;
}
}  // namespace

void softmax_rows(const float* x, float* out, int64_t cols, int64_t r0, int64_t r1) {
  for (int64_t i = r0; i < r1; ++i) {
    const float* r = x + i * cols;
    float* o = out + i * cols;
    const float m = row_max(r, cols);
    float s = 0;
    for (int64_t j = 0; j < cols; ++j) {
      o[j] = std::exp(r[j] - m);
      s += o[j];
    }
    const float inv = 1.0f / s;
    for (int64_t j = 0; j < cols; ++j) o[j] *= inv;
  }
}

void log_softmax_rows(const float* x, float* out, int64_t cols, int64_t r0, int64_t r1) {
  for (int64_t i = r0; i < r1; ++i) {
    const float* r = x + i * cols;
    float* o = out + i * cols;
    const float m = row_max(r, cols);
    float s = 0;
    for (int64_t j = 0; j < cols; ++j) s += std::exp(r[j] - m);
    const float l = m + std::log(s);
    for (int64_t j = 0; j < cols; ++j) o[j] = r[j] - l;
  }
}

void layer_norm_rows(const float* x, const float* w, const float* b, float* out, int64_t cols, int64_t r0,
                     int64_t r1) {
  for (int64_t i = r0; i < r1; ++i) {
    const float* r = x + i * cols;
    float* o = out + i * cols;
    float s = 0, s2 = 0;
    for (int64_t j = 0; j < cols; ++j) {
      s += r[j];
      s2 += r[j] * r[j];
    }
    const float mean = s / float(cols), var = s2 / float(cols) - mean * mean;
    const float inv = 1.0f / std::sqrt(var + 1e-5f);
    for (int64_t j = 0; j < cols; ++j) o[j] = (r[j] - mean) * inv * w[j] + b[j];
  }
}

void sum_cols(const float* x, float* out, int64_t cols, int64_t rows, int64_t c0, int64_t c1) {
  for (int64_t j = c0; j < c1; ++j) out[j] = 0;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = c0; j < c1; ++j) out[j] += x[i * cols + j];
}

void sum_rows(const float* x, float* out, int64_t cols, int64_t r0, int64_t r1) {
  for (int64_t i = r0; i < r1; ++i) {
    float s = 0;
    for (int64_t j = 0; j < cols; ++j) s += x[i * cols + j];
    out[i] = s;
  }
}
