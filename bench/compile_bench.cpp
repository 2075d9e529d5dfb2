// Compile time against graph size: building, scheduling, compiling and
// running a graph must grow linearly with it. Each iteration builds a new
// random program (fresh kernels: nothing comes from the kernel caches), and
// the counters give the time per op, which stays flat when the growth is
// linear. Kernels are capped at max_kernel_ops() (256 units, a transcendental
// counting 8; KILN_MAX_KERNEL_OPS=100000 shows the uncapped curve).
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <chrono>
#include <random>

namespace {

using namespace kiln;

// Time per op (per output, per step) of the timed loop, printed in s with an SI prefix.
benchmark::Counter time_per(int64_t units) {
  return benchmark::Counter(double(units), benchmark::Counter::kIsIterationInvariantRate |
                                               benchmark::Counter::kInvert);
}

uint64_t fresh_seed() {
  static std::mt19937_64 seeds(uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()));
  return seeds();
}

// One random elementwise op applied to x (with y as the other operand).
Tensor random_op(const Tensor& x, const Tensor& y, std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0: return x + y;
    case 1: return x * 0.5;
    case 2: return x.abs();
    case 3: return -x;
    case 4: return maximum(x, y);
    default: return x - y * 0.25;
  }
}

// A chain of N ops, realized at once.
void BM_ChainOfOps(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor x = rand({1024});
  realize(x);
  for (auto _ : state) {
    std::mt19937_64 rng(fresh_seed());
    Tensor v = x;
    for (int64_t i = 0; i < n; ++i) v = random_op(v, x, rng);
    realize(v);
  }
  state.counters["per_op"] = time_per(n);
}
BENCHMARK(BM_ChainOfOps)->Arg(1000)->Arg(4000)->Arg(16000)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// K outputs of one shape realized together (one schedule): they share kernels
// up to the cap.
void BM_ManyOutputs(benchmark::State& state) {
  const int64_t k = state.range(0);
  Tensor x = rand({1024});
  realize(x);
  for (auto _ : state) {
    std::mt19937_64 rng(fresh_seed());
    std::vector<Tensor> outs;
    for (int64_t i = 0; i < k; ++i) outs.push_back(random_op(random_op(x, x, rng), x, rng));
    realize(outs);
  }
  state.counters["per_output"] = time_per(k);
}
BENCHMARK(BM_ManyOutputs)->Arg(250)->Arg(500)->Arg(1000)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// A lazily accumulated sum over N steps (acc = acc + x * step), read once.
void BM_AccumulatedSteps(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor x = rand({256});
  realize(x);
  for (auto _ : state) {
    double salt = double(fresh_seed() % 1000) / 1000.0;
    Tensor acc = zeros({256});
    for (int64_t i = 0; i < n; ++i) acc = acc + x * (double(i) + salt);
    benchmark::DoNotOptimize(acc.sum().item<double>());
  }
  state.counters["per_step"] = time_per(n);
}
BENCHMARK(BM_AccumulatedSteps)->Arg(1250)->Arg(5000)->Arg(20000)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
