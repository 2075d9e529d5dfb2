// Autodiff: PyTorch's semantics on the seeds' examples, finite differences
// for every differentiable op, higher derivatives, and a training loop that
// must run in flat memory without recompiling.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>
#include <functional>
#include <sstream>

#include "autodiff/autodiff.h"
#include "tensor/tensor_impl.h"

using namespace kiln;

namespace {
std::string str(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}
TensorOptions grad_f64() { return TensorOptions().dtype(kFloat64).requires_grad(true); }
}  // namespace

TEST(Autograd, SeedExamples) {
  // y = w * x + b: dy/dw = x, dy/db = 1, x has no gradient.
  auto x = tensor(3.0);
  auto w = tensor(2.0, TensorOptions().requires_grad(true));
  auto b = tensor(1.0, TensorOptions().requires_grad(true));
  auto y = w * x + b;
  EXPECT_EQ(str(y), "tensor(7., grad_fn=<AddBackward0>)");
  y.backward();
  EXPECT_EQ(str(w.grad()), "tensor(3.)");
  EXPECT_EQ(str(b.grad()), "tensor(1.)");
  EXPECT_FALSE(x.grad().defined());

  auto m = tensor({{5., 4.}, {3., 2.}}, grad_f64());
  m.pow(3).sum().backward();
  EXPECT_EQ(str(m.grad()), "tensor([[75., 48.],\n        [27., 12.]], dtype=torch.float64)");

  auto a = tensor({2.}, TensorOptions().requires_grad(true));
  auto bb = tensor({6.}, TensorOptions().requires_grad(true));
  auto Q = 3 * a.pow(3) - bb.pow(2);
  Q.backward(tensor({1.}));
  EXPECT_EQ(str(a.grad()), "tensor([36.])");
  EXPECT_EQ(str(bb.grad()), "tensor([-12.])");

  auto v = ones({2, 2}, TensorOptions().requires_grad(true));
  (v * 5).sum().backward();
  EXPECT_EQ(str(v.grad()), "tensor([[5., 5.],\n        [5., 5.]])");
  EXPECT_EQ(str(v), "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)");
}

TEST(Autograd, AccumulatesAcrossBackwardCallsUntilReset) {
  auto x = tensor({1., 2.}, TensorOptions().requires_grad(true));
  auto loss = (x * x).sum();
  loss.backward();
  loss.backward();  // the graph is a value: a second backward just works
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{4, 8}));
  x.grad().zero_();
  loss.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 4}));
  x.mutable_grad() = Tensor();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, BackwardNeedsScalarOrGradient) {
  auto x = tensor({1., 2.}, TensorOptions().requires_grad(true));
  try {
    (x * 2).backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scalar outputs"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[2]"), std::string::npos);
  }
  (x * 2).backward(tensor({1., 10.}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 20}));
}

TEST(Autograd, LeavesRetainGradNoGradDetach) {
  auto x = tensor({1., 2.}, TensorOptions().requires_grad(true));
  EXPECT_TRUE(x.is_leaf());
  auto y = x * 3;
  EXPECT_FALSE(y.is_leaf());
  EXPECT_EQ(y.grad_fn_name(), "MulBackward0");
  y.retain_grad();
  (y * y).sum().backward();
  EXPECT_EQ(y.grad().to_vector<float>(), (std::vector<float>{6, 12}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{18, 36}));
  {
    NoGradGuard guard;
    EXPECT_FALSE((x * 2).requires_grad());
    EnableGradGuard on;
    EXPECT_TRUE((x * 2).requires_grad());
  }
  auto d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.data_ptr(), x.data_ptr());  // shares the buffer
  EXPECT_THROW(tensor({1, 2}).requires_grad_(), Error);
  EXPECT_FALSE((tensor({1., 2.}, TensorOptions().requires_grad(true)) > 1).requires_grad());
}

