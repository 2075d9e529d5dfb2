// LibTorch eager on the nn family (bench/nn_bench.cpp), in the same run.
// Built only when libtorch-dev is installed (a baseline, never a dependency).
#include <dlfcn.h>
#include <torch/torch.h>

#include "nn_bench.h"

namespace {

using kiln_bench::counters;
using kiln_bench::kCols;
using kiln_bench::kRows;
using kiln_bench::Which;

// LibTorch's thread count (OpenMP's, and OpenBLAS's pool for completeness).
void set_threads(int n) {
  at::set_num_threads(n);
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

struct TorchInputs {
  torch::Tensor x, w, b;
  TorchInputs() {
    torch::manual_seed(0);
    x = torch::randn({kRows, kCols});
    w = torch::rand({kCols});
    b = torch::rand({kCols});
  }
};
TorchInputs& torch_inputs() {
  static TorchInputs in;
  return in;
}

template <Which W>
void BM_LibTorchEager(benchmark::State& state) {
  set_threads(int(state.range(0)));
  auto& in = torch_inputs();
  kiln_bench::Stopwatch clock;
  for (auto _ : state) {
    torch::Tensor out;
    switch (W) {
      case Which::Softmax: out = torch::softmax(in.x, -1); break;
      case Which::LogSoftmax: out = torch::log_softmax(in.x, -1); break;
      case Which::LayerNorm: out = torch::layer_norm(in.x, {kCols}, in.w, in.b); break;
      case Which::SumDim0: out = in.x.sum(0); break;
      case Which::SumDim1: out = in.x.sum(1); break;
      case Which::SumAll: out = in.x.sum(); break;
    }
    benchmark::DoNotOptimize(out.data_ptr());
  }
  counters(state, W, clock.seconds());
}

#define KILN_NN_TORCH(W) \
  BENCHMARK_TEMPLATE(BM_LibTorchEager, Which::W)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
KILN_NN_TORCH(Softmax)
KILN_NN_TORCH(LogSoftmax)
KILN_NN_TORCH(LayerNorm)
KILN_NN_TORCH(SumDim0)
KILN_NN_TORCH(SumDim1)
KILN_NN_TORCH(SumAll)

}  // namespace
