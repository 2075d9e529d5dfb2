// The Tensor API: factories, metadata, type promotion, laziness, errors.
#include <gtest/gtest.h>
#include <limits>
#include <kiln/kiln.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

using namespace kiln;

TEST(Factories, TensorInfersDtypeLikeTorch) {
  EXPECT_EQ(tensor({1, 2, 3}).dtype(), kInt64);
  EXPECT_EQ(tensor({1., 2., 3.}).dtype(), kFloat32);
  EXPECT_EQ(tensor({1, 2.5}).dtype(), kFloat32);
  EXPECT_EQ(tensor({true, false}).dtype(), kBool);
  EXPECT_EQ(tensor({1, 2}, kFloat64).dtype(), kFloat64);
  EXPECT_EQ(tensor({{1, 2}, {3, 4}, {5, 6}}).shape(), (Shape{3, 2}));
  EXPECT_EQ(tensor(3.5).shape(), Shape{});
  EXPECT_THROW(tensor({{1, 2}, {3}}), Error);
}

TEST(Factories, ConstantsAndRanges) {
  EXPECT_EQ(zeros({2, 3}).to_vector<float>(), std::vector<float>(6, 0.f));
  EXPECT_EQ(ones({4}, kInt32).to_vector<int32_t>(), std::vector<int32_t>(4, 1));
  EXPECT_EQ(full({2}, 7).dtype(), kInt64);
  EXPECT_EQ(full({2}, 7.5).to_vector<float>(), (std::vector<float>{7.5f, 7.5f}));
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1, 2, 0.25).to_vector<float>(), (std::vector<float>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(arange(5, 0, -2).to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1}));
  EXPECT_EQ(linspace(0, 1, 5).to_vector<float>(), (std::vector<float>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(linspace(-1, 1, 3, kFloat64).dtype(), kFloat64);
  Tensor z = zeros_like(tensor({{1, 2}}), kFloat64);
  EXPECT_EQ(z.shape(), (Shape{1, 2}));
  EXPECT_EQ(z.dtype(), kFloat64);
  EXPECT_EQ(full_like(tensor({1., 2.}), 3).to_vector<float>(), (std::vector<float>{3, 3}));
  EXPECT_THROW(arange(0, 1, 0), Error);
}

TEST(Factories, RandIsSeededAndInRange) {
  manual_seed(42);
  auto a = rand({1000}).to_vector<float>();
  manual_seed(42);
  auto b = rand({1000}).to_vector<float>();
  EXPECT_EQ(a, b);
  double mean = 0;
  for (float v : a) {
    EXPECT_GE(v, 0.f);
    EXPECT_LT(v, 1.f);
    mean += v / 1000;
  }
  EXPECT_NEAR(mean, 0.5, 0.05);
  auto n = randn({20000}, kFloat64).to_vector<double>();
  double m = 0, sq = 0;
  for (double v : n) m += v / n.size();
  for (double v : n) sq += (v - m) * (v - m) / n.size();
  EXPECT_NEAR(m, 0.0, 0.03);
  EXPECT_NEAR(sq, 1.0, 0.05);
  // Values depend on the seed and draw order only, not on thread count.
  set_num_threads(1);
  manual_seed(7);
  auto one = rand({5000}).to_vector<float>();
  set_num_threads(2);
  manual_seed(7);
  EXPECT_EQ(rand({5000}).to_vector<float>(), one);
}

TEST(Factories, FromBlobIsZeroCopyAndSeesLaterWrites) {
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(data.data(), {2, 3});
  EXPECT_EQ(t.data_ptr(), data.data());
  EXPECT_EQ((t * 2).to_vector<float>(), (std::vector<float>{2, 4, 6, 8, 10, 12}));
  data[0] = 100;
  EXPECT_EQ(t.to_vector<float>()[0], 100.f);
}

TEST(Values, ItemNeedsOneElement) {
  EXPECT_EQ(tensor({{5}}).item<int64_t>(), 5);
  EXPECT_EQ(tensor(2.5).item<double>(), 2.5);
  EXPECT_EQ(tensor(2.5).item().to_double(), 2.5);
  EXPECT_THROW(tensor({1, 2}).item<int64_t>(), Error);
}

TEST(Promotion, FollowsPyTorch) {
  auto i64 = tensor({1, 2});
  auto i32 = tensor({1, 2}, kInt32);
  EXPECT_EQ((i64 + 2).dtype(), kInt64);
  EXPECT_EQ((i64 + 2.5).dtype(), kFloat32);
  EXPECT_EQ((i32 + tensor(5)).dtype(), kInt32);           // 0-dim int64 does not win
  EXPECT_EQ((i32 + tensor(5., kFloat64)).dtype(), kFloat64);  // higher category wins
  EXPECT_EQ((tensor({1., 2.}, kFloat16) + tensor(1., kFloat64)).dtype(), kFloat16);
  EXPECT_EQ((tensor({1}, kUInt8) + tensor({1}, kInt8)).dtype(), kInt16);
  EXPECT_EQ((tensor({1.}, kBFloat16) + tensor({1.}, kFloat16)).dtype(), kFloat32);
  EXPECT_EQ((i64 / 2).dtype(), kFloat32);
  EXPECT_EQ((i64 / 2).to_vector<float>(), (std::vector<float>{0.5f, 1.f}));
  EXPECT_EQ((i64 < 2).dtype(), kBool);
  EXPECT_EQ(tensor({1, 4}).sqrt().dtype(), kFloat32);
  auto b = tensor({true, false});
  EXPECT_EQ((b + b).to_vector<bool>(), (std::vector<bool>{true, false}));
  EXPECT_THROW(b - b, Error);
  EXPECT_THROW(-b, Error);
  EXPECT_THROW(i64.add(i64, 0.5), Error);
}

TEST(Elementwise, OperatorsFunctionsAndMethodsAgree) {
  auto x = tensor({{1., -2.}, {3., -4.}});
  auto y = tensor({0.5, 2.});
  EXPECT_EQ((x + y).to_vector<float>(), add(x, y).to_vector<float>());
  EXPECT_EQ((x * y).to_vector<float>(), (std::vector<float>{0.5, -4, 1.5, -8}));
  EXPECT_EQ((2 - x).to_vector<float>(), (std::vector<float>{1, 4, -1, 6}));
  EXPECT_EQ((1 / y).to_vector<float>(), (std::vector<float>{2, 0.5}));
  EXPECT_EQ(x.abs().to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(relu(x).to_vector<float>(), (std::vector<float>{1, 0, 3, 0}));
  EXPECT_EQ(x.clamp(-1.5, 2).to_vector<float>(), (std::vector<float>{1, -1.5, 2, -1.5}));
  EXPECT_EQ(where(x > 0, x, 0.).to_vector<float>(), (std::vector<float>{1, 0, 3, 0}));
  EXPECT_EQ(maximum(x, y).to_vector<float>(), (std::vector<float>{1, 2, 3, 2}));
  EXPECT_EQ(pow(x, 2).to_vector<float>(), (std::vector<float>{1, 4, 9, 16}));
  EXPECT_EQ(pow(2, y).to_vector<float>(), (std::vector<float>{std::sqrt(2.f), 4}));
  EXPECT_EQ((x == 3.).to_vector<bool>(), (std::vector<bool>{false, false, true, false}));
  auto nan = tensor({std::nan(""), 1.});
  EXPECT_TRUE(std::isnan(maximum(nan, tensor({0., 0.})).to_vector<float>()[0]));
  EXPECT_EQ((nan != nan).to_vector<bool>(), (std::vector<bool>{true, false}));
}

TEST(Elementwise, TranscendentalsMatchLibm) {
  std::vector<float> xs;
  for (int i = -50; i <= 50; ++i) xs.push_back(float(i) * 0.173f);
  Tensor x = from_blob(xs.data(), {int64_t(xs.size())});
  auto check = [&](Tensor r, double (*f)(double), const char* what) {
    auto v = r.to_vector<float>();
    for (size_t i = 0; i < xs.size(); ++i) {
      double e = f(xs[i]);
      if (std::isnan(e)) continue;
      if (std::isinf(e)) {
        EXPECT_EQ(v[i], e) << what << "(" << xs[i] << ")";
        continue;
      }
      EXPECT_NEAR(v[i], e, 2e-6 + 2e-6 * std::fabs(e)) << what << "(" << xs[i] << ")";
    }
  };
  check(x.sin(), std::sin, "sin");
  check(x.cos(), std::cos, "cos");
  check(x.tanh(), std::tanh, "tanh");
  check(x.exp(), std::exp, "exp");
  check(x.abs().log(), [](double v) { return std::log(std::fabs(v)); }, "log");
  check(x.sigmoid(), [](double v) { return 1 / (1 + std::exp(-v)); }, "sigmoid");
  check(x.abs().sqrt(), [](double v) { return std::sqrt(std::fabs(v)); }, "sqrt");
}

// hypot and logaddexp: PyTorch's semantics (C's hypot: inf wins over NaN;
// logaddexp(inf, inf) = inf), accurate at the extremes where the naive
// formulas overflow, in float32, float64 and float16.
TEST(Elementwise, HypotAndLogaddexpMatchTheirDefinitions) {
  const double inf = INFINITY, nan = NAN;
  std::vector<double> as = {3, -3, 0, 0, 1e300, 1e-300, 3e38, 1e-40, inf, -inf, nan, inf, -inf, 2.5, -7, 88, -104, 1000};
  std::vector<double> bs = {4, 4, 0, -0.0, 1e300, 1e-300, 3e38, 1e-40, nan, 1, 2, inf, -inf, -1.5, -7, 89, -103, -1000};
  auto lae = [](double a, double b) {
    if (std::isinf(a) && a == b) return a;
    return std::max(a, b) + std::log1p(std::exp(-std::fabs(a - b)));
  };
  for (DType t : {kFloat64, kFloat32, kFloat16}) {
    Tensor a = from_blob(as.data(), {int64_t(as.size())}, TensorOptions().dtype(kFloat64)).to(t);
    Tensor b = from_blob(bs.data(), {int64_t(bs.size())}, TensorOptions().dtype(kFloat64)).to(t);
    auto av = a.to(kFloat64).to_vector<double>(), bv = b.to(kFloat64).to_vector<double>();
    auto h = hypot(a, b).to(kFloat64).to_vector<double>(), l = a.logaddexp(b).to(kFloat64).to_vector<double>();
    double rel = t == kFloat64 ? 4e-16 : t == kFloat32 ? 1.2e-7 : 1e-3;
    for (size_t i = 0; i < as.size(); ++i) {
      // The exact values rounded to t, as PyTorch's kernels round them.
      double eh = scalar_tensor(std::hypot(av[i], bv[i]), TensorOptions().dtype(kFloat64)).to(t).to(kFloat64).item<double>();
      double el = scalar_tensor(lae(av[i], bv[i]), TensorOptions().dtype(kFloat64)).to(t).to(kFloat64).item<double>();
      for (auto [got, want, what] : {std::tuple{h[i], eh, "hypot"}, {l[i], el, "logaddexp"}}) {
        if (std::isnan(want)) EXPECT_TRUE(std::isnan(got)) << what << "(" << av[i] << ", " << bv[i] << ") " << name(t);
        else if (std::isinf(want)) EXPECT_EQ(got, want) << what << "(" << av[i] << ", " << bv[i] << ") " << name(t);
        else EXPECT_NEAR(got, want, rel * std::fabs(want) + 1e-300)
               << what << "(" << av[i] << ", " << bv[i] << ") " << name(t);
      }
    }
  }
  // Integers compute in float32, as atan2 does.
  EXPECT_EQ(hypot(tensor({3, 5}), tensor({4, 12})).to_vector<float>(), (std::vector<float>{5, 13}));
  EXPECT_EQ(hypot(tensor({3}), tensor({4})).dtype(), kFloat32);
}

TEST(Laziness, ErrorsAtTheCallNamingOpAndShapes) {
  auto a = ones({2, 3});
  auto b = ones({4});
  try {
    auto c = a + b;
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("add"), std::string::npos) << m;
    EXPECT_NE(m.find("(3)"), std::string::npos) << m;
    EXPECT_NE(m.find("(4)"), std::string::npos) << m;
    EXPECT_NE(m.find("dimension 1"), std::string::npos) << m;
  }
}

TEST(Laziness, NothingRunsUntilNeededAndRealizedNodesBecomeLeaves) {
  auto x = rand({100});
  auto before = runtime_stats().kernels_launched;
  auto y = (x + 1).sin() * 2;
  EXPECT_FALSE(y.is_realized());
  EXPECT_EQ(runtime_stats().kernels_launched, before);
  y.realize();
  EXPECT_TRUE(y.is_realized());
  EXPECT_EQ(runtime_stats().kernels_launched, before + 1);
  y.to_vector<float>();
  (void)y.data_ptr();
  EXPECT_EQ(runtime_stats().kernels_launched, before + 1);  // no recompute
}

TEST(Laziness, RealizeManySharesOneSchedule) {
  auto x = rand({1000});
  auto common = (x * 3).exp();
  auto a = common + 1;
  auto b = common - 1;
  auto launched = runtime_stats().kernels_launched;
  realize(a, b);
  // Same shape, no dependency between them: one kernel computes both.
  EXPECT_EQ(runtime_stats().kernels_launched, launched + 1);
  auto va = a.to_vector<float>(), vb = b.to_vector<float>();
  for (size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i] - vb[i], 2.f, 1e-5f * va[i]);
}

