#include <cmath>

#include "hand_loops.h"

void chain_loop_fast_math(const float* x, const float* y, float* out, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i)
    out[i] = std::sqrt(std::fabs(std::exp(std::sin(x[i]) * y[i] + 1.0f) - x[i])) * 0.5f + std::tanh(y[i]);
}