TEST(Autograd, InPlaceRules) {
  auto w = tensor({1., 2.}, TensorOptions().requires_grad(true));
  EXPECT_THROW(w.add_(1), Error);
  EXPECT_THROW(w.t().mul_(2), Error);
  {
    NoGradGuard guard;  // an optimizer step
    w.sub_(tensor({0.5, 0.5}));
  }
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  (w * w).sum().backward();
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{1, 3}));
  // In place on a non-leaf: the gradient sees the right values.
  auto x = tensor({1., 2., 3.}, TensorOptions().requires_grad(true));
  auto y = x * 2;
  y.mul_(y);  // y = (2x)^2
  y.index_put_({0}, 0.);
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 16, 24}));
}

namespace {

// Central finite differences in float64 against kiln::grad.
void check_fd(const std::string& what, const std::function<Tensor(const std::vector<Tensor>&)>& f,
              std::vector<Tensor> inputs) {
  for (auto& x : inputs) x.requires_grad_(true);
  Tensor out = f(inputs);
  manual_seed(123);
  Tensor cot = randn(out.shape(), kFloat64);
  auto grads = grad({out}, inputs, {cot}, false, true);
  const double h = 1e-6;
  for (size_t k = 0; k < inputs.size(); ++k) {
    auto base = inputs[k].detach().to_vector<double>();
    std::vector<double> fd(base.size());
    for (size_t i = 0; i < base.size(); ++i) {
      auto eval = [&](double delta) {
        auto v = base;
        v[i] += delta;
        std::vector<Tensor> xs = inputs;
        xs[k] = from_blob(v.data(), inputs[k].shape(), kFloat64).clone();
        NoGradGuard g;
        return (f(xs) * cot).sum().item<double>();
      };
      fd[i] = (eval(h) - eval(-h)) / (2 * h);
    }
    auto got = grads[k].defined() ? grads[k].to_vector<double>() : std::vector<double>(base.size(), 0.0);
    for (size_t i = 0; i < base.size(); ++i)
      EXPECT_NEAR(got[i], fd[i], 1e-5 + 1e-5 * std::fabs(fd[i])) << what << " input " << k << " element " << i;
  }
}

Tensor r(const Shape& s, double lo = -2, double hi = 2) { return rand(s, kFloat64) * (hi - lo) + lo; }
Tensor pos(const Shape& s) { return r(s, 0.5, 2.0); }

}  // namespace

TEST(Autograd, FiniteDifferencesUnary) {
  manual_seed(1);
  using V = std::vector<Tensor>;
  check_fd("neg", [](const V& x) { return -x[0]; }, {r({3, 2})});
  check_fd("abs", [](const V& x) { return x[0].abs(); }, {r({3, 2})});
  check_fd("sqrt", [](const V& x) { return x[0].sqrt(); }, {pos({4})});
  check_fd("exp", [](const V& x) { return x[0].exp(); }, {r({4})});
  check_fd("log", [](const V& x) { return x[0].log(); }, {pos({4})});
  check_fd("sin", [](const V& x) { return x[0].sin(); }, {r({4})});
  check_fd("cos", [](const V& x) { return x[0].cos(); }, {r({4})});
  check_fd("tan", [](const V& x) { return x[0].tan(); }, {r({4}, -1, 1)});
  check_fd("tanh", [](const V& x) { return x[0].tanh(); }, {r({4})});
  check_fd("sigmoid", [](const V& x) { return x[0].sigmoid(); }, {r({4})});
  check_fd("relu", [](const V& x) { return x[0].relu(); }, {r({5})});
  check_fd("exp2", [](const V& x) { return x[0].exp2(); }, {r({4})});
  check_fd("log2", [](const V& x) { return x[0].log2(); }, {pos({4})});
  check_fd("log1p", [](const V& x) { return x[0].log1p(); }, {pos({4})});
  check_fd("expm1", [](const V& x) { return x[0].expm1(); }, {r({4})});
  check_fd("erf", [](const V& x) { return x[0].erf(); }, {r({4})});
  check_fd("rsqrt", [](const V& x) { return x[0].rsqrt(); }, {pos({4})});
  check_fd("reciprocal", [](const V& x) { return x[0].reciprocal(); }, {pos({4})});
  check_fd("square", [](const V& x) { return x[0].square(); }, {r({4})});
  check_fd("pow scalar", [](const V& x) { return x[0].pow(2.5); }, {pos({4})});
  check_fd("clamp", [](const V& x) { return x[0].clamp(-0.5, 0.7); }, {r({6})});
}