TEST(Laziness, LongInPlaceChainsStayBounded) {
  auto x = zeros({10});
  for (int i = 0; i < 100; ++i) {
    x.add_(1);
    if (i % 10 == 9) x.realize();
  }
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>(10, 100.f));
  auto alive = runtime_stats().nodes_alive;
  for (int i = 0; i < 100; ++i) {
    x.mul_(1);
    x.realize();
  }
  EXPECT_LE(runtime_stats().nodes_alive, alive + 2);
}

TEST(Casts, ToFollowsPyTorch) {
  auto f = tensor({-1.7, 0., 2.9, 300.});
  EXPECT_EQ(f.to(kInt32).to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 2, 300}));
  EXPECT_EQ(f.to(kBool).to_vector<bool>(), (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(tensor({300}).to(kUInt8).to_vector<uint8_t>(), (std::vector<uint8_t>{44}));
  EXPECT_EQ(tensor({0.1}).to(kBFloat16).to(kFloat32).item<float>(), float(BFloat16(0.1f)));
  EXPECT_EQ(tensor({65520.}).to(kFloat16).to(kFloat32).item<float>(), INFINITY);
  EXPECT_TRUE(tensor({std::nan("")}).to(kBool).item<bool>());
}

TEST(Laziness, VeryDeepGraphsStayLazyUntilRead) {
  // Far deeper than any recursion over the graph could go: nothing is
  // computed on the way (deep_graph_test.cpp has more).
  auto x = zeros({3});
  auto y = x;
  int64_t launched = runtime_stats().kernels_launched;
  for (int i = 0; i < 100000; ++i) y = y + 1;
  for (int i = 0; i < 100000; ++i) x.add_(1);
  EXPECT_EQ(runtime_stats().kernels_launched, launched);
  EXPECT_FALSE(x.is_realized());
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(3, 100000.f));
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>(3, 100000.f));
}

