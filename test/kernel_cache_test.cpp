// Kernels are cached by the structure of their Kernel IR: new data and new
// sizes of the same graph compile nothing.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

using namespace kiln;

namespace {
// Data: realized (a lazy rand would be computed inside the chain's kernel).
Tensor data(const Shape& shape) {
  Tensor t = rand(shape);
  t.realize();
  return t;
}
Tensor chain(const Tensor& x, const Tensor& y) { return ((x.sin() * y + 1).exp() - x).abs().sqrt() * 0.5 + y.tanh(); }
}  // namespace

TEST(KernelCache, SameGraphNewDataCompilesNothing) {
  chain(data({1000}), data({1000})).realize();
  auto compiled = runtime_stats().kernels_compiled;
  auto x = data({1000}), y = data({1000});
  auto hits = runtime_stats().kernel_cache_hits;
  auto r = chain(x, y);
  r.realize();
  EXPECT_EQ(runtime_stats().kernels_compiled, compiled);
  EXPECT_EQ(runtime_stats().kernel_cache_hits, hits + 1);
}

TEST(KernelCache, NewLengthCompilesNothing) {
  chain(data({1000}), data({1000})).realize();
  auto compiled = runtime_stats().kernels_compiled;
  chain(data({77777}), data({77777})).realize();
  chain(data({3, 5}), data({3, 5})).realize();  // contiguous 2-d is one flat loop
  EXPECT_EQ(runtime_stats().kernels_compiled, compiled);
}

TEST(KernelCache, TenOpChainIsOneKernel) {
  auto x = data({4096}), y = data({4096});
  auto launched = runtime_stats().kernels_launched;
  chain(x, y).realize();
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

namespace {
int64_t memory_maps() {
  std::ifstream maps("/proc/self/maps");
  return std::count(std::istreambuf_iterator<char>(maps), std::istreambuf_iterator<char>(), '\n');
}
// A kernel of its own for each n: n ops alternating abs and neg.
Tensor distinct_chain(const Tensor& x, int n) {
  Tensor v = x;
  for (int i = 0; i < n; ++i) v = i % 2 ? -v : (v + 1).abs();
  return v;
}
}  // namespace

// Beyond KILN_MAX_RESIDENT_KERNELS (the CTest entry KernelEviction sets 8)
// the least recently used kernels are unmapped: the memory maps stay
// bounded, and a released kernel used again is compiled (or loaded) again
// and gives the same values.
TEST(KernelEviction, ReleasedKernelsGiveTheSameValues) {
  Tensor x = arange(0, 64).to(kFloat32) - 32.0;
  std::vector<std::vector<float>> first;
  for (int n = 1; n <= 40; ++n) first.push_back(distinct_chain(x, n).to_vector<float>());
  int64_t before = memory_maps();
  for (int n = 41; n <= 120; ++n) distinct_chain(x, n).realize();
  int64_t grown = memory_maps() - before;
  for (int n = 1; n <= 40; ++n) EXPECT_EQ(distinct_chain(x, n).to_vector<float>(), first[size_t(n - 1)]) << n;
  const char* cap = std::getenv("KILN_MAX_RESIDENT_KERNELS");
  if (cap && std::atoi(cap) <= 16) EXPECT_LT(grown, 40) << "80 more kernels grew the maps by " << grown;
}
