// Every op family fed by non-contiguous views (transposed, sliced with a
// step, expanded, flipped), which the conformance corpus cannot express:
// each result must equal the same op on a contiguous copy of the input.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>
#include <functional>

using namespace kiln;
using namespace kiln::indexing;

namespace {

// Views of one base with the same shape [4, 6] but different layouts.
std::vector<std::pair<std::string, Tensor>> views() {
  manual_seed(11);
  Tensor base = randn({6, 4});
  Tensor big = randn({8, 13});
  return {
      {"transposed", base.t()},
      {"sliced_step", big.index({Slice(0, 8, 2), Slice(1, 13, 2)})},
      {"expanded", randn({1, 6}).expand({4, 6})},
      {"offset", big.narrow(0, 3, 4).narrow(1, 5, 6)},
  };
}

void expect_same(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  auto g = got.to(kFloat64).to_vector<double>();
  auto w = want.to(kFloat64).to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << what << " at " << i;
      continue;
    }
    EXPECT_NEAR(g[i], w[i], 1e-5 + 1e-5 * std::fabs(w[i])) << what << " at " << i;
  }
}

void check(const std::string& name, const std::function<Tensor(const Tensor&)>& op) {
  for (auto& [layout, v] : views()) {
    Tensor c = v.clone();
    ASSERT_TRUE(c.is_contiguous());
    expect_same(op(v), op(c), name + " on " + layout);
  }
}

}  // namespace

TEST(NonContiguous, Elementwise) {
  check("chain", [](const Tensor& x) { return ((x.sin() * 2 + 1).exp() - x).abs().sqrt(); });
  check("binary with itself transposed", [](const Tensor& x) { return x.reshape({6, 4}).t() * x; });
  check("where/clamp", [](const Tensor& x) { return where(x > 0, x.clamp(0.1, 0.5), -x); });
  check("cast", [](const Tensor& x) { return (x * 10).to(kInt32).to(kFloat32); });
}

TEST(NonContiguous, Reductions) {
  check("sum", [](const Tensor& x) { return x.sum({1}); });
  check("sum all", [](const Tensor& x) { return x.sum(); });
  check("mean keepdim", [](const Tensor& x) { return x.mean({0}, true); });
  check("amax", [](const Tensor& x) { return x.amax({1}); });
  check("argmin", [](const Tensor& x) { return x.argmin(0).to(kFloat32); });
  check("var", [](const Tensor& x) { return x.var({1}); });
  check("logsumexp", [](const Tensor& x) { return x.logsumexp({1}); });
  check("cumsum", [](const Tensor& x) { return x.cumsum(1); });
  check("norm", [](const Tensor& x) { return x.norm(2, {0}); });
}

TEST(NonContiguous, ShapeAndIndexing) {
  check("reshape", [](const Tensor& x) { return x.reshape({3, 8}) + 0; });
  check("flip", [](const Tensor& x) { return x.flip({0, 1}); });
  check("cat", [](const Tensor& x) { return cat({x, x * 2}, 1); });
  check("repeat", [](const Tensor& x) { return x.repeat({2, 1}); });
  check("index_select", [](const Tensor& x) { return x.index_select(1, tensor({5, 0, 2})); });
  check("gather", [](const Tensor& x) { return x.gather(1, tensor({{0, 1}, {2, 3}, {4, 5}, {5, 0}})); });
  check("advanced", [](const Tensor& x) { return x.index({tensor({3, 1}), Slice(1, 5, 3)}); });
  check("mask", [](const Tensor& x) { return x.index({x > 0}); });
  check("setitem", [](const Tensor& x) {
    Tensor y = x.clone();
    y.index_put_({Slice(), Slice(0, 2)}, 4);
    y.index_put_({tensor({0, 2})}, x.index({Slice(1, 3)}));
    return y;
  });
}

TEST(NonContiguous, MatmulAndNN) {
  check("matmul", [](const Tensor& x) { return matmul(x, x.t()); });
  check("matmul vec", [](const Tensor& x) { return matmul(x, x.select(0, 1)); });
  check("softmax", [](const Tensor& x) { return nn::softmax(x, 1); });
  check("log_softmax", [](const Tensor& x) { return nn::log_softmax(x, 0); });
  check("layer_norm", [](const Tensor& x) { return nn::layer_norm(x, {6}); });
  check("cross_entropy", [](const Tensor& x) { return nn::cross_entropy(x, tensor({0, 5, 2, 1})); });
  check("linear", [](const Tensor& x) { return nn::linear(x, x.narrow(0, 0, 3), x.select(0, 0).narrow(0, 0, 3)); });
}