TEST(Reductions, LargeFullReductionsAreSplitDeterministically) {
  // Above 2^18 elements a full reduction folds 64 chunks in parallel, then
  // their partials: the result must not depend on the thread count.
  manual_seed(9);
  auto x = rand({(1 << 20) + 77}, kFloat64);
  set_num_threads(1);
  double one = x.sum().item<double>();
  double mx = x.amax().item<double>();
  set_num_threads(2);
  EXPECT_EQ(x.sum().item<double>(), one);
  EXPECT_EQ(x.amax().item<double>(), mx);
  double ref = 0;
  for (double v : x.to_vector<double>()) ref += v;
  EXPECT_NEAR(one, ref, 1e-9 * ref);
  auto h = ones({(1 << 19) + 3}, kBFloat16);
  EXPECT_EQ(h.sum().item<float>(), float(BFloat16(float((1 << 19) + 3))));  // one rounding at the end
}

TEST(Robustness, HugeShapesThrowInsteadOfOverflowing) {
  EXPECT_THROW(zeros({int64_t(1) << 61}, kFloat64).realize(), Error);
  EXPECT_THROW(empty({int64_t(1) << 40, int64_t(1) << 40}), Error);
}

namespace {
// The kiln::Error message `f` throws, or "no error".
template <typename F> std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Factories, FullRejectsValuesTheDtypeCannotHold) {
  EXPECT_EQ(error_of([] { full({2}, 300, TensorOptions().dtype(kUInt8)); }),
            "full: value 300 cannot be converted to type uint8 without overflow");
  EXPECT_EQ(error_of([] { full({2}, -1, TensorOptions().dtype(kUInt8)); }),
            "full: value -1 cannot be converted to type uint8 without overflow");
  EXPECT_EQ(error_of([] { full({2}, 1e6, TensorOptions().dtype(kFloat16)); }),
            "full: value 1000000.0 cannot be converted to type float16 without overflow");
  EXPECT_EQ(error_of([] { zeros({2}, TensorOptions().dtype(kInt8)).fill_(128); }),
            "fill_: value 128 cannot be converted to type int8 without overflow");
  // In range: no error (a float's fraction is dropped, as in PyTorch).
  EXPECT_EQ(full({2}, 255, TensorOptions().dtype(kUInt8)).to_vector<uint8_t>(), (std::vector<uint8_t>{255, 255}));
  EXPECT_EQ(full({1}, 2.5, TensorOptions().dtype(kInt64)).item<int64_t>(), 2);
  EXPECT_TRUE(std::isinf(full({1}, INFINITY, TensorOptions().dtype(kFloat16)).item<float>()));
}

