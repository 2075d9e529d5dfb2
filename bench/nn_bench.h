#pragma once
// The nn family's ops, shape, bytes and roofline (bench/nn_bench.cpp).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

namespace kiln_bench {

constexpr int64_t kRows = 4096, kCols = 4096;

enum class Which { Softmax, LogSoftmax, LayerNorm, SumDim0, SumDim1, SumAll };

// Bytes an op must move: x, and the output when it is a matrix.
inline int64_t bytes_of(Which w) {
  const int64_t x = kRows * kCols * 4;
  return w == Which::Softmax || w == Which::LogSoftmax || w == Which::LayerNorm ? 2 * x : x;
}

// The STREAM triad bandwidth (two float reads and one write an element),
// measured once per thread count: the roofline of these ops.

// GB/s, best of 5 passes over three 64 MiB arrays.
inline double triad_gbps(int threads) {
  static std::map<int, double> seen;
  if (auto it = seen.find(threads); it != seen.end()) return it->second;
  const int64_t n = kRows * kCols;
  std::vector<float> a(size_t(n), 1.f), b(size_t(n), 2.f), c(size_t(n), 3.f);
  auto part = [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a[size_t(i)] = b[size_t(i)] + 3.0f * c[size_t(i)];
  };
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 1; t < threads; ++t) ts.emplace_back(part, n * t / threads, n * (t + 1) / threads);
    part(0, n / threads);
    for (auto& t : ts) t.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(n) * 12 / s / 1e9);
  }
  return seen[threads] = best;
}

// The timed loop's wall time, for the roofline counter.
struct Stopwatch {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};

// The read bandwidth (a sum over one 64 MiB array), measured once per
// thread count: the roofline of the sums, which write next to nothing.
inline double read_gbps(int threads) {
  static std::map<int, double> seen;
  if (auto it = seen.find(threads); it != seen.end()) return it->second;
  const int64_t n = kRows * kCols;
  // Integer adds: the compiler vectorizes them freely, so memory is the bound.
  std::vector<uint32_t> a(size_t(n), 1u);
  std::vector<uint64_t> part_sum(static_cast<size_t>(threads));
  auto part = [&](int t, int64_t lo, int64_t hi) {
    uint32_t s = 0;
    for (int64_t i = lo; i < hi; ++i) s += a[size_t(i)];
    part_sum[size_t(t)] = s;
  };
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 1; t < threads; ++t) ts.emplace_back(part, t, n * t / threads, n * (t + 1) / threads);
    part(0, 0, n / threads);
    for (auto& t : ts) t.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(part_sum.data());
    best = std::max(best, double(n) * 4 / s / 1e9);
  }
  return seen[threads] = best;
}

// GB/s of the op's bytes, their fraction of the roofline (`roofline`: the
// triad bandwidth for the ops that write a matrix, the read bandwidth for
// the sums) and that bandwidth (`peak_GB/s`). Arg 0 is the thread count.
inline void counters(benchmark::State& state, Which w, double seconds) {
  double bytes = double(state.iterations()) * double(bytes_of(w));
  state.SetBytesProcessed(int64_t(bytes));
  const bool writes = bytes_of(w) > kRows * kCols * 4;
  const double peak = writes ? triad_gbps(int(state.range(0))) : read_gbps(int(state.range(0)));
  state.counters["roofline"] = bytes / seconds / 1e9 / peak;
  state.counters["peak_GB/s"] = peak;
}

}  // namespace kiln_bench
