// A graph whose structure was realized before replays the schedule recorded
// then: new data, new values of the constants that are launch parameters.
// Anything else that decides the schedule (a pow's exponent, which
// constants are equal, the leaves' layouts, which values are needed later,
// fusion on or off) is part of the key. Each replay is checked against the
// same graph scheduled afresh, with fusion and the schedule cache off.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <functional>

using namespace kiln;

namespace {

int64_t replays() { return runtime_stats().schedule_cache_hits; }

// The value of f() scheduled afresh, a kernel per op.
std::vector<float> unfused(const std::function<Tensor()>& f) {
  set_fusion_enabled(false);
  set_schedule_cache_enabled(false);
  std::vector<float> v = f().to_vector<float>();
  set_schedule_cache_enabled(true);
  set_fusion_enabled(true);
  return v;
}

}  // namespace

TEST(ScheduleCache, SameStructureNewDataReplays) {
  manual_seed(1);
  auto f = [](const Tensor& x, const Tensor& y) { return ((x.sin() * y + 1).exp() - x).sum({0}); };
  f(rand({5, 7}), rand({5, 7})).realize();
  auto x = rand({5, 7}), y = rand({5, 7});
  int64_t before = replays();
  auto r = f(x, y);
  r.realize();
  EXPECT_EQ(replays(), before + 1);
  EXPECT_EQ(r.to_vector<float>(), unfused([&] { return f(x, y); }));
}

TEST(ScheduleCache, ConstantsThatChangeEveryStepReplay) {
  manual_seed(2);
  auto w = rand({64}), g = rand({64});
  realize(w, g);
  for (int step = 0; step < 4; ++step) {
    double lr = 0.1 / (1 + step);
    int64_t before = replays();
    auto u = (w - g * lr) * 0.999;
    u.realize();
    if (step > 0) EXPECT_EQ(replays(), before + 1) << "step " << step;
    EXPECT_EQ(u.to_vector<float>(), unfused([&] { return (w - g * lr) * 0.999; })) << "step " << step;
  }
}

TEST(ScheduleCache, WhichConstantsAreEqualIsPartOfTheKey) {
  manual_seed(3);
  auto x = rand({32});
  auto f = [&](double a, double b) { return x * a + x.exp() * b; };
  for (auto [a, b] : {std::pair{0.25, 0.25}, {0.25, 0.75}, {0.5, 0.5}, {0.75, 0.25}})
    EXPECT_EQ(f(a, b).to_vector<float>(), unfused([&] { return f(a, b); })) << a << ", " << b;
}

TEST(ScheduleCache, APowExponentIsPartOfTheKey) {
  manual_seed(4);
  auto x = rand({32}) + 0.5;
  x.realize();
  for (double e : {2.0, 3.0, 0.5, 2.5, 3.5}) {
    int64_t before = replays();
    auto p = x.pow(e);
    auto v = p.to_vector<float>();
    if (e == 3.5) EXPECT_EQ(replays(), before);  // 2.5 was no replay of 3.0's either
    EXPECT_EQ(v, unfused([&] { return x.pow(e); })) << e;
  }
}

TEST(ScheduleCache, LeafLayoutsArePartOfTheKey) {
  manual_seed(5);
  auto a = rand({6, 6});
  auto at = a.t();
  at.realize();  // a view of a's buffer, transposed
  auto b = rand({6, 6});
  auto f = [](const Tensor& x) { return (x * 2.5 + 1).cumsum(1); };
  EXPECT_EQ(f(b).to_vector<float>(), unfused([&] { return f(b); }));
  EXPECT_EQ(f(at).to_vector<float>(), unfused([&] { return f(at); }));
  EXPECT_EQ(f(b).to_vector<float>(), unfused([&] { return f(b); }));
}

TEST(ScheduleCache, LeavesThatShareABuffer) {
  manual_seed(6);
  auto base = rand({32});
  auto lo = base.narrow(0, 0, 16), hi = base.narrow(0, 16, 16);
  realize(lo, hi);
  auto q = rand({16}), pad = rand({100}), p = rand({16});
  auto f = [](const Tensor& u, const Tensor& v) { return u * 1.5 - v; };
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(f(lo, hi).to_vector<float>(), unfused([&] { return f(lo, hi); }));
    EXPECT_EQ(f(p, q).to_vector<float>(), unfused([&] { return f(p, q); }));
    EXPECT_EQ(f(lo, lo).to_vector<float>(), unfused([&] { return f(lo, lo); }));
  }
  // A requested value that is the second of two leaves over one buffer,
  // laid out alike (v * 1 folds to v: b takes v's buffer).
  auto lo2 = base.narrow(0, 0, 16);
  lo2.realize();
  for (int i = 0; i < 2; ++i) {
    for (auto [u, v] : {std::pair{lo, lo2}, {p, q}}) {
      auto a = u * 2.5, b = v * 1.0;
      realize(b, a);
      EXPECT_EQ(b.to_vector<float>(), v.to_vector<float>());
      EXPECT_EQ(a.to_vector<float>(), unfused([&] { return u * 2.5; }));
    }
  }
}

TEST(ScheduleCache, ValuesNeededLaterAreStoredOnReplay) {
  manual_seed(7);
  auto x = rand({16});
  x.realize();
  for (int i = 0; i < 3; ++i) {
    auto y = x * 3.5;
    auto z = (y + 1).exp();
    int64_t before = replays();
    z.realize();
    if (i > 0) EXPECT_EQ(replays(), before + 1);
    ASSERT_TRUE(y.is_realized()) << "run " << i;
    EXPECT_EQ(y.to_vector<float>(), unfused([&] { return x * 3.5; }));
    EXPECT_EQ(z.to_vector<float>(), unfused([&] { return (x * 3.5 + 1).exp(); }));
  }
  // The same ops with y dropped: another key, y is not stored.
  auto z = (x * 3.5 + 1).exp();
  z.realize();
  EXPECT_EQ(z.to_vector<float>(), unfused([&] { return (x * 3.5 + 1).exp(); }));
  // And the other way round: recorded without y, replayed with y alive.
  // (Temporaries live to the end of the statement: `(x * 2.5 - 1).tanh().realize()`
  // would store them all.)
  auto first = (x * 2.5 - 1).tanh();
  first.realize();
  auto y = x * 2.5;
  auto t = (y - 1).tanh();
  t.realize();
  ASSERT_TRUE(y.is_realized());
  EXPECT_EQ(y.to_vector<float>(), unfused([&] { return x * 2.5; }));
}

TEST(ScheduleCache, ATrainingStepReplays) {
  manual_seed(8);
  auto w = (randn({8, 4}) * 0.1).requires_grad_();
  auto x = randn({16, 8});
  auto labels = arange(16).remainder(4);
  std::vector<float> losses;
  for (int step = 0; step < 4; ++step) {
    auto loss = nn::cross_entropy(matmul(x, w).relu(), labels);
    loss.backward();
    int64_t before = replays();
    {
      NoGradGuard no_grad;
      w.sub_(w.grad() * (0.5 / (1 + step)));
      w.grad().zero_();
    }
    realize(loss, w);
    if (step > 1) EXPECT_GT(replays(), before) << "step " << step;
    losses.push_back(loss.item<float>());
  }
  EXPECT_LT(losses.back(), losses.front());
}