TEST(Autograd, CastsPassTheGradientInTheInputDtype) {
  // (Finite differences through float32 rounding would only measure noise.)
  auto x = tensor({1., 2., 3.}, grad_f64());
  auto g = grad({(x.to(kFloat32) * tensor({1.f, 2.f, 3.f})).sum()}, {x})[0];
  EXPECT_EQ(g.dtype(), kFloat64);
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  auto h = tensor({1., 2.}, TensorOptions().dtype(kBFloat16).requires_grad(true));
  EXPECT_EQ(grad({h.to(kFloat32).sum()}, {h})[0].dtype(), kBFloat16);
}

TEST(Autograd, FiniteDifferencesBinaryWithBroadcasting) {
  manual_seed(2);
  using V = std::vector<Tensor>;
  check_fd("add", [](const V& x) { return x[0] + x[1]; }, {r({2, 3}), r({3})});
  check_fd("sub", [](const V& x) { return x[0] - x[1]; }, {r({2, 1}), r({1, 3})});
  check_fd("mul", [](const V& x) { return x[0] * x[1]; }, {r({4, 1, 2}), r({3, 1})});
  check_fd("div", [](const V& x) { return x[0] / x[1]; }, {r({2, 3}), pos({2, 1})});
  check_fd("pow", [](const V& x) { return x[0].pow(x[1]); }, {pos({3}), r({2, 3})});
  check_fd("atan2", [](const V& x) { return x[0].atan2(x[1]); }, {r({3}), pos({3})});
  check_fd("hypot", [](const V& x) { return hypot(x[0], x[1]); }, {r({2, 3}), pos({3})});
  check_fd("logaddexp", [](const V& x) { return x[0].logaddexp(x[1]); }, {r({2, 3}), r({3})});
  check_fd("maximum", [](const V& x) { return maximum(x[0], x[1]); }, {r({2, 3}), r({3})});
  check_fd("minimum", [](const V& x) { return minimum(x[0], x[1]); }, {r({2, 3}), r({3})});
  check_fd("where", [](const V& x) { return where(x[0] > 0, x[0], x[1]); }, {r({4}), r({2, 4})});
  check_fd("clamp tensor", [](const V& x) { return x[0].clamp(x[1], std::nullopt); }, {r({5}), r({5})});
  check_fd("remainder", [](const V& x) { return x[0].remainder(x[1]); }, {r({4}), pos({4})});
  check_fd("fmod", [](const V& x) { return x[0].fmod(x[1]); }, {r({4}), pos({4})});
}

