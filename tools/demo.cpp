// kiln in one page: lazy tensors, one fused kernel, and what it costs.
#include <kiln/kiln.h>

#include <chrono>
#include <iostream>

namespace {
double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

int main() {
  using namespace kiln;

  auto a = tensor({{1., 2.}, {3., 4.}});
  std::cout << "a =\n" << a << "\n";
  std::cout << "a.t() * 10 + a =\n" << a.t() * 10 + a << "\n";
  std::cout << "linspace(0, 1, 5) = " << linspace(0, 1, 5) << "\n\n";

  // A 10-op chain over 16M elements: nothing runs until the value is needed.
  const int64_t n = int64_t(1) << 24;
  manual_seed(0);
  auto x = rand({n});
  auto y = rand({n});
  auto before = runtime_stats();
  auto out = ((sin(x) * y + 1).exp() - x).abs().sqrt() * 0.5 + y.tanh();
  std::cout << "built the graph of out (" << out.numel() << " elements), kernels run so far: "
            << runtime_stats().kernels_launched - before.kernels_launched << "\n";

  auto t0 = std::chrono::steady_clock::now();
  out.realize();  // compile (once) and run
  double first = ms_since(t0);
  auto after = runtime_stats();
  std::cout << "first realize: " << first << " ms, kernels compiled: "
            << after.kernels_compiled - before.kernels_compiled
            << ", launched: " << after.kernels_launched - before.kernels_launched << "\n";

  // Same graph, new data: the cached kernel runs, nothing compiles.
  auto x2 = rand({n});
  t0 = std::chrono::steady_clock::now();
  auto out2 = ((sin(x2) * y + 1).exp() - x2).abs().sqrt() * 0.5 + y.tanh();
  out2.realize();
  double second = ms_since(t0);
  double gbs = double(n) * 12 / (second * 1e-3) / 1e9;
  std::cout << "second realize (new data): " << second << " ms, " << gbs
            << " GB/s, kernels compiled: " << runtime_stats().kernels_compiled - after.kernels_compiled
            << "\n";
  std::cout << "out2[0] = " << out2.to_vector<float>()[0] << "\n";
  std::cout << "(KILN_DEBUG=1..3 shows the kernels, the Kernel IR, MLIR and LLVM IR)\n";
}
