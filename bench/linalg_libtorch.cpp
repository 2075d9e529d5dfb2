// LibTorch eager on the linalg family (bench/linalg_bench.cpp), in the same
// run: its matmuls are OpenBLAS's, on the kernel OPENBLAS_CORETYPE names
// (printed at start). Built only when libtorch-dev is installed.
#include <dlfcn.h>
#include <torch/torch.h>

#include <cstdio>

#include "linalg_bench.h"

namespace {

using namespace kiln_bench;

const bool kReportedBlas = [] {
  using CoreName = char* (*)();
  if (auto f = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename")))
    std::fprintf(stderr, "LibTorch baseline: OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s)\n", f(),
                 std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "unset");
  return true;
}();

// LibTorch's OpenMP threads and OpenBLAS's own pool.
void set_threads(int n) {
  at::set_num_threads(n);
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

std::pair<torch::Tensor, torch::Tensor> operands(int64_t m, int64_t k, int64_t n, int64_t layout, torch::Dtype dt) {
  torch::manual_seed(1);
  auto o = torch::TensorOptions().dtype(dt);
  torch::Tensor a = layout == kTN ? torch::randn({k, m}, o).t() : torch::randn({m, k}, o);
  torch::Tensor b = layout == kNT ? torch::randn({n, k}, o).t() : torch::randn({k, n}, o);
  return {a, b};
}

template <torch::Dtype DT>
void BM_LibTorchMatmul(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const int threads = int(state.range(4));
  set_threads(threads);
  auto [a, b] = operands(m, k, n, state.range(3), DT);
  Stopwatch clock;
  for (auto _ : state) {
    torch::Tensor c = torch::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  gemm_counters(state, m, k, n, threads, clock.seconds());
  state.SetLabel(layout_name(state.range(3)));
}
BENCHMARK_TEMPLATE(BM_LibTorchMatmul, torch::kFloat32)->Apply(gemm_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_LibTorchMatmul, torch::kFloat64)
    ->Args({1024, 1024, 1024, kNN, 1})
    ->Args({1024, 1024, 1024, kNN, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_LibTorchMatmulEpilogue(benchmark::State& state) {
  constexpr int64_t s = 1024;
  const int threads = int(state.range(1));
  set_threads(threads);
  auto [a, b] = operands(s, s, s, kNN, torch::kFloat32);
  torch::Tensor bias = torch::randn({s}), res = torch::randn({s, s});
  Stopwatch clock;
  for (auto _ : state) {
    torch::Tensor y;
    switch (state.range(0)) {
      case kPlain: y = torch::matmul(a, b); break;
      case kBiasRelu: y = torch::relu(torch::addmm(bias, a, b)); break;
      case kBiasGelu: y = torch::gelu(torch::addmm(bias, a, b)); break;
      case kScale: y = torch::matmul(a, b) * 0.125; break;
      case kResidual: y = torch::matmul(a, b) + res; break;
    }
    benchmark::DoNotOptimize(y.data_ptr());
  }
  gemm_counters(state, s, s, s, threads, clock.seconds());
}
BENCHMARK(BM_LibTorchMatmulEpilogue)->Apply(epilogue_args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
