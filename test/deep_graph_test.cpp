// Graphs of any depth stay lazy: nothing is computed before a read, however
// long the chain of unrealized ops (every walk over the graph is iterative),
// the read computes the value the ops give one by one, and a deep graph is
// destroyed without recursing once per node.
#include <gtest/gtest.h>

#include "kiln/kiln.h"
#include "schedule/plan.h"

using namespace kiln;

namespace {

int64_t launched() { return runtime_stats().kernels_launched; }

// x * 1.0001 + 0.5, `steps` times, realized every `every` steps (0: never).
Tensor affine_chain(Tensor x, int steps, int every) {
  for (int i = 1; i <= steps; ++i) {
    x = x * 1.0001 + 0.5;
    if (every && i % every == 0) x.realize();
  }
  return x;
}

}  // namespace

TEST(DeepGraphs, LongElementwiseChainIsComputedOnceAtTheRead) {
  const int steps = 200000;
  auto x0 = rand({8});
  x0.realize();
  int64_t before = launched();
  Tensor lazy = affine_chain(x0, steps, 0);
  EXPECT_FALSE(lazy.is_realized());
  EXPECT_EQ(launched(), before) << "a kernel ran before the read";
  std::vector<float> got = lazy.to_vector<float>();
  int64_t kernels = launched() - before;
  // The kernel size cap cuts the chain (each step is two ops, and each
  // kernel also loads its input and the two constants); nothing else does.
  int64_t cap = max_kernel_ops();
  EXPECT_GE(kernels, 2 * steps / cap);
  EXPECT_LE(kernels, 2 * steps / (cap / 2));
  // The same float32 ops one by one (volatile: no fused multiply-add), and
  // the first 5000 steps computed by kiln 1000 at a time: elementwise values
  // are bitwise equal.
  std::vector<float> want = x0.to_vector<float>();
  for (float& v : want)
    for (int i = 0; i < steps; ++i) {
      volatile float scaled = v * 1.0001f;
      v = scaled + 0.5f;
    }
  EXPECT_EQ(got, want);
  EXPECT_EQ(affine_chain(x0, 5000, 0).to_vector<float>(), affine_chain(x0, 5000, 1000).to_vector<float>());
}

TEST(DeepGraphs, LongChainOfViewsIsComputedOnceAtTheRead) {
  auto x = rand({4, 6});
  x.realize();
  int64_t before = launched();
  // A lazy base, then views only: transposes, size-1 dims added and
  // removed, full-length slices (which nothing folds).
  Tensor v = x * 2;
  const int steps = 500;
  for (int i = 0; i < steps; ++i) v = v.t().unsqueeze(0).narrow(2, 0, v.size(0)).squeeze(0);
  // ... and views between elementwise ops, far deeper than the old limit.
  Tensor y = v;
  const int mixed = 3000;
  for (int i = 0; i < mixed; ++i) y = (y.t() + 0.25).reshape({y.size(1), 1, y.size(0)}).squeeze(1);
  EXPECT_FALSE(v.is_realized());
  EXPECT_FALSE(y.is_realized());
  EXPECT_EQ(launched(), before) << "a kernel ran before the read";
  std::vector<float> vs = v.to_vector<float>(), ys = y.to_vector<float>();
  EXPECT_GT(launched(), before);
  // An even number of transposes: v is x * 2 as laid out; y adds 0.25 each step.
  std::vector<float> xs = x.to_vector<float>();
  ASSERT_EQ(vs.size(), xs.size());
  ASSERT_EQ(ys.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    float want = xs[i] * 2;
    EXPECT_EQ(vs[i], want) << i;
    for (int k = 0; k < mixed; ++k) want += 0.25f;
    EXPECT_EQ(ys[i], want) << i;
  }
  EXPECT_EQ(v.shape(), (Shape{4, 6}));
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
}

TEST(DeepGraphs, DeepChainDifferentiatesLazily) {
  // h_n = sum_{k<n} w^k, so at w = 1: h_n = n and dh_n/dw = n(n-1)/2; every
  // partial sum is an integer below 2^24, exact in float32. (The graph of
  // Autograd.VeryDeepGraphsDifferentiate: the two share their kernels.)
  auto w = ones({1}).requires_grad_();
  auto h = zeros({1});
  int64_t before = launched();
  const int n = 5000;
  for (int i = 0; i < n; ++i) h = h * w + 1;
  h.sum().backward();
  EXPECT_FALSE(h.is_realized());
  EXPECT_FALSE(w.grad().is_realized());
  EXPECT_EQ(launched(), before) << "a kernel ran before the read";
  EXPECT_EQ(w.grad().item<float>(), float(n) * (n - 1) / 2);
  // The gradient read h_{n-1} (d h_n / dw = h_{n-1}), which h_n still
  // refers to, so its schedule stored it: h_n is then one kernel away.
  int64_t after_grad = launched();
  EXPECT_FALSE(h.is_realized());
  EXPECT_EQ(h.item<float>(), float(n));
  EXPECT_EQ(launched(), after_grad + 1);
}

TEST(DeepGraphs, UnrealizedDeepGraphIsDestroyedIteratively) {
  int64_t alive = runtime_stats().nodes_alive;
  {
    auto x = rand({2});
    Tensor y = x;
    for (int i = 0; i < 300000; ++i) y = y.neg();
    EXPECT_GE(runtime_stats().nodes_alive, alive + 300000);
    EXPECT_FALSE(y.is_realized());
  }  // y's chain goes here, never computed
  EXPECT_EQ(runtime_stats().nodes_alive, alive);
}