TEST(Reductions, ExplicitDtypeIsTheResultDtype) {
  auto x = tensor({{1, 2}, {3, 2147483647}}).to(kInt32);
  EXPECT_EQ(x.sum(kInt32).dtype(), kInt32);
  EXPECT_EQ(x.sum({1}, false, kInt32).dtype(), kInt32);
  EXPECT_EQ(x.prod(kInt16).dtype(), kInt16);
  EXPECT_EQ(x.cumsum(0, kInt32).dtype(), kInt32);
  EXPECT_EQ(x.sum().dtype(), kInt64);  // without one, integers sum to int64
  // int32 accumulation wraps, as PyTorch's does: 1 + 2 + 3 + (2^31 - 1) = -2^31 + 5.
  EXPECT_EQ(x.sum(kInt32).item<int64_t>(), -2147483648LL + 5);
  EXPECT_EQ(x.sum(kFloat64).item<double>(), 2147483653.0);
}

TEST(NnLosses, BadWeightAndLabelSmoothingRaise) {
  auto input = randn({4, 3}), target = tensor({0, 1, 2, 1});
  EXPECT_EQ(error_of([&] { nn::nll_loss(input, target, randn({2})); }),
            "nll_loss: weight tensor should be defined either for all 3 classes or no classes but got weight tensor "
            "of shape: [2]");
  EXPECT_EQ(error_of([&] { nn::cross_entropy(input, target, std::nullopt, -100, "mean", 2); }),
            "cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: 2");
  EXPECT_EQ(error_of([&] { nn::cross_entropy(input, target, std::nullopt, -100, "mean", 1.0); }), "no error");
}

