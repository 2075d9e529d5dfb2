// The linalg family: float32 matmuls in the three layouts a training step
// uses (A B, A^T B, A B^T) at 1024^3 and 2048^3 and the MLP's skinny shapes,
// float64 at 1024^3, and the epilogues a layer puts after a matmul (bias +
// relu, bias + gelu, a scale, a residual add) beside the plain product. Side
// by side in one run with LibTorch eager (OpenBLAS on its proper kernel,
// bench/linalg_libtorch.cpp) when libtorch-dev is installed.
//
// Counters: GFLOP/s, and `of_peak`, its fraction of the FMA peak this
// program measures (linalg_bench.h).
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include "linalg_bench.h"

namespace {

using namespace kiln_bench;

// A and B with the values of row-major [m, k] and [k, n], laid out as asked.
std::pair<kiln::Tensor, kiln::Tensor> operands(int64_t m, int64_t k, int64_t n, int64_t layout, kiln::DType dt) {
  kiln::manual_seed(1);
  kiln::Tensor a = layout == kTN ? kiln::randn({k, m}, dt).realize().t() : kiln::randn({m, k}, dt).realize();
  kiln::Tensor b = layout == kNT ? kiln::randn({n, k}, dt).realize().t() : kiln::randn({k, n}, dt).realize();
  return {a, b};
}

template <kiln::DType DT>
void BM_KilnMatmul(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const int threads = int(state.range(4));
  kiln::set_num_threads(threads);
  auto [a, b] = operands(m, k, n, state.range(3), DT);
  kiln::matmul(a, b).realize();  // compile outside the timing
  Stopwatch clock;
  for (auto _ : state) {
    kiln::Tensor c = kiln::matmul(a, b);
    c.realize();
    benchmark::DoNotOptimize(c.data_ptr());
  }
  gemm_counters(state, m, k, n, threads, clock.seconds());
  state.SetLabel(layout_name(state.range(3)));
}
BENCHMARK_TEMPLATE(BM_KilnMatmul, kiln::kFloat32)->Apply(gemm_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_KilnMatmul, kiln::kFloat64)
    ->Args({1024, 1024, 1024, kNN, 1})
    ->Args({1024, 1024, 1024, kNN, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// y = epilogue(A @ B) at 1024^3, assigned before it is realized (a
// temporary alive at realize() would be stored as a value needed later).
void BM_KilnMatmulEpilogue(benchmark::State& state) {
  constexpr int64_t s = 1024;
  const int threads = int(state.range(1));
  kiln::set_num_threads(threads);
  auto [a, b] = operands(s, s, s, kNN, kiln::kFloat32);
  kiln::Tensor bias = kiln::randn({s}).realize(), res = kiln::randn({s, s}).realize();
  auto run = [&] {
    kiln::Tensor y;
    switch (state.range(0)) {
      case kPlain: y = kiln::matmul(a, b); break;
      case kBiasRelu: y = (kiln::matmul(a, b) + bias).relu(); break;
      case kBiasGelu: y = kiln::nn::gelu(kiln::matmul(a, b) + bias); break;
      case kScale: y = kiln::matmul(a, b) * 0.125; break;
      case kResidual: y = kiln::matmul(a, b) + res; break;
    }
    y.realize();
    benchmark::DoNotOptimize(y.data_ptr());
  };
  run();
  Stopwatch clock;
  for (auto _ : state) run();
  gemm_counters(state, s, s, s, threads, clock.seconds());
  const char* names[] = {"A @ B", "relu(A @ B + bias)", "gelu(A @ B + bias)", "A @ B * 0.125", "A @ B + R"};
  state.SetLabel(names[state.range(0)]);
}
BENCHMARK(BM_KilnMatmulEpilogue)->Apply(epilogue_args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