TEST(Autograd, FiniteDifferencesReductionsViewsIndexing) {
  manual_seed(3);
  using V = std::vector<Tensor>;
  using namespace kiln::indexing;
  check_fd("sum", [](const V& x) { return x[0].sum({1}); }, {r({3, 4})});
  check_fd("mean", [](const V& x) { return x[0].mean(); }, {r({3, 4})});
  check_fd("prod", [](const V& x) { return x[0].prod(1); }, {r({2, 3})});
  check_fd("amax", [](const V& x) { return x[0].amax({0}); }, {r({3, 4})});
  check_fd("max dim", [](const V& x) { return std::get<0>(x[0].max(1)); }, {r({3, 4})});
  check_fd("var", [](const V& x) { return x[0].var({1}); }, {r({3, 4})});
  check_fd("std", [](const V& x) { return x[0].std(); }, {r({3, 4})});
  check_fd("norm", [](const V& x) { return x[0].norm(); }, {r({3, 4})});
  check_fd("logsumexp", [](const V& x) { return x[0].logsumexp({1}); }, {r({3, 4})});
  check_fd("cumsum", [](const V& x) { return x[0].cumsum(0); }, {r({3, 4})});
  check_fd("views", [](const V& x) { return x[0].t().reshape({2, 6}).unsqueeze(0).expand({2, 2, 6}); }, {r({3, 4})});
  check_fd("slice", [](const V& x) { return x[0].index({Slice(0, 3, 2), -1}); }, {r({3, 4})});
  check_fd("cat", [](const V& x) { return cat({x[0], x[1] * 2}, 1); }, {r({2, 2}), r({2, 3})});
  check_fd("stack flip repeat", [](const V& x) { return stack({x[0], x[0].flip({0})}).repeat({1, 2}); }, {r({3})});
  check_fd("gather", [](const V& x) { return x[0].gather(1, tensor({{0, 0}, {2, 1}})); }, {r({2, 3})});
  check_fd("index", [](const V& x) { return x[0].index({tensor({1, 1, 0})}); }, {r({2, 3})});
  check_fd("index_put", [](const V& x) {
    Tensor y = x[0] * 1;
    y.index_put_({tensor({0, 2})}, x[1]);
    return y;
  }, {r({3, 2}), r({2})});
  check_fd("scatter_add", [](const V& x) { return x[0].scatter_add(0, tensor({{1, 0}, {1, 1}}), x[1]); },
           {r({2, 2}), r({2, 2})});
  check_fd("matmul", [](const V& x) { return matmul(x[0], x[1]); }, {r({2, 3, 4}), r({4, 2})});
  check_fd("softmax", [](const V& x) { return nn::softmax(x[0], 1); }, {r({2, 3})});
  check_fd("log_softmax", [](const V& x) { return nn::log_softmax(x[0], 0); }, {r({2, 3})});
  check_fd("gelu", [](const V& x) { return nn::gelu(x[0]) + nn::gelu(x[0], "tanh"); }, {r({5})});
  check_fd("silu elu softplus", [](const V& x) { return nn::silu(x[0]) + nn::elu(x[0]) + nn::softplus(x[0]); },
           {r({5})});
  check_fd("layer_norm", [](const V& x) { return nn::layer_norm(x[0], {4}, x[1], x[2]); }, {r({3, 4}), r({4}), r({4})});
  check_fd("cross_entropy", [](const V& x) { return nn::cross_entropy(x[0], tensor({2, 0, 1})); }, {r({3, 4})});
  check_fd("mse", [](const V& x) { return nn::mse_loss(x[0], x[1]); }, {r({3}), r({3})});
}

TEST(Autograd, HigherOrderDerivatives) {
  auto x = tensor({0.5, 1.0, 2.0}, grad_f64());
  auto d1 = grad({x.pow(3).sum()}, {x}, {}, true)[0];
  auto d2 = grad({d1.sum()}, {x}, {}, true)[0];
  auto d3 = grad({d2.sum()}, {x})[0];
  EXPECT_EQ(d2.to_vector<double>(), (std::vector<double>{3, 6, 12}));  // 6x
  EXPECT_EQ(d3.to_vector<double>(), (std::vector<double>{6, 6, 6}));   // third derivative
  auto s2 = grad({grad({x.sin().sum()}, {x}, {}, true)[0].sum()}, {x})[0];
  auto sv = s2.to_vector<double>(), xv = x.detach().to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) EXPECT_NEAR(sv[i], -std::sin(xv[i]), 1e-12);
  // Mixed partial of f = x^2 y^3: d2f/dxdy = 6 x y^2.
  auto a = tensor(1.5, grad_f64()), b = tensor(-2.0, grad_f64());
  auto fa = grad({a * a * b.pow(3)}, {a}, {}, true)[0];
  EXPECT_DOUBLE_EQ(grad({fa}, {b})[0].item<double>(), 6 * 1.5 * 4.0);
}

