// A long training loop stays flat: resident memory, live graph nodes and
// allocator bytes do not grow, and nothing compiles after the first steps,
// also when the learning rate changes every step (scalars are launch
// parameters). KILN_SOAK_STEPS sets the length (CI: 300; the nightly
// length is 10000).
#include <gtest/gtest.h>
#include <kiln/kiln.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

namespace {

using namespace kiln;

int64_t soak_steps() {
  const char* env = std::getenv("KILN_SOAK_STEPS");
  return env ? std::max<int64_t>(std::atoll(env), 20) : 300;
}

int64_t rss_bytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return int64_t(resident) * sysconf(_SC_PAGESIZE);
}

struct Sample {
  int64_t rss, nodes, in_use, compiled;
};
Sample sample() {
  RuntimeStats s = runtime_stats();
  return {rss_bytes(), s.nodes_alive, s.bytes_in_use, s.kernels_compiled + s.kernels_loaded};
}

// A 2-layer MLP on a fixed batch, SGD with the step's learning rate.
void soak(const std::function<double(int64_t)>& lr_at) {
  manual_seed(7);
  Tensor x = randn({64, 32}), y = remainder(arange(0, 64), 10);
  Tensor w1 = (randn({32, 48}) * 0.1).requires_grad_(true), b1 = zeros({48}).requires_grad_(true);
  Tensor w2 = (randn({48, 10}) * 0.1).requires_grad_(true), b2 = zeros({10}).requires_grad_(true);
  std::vector<Tensor*> params = {&w1, &b1, &w2, &b2};
  const int64_t steps = soak_steps();
  Sample after2{}, warm{}, end{};
  double first_loss = 0, loss_value = 0;
  for (int64_t step = 0; step < steps; ++step) {
    Tensor loss = nn::cross_entropy(relu(x.matmul(w1) + b1).matmul(w2) + b2, y);
    loss.backward();
    {
      NoGradGuard no_grad;
      double lr = lr_at(step);
      for (Tensor* p : params) {
        p->sub_(p->grad() * lr);
        p->mutable_grad() = Tensor();
      }
    }
    loss_value = loss.item<double>();
    if (step == 0) first_loss = loss_value;
    if (step == 2) after2 = sample();
    if (step == steps / 10) warm = sample();
    if (step == steps - 1) end = sample();
  }
  EXPECT_LT(loss_value, first_loss) << "training did not train";
  EXPECT_EQ(end.compiled, after2.compiled) << "kernels compiled after step 2";
  EXPECT_EQ(end.nodes, warm.nodes) << "live graph nodes grew";
  EXPECT_EQ(end.in_use, warm.in_use) << "allocator bytes in use grew";
#if !defined(__SANITIZE_ADDRESS__)  // (ASan's quarantine holds freed memory on purpose)
  EXPECT_LE(double(end.rss), 1.05 * double(warm.rss))
      << "resident memory grew from " << warm.rss << " to " << end.rss << " bytes";
#endif
}

TEST(Soak, TrainingWithAConstantLearningRateStaysFlat) {
  soak([](int64_t) { return 0.05; });
}

TEST(Soak, TrainingWithAChangingLearningRateCompilesNothingNew) {
  soak([](int64_t step) { return 0.05 / (1.0 + 0.01 * double(step)); });
}

}  // namespace
