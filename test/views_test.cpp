// Views are index maps over one buffer; in-place ops rebind tensor and base.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

using namespace kiln;

TEST(Views, ViewSharesTheBufferWithPyTorchStrides) {
  auto a = arange(24.).reshape({2, 3, 4});
  a.realize();
  auto v = a.view({3, 2, 4});
  EXPECT_EQ(v.strides(), (Shape{8, 4, 1}));
  EXPECT_EQ(v.data_ptr(), a.data_ptr());
  auto t = a.transpose(1, 2);
  EXPECT_EQ(t.strides(), (Shape{12, 1, 4}));
  EXPECT_EQ(t.data_ptr(), a.data_ptr());
  EXPECT_FALSE(t.is_contiguous());
  auto p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  auto e = tensor({1., 2.}).expand({3, 2});
  EXPECT_EQ(e.strides(), (Shape{0, 1}));
  EXPECT_EQ(a.unsqueeze(1).shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(a.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(a.unsqueeze(1).squeeze().shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(a.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(a.reshape({-1, 6}).shape(), (Shape{4, 6}));
}

TEST(Views, ViewOfTransposedThrowsReshapeCopies) {
  auto a = arange(6.).reshape({2, 3});
  auto t = a.t();
  EXPECT_THROW(t.view({6}), Error);
  auto r = t.reshape({6});
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_TRUE(t.contiguous().is_contiguous());
  EXPECT_EQ(t.contiguous().to_vector<float>(), r.to_vector<float>());
}

TEST(Views, ViewOfLazyBaseRealizesBaseThenAliases) {
  auto x = rand({3, 4});
  auto y = (x * 2).t();
  EXPECT_EQ(y.strides(), (Shape{1, 4}));
  y.realize();
  EXPECT_EQ(y.strides(), (Shape{1, 4}));
  auto xv = x.to_vector<float>();
  auto yv = y.to_vector<float>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(yv[j * 3 + i], 2 * xv[i * 4 + j]);
}

TEST(Views, FusedViewsAndBroadcastsComputeCorrectly) {
  auto a = arange(12.).reshape({3, 4});
  auto b = arange(4.);
  auto c = arange(3.).unsqueeze(1);
  // a.t() + a.t(): transposed loads; + b, + c: broadcast loads.
  auto r = (a + b + c).t() * 2 + a.t();
  auto v = r.to_vector<float>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(v[i * 3 + j], 2 * (j * 4 + i + i + j) + (j * 4 + i));
  // A reshape over a transposed lazy value forces it to be laid out first.
  auto s = (a.t() + 1).reshape({2, 6}) * 1;
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12}));
}

TEST(InPlace, RebindsTensorAndSharedHandles) {
  auto x = tensor({1., 2.});
  Tensor alias = x;  // copies of a Tensor share it, as in LibTorch
  x.add_(1).mul_(3);
  EXPECT_EQ(alias.to_vector<float>(), (std::vector<float>{6, 9}));
  x.sub_(tensor({1., 1.}), 2).div_(2);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{2, 3.5}));
  x.fill_(4);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{4, 4}));
  x.zero_();
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0, 0}));
  x.copy_(tensor({7, 8}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{7, 8}));
  EXPECT_EQ(x.dtype(), kFloat32);
  auto i = tensor({1, 2});
  EXPECT_THROW(i.add_(0.5), Error);  // float result into an int tensor
}

TEST(InPlace, WritesThroughViewsToTheBaseAndBack) {
  auto base = zeros({3, 4});
  auto t = base.t();
  t.add_(1);  // whole view
  EXPECT_EQ(base.to_vector<float>(), std::vector<float>(12, 1.f));
  auto x = tensor({{1., 2.}, {3., 4.}});
  auto xt = x.t();
  xt.mul_(10);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{10, 20, 30, 40}));
  x.add_(1);  // the view sees writes to its base
  EXPECT_EQ(xt.to_vector<float>(), (std::vector<float>{11, 31, 21, 41}));
  auto row = x.view({4}).view({2, 2}).unsqueeze(0);
  row.zero_();
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>(4, 0.f));
  EXPECT_THROW(tensor({1., 2.}).expand({2, 2}).add_(1), Error);
}

TEST(InPlace, AViewWrittenInPlaceKeepsItsStridesAndItsBase) {
  auto x = zeros({3, 4});
  auto c = x.select(1, 0);
  c.add_(1);
  EXPECT_EQ(c.stride(0), 4);
  EXPECT_EQ(c.data_ptr(), x.data_ptr());
  c.data_ptr<float>()[4] = 7;  // element [1] of the column, through the base's buffer
  EXPECT_EQ(x.to_vector<float>()[4], 7.f);
}

TEST(Views, AViewOfAFoldedExpressionDoesNotAliasItsInput) {
  auto a = ones({4});
  a.realize();
  auto b = (a * 1).view({2, 2});  // x * 1 folds to x, but b must be a new tensor
  b.data_ptr<float>()[0] = 5;
  EXPECT_EQ(a.to_vector<float>()[0], 1.f);
}
