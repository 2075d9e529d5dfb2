// The memory-bound nn family over a [4096, 4096] float32 matrix: softmax and
// log_softmax along the rows, layer_norm over them, and the sums over dim 0,
// dim 1 and all. Each op side by side in one run: kiln (fused), kiln with
// fusion off (set_fusion_enabled(false): a kernel per op, as eager), the
// hand-fused loop (bench/nn_hand_loops.cpp, -O3 -march=native -ffast-math,
// rows split over threads) and LibTorch eager when libtorch-dev is installed
// (bench/nn_libtorch.cpp).
//
// Counters: GB/s counts the bytes the op must move (one read of x, plus one
// write of the output where it is a matrix); `roofline` is that rate over
// the triad bandwidth this program measures (nn_bench.h).
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <functional>
#include <thread>
#include <vector>

#include "nn_bench.h"
#include "nn_hand_loops.h"

namespace {

using kiln_bench::counters;
using kiln_bench::kCols;
using kiln_bench::kRows;
using kiln_bench::Which;

struct Inputs {
  kiln::Tensor x, w, b;
  Inputs() {
    kiln::manual_seed(0);
    x = kiln::randn({kRows, kCols}).realize();
    w = kiln::rand({kCols}).realize();
    b = kiln::rand({kCols}).realize();
  }
};
Inputs& inputs() {
  static Inputs in;
  return in;
}

kiln::Tensor kiln_op(Which w, const Inputs& in) {
  switch (w) {
    case Which::Softmax: return kiln::nn::softmax(in.x, -1);
    case Which::LogSoftmax: return kiln::nn::log_softmax(in.x, -1);
    case Which::LayerNorm: return kiln::nn::layer_norm(in.x, {kCols}, in.w, in.b);
    case Which::SumDim0: return kiln::sum(in.x, {0});
    case Which::SumDim1: return kiln::sum(in.x, {1});
    case Which::SumAll: return kiln::sum(in.x);
  }
  return {};
}

template <Which W, bool Fused>
void BM_Kiln(benchmark::State& state) {
  kiln::set_num_threads(int(state.range(0)));
  kiln::set_fusion_enabled(Fused);
  auto& in = inputs();
  kiln_op(W, in).realize();  // compile outside the timing
  kiln_bench::Stopwatch clock;
  for (auto _ : state) {
    kiln::Tensor out = kiln_op(W, in);
    out.realize();
    benchmark::DoNotOptimize(out.data_ptr());
  }
  kiln::set_fusion_enabled(true);
  counters(state, W, clock.seconds());
}

// fn(lo, hi) over [0, n) split among `threads`.
void split(int threads, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  std::vector<std::thread> ts;
  for (int t = 1; t < threads; ++t) ts.emplace_back(fn, n * t / threads, n * (t + 1) / threads);
  fn(0, n / threads);
  for (auto& t : ts) t.join();
}

template <Which W>
void BM_HandFused(benchmark::State& state) {
  const int threads = int(state.range(0));
  auto& in = inputs();
  const float* x = in.x.data_ptr<float>();
  const float *w = in.w.data_ptr<float>(), *b = in.b.data_ptr<float>();
  std::vector<float> out(size_t(kRows) * size_t(kCols)), partial(static_cast<size_t>(kRows));
  kiln_bench::Stopwatch clock;
  for (auto _ : state) {
    switch (W) {
      case Which::Softmax: split(threads, kRows, [&](int64_t lo, int64_t hi) { softmax_rows(x, out.data(), kCols, lo, hi); }); break;
      case Which::LogSoftmax:
        split(threads, kRows, [&](int64_t lo, int64_t hi) { log_softmax_rows(x, out.data(), kCols, lo, hi); });
        break;
      case Which::LayerNorm:
        split(threads, kRows, [&](int64_t lo, int64_t hi) { layer_norm_rows(x, w, b, out.data(), kCols, lo, hi); });
        break;
      case Which::SumDim0: split(threads, kCols, [&](int64_t lo, int64_t hi) { sum_cols(x, out.data(), kCols, kRows, lo, hi); }); break;
      case Which::SumDim1: split(threads, kRows, [&](int64_t lo, int64_t hi) { sum_rows(x, out.data(), kCols, lo, hi); }); break;
      case Which::SumAll: {
        split(threads, kRows, [&](int64_t lo, int64_t hi) { sum_rows(x, partial.data(), kCols, lo, hi); });
        float s = 0;
        for (float p : partial) s += p;
        out[0] = s;
        break;
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  counters(state, W, clock.seconds());
}

#define KILN_NN_BENCH(W)                                                                                  \
  BENCHMARK_TEMPLATE(BM_Kiln, Which::W, true)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime(); \
  BENCHMARK_TEMPLATE(BM_Kiln, Which::W, false)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime(); \
  BENCHMARK_TEMPLATE(BM_HandFused, Which::W)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
KILN_NN_BENCH(Softmax)
KILN_NN_BENCH(LogSoftmax)
KILN_NN_BENCH(LayerNorm)
KILN_NN_BENCH(SumDim0)
KILN_NN_BENCH(SumDim1)
KILN_NN_BENCH(SumAll)

}  // namespace

BENCHMARK_MAIN();