TEST(Factories, RandStaysBelowOneInEveryFloatingDtype) {
  manual_seed(11);
  for (DType t : {kFloat16, kBFloat16, kFloat32, kFloat64}) {
    auto r = rand({1 << 20}, TensorOptions().dtype(t));
    EXPECT_LT(r.amax().to(kFloat64).item<double>(), 1.0) << name(t);
    EXPECT_GE(r.amin().to(kFloat64).item<double>(), 0.0) << name(t);
    EXPECT_NEAR(r.to(kFloat64).mean().item<double>(), 0.5, 0.01) << name(t);
  }
}

TEST(Reductions, EmptyLogsumexpAndSoftmaxFollowPyTorch) {
  EXPECT_TRUE(std::isinf(zeros({0}).logsumexp({0}).item<float>()));
  EXPECT_LT(zeros({0}).logsumexp({0}).item<float>(), 0);
  EXPECT_EQ(zeros({2, 0}).logsumexp({1}).to_vector<float>(), (std::vector<float>{-INFINITY, -INFINITY}));
  EXPECT_EQ(nn::softmax(zeros({2, 0}), 1).shape(), (Shape{2, 0}));
  EXPECT_EQ(nn::log_softmax(zeros({0, 3}), 0).shape(), (Shape{0, 3}));
  try {
    nn::softmax(zeros({2, 3}), 2);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("softmax: dimension out of range", 0), 0u) << e.what();
  }
}

