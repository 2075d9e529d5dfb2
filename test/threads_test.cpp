// kiln used from several threads at once (README, "Threads"): what each
// thread computes is what it would compute alone, gradients into a shared
// leaf all arrive, random draws never repeat. The TSan build
// (scripts/kiln.sh sanitize) runs these too.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace {

using namespace kiln;

template <typename F> void run_threads(int n, F body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) threads.emplace_back(body, t);
  for (auto& th : threads) th.join();
}

TEST(Threads, BackwardIntoASharedLeafLosesNoGradient) {
  constexpr int kThreads = 4, kSteps = 25;
  Tensor w = ones({64}).requires_grad_(true);
  run_threads(kThreads, [&](int t) {
    for (int s = 0; s < kSteps; ++s) {
      Tensor x = full({64}, double(t + 1));
      ((w * x).sum() * double(s + 1)).backward();
    }
  });
  // d/dw of sum_t sum_s (t+1)(s+1) w = (sum of t+1) (sum of s+1): exact in f32.
  double expected = (kThreads * (kThreads + 1) / 2) * (kSteps * (kSteps + 1) / 2);
  std::vector<float> g = w.grad().to_vector<float>();
  ASSERT_EQ(g.size(), 64u);
  for (float v : g) ASSERT_EQ(v, expected);
}

TEST(Threads, ConcurrentTrainingStepsMatchSerialOnes) {
  // Each thread trains a model of its own; the shared runtime (kernel
  // cache, allocator, pool) must not mix them up.
  auto train = [](int seed) {
    Tensor w = full({8, 4}, 0.1 * (seed + 1)).requires_grad_(true);
    Tensor x = arange(0, 32).reshape({4, 8}).to(kFloat32) / 32.0;
    for (int s = 0; s < 10; ++s) {
      Tensor loss = (x.matmul(w).tanh() - 0.5).pow(2).mean();
      loss.backward();
      NoGradGuard ng;
      w.sub_(w.grad() * 0.1);
      w.mutable_grad() = Tensor();
    }
    return w.to_vector<float>();
  };
  std::vector<std::vector<float>> serial, parallel(4);
  for (int t = 0; t < 4; ++t) serial.push_back(train(t));
  run_threads(4, [&](int t) { parallel[size_t(t)] = train(t); });
  for (int t = 0; t < 4; ++t) EXPECT_EQ(parallel[size_t(t)], serial[size_t(t)]) << "thread " << t;
}

TEST(Threads, RandomDrawsNeverRepeatAcrossThreads) {
  constexpr int kThreads = 4, kDraws = 50;
  std::vector<std::vector<std::vector<float>>> draws(kThreads);
  run_threads(kThreads, [&](int t) {
    for (int d = 0; d < kDraws; ++d) draws[size_t(t)].push_back(rand({256}).to_vector<float>());
  });
  std::set<std::vector<float>> distinct;
  for (auto& per_thread : draws)
    for (auto& v : per_thread) distinct.insert(v);
  EXPECT_EQ(distinct.size(), size_t(kThreads * kDraws));
}

TEST(Threads, SetNumThreadsAndStatsDuringRealize) {
  int before = get_num_threads();
  std::atomic<bool> done{false};
  std::thread worker([&] {
    for (int i = 0; i < 30; ++i) {
      Tensor x = arange(0, 1 << 18);  // int64: the sum is exact
      Tensor y = (x * 2 + 1).sum();
      ASSERT_EQ(y.item<int64_t>(), int64_t(1) << 36);
    }
    done = true;
  });
  int64_t last = 0;
  for (int i = 0; !done; ++i) {
    set_num_threads(1 + i % 2);
    RuntimeStats s = runtime_stats();
    ASSERT_GE(s.kernels_launched, last);  // counters only grow
    last = s.kernels_launched;
    std::this_thread::yield();
  }
  worker.join();
  set_num_threads(before);
}

}  // namespace
