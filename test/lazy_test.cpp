// Lazy graphs that stay correct and bounded: training loops that never call
// realize() compute what the realized loop computes, at a constant number
// of kernels per step, with nothing compiled after warm-up.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>

using namespace kiln;

namespace {

struct Mlp {
  Tensor X, y;
  std::vector<Tensor> init;
  Mlp(int64_t N, int64_t D, int64_t H, int64_t C) {
    manual_seed(0);
    X = randn({N, D}).realize();
    y = (arange(N) % C).realize();
    init = {randn({H, D}).realize() * 0.5, randn({H}).realize(), randn({C, H}).realize() * 0.5, randn({C}).realize()};
    realize(init);
  }
  std::vector<Tensor> params() const {
    std::vector<Tensor> p;
    for (auto& t : init) p.push_back(t.clone().requires_grad_());
    return p;
  }
  // One SGD step; returns the loss (lazy unless `real`).
  Tensor step(std::vector<Tensor>& P, bool real, double lr = 0.1) const {
    for (auto& p : P) p.mutable_grad() = Tensor();
    auto loss = nn::cross_entropy(nn::linear(nn::linear(X, P[0], P[1]).relu(), P[2], P[3]), y);
    loss.backward();
    NoGradGuard g;
    for (auto& p : P) p.sub_(p.grad() * lr);
    if (real) {
      std::vector<Tensor> all = P;
      all.push_back(loss);
      realize(all);
    }
    return loss;
  }
};

}  // namespace

// The program: two lazy SGD steps against two realized ones. The
// lazy schedule once read a bias-gradient buffer before the kernel that
// wrote it (a value stored by a later decision than the walk that read it).
TEST(Lazy, TwoLazyStepsEqualTwoRealizedSteps) {
  Mlp m(16, 6, 5, 3);
  auto A = m.params(), R = m.params();
  for (int s = 0; s < 2; ++s) {
    m.step(A, false);
    m.step(R, true);
  }
  for (size_t k = 0; k < A.size(); ++k) {
    // Computed by kiln in one schedule, and on the host.
    double fused = (A[k] - R[k]).abs().max().item<double>();
    auto a = A[k].to_vector<float>(), r = R[k].to_vector<float>();
    double host = 0;
    for (size_t i = 0; i < a.size(); ++i) host = std::max(host, double(std::fabs(a[i] - r[i])));
    EXPECT_EQ(fused, host) << "parameter " << k;
    EXPECT_LT(host, 1e-6) << "parameter " << k;
  }
}

TEST(Lazy, ThreeHundredLazyStepsMatchTheRealizedLoop) {
  Mlp m(16, 6, 5, 3);
  auto A = m.params(), R = m.params();
  for (int s = 0; s < 300; ++s) {
    double la = m.step(A, false).item<double>();
    double lr = m.step(R, true).item<double>();
    ASSERT_NEAR(la, lr, 1e-5 * std::fabs(lr) + 1e-7) << "step " << s;
  }
}

// Only loss.item() each step: values a live Tensor holds (the parameters,
// their gradients) are stored when computed, so each step's schedule starts
// from the previous step's parameters instead of recomputing history.
TEST(Lazy, ItemOnlyTrainingLoopIsBounded) {
  Mlp m(32, 8, 16, 4);
  auto P = m.params(), R = m.params();
  std::vector<int64_t> launches;
  RuntimeStats warm{};
  for (int s = 0; s < 1000; ++s) {
    auto before = runtime_stats();
    double l = m.step(P, false, 0.05).item<double>();
    auto after = runtime_stats();  // (taken before the realized loop's step below)
    launches.push_back(after.kernels_launched - before.kernels_launched);
    double lr = m.step(R, true, 0.05).item<double>();  // the realized loop, for the values
    ASSERT_NEAR(l, lr, 1e-5 * std::fabs(lr) + 1e-7) << "step " << s;
    if (s == 2) warm = runtime_stats();
    if (s > 2) {
      auto now = runtime_stats();
      ASSERT_EQ(now.kernels_compiled + now.kernels_loaded, warm.kernels_compiled + warm.kernels_loaded)
          << "compiled at step " << s;
      ASSERT_EQ(now.nodes_alive, warm.nodes_alive) << "step " << s;
      ASSERT_EQ(now.bytes_in_use, warm.bytes_in_use) << "step " << s;
    }
  }
  for (int s = 2; s < 1000; ++s) ASSERT_EQ(launches[size_t(s)], launches[2]) << "step " << s;
}

// A value held by a live Tensor that a schedule computes anyway is stored:
// computing something else from it later launches no kernel for it again.
TEST(Lazy, HeldValuesAreStoredWhenComputed) {
  auto x = rand({1000});
  auto h = (x * 3).exp();  // held by `h`
  auto a = (h + 1).sum();
  a.realize();
  EXPECT_TRUE(h.is_realized());
  auto t = (h * 2).exp() + 1;  // not held: fused away
  auto b = t.sum();
  b.realize();
  EXPECT_TRUE(t.is_realized());  // held by `t` as well
  auto c = ((h * 2).exp() + 1).sum();
  c.realize();
  EXPECT_NEAR(b.item<double>(), c.item<double>(), 1e-6 * std::fabs(c.item<double>()));
}

// A matmul operand broadcast along the folded dim (its values repeat along
// k) is not re-laid out: it is already one value per row. Checked against
// the product computed on the host.
TEST(Lazy, MatmulOfAnOperandExpandedAlongK) {
  manual_seed(3);
  auto v = randn({3}).realize();
  auto w = randn({2, 3}).realize();
  auto r = matmul(v.unsqueeze(1).expand({3, 2}), w).to_vector<float>();
  auto vv = v.to_vector<float>(), ww = w.to_vector<float>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_FLOAT_EQ(r[size_t(i * 3 + j)], vv[size_t(i)] * ww[size_t(j)] + vv[size_t(i)] * ww[size_t(3 + j)]);
}