TEST(Reductions, HalfPrecisionStatisticsAccumulateInFloat32) {
  auto x = full({2, 70000}, 0.5, TensorOptions().dtype(kFloat16));
  EXPECT_EQ(x.mean({1}).to(kFloat32).to_vector<float>(), (std::vector<float>{0.5f, 0.5f}));
  EXPECT_EQ(x.var({1}).to(kFloat32).to_vector<float>(), (std::vector<float>{0.f, 0.f}));
  auto ones300k = ones({300000}, TensorOptions().dtype(kFloat16));
  EXPECT_NEAR(ones300k.norm().item<float>(), 547.7f, 0.5f);  // sqrt(300000); float16 rounds to 547.5
  EXPECT_EQ(x.mean().dtype(), kFloat16);
  EXPECT_NEAR(full({80000}, 1.0, TensorOptions().dtype(kBFloat16)).mean().item<float>(), 1.f, 1e-6f);
}

TEST(Factories, HugeSizesAreRefusedNotWrapped) {
  EXPECT_NE(error_of([] { arange(0, 1e20); }).find("arange: invalid size"), std::string::npos);
  EXPECT_NE(error_of([] { arange(int64_t(0), std::numeric_limits<int64_t>::max()); }).find("possible overflow"),
            std::string::npos);
  // A step past the end takes one element (PyTorch: tensor([0])); it overflowed.
  EXPECT_EQ(arange(3).slice(0, 0, 3, std::numeric_limits<int64_t>::max()).to_vector<int64_t>(),
            (std::vector<int64_t>{0}));
}

TEST(Factories, RepeatAndHugeShapesAreRefusedNotWrapped) {
  int64_t big = int64_t(1) << 40;
  EXPECT_NE(error_of([&] { ones({4}).repeat({std::numeric_limits<int64_t>::max()}); }).find("repeat: repeats"), std::string::npos);
  EXPECT_NE(error_of([&] { ones({4}).repeat({big, big}); }).find("too many elements"), std::string::npos);
  EXPECT_NE(error_of([&] { zeros({big, big}); }).find("zeros"), std::string::npos);
  // No elements: the contiguous strides of the huge dims saturate, nothing wraps.
  Tensor empty = zeros({0, big, big});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(empty.sum().item<double>(), 0.0);
}

