// rand/randn from Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3"): a counter-based generator, so element i's value depends
// only on (seed, offset + i), never on threads or devices.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <mutex>

#include "kiln/ops.h"
#include "runtime/thread_pool.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {

struct Philox {
  uint64_t seed = 67280421310721ull;
  uint64_t offset = 0;  // 4-value blocks consumed so far

  // One block: 4 x 32 random bits for counter `ctr`.
  std::array<uint32_t, 4> block(uint64_t ctr) const {
    uint32_t c[4] = {uint32_t(ctr), uint32_t(ctr >> 32), 0, 0};
    uint32_t k[2] = {uint32_t(seed), uint32_t(seed >> 32)};
    for (int round = 0; round < 10; ++round) {
      uint64_t p0 = uint64_t(0xD2511F53u) * c[0];
      uint64_t p1 = uint64_t(0xCD9E8D57u) * c[2];
      uint32_t n0 = uint32_t(p1 >> 32) ^ c[1] ^ k[0];
      uint32_t n2 = uint32_t(p0 >> 32) ^ c[3] ^ k[1];
      c[0] = n0;
      c[1] = uint32_t(p1);
      c[2] = n2;
      c[3] = uint32_t(p0);
      k[0] += 0x9E3779B9u;
      k[1] += 0xBB67AE85u;
    }
    return {c[0], c[1], c[2], c[3]};
  }
};

Philox& generator() {
  static Philox g;
  return g;
}
// Guards the generator: each call takes a range of the stream of its own,
// whichever threads draw at the same time.
std::mutex& generator_mutex() {
  static std::mutex mu;
  return mu;
}

// Uniform in [0, 1) with as many random bits as the dtype has significand
// bits (53 double, 24 float, 11 float16, 8 bfloat16), so every value is
// exact in the dtype and none rounds up to 1.
double uniform(uint32_t a, uint32_t b, int bits) {
  if (bits <= 32) return std::ldexp(double(a >> (32 - bits)), -bits);
  return double((uint64_t(a) << 21) ^ (uint64_t(b) >> 11)) * 0x1.0p-53;
}

int significand_bits(DType t) {
  switch (t) {
    case kFloat64: return 53;
    case kFloat16: return 11;
    case kBFloat16: return 8;
    default: return 24;
  }
}

Tensor random(const Shape& shape, TensorOptions opts, bool normal, const char* op) {
  DType t = opts.dtype().value_or(kFloat32);
  if (!is_floating(t))
    throw Error(fmt::format("{}: expected a floating point dtype, got {}", op, name(t)));
  if (!opts.device().is_cpu()) throw Error(fmt::format("{}: only the cpu device is supported yet", op));
  Tensor r = empty(shape, t);
  char* p = static_cast<char*>(node_of(r)->buffer->data());
  int64_t n = r.numel();
  Philox g;
  {
    std::lock_guard<std::mutex> lock(generator_mutex());
    g = generator();
    generator().offset += uint64_t(n);
  }
  // Each element takes one 4x32-bit block: two words for the value (or the
  // Box-Muller pair), so the stream layout is simple and seekable, and any
  // split of the elements among threads gives the same values.
  const int bits = significand_bits(t);
  visit_dtype(t, [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16> || std::is_floating_point_v<T>) {
      auto fill = [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          auto b = g.block(g.offset + uint64_t(i));
          double v;
          if (!normal) {
            v = uniform(b[0], b[1], bits);
          } else {
            double u1 = 1.0 - uniform(b[0], b[1], 53);  // (0, 1]: log is finite
            double u2 = uniform(b[2], b[3], 53);
            v = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
          }
          T x = T(static_cast<float>(v));
          if constexpr (std::is_same_v<T, double>) x = v;
          std::memcpy(p + i * int64_t(sizeof(T)), &x, sizeof(T));
        }
      };
      // Large fills on the kernel threads, in chunks of kChunk elements (the
      // pool is shared with realize(), hence its lock).
      constexpr int64_t kChunk = 1 << 16;
      if (n < 2 * kChunk) {
        fill(0, n);
        return;
      }
      std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
      ThreadPool::instance().parallel_for((n + kChunk - 1) / kChunk, [&](int64_t c) {
        fill(c * kChunk, std::min(n, (c + 1) * kChunk));
      });
    }
  });
  if (opts.requires_grad()) r.requires_grad_(true);
  return r;
}

}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(generator_mutex());
  generator().seed = seed;
  generator().offset = 0;
}

Tensor rand(const Shape& shape, TensorOptions opts) { return random(shape, opts, false, "rand"); }
Tensor randn(const Shape& shape, TensorOptions opts) { return random(shape, opts, true, "randn"); }
Tensor rand_like(const Tensor& t) { return rand(t.shape(), t.dtype()); }
Tensor randn_like(const Tensor& t) { return randn(t.shape(), t.dtype()); }

}  // namespace kiln
