#pragma once
// The linalg family's shapes, layouts and roofline (bench/linalg_bench.cpp).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <thread>
#include <vector>

namespace kiln_bench {

// How A and B are laid out: row-major, A transposed in memory (A^T B, a
// weight's gradient), B transposed (A B^T, a linear layer's forward).
enum Layout : int64_t { kNN = 0, kTN = 1, kNT = 2 };
inline const char* layout_name(int64_t l) { return l == kTN ? "A^T B" : l == kNT ? "A B^T" : "A B"; }

// The epilogues after A @ B (float32, 1024^3 in the rows that use them).
enum Epilogue : int64_t { kPlain = 0, kBiasRelu = 1, kBiasGelu = 2, kScale = 3, kResidual = 4 };

// The FMA peak in GFLOP/s with `threads` threads: each runs 12 independent
// vector fma chains (as wide as -march=native allows), the bound of a
// register-tiled matmul.
inline double fma_peak_gflops(int threads) {
  static std::map<int, double> seen;
  if (auto it = seen.find(threads); it != seen.end()) return it->second;
#if defined(__AVX512F__)
  constexpr int kLanes = 16;
#else
  constexpr int kLanes = 8;
#endif
  typedef float vec __attribute__((vector_size(kLanes * 4)));
  constexpr int64_t kIters = 20'000'000;
  auto run = [] {
    vec a0{}, a1{}, a2{}, a3{}, a4{}, a5{}, a6{}, a7{}, a8{}, a9{}, a10{}, a11{};
    vec x = vec{} + 0.999f, y = vec{} + 1e-7f;
    for (int64_t i = 0; i < kIters; ++i) {
      a0 = a0 * x + y; a1 = a1 * x + y; a2 = a2 * x + y; a3 = a3 * x + y;
      a4 = a4 * x + y; a5 = a5 * x + y; a6 = a6 * x + y; a7 = a7 * x + y;
      a8 = a8 * x + y; a9 = a9 * x + y; a10 = a10 * x + y; a11 = a11 * x + y;
      asm volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
      asm volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    vec s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    benchmark::DoNotOptimize(s);
  };
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 1; t < threads; ++t) ts.emplace_back(run);
    run();
    for (auto& t : ts) t.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(threads) * double(kIters) * 12 * kLanes * 2 / s / 1e9);
  }
  return seen[threads] = best;
}

// GFLOP/s of 2 M K N flops an iteration, its fraction of the FMA peak
// (`of_peak`) and the peak. Arg `threads_arg` is the thread count.
inline void gemm_counters(benchmark::State& state, int64_t m, int64_t k, int64_t n, int threads, double seconds) {
  double flops = double(state.iterations()) * 2.0 * double(m) * double(k) * double(n);
  const double peak = fma_peak_gflops(threads);
  state.counters["GFLOP/s"] = flops / seconds / 1e9;
  state.counters["of_peak"] = flops / seconds / 1e9 / peak;
  state.counters["peak_GFLOP/s"] = peak;
}

struct Stopwatch {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};

// The rows: {M, K, N, layout, threads} for the plain products, then the
// epilogues at 1024^3.
inline void gemm_args(benchmark::internal::Benchmark* b) {
  for (int64_t t : {1, 2}) {
    for (int64_t s : {1024, 2048})
      for (int64_t l : {kNN, kTN, kNT}) b->Args({s, s, s, l, t});
    // The MLP's skinny products: its last layer forward and weight gradient.
    b->Args({256, 512, 10, kNT, t});
    b->Args({10, 256, 512, kTN, t});
    b->Args({256, 784, 512, kNT, t});
    b->Args({512, 256, 784, kTN, t});
  }
}
inline void epilogue_args(benchmark::internal::Benchmark* b) {
  for (int64_t t : {1, 2})
    for (int64_t e : {kPlain, kBiasRelu, kBiasGelu, kScale, kResidual}) b->Args({e, t});
}

}  // namespace kiln_bench