TEST(Limits, AHugeLazyLaunchIsRefusedNotRunForHours) {
  // Nothing is allocated, so only the launch limit stops these (2^42 elements by default).
  std::string e = error_of([] { ones({int64_t(1) << 47}).sum().item<double>(); });
  EXPECT_NE(e.find("sum: one kernel launch over 140737488355328 elements"), std::string::npos) << e;
  EXPECT_NE(e.find("set_max_launch_elements"), std::string::npos) << e;
  e = error_of([] { ones({1}).expand({int64_t(1) << 46}).sum().item<double>(); });
  EXPECT_NE(e.find("sum: one kernel launch over 70368744177664 elements"), std::string::npos) << e;
  // The limit is the user's to set; a launch under it runs.
  int64_t old = max_launch_elements();
  set_max_launch_elements(1000);
  EXPECT_NE(error_of([] { (arange(0, 2000) * 2).sum().item<int64_t>(); }).find("exceeds the limit of 1000"),
            std::string::npos);
  EXPECT_EQ((arange(0, 1000) * 2).sum().item<int64_t>(), 999000);
  set_max_launch_elements(old);
  EXPECT_NE(error_of([] { set_max_launch_elements(0); }).find("positive"), std::string::npos);
}

TEST(Indexing, GatherAndScatterAddTakeInt64IndicesOnly) {
  auto x = arange(6).reshape({2, 3});
  auto i32 = tensor({{0, 1}, {2, 0}}).to(kInt32);
  try {
    x.gather(1, i32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "gather: expected dtype int64 for index, got int32");
  }
  try {
    x.scatter_add(1, i32, x);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "scatter_add: expected dtype int64 for index, got int32");
  }
  EXPECT_EQ(x.gather(1, i32.to(kInt64)).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 5, 3}));
}

// Dim-taking ops on a 0-dim tensor crashed (dim 0 was accepted for rank 0,
// then shape()[0] read): they raise PyTorch's errors, or, where PyTorch
// returns a value (flip, gather, scatter_add, movedim, mean/var/std over
// dim 0), return it.
TEST(Shapes, ZeroDimTensorsInDimTakingOps) {
  auto t = tensor(3.);
  EXPECT_EQ(error_of([&] { t.size(0); }), "size: dimension specified as 0 but tensor has no dimensions");
  EXPECT_EQ(error_of([&] { t.size(-1); }), "size: dimension specified as -1 but tensor has no dimensions");
  EXPECT_EQ(error_of([&] { t.stride(0); }), "stride: dimension specified as 0 but tensor has no dimensions");
  EXPECT_NE(error_of([&] { t[0]; }).find("select: invalid index of a 0-dim tensor"), std::string::npos);
  EXPECT_EQ(error_of([&] { t.narrow(0, 0, 1); }), "narrow: cannot be applied to a 0-dim tensor");
  EXPECT_EQ(error_of([&] { t.slice(0, 0, 1); }), "slice: cannot be applied to a 0-dim tensor");
  EXPECT_EQ(error_of([&] { t.split(1); }), "split: expects at least a 1-dimensional tensor");
  EXPECT_EQ(error_of([&] { t.chunk(2); }), "chunk: expects at least a 1-dimensional tensor");
  EXPECT_NE(error_of([&] { t.flip({1}); }).find("flip: dimension out of range"), std::string::npos);
  EXPECT_EQ(t.flip({0}).item<double>(), 3.0);
  EXPECT_EQ(t.movedim(0, 0).item<double>(), 3.0);
  EXPECT_EQ(t.index_select(0, tensor({0})).item<double>(), 3.0);
  EXPECT_EQ(t.gather(0, tensor(int64_t(0))).item<double>(), 3.0);
  EXPECT_EQ(t.scatter_add(0, tensor(int64_t(0)), tensor(2.)).item<double>(), 5.0);
  EXPECT_EQ(t.mean({0}).item<double>(), 3.0);
  EXPECT_EQ(t.sum({0}).item<double>(), 3.0);
  EXPECT_TRUE(std::isnan(t.var({0}).item<double>()));  // one value, correction 1
  EXPECT_TRUE(std::isnan(t.std({0}).item<double>()));
  EXPECT_NE(error_of([&] { t.mean({1}); }).find("dimension out of range"), std::string::npos);
}

