// A few kernels of different kinds whose values the disk-cache fault test
// compares across runs over a damaged cache (test/disk_cache_faults.cmake).
#include <kiln/kiln.h>

#include <iostream>

int main() {
  using namespace kiln;
  manual_seed(7);
  auto x = randn({33, 17}), w = randn({17, 9});
  std::cout << ((x.sin() * 2 + 1).exp() - x).abs().sqrt() << "\n";
  std::cout << x.sum({1}) << "\n" << x.amax({0}) << "\n";
  std::cout << x.matmul(w) << "\n" << nn::softmax(x, 1).sum() << "\n";
  auto s = runtime_stats();
  std::cerr << "compiled " << s.kernels_compiled << " loaded " << s.kernels_loaded << "\n";
}
