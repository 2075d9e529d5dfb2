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

// Host overhead: a 16-element add realized after every op (no kernel work
// to speak of, and too small to wake the thread pool).
void BM_TinyAddRealizeEachOp(benchmark::State& state) {
  Tensor v = rand({16});
  (v + 1.0).realize();  // compiled outside the timing
  for (auto _ : state) {
    v = v + 1.0;
    v.realize();
  }
  state.counters["per_op"] = time_per(1);
}
BENCHMARK(BM_TinyAddRealizeEachOp)->UseRealTime();

// Recording one op in the graph, not realized.
void BM_RecordOp(benchmark::State& state) {
  Tensor x = rand({16});
  realize(x);
  for (auto _ : state) {
    Tensor y = x + x;
    benchmark::DoNotOptimize(y);
  }
  state.counters["per_op"] = time_per(1);
}
BENCHMARK(BM_RecordOp)->UseRealTime();

// A 20-node graph on 16 elements whose structure was seen before (its
// kernels cached), built and realized again.
void BM_TinyGraphRerun(benchmark::State& state) {
  Tensor x = rand({16});
  realize(x);
  auto graph = [&] {
    Tensor v = x;
    for (int i = 0; i < 20; ++i) v = i % 2 ? v * x : v + 1.0;
    return v;
  };
  graph().realize();
  for (auto _ : state) graph().realize();
  state.counters["per_graph"] = time_per(1);
}
BENCHMARK(BM_TinyGraphRerun)->UseRealTime();

// The first compile of a new kernel: 10 random elementwise ops over 1024
// elements (a structure no cache has seen), and the same summed over a dim.
template <bool Reduce>
void BM_CompileNewKernel(benchmark::State& state) {
  Tensor x = rand({32, 32});
  realize(x);
  int64_t compiled = runtime_stats().kernels_compiled;
  for (auto _ : state) {
    std::mt19937_64 rng(fresh_seed());
    Tensor v = x;
    for (int i = 0; i < 10; ++i) v = random_op(v, x, rng);
    if (Reduce) v = sum(v, {1});
    realize(v);
  }
  state.counters["compiled"] = benchmark::Counter(double(runtime_stats().kernels_compiled - compiled),
                                                  benchmark::Counter::kAvgIterations);
}
BENCHMARK_TEMPLATE(BM_CompileNewKernel, false)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_CompileNewKernel, true)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

// randn over 16M float32 elements (compare the 10-op chain's time).
void BM_Randn16M(benchmark::State& state) {
  set_num_threads(int(state.range(0)));
  randn({16}).realize();
  for (auto _ : state) {
    Tensor r = randn({int64_t(1) << 24});
    r.realize();
    benchmark::DoNotOptimize(r.data_ptr());
  }
}
BENCHMARK(BM_Randn16M)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