// Reductions along dim 0 walk the columns in tiles (codegen/cpu,
// kernel_builder.h: up to kTile = 2048 columns): columns on both sides of
// tile boundaries and a partial last tile, against a float64 loop, and the
// same bits with 1 and 2 threads.
TEST(Reductions, ColumnTilesAcrossTheirBoundary) {
  const int64_t R = 9, C = 2 * 2048 + 37;
  manual_seed(11);
  Tensor x = randn({R, C}).realize();
  std::vector<float> v = x.to_vector<float>();
  const int before = get_num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tensor s = sum(x, {0}), m = amax(x, {0}), a = x.argmax(0), c = cumsum(x, 0);
    realize({s, m, a, c});
    return std::tuple{s.to_vector<float>(), m.to_vector<float>(), a.to_vector<int64_t>(), c.to_vector<float>()};
  };
  auto [s1, m1, a1, c1] = run(1);
  auto [s2, m2, a2, c2] = run(2);
  set_num_threads(before);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(a1, a2);
  EXPECT_EQ(c1, c2);
  for (int64_t j = 0; j < C; ++j) {
    double acc = 0;
    float best = v[size_t(j)];
    int64_t at = 0;
    for (int64_t i = 0; i < R; ++i) {
      float e = v[size_t(i * C + j)];
      acc += e;
      ASSERT_NEAR(c1[size_t(i * C + j)], acc, 1e-5) << "cumsum " << i << ", " << j;
      if (e > best) best = e, at = i;
    }
    ASSERT_NEAR(s1[size_t(j)], acc, 1e-5) << "column " << j;
    ASSERT_EQ(m1[size_t(j)], best) << "column " << j;
    ASSERT_EQ(a1[size_t(j)], at) << "column " << j;
  }
}

// Large draws fill in chunks on the kernel threads: the values are the
// stream's, whatever the thread count, and a small (serial) draw from the
// same seed is the head of a large one.
TEST(Random, LargeDrawsAreTheSameStreamOnAnyThreadCount) {
  const int before = get_num_threads();
  auto draw = [](int threads, int64_t n, bool normal) {
    set_num_threads(threads);
    manual_seed(21);
    return (normal ? randn({n}) : rand({n})).to_vector<float>();
  };
  for (bool normal : {false, true}) {
    std::vector<float> one = draw(1, 300001, normal), two = draw(2, 300001, normal), head = draw(2, 1000, normal);
    EXPECT_EQ(one, two);
    EXPECT_EQ(head, std::vector<float>(one.begin(), one.begin() + 1000));
  }
  set_num_threads(before);
}

// cross_entropy reads its class indices once, to check them, and builds the
// rest from those values: with realized targets, nothing runs until the loss
// is read (the training step's one schedule), and ignored targets still drop
// out of the mean.
TEST(NN, CrossEntropyRunsNothingUntilRead) {
  manual_seed(3);
  Tensor logits = randn({4, 3}).realize();
  Tensor y = tensor({2, -100, 0, 1}).realize();
  const int64_t launched = runtime_stats().kernels_launched;
  Tensor loss = nn::cross_entropy(logits, y);
  EXPECT_EQ(runtime_stats().kernels_launched, launched);
  std::vector<float> v = logits.to_vector<float>();
  double want = 0;
  for (int i : {0, 2, 3}) {
    int t = i == 0 ? 2 : i == 2 ? 0 : 1;
    double m = std::max({v[size_t(i * 3)], v[size_t(i * 3 + 1)], v[size_t(i * 3 + 2)]}), s = 0;
    for (int c = 0; c < 3; ++c) s += std::exp(double(v[size_t(i * 3 + c)]) - m);
    want += -(double(v[size_t(i * 3 + t)]) - m - std::log(s)) / 3;
  }
  EXPECT_NEAR(loss.item<float>(), want, 1e-5);
}
