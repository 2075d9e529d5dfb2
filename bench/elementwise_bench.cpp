// A fused chain of 10 elementwise ops over 16M float32 elements, compared in
// one run with the same math as hand-written loops (g++ -O3 -march=native,
// with and without -ffast-math) and with the machine's triad memory bandwidth
// (the roofline: the chain reads x and y and writes one output, 12 bytes per
// element, like the triad), and with LibTorch eager when libtorch-dev is
// installed (bench/libtorch_baseline.cpp).
//
//   out = ((sin(x) * y + 1).exp() - x).abs().sqrt() * 0.5 + y.tanh()
//
// Counters: GB/s counts the 12 bytes/element the fused kernel must move.
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "hand_loops.h"

namespace {

constexpr int64_t kN = int64_t(1) << 24;

kiln::Tensor chain(const kiln::Tensor& x, const kiln::Tensor& y) {
  return ((kiln::sin(x) * y + 1).exp() - x).abs().sqrt() * 0.5 + y.tanh();
}

struct Inputs {
  kiln::Tensor x, y;
  Inputs() {
    kiln::manual_seed(0);
    x = kiln::rand({kN});
    y = kiln::rand({kN});
  }
};
Inputs& inputs() {
  static Inputs in;
  return in;
}

void set_bytes(benchmark::State& state, int64_t bytes_per_iter) {
  state.SetBytesProcessed(state.iterations() * bytes_per_iter);
}

void BM_KilnFusedChain(benchmark::State& state) {
  kiln::set_num_threads(int(state.range(0)));
  auto& in = inputs();
  chain(in.x, in.y).realize();  // compile outside the timing
  for (auto _ : state) {
    kiln::Tensor out = chain(in.x, in.y);
    out.realize();
    benchmark::DoNotOptimize(out.data_ptr());
  }
  set_bytes(state, kN * 12);
}
BENCHMARK(BM_KilnFusedChain)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same math as plain loops, split over threads like kiln's kernel.
template <void (*Loop)(const float*, const float*, float*, int64_t, int64_t)>
void BM_HandWritten(benchmark::State& state) {
  int threads = int(state.range(0));
  auto& in = inputs();
  const float* x = in.x.data_ptr<float>();
  const float* y = in.y.data_ptr<float>();
  std::vector<float> out(kN);
  for (auto _ : state) {
    std::vector<std::thread> ts;
    for (int t = 1; t < threads; ++t)
      ts.emplace_back(Loop, x, y, out.data(), kN * t / threads, kN * (t + 1) / threads);
    Loop(x, y, out.data(), 0, kN / threads);
    for (auto& t : ts) t.join();
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, kN * 12);
}
BENCHMARK_TEMPLATE(BM_HandWritten, chain_loop_strict)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_HandWritten, chain_loop_fast_math)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// STREAM triad a = b + s*c: the memory bandwidth roofline (two float reads and
// one write: 12 bytes/element, the same traffic as the fused chain).
void triad(float* a, const float* b, const float* c, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + 3.0f * c[i];
}

void BM_TriadBandwidth(benchmark::State& state) {
  int threads = int(state.range(0));
  std::vector<float> a(kN, 1.f), b(kN, 2.f), c(kN, 3.f);
  for (auto _ : state) {
    std::vector<std::thread> ts;
    for (int t = 1; t < threads; ++t)
      ts.emplace_back(triad, a.data(), b.data(), c.data(), kN * t / threads, kN * (t + 1) / threads);
    triad(a.data(), b.data(), c.data(), 0, kN / threads);
    for (auto& t : ts) t.join();
    benchmark::DoNotOptimize(a.data());
  }
  set_bytes(state, kN * 12);
  state.counters["triad_GB/s"] = benchmark::Counter(double(state.iterations()) * kN * 12,
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TriadBandwidth)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// sum(x * y): the product is fused into the reduction, no temporary; reads
// 8 bytes/element.
void BM_KilnSumOfProducts(benchmark::State& state) {
  kiln::set_num_threads(int(state.range(0)));
  auto& in = inputs();
  (in.x * in.y).sum().realize();
  for (auto _ : state) {
    kiln::Tensor s = (in.x * in.y).sum();
    s.realize();
    benchmark::DoNotOptimize(s.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * kN * 8);
}
BENCHMARK(BM_KilnSumOfProducts)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// matmul of two n x n float32 matrices (2 n^3 flops; counter GFLOP/s).
void BM_KilnMatmul(benchmark::State& state) {
  int64_t n = state.range(0);
  kiln::set_num_threads(int(state.range(1)));
  kiln::Tensor a = kiln::randn({n, n}), b = kiln::randn({n, n});
  kiln::matmul(a, b).realize();
  for (auto _ : state) {
    kiln::Tensor c = kiln::matmul(a, b);
    c.realize();
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(double(state.iterations()) * 2.0 * double(n * n * n) / 1e9,
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_KilnMatmul)->Args({512, 1})->Args({1024, 1})->Args({1024, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

// Compile time and host overhead: bench/compile_bench.cpp.

}  // namespace

BENCHMARK_MAIN();
