// A training step of the MLP 784-512-512-10 (batch 256, ReLU, cross_entropy,
// SGD): forward, backward and the update realized as one schedule per step,
// and the same loop left lazy (only loss.item() each step). LibTorch eager
// runs the same step in the same binary when libtorch-dev is installed
// (bench/libtorch_baseline.cpp). Counter: steps/s.
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <cmath>
#include <vector>

namespace {

constexpr int64_t kBatch = 256, kIn = 784, kHidden = 512, kOut = 10;

struct Mlp {
  kiln::Tensor X, y;
  std::vector<kiln::Tensor> params;
  Mlp() {
    kiln::manual_seed(0);
    X = kiln::rand({kBatch, kIn}).realize();
    y = (kiln::arange(kBatch) % kOut).realize();
    for (auto [o, i] : {std::pair{kHidden, kIn}, {kHidden, kHidden}, {kOut, kHidden}}) {
      params.push_back((kiln::randn({o, i}) * (1.0 / std::sqrt(double(i)))).clone().requires_grad_());
      params.push_back(kiln::zeros({o}).clone().requires_grad_());
    }
  }
  kiln::Tensor step(double lr = 0.01) {
    for (auto& p : params) p.mutable_grad() = kiln::Tensor();
    auto& P = params;
    auto h1 = kiln::nn::linear(X, P[0], P[1]).relu();
    auto h2 = kiln::nn::linear(h1, P[2], P[3]).relu();
    auto loss = kiln::nn::cross_entropy(kiln::nn::linear(h2, P[4], P[5]), y);
    loss.backward();
    kiln::NoGradGuard g;
    for (auto& p : P) p.sub_(p.grad() * lr);
    return loss;
  }
};

void steps_per_second(benchmark::State& state) {
  state.counters["steps/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

// Every step realized: parameters and loss in one schedule.
void BM_KilnMlpTrainStep(benchmark::State& state) {
  kiln::set_num_threads(int(state.range(0)));
  Mlp m;
  for (int i = 0; i < 3; ++i) {  // compile outside the timing
    auto l = m.step();
    auto all = m.params;
    all.push_back(l);
    kiln::realize(all);
  }
  for (auto _ : state) {
    auto l = m.step();
    auto all = m.params;
    all.push_back(l);
    kiln::realize(all);
  }
  steps_per_second(state);
}
BENCHMARK(BM_KilnMlpTrainStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// Never realize: only read the loss (the parameters are stored as the next
// step's schedule computes them).
void BM_KilnMlpTrainStepLazy(benchmark::State& state) {
  kiln::set_num_threads(int(state.range(0)));
  Mlp m;
  for (int i = 0; i < 3; ++i) m.step().item<float>();
  for (auto _ : state) benchmark::DoNotOptimize(m.step().item<float>());
  steps_per_second(state);
}
BENCHMARK(BM_KilnMlpTrainStepLazy)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