TEST(Autograd, ForwardAndBackwardRealizeAsOneSchedule) {
  manual_seed(5);
  auto w = randn({8, 4}, TensorOptions().requires_grad(true));
  auto b = zeros({4}, TensorOptions().requires_grad(true));
  auto x = randn({16, 8});
  auto loss = (matmul(x, w) + b).relu().sum();
  loss.backward();
  realize(loss, w.grad(), b.grad());
  EXPECT_TRUE(w.grad().is_realized());
  EXPECT_EQ(w.grad().shape(), (Shape{8, 4}));
}

TEST(Autograd, TrainingLoopIsFlatAndCompilesNothingAfterStepTwo) {
  manual_seed(0);
  // Two Gaussian blobs in 2-D, labels 0/1.
  const int64_t n = 64;
  auto labels = arange(n).remainder(2);
  auto centers = tensor({{-1.5, -1.0}, {1.5, 1.0}});
  auto x = centers.index({TensorIndex(labels)}) + randn({n, 2}) * 0.5;
  auto w1 = (randn({2, 16}) * 0.5).requires_grad_();
  auto b1 = zeros({16}, TensorOptions().requires_grad(true));
  auto w2 = (randn({16, 2}) * 0.5).requires_grad_();
  auto b2 = zeros({2}, TensorOptions().requires_grad(true));
  std::vector<Tensor> params = {w1, b1, w2, b2};
  double first = 0, last = 0;
  int64_t compiled_after_2 = 0, nodes_after_2 = 0;
  size_t mem_after_2 = 0;
  for (int step = 0; step < 1000; ++step) {
    auto h = nn::linear(x, w1.t(), b1).relu();
    auto logits = nn::linear(h, w2.t(), b2);
    auto loss = nn::cross_entropy(logits, labels);
    for (auto& p : params) p.mutable_grad() = Tensor();
    loss.backward();
    realize(loss, w1.grad(), b1.grad(), w2.grad(), b2.grad());
    {
      NoGradGuard g;
      for (auto& p : params) p.sub_(p.grad() * 0.1);
      realize(params);
    }
    double l = loss.template item<double>();
    if (step == 0) first = l;
    last = l;
    if (step == 2) {
      compiled_after_2 = runtime_stats().kernels_compiled;
      nodes_after_2 = runtime_stats().nodes_alive;
      mem_after_2 = size_t(runtime_stats().bytes_in_use);
    }
  }
  EXPECT_LT(last, 0.1) << "first loss " << first;
  EXPECT_EQ(runtime_stats().kernels_compiled, compiled_after_2);
  EXPECT_LE(runtime_stats().nodes_alive, nodes_after_2 + 8);
  EXPECT_LE(size_t(runtime_stats().bytes_in_use), mem_after_2 + 4096);
}

TEST(Autograd, VeryDeepGraphsDifferentiate) {
  // Walked with explicit stacks: far deeper than the call stack allows.
  auto w = ones({1}).requires_grad_();
  auto h = zeros({1});
  const int n = 5000;
  for (int i = 0; i < n; ++i) h = h * w + 1;
  h.sum().backward();
  // h_n = sum_{k<n} w^k, so dh/dw at w = 1 is n(n-1)/2 (float32 sums: 1e-4 relative).
  double want = double(n) * (n - 1) / 2;
  EXPECT_NEAR(w.grad().item<double>(), want, 1e-4 * want);
}

TEST(Autograd, GradIsNeverTheCallersGradientTensor) {
  auto x = rand({3}).requires_grad_();
  auto gr = ones({3}).requires_grad_();
  auto y = x + 0.0;
  y.backward(gr);
  y.backward(gr);
  EXPECT_FALSE(x.grad().requires_grad());
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(3, 2.f));
  EXPECT_FALSE(gr.grad().defined());
}

TEST(Autograd, NormOfZerosHasZeroGradient) {
  for (double p : {2.0, 3.0}) {
    auto x = zeros({2}, TensorOptions().requires_grad(true));
    x.norm(p).backward();
    EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 0})) << "p = " << p;
    auto y = tensor({3., 4.}, TensorOptions().requires_grad(true));
    y.norm(p).backward();
    if (p == 2) EXPECT_EQ(y.grad().to_vector<float>(), (std::vector<float>{0.6f, 0.8f}));
    EXPECT_FALSE(std::isnan(y.grad().to_vector<float>()[0]));
  }
}

