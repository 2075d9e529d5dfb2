#pragma once
// rand/randn, one element at a time: the definition the reference evaluator
// states and the Kernel IR expansion (lib/ops/random.cpp) reproduces.
//
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3") is counter-based: element p of a draw is block (offset + p) under the
// key `seed`, so a value depends only on (seed, offset + p), never on
// threads, kernels or devices. Each element takes one 4 x 32-bit block: two
// words for a uniform value, all four for a normal one (Box-Muller, its cos
// half), so the stream is simple and seekable.
#include <array>
#include <cmath>
#include <cstdint>

#include "kiln/dtype.h"

namespace kiln::philox {

inline constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
inline constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
inline constexpr int kRounds = 10;

/// The four words of block `ctr` under key `seed`.
inline std::array<uint32_t, 4> block(uint64_t seed, uint64_t ctr) {
  uint32_t c[4] = {uint32_t(ctr), uint32_t(ctr >> 32), 0, 0};
  uint32_t k[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  for (int round = 0; round < kRounds; ++round) {
    uint64_t p0 = uint64_t(kMul0) * c[0];
    uint64_t p1 = uint64_t(kMul1) * c[2];
    uint32_t n0 = uint32_t(p1 >> 32) ^ c[1] ^ k[0];
    uint32_t n2 = uint32_t(p0 >> 32) ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = uint32_t(p1);
    c[2] = n2;
    c[3] = uint32_t(p0);
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  return {c[0], c[1], c[2], c[3]};
}

/// Random significand bits of a uniform value of dtype t: as many as the
/// dtype has (53 double, 24 float, 11 float16, 8 bfloat16), so every value
/// is exact in the dtype and none rounds up to 1.
inline int significand_bits(DType t) {
  switch (t) {
    case kFloat64: return 53;
    case kFloat16: return 11;
    case kBFloat16: return 8;
    default: return 24;
  }
}

/// Uniform in [0, 1) with `bits` random bits from words a (high) and b.
inline double uniform(uint32_t a, uint32_t b, int bits) {
  if (bits <= 32) return std::ldexp(double(a >> (32 - bits)), -bits);
  return double((uint64_t(a) << 21) ^ (uint64_t(b) >> 11)) * 0x1.0p-53;
}

/// The double a rand (normal = false) or randn element computes before it
/// is rounded to its dtype (through float32 for float16/bfloat16).
inline double value(bool normal, DType t, uint64_t seed, uint64_t ctr) {
  std::array<uint32_t, 4> w = block(seed, ctr);
  if (!normal) return uniform(w[0], w[1], significand_bits(t));
  double u1 = 1.0 - uniform(w[0], w[1], 53);  // (0, 1]: log is finite
  double u2 = uniform(w[2], w[3], 53);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace kiln::philox
