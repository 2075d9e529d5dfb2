// Consecutive launches over the same rows of large buffers run in row
// blocks (lib/launches.h): the values are bitwise those of each launch run
// whole.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <functional>

#include "launches.h"

using namespace kiln;

namespace {

struct Compared {
  std::vector<float> blocked, whole;
  int64_t groups = 0;
};

Compared compare(const std::function<Tensor()>& f) {
  Compared c;
  int64_t before = row_block_groups();
  c.blocked = f().to_vector<float>();
  c.groups = row_block_groups() - before;
  set_row_block_bytes(0);
  c.whole = f().to_vector<float>();
  set_row_block_bytes(-1);
  return c;
}

}  // namespace

TEST(RowBlocks, RowKernelsGiveTheSameBits) {
  manual_seed(1);
  // 1030 rows of 1100 (4.5 MB): blocks of a few rows and a remainder.
  Tensor x = randn({1030, 1100}) * 3;
  Tensor w = rand({1100}), b = rand({1100});
  realize(x, w, b);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const std::pair<const char*, std::function<Tensor()>> cases[] = {
        {"softmax", [&] { return nn::softmax(x, 1); }},
        {"log_softmax", [&] { return nn::log_softmax(x, 1); }},
        {"layer_norm", [&] { return nn::layer_norm(x, {1100}, w, b); }},
        {"centered", [&] { return x - x.mean({1}, true) + x.amax({1}, true).exp(); }},
    };
    for (auto& [what, f] : cases) {
      Compared c = compare(f);
      EXPECT_GE(c.groups, 1) << what;
      EXPECT_EQ(c.blocked, c.whole) << what << " on " << threads << " threads";
    }
  }
}

TEST(RowBlocks, ColumnReductionsAreNotBlocked) {
  // A sum over dim 0 reads every row for each output: no row of its
  // reader may run before all rows are summed.
  manual_seed(2);
  Tensor x = randn({2048, 1024});
  x.realize();
  Compared c = compare([&] { return x - x.sum({0}, true) / 2048; });
  EXPECT_EQ(c.groups, 0);
  EXPECT_EQ(c.blocked, c.whole);
}