namespace {
// The counters that move when anything is computed (compiled, loaded, run).
struct ComputeCounters {
  int64_t compiled, loaded, cache_hits, launched;
  static ComputeCounters now() {
    RuntimeStats s = runtime_stats();
    return {s.kernels_compiled, s.kernels_loaded, s.kernel_cache_hits, s.kernels_launched};
  }
};
void expect_unchanged(const ComputeCounters& before, const char* what) {
  ComputeCounters after = ComputeCounters::now();
  EXPECT_EQ(after.compiled, before.compiled) << what;
  EXPECT_EQ(after.loaded, before.loaded) << what;
  EXPECT_EQ(after.cache_hits, before.cache_hits) << what;
  EXPECT_EQ(after.launched, before.launched) << what;
}
}  // namespace

TEST(Autograd, BuildingGradientsComputesNothingUntilRealized) {
  manual_seed(11);
  using namespace kiln::indexing;
  auto w = randn({8, 4}).requires_grad_();
  auto b = zeros({4}, TensorOptions().requires_grad(true));
  auto s = tensor(0.5, TensorOptions().requires_grad(true));
  auto big = rand({int64_t(1) << 19}).requires_grad_();  // its full sums fold in two stages
  auto x = randn({16, 8});
  auto labels = arange(16).remainder(4);
  // Rules of many kinds: matmul, broadcasting, reductions, scans, views,
  // joins, gathers, where, and a scalar that meets every one of them.
  auto h = (matmul(x, w) + b).relu();
  auto loss = nn::cross_entropy(h, labels) + nn::softmax(h, 1).amax({1}).sum() * s +
              h.cumsum(0).flip({1}).index({Slice(0, 8, 2)}).pow(2).mean() + cat({h, h * s}, 1).std() +
              (big * s).sum() + big.norm() + where(h > 0.5, h, s).sum() + std::get<0>(h.max(1)).prod();
  ComputeCounters before = ComputeCounters::now();
  loss.backward();
  auto first = grad({loss}, {w, s}, {}, /*create_graph=*/true);
  auto second = grad({first[1]}, {s});
  expect_unchanged(before, "building gradients computed something");
  for (const Tensor& g : {w.grad(), b.grad(), s.grad(), big.grad(), first[0], second[0]})
    EXPECT_FALSE(g.is_realized());
  realize(loss, w.grad(), b.grad(), s.grad(), big.grad(), first[0], second[0]);
  EXPECT_GT(ComputeCounters::now().launched, before.launched);
  EXPECT_EQ(w.grad().to_vector<float>(), first[0].to_vector<float>());
}

TEST(Autograd, GradientsOfDeepGraphsAreBuiltWithoutComputing) {
  // Straight on the graph, with no Tensor in between: autodiff alone
  // computes nothing, however deep the graph and its gradient.
  Tensor w = ones({3}).requires_grad_();
  NodeRef leaf = node_of(w);
  const int n = 1200;
  NodeRef h = graph::full(0, kFloat32, {3});
  for (int i = 0; i < n; ++i) h = graph::binary(Op::Add, graph::binary(Op::Mul, h, leaf), Scalar(1));
  NodeRef loss = graph::reduce(Op::Sum, h, {0});
  ComputeCounters before = ComputeCounters::now();
  auto grads = autodiff::gradients({loss}, {graph::full(1, kFloat32, loss->shape)});
  expect_unchanged(before, "autodiff::gradients computed something");
  ASSERT_TRUE(grads.count(leaf.get()));
  NodeRef gw = grads.at(leaf.get());
  EXPECT_FALSE(gw->realized());
  // h_n = sum_{k<n} w^k, so dh/dw at w = 1 is n(n-1)/2 per element.
  double want = double(n) * (n - 1) / 2;
  EXPECT_NEAR(wrap(gw).to_vector<float>()[1], want, 1e-4 * want);
}
