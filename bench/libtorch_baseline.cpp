// LibTorch eager on the benchmarked chain and reduction: each op a pass over
// memory with a materialized temporary, as PyTorch runs them. Built only when
// libtorch-dev is installed (it is a baseline, never a dependency).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

namespace {

constexpr int64_t kN = int64_t(1) << 24;

struct TorchInputs {
  torch::Tensor x = torch::rand({kN}), y = torch::rand({kN});
};
TorchInputs& torch_inputs() {
  static TorchInputs in;
  return in;
}

void BM_LibTorchEagerChain(benchmark::State& state) {
  at::set_num_threads(int(state.range(0)));
  auto& in = torch_inputs();
  for (auto _ : state) {
    torch::Tensor out = ((torch::sin(in.x) * in.y + 1).exp() - in.x).abs().sqrt() * 0.5 + in.y.tanh();
    benchmark::DoNotOptimize(out.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * kN * 12);
}
BENCHMARK(BM_LibTorchEagerChain)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LibTorchEagerSumOfProducts(benchmark::State& state) {
  at::set_num_threads(int(state.range(0)));
  auto& in = torch_inputs();
  for (auto _ : state) {
    torch::Tensor s = (in.x * in.y).sum();
    benchmark::DoNotOptimize(s.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * kN * 8);
}
BENCHMARK(BM_LibTorchEagerSumOfProducts)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LibTorchMatmul(benchmark::State& state) {
  int64_t n = state.range(0);
  at::set_num_threads(int(state.range(1)));
  torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  for (auto _ : state) {
    torch::Tensor c = torch::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(double(state.iterations()) * 2.0 * double(n * n * n) / 1e9,
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LibTorchMatmul)->Args({512, 1})->Args({1024, 1})->Args({1024, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
