// Kernels are cached by the structure of their Kernel IR: new data and new
// sizes of the same graph compile nothing.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

using namespace kiln;

namespace {
Tensor chain(const Tensor& x, const Tensor& y) { return ((x.sin() * y + 1).exp() - x).abs().sqrt() * 0.5 + y.tanh(); }
}  // namespace

TEST(KernelCache, SameGraphNewDataCompilesNothing) {
  chain(rand({1000}), rand({1000})).realize();
  auto compiled = runtime_stats().kernels_compiled;
  auto hits = runtime_stats().kernel_cache_hits;
  auto r = chain(rand({1000}), rand({1000}));
  r.realize();
  EXPECT_EQ(runtime_stats().kernels_compiled, compiled);
  EXPECT_EQ(runtime_stats().kernel_cache_hits, hits + 1);
}

TEST(KernelCache, NewLengthCompilesNothing) {
  chain(rand({1000}), rand({1000})).realize();
  auto compiled = runtime_stats().kernels_compiled;
  chain(rand({77777}), rand({77777})).realize();
  chain(rand({3, 5}), rand({3, 5})).realize();  // contiguous 2-d is one flat loop
  EXPECT_EQ(runtime_stats().kernels_compiled, compiled);
}

TEST(KernelCache, TenOpChainIsOneKernel) {
  auto launched = runtime_stats().kernels_launched;
  chain(rand({4096}), rand({4096})).realize();
  EXPECT_EQ(runtime_stats().kernels_launched, launched + 1);
}

TEST(KernelCache, ThreadCountDoesNotChangeResults) {
  manual_seed(3);
  auto x = rand({1 << 18}), y = rand({1 << 18});
  set_num_threads(1);
  auto one = chain(x, y).to_vector<float>();
  set_num_threads(2);
  EXPECT_EQ(chain(x, y).to_vector<float>(), one);
}
