#include <gtest/gtest.h>
#include <kiln/kiln.h>

using namespace kiln;

TEST(Tensor, AddFloats) {
  Tensor a = tensor({1.f, 2.f, 3.f});
  Tensor b = tensor({10.f, 20.f, 30.f});
  Tensor c = a + b;
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{11, 22, 33}));
}
