// LibTorch eager on the benchmarked chain and reduction: each op a pass over
// memory with a materialized temporary, as PyTorch runs them. Built only when
// libtorch-dev is installed (it is a baseline, never a dependency).
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <cstdio>

namespace {

constexpr int64_t kN = int64_t(1) << 24;

// Which OpenBLAS kernel LibTorch's matmuls run (scripts/kiln.sh bench sets
// OPENBLAS_CORETYPE from the CPU flags).
const bool kReportedBlas = [] {
  using CoreName = char* (*)();
  if (auto f = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename")))
    std::fprintf(stderr, "LibTorch baseline: OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s)\n", f(),
                 std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "unset");
  else
    std::fprintf(stderr, "LibTorch baseline: no OpenBLAS found (reference BLAS?)\n");
  return true;
}();

// LibTorch's thread count, and OpenBLAS's: at::set_num_threads sets
// OpenMP's only, and OpenBLAS's own pool would otherwise use every core in
// the 1-thread rows.
void set_threads(int n) {
  at::set_num_threads(n);
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

struct TorchInputs {
  torch::Tensor x = torch::rand({kN}), y = torch::rand({kN});
};
TorchInputs& torch_inputs() {
  static TorchInputs in;
  return in;
}

void BM_LibTorchEagerChain(benchmark::State& state) {
  set_threads(int(state.range(0)));
  auto& in = torch_inputs();
  for (auto _ : state) {
    torch::Tensor out = ((torch::sin(in.x) * in.y + 1).exp() - in.x).abs().sqrt() * 0.5 + in.y.tanh();
    benchmark::DoNotOptimize(out.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * kN * 12);
}
BENCHMARK(BM_LibTorchEagerChain)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// A 16-element add after every op: eager's per-op overhead.
void BM_LibTorchTinyAdd(benchmark::State& state) {
  set_threads(1);
  torch::Tensor v = torch::rand({16});
  for (auto _ : state) {
    v = v + 1.0;
    benchmark::DoNotOptimize(v.data_ptr());
  }
}
BENCHMARK(BM_LibTorchTinyAdd)->UseRealTime();

void BM_LibTorchEagerSumOfProducts(benchmark::State& state) {
  set_threads(int(state.range(0)));
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
  set_threads(int(state.range(1)));
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

namespace {

// The MLP training step of bench/training_bench.cpp, eager.
void BM_LibTorchMlpTrainStep(benchmark::State& state) {
  set_threads(int(state.range(0)));
  torch::manual_seed(0);
  const int64_t B = 256, I = 784, H = 512, O = 10;
  torch::Tensor X = torch::rand({B, I}), y = torch::arange(B) % O;
  std::vector<torch::Tensor> P;
  for (auto [o, i] : {std::pair<int64_t, int64_t>{H, I}, {H, H}, {O, H}}) {
    P.push_back((torch::randn({o, i}) / std::sqrt(double(i))).requires_grad_());
    P.push_back(torch::zeros({o}).requires_grad_());
  }
  auto step = [&] {
    for (auto& p : P) p.mutable_grad() = torch::Tensor();
    auto h1 = torch::relu(torch::nn::functional::linear(X, P[0], P[1]));
    auto h2 = torch::relu(torch::nn::functional::linear(h1, P[2], P[3]));
    auto loss = torch::nn::functional::cross_entropy(torch::nn::functional::linear(h2, P[4], P[5]), y);
    loss.backward();
    torch::NoGradGuard g;
    for (auto& p : P) p.sub_(p.grad() * 0.01);
    return loss;
  };
  for (int i = 0; i < 3; ++i) step();
  for (auto _ : state) benchmark::DoNotOptimize(step().data_ptr());
  state.counters["steps/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LibTorchMlpTrainStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
