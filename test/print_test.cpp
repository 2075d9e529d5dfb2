// The printer against PyTorch 1.13's repr(tensor) (torch/_tensor_str.py
// with default print options). Each expected text was produced by running
// _tensor_str.py's own functions on the same values.
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

namespace {

std::string str(const kiln::Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

const double kNan = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

// Four decimals when some value is not an integer.
TEST(Print, Linspace) {
  EXPECT_EQ(str(kiln::linspace(0, 1, 5)),
            "tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])");
}

// All-integer floats print as "1.", a column per width.
TEST(Print, IntegralFloatsGetATrailingDot) {
  EXPECT_EQ(str(kiln::tensor({{1., 2.}, {3., 4.}})),
            "tensor([[1., 2.],\n"
            "        [3., 4.]])");
  EXPECT_EQ(str(kiln::zeros({3})),
            "tensor([0., 0., 0.])");
  EXPECT_EQ(str(kiln::arange(8.).reshape({2, 2, 2})),
            "tensor([[[0., 1.],\n"
            "         [2., 3.]],\n"
            "\n"
            "        [[4., 5.],\n"
            "         [6., 7.]]])");
}

// int64, float32 and bool are the inferred dtypes; others are named.
TEST(Print, Int64HasNoDtypeSuffix) {
  EXPECT_EQ(str(kiln::tensor({1, 2, 3})),
            "tensor([1, 2, 3])");
  EXPECT_EQ(str(kiln::tensor({1, 2, 3}).to(kiln::kInt32)),
            "tensor([1, 2, 3], dtype=torch.int32)");
  EXPECT_EQ(str(kiln::tensor({0, 255}, kiln::kUInt8)),
            "tensor([  0, 255], dtype=torch.uint8)");
  EXPECT_EQ(str(kiln::tensor({-128, 7}, kiln::kInt8)),
            "tensor([-128,    7], dtype=torch.int8)");
  EXPECT_EQ(str(kiln::tensor({-3}, kiln::kInt16)),
            "tensor([-3], dtype=torch.int16)");
}

// Half and bfloat16 print their (rounded) values through float.
TEST(Print, ReducedAndDoublePrecisionSuffixes) {
  EXPECT_EQ(str(kiln::tensor({1.5, -2.}).to(kiln::kBFloat16)),
            "tensor([ 1.5000, -2.0000], dtype=torch.bfloat16)");
  EXPECT_EQ(str(kiln::tensor({0.1}).to(kiln::kBFloat16)),
            "tensor([0.1001], dtype=torch.bfloat16)");
  EXPECT_EQ(str(kiln::tensor({0.1, 2.}).to(kiln::kFloat16)),
            "tensor([0.1000, 2.0000], dtype=torch.float16)");
  EXPECT_EQ(str(kiln::tensor({1., 2.}, kiln::kFloat64)),
            "tensor([1., 2.], dtype=torch.float64)");
}

// Sci mode: max/min > 1000, max > 1e8, or a non-integer min < 1e-4.
TEST(Print, Scientific) {
  EXPECT_EQ(str(kiln::tensor({1e-5, 1.})),
            "tensor([1.0000e-05, 1.0000e+00])");
  EXPECT_EQ(str(kiln::tensor({1e9, 1.})),
            "tensor([1.0000e+09, 1.0000e+00])");
  EXPECT_EQ(str(kiln::tensor({123456.789, -0.5, 0.})),
            "tensor([ 1.2346e+05, -5.0000e-01,  0.0000e+00])");
}

// The sign counts toward the column width.
TEST(Print, Negative) {
  EXPECT_EQ(str(kiln::tensor({-1.5, 2.25, -3.})),
            "tensor([-1.5000,  2.2500, -3.0000])");
  EXPECT_EQ(str(kiln::tensor({-1, 20, -300})),
            "tensor([  -1,   20, -300])");
}

// nan and inf are right-aligned and never get a trailing dot.
TEST(Print, NonFinite) {
  EXPECT_EQ(str(kiln::tensor({0.1, kNan, kInf})),
            "tensor([0.1000,    nan,    inf])");
  EXPECT_EQ(str(kiln::tensor({1., kNan})),
            "tensor([1., nan])");
  EXPECT_EQ(str(kiln::tensor({-kInf, 1.})),
            "tensor([-inf, 1.])");
  EXPECT_EQ(str(kiln::tensor(kNan)),
            "tensor(nan)");
}

// Zeros do not count toward the width, so -0. may overhang it.
TEST(Print, NegativeZero) {
  EXPECT_EQ(str(kiln::tensor({-0., 1.})),
            "tensor([-0., 1.])");
  EXPECT_EQ(str(kiln::tensor({-0., 1.5})),
            "tensor([-0.0000, 1.5000])");
}

// Bools print as True/False, padded to the widest.
TEST(Print, Bool) {
  EXPECT_EQ(str(kiln::tensor({true, false})),
            "tensor([ True, False])");
  EXPECT_EQ(str(kiln::tensor({true, true})),
            "tensor([True, True])");
}

// 0-dim tensors print the bare value.
TEST(Print, ZeroDim) {
  EXPECT_EQ(str(kiln::tensor(3.5)),
            "tensor(3.5000)");
  EXPECT_EQ(str(kiln::tensor(3.)),
            "tensor(3.)");
  EXPECT_EQ(str(kiln::tensor(2)),
            "tensor(2)");
  EXPECT_EQ(str(kiln::tensor(true)),
            "tensor(True)");
  EXPECT_EQ(str(kiln::tensor(2.5, kiln::kFloat64)),
            "tensor(2.5000, dtype=torch.float64)");
}

// Empty tensors name every dtype but float32, and any shape but (0,).
TEST(Print, Empty) {
  EXPECT_EQ(str(kiln::zeros({0})),
            "tensor([])");
  EXPECT_EQ(str(kiln::zeros({0, 3})),
            "tensor([], size=(0, 3))");
  EXPECT_EQ(str(kiln::zeros({0}, kiln::kInt32)),
            "tensor([], dtype=torch.int32)");
  EXPECT_EQ(str(kiln::zeros({0}, kiln::kInt64)),
            "tensor([], dtype=torch.int64)");
  EXPECT_EQ(str(kiln::zeros({2, 0}, kiln::kBool)),
            "tensor([], size=(2, 0), dtype=torch.bool)");
}

// One newline between rows, one more per extra dim.
TEST(Print, NestedLayout) {
  EXPECT_EQ(str(kiln::arange(24).reshape({2, 3, 4})),
            "tensor([[[ 0,  1,  2,  3],\n"
            "         [ 4,  5,  6,  7],\n"
            "         [ 8,  9, 10, 11]],\n"
            "\n"
            "        [[12, 13, 14, 15],\n"
            "         [16, 17, 18, 19],\n"
            "         [20, 21, 22, 23]]])");
  EXPECT_EQ(str(kiln::arange(16).reshape({2, 2, 2, 2})),
            "tensor([[[[ 0,  1],\n"
            "          [ 2,  3]],\n"
            "\n"
            "         [[ 4,  5],\n"
            "          [ 6,  7]]],\n"
            "\n"
            "\n"
            "        [[[ 8,  9],\n"
            "          [10, 11]],\n"
            "\n"
            "         [[12, 13],\n"
            "          [14, 15]]]])");
}

// Transposed and broadcast views print their logical values.
TEST(Print, StridedViews) {
  EXPECT_EQ(str(kiln::arange(6).reshape({2, 3}).t()),
            "tensor([[0, 3],\n"
            "        [1, 4],\n"
            "        [2, 5]])");
  EXPECT_EQ(str(kiln::tensor({1, 2}).expand({3, 2})),
            "tensor([[1, 2],\n"
            "        [1, 2],\n"
            "        [1, 2]])");
}

// Rows wrap at 80 columns, continuation lines under the first element.
TEST(Print, LineWrapping) {
  EXPECT_EQ(str(kiln::arange(100.)),
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
            "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n"
            "        28., 29., 30., 31., 32., 33., 34., 35., 36., 37., 38., 39., 40., 41.,\n"
            "        42., 43., 44., 45., 46., 47., 48., 49., 50., 51., 52., 53., 54., 55.,\n"
            "        56., 57., 58., 59., 60., 61., 62., 63., 64., 65., 66., 67., 68., 69.,\n"
            "        70., 71., 72., 73., 74., 75., 76., 77., 78., 79., 80., 81., 82., 83.,\n"
            "        84., 85., 86., 87., 88., 89., 90., 91., 92., 93., 94., 95., 96., 97.,\n"
            "        98., 99.])");
  EXPECT_EQ(str((kiln::arange(40.) + 0.5).reshape({2, 20})),
            "tensor([[ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000,\n"
            "          8.5000,  9.5000, 10.5000, 11.5000, 12.5000, 13.5000, 14.5000, 15.5000,\n"
            "         16.5000, 17.5000, 18.5000, 19.5000],\n"
            "        [20.5000, 21.5000, 22.5000, 23.5000, 24.5000, 25.5000, 26.5000, 27.5000,\n"
            "         28.5000, 29.5000, 30.5000, 31.5000, 32.5000, 33.5000, 34.5000, 35.5000,\n"
            "         36.5000, 37.5000, 38.5000, 39.5000]])");
}

// Over 1000 elements: 3 at each end; the width comes from those only.
TEST(Print, Summarized1d) {
  EXPECT_EQ(str(kiln::arange(2000.)),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
            "        1.9990e+03])");
  EXPECT_EQ(str(kiln::arange(1001, kiln::kInt32)),
            "tensor([   0,    1,    2,  ...,  998,  999, 1000], dtype=torch.int32)");
}

// Rows and columns are elided independently.
TEST(Print, Summarized2d) {
  EXPECT_EQ(str(kiln::arange(1600).reshape({40, 40})),
            "tensor([[   0,    1,    2,  ...,   37,   38,   39],\n"
            "        [  40,   41,   42,  ...,   77,   78,   79],\n"
            "        [  80,   81,   82,  ...,  117,  118,  119],\n"
            "        ...,\n"
            "        [1480, 1481, 1482,  ..., 1517, 1518, 1519],\n"
            "        [1520, 1521, 1522,  ..., 1557, 1558, 1559],\n"
            "        [1560, 1561, 1562,  ..., 1597, 1598, 1599]])");
  EXPECT_EQ(str((kiln::arange(1200.) / 4).reshape({30, 40})),
            "tensor([[0.0000e+00, 2.5000e-01, 5.0000e-01,  ..., 9.2500e+00, 9.5000e+00,\n"
            "         9.7500e+00],\n"
            "        [1.0000e+01, 1.0250e+01, 1.0500e+01,  ..., 1.9250e+01, 1.9500e+01,\n"
            "         1.9750e+01],\n"
            "        [2.0000e+01, 2.0250e+01, 2.0500e+01,  ..., 2.9250e+01, 2.9500e+01,\n"
            "         2.9750e+01],\n"
            "        ...,\n"
            "        [2.7000e+02, 2.7025e+02, 2.7050e+02,  ..., 2.7925e+02, 2.7950e+02,\n"
            "         2.7975e+02],\n"
            "        [2.8000e+02, 2.8025e+02, 2.8050e+02,  ..., 2.8925e+02, 2.8950e+02,\n"
            "         2.8975e+02],\n"
            "        [2.9000e+02, 2.9025e+02, 2.9050e+02,  ..., 2.9925e+02, 2.9950e+02,\n"
            "         2.9975e+02]])");
  EXPECT_EQ(str(kiln::arange(1200).reshape({2, 3, 200})),
            "tensor([[[   0,    1,    2,  ...,  197,  198,  199],\n"
            "         [ 200,  201,  202,  ...,  397,  398,  399],\n"
            "         [ 400,  401,  402,  ...,  597,  598,  599]],\n"
            "\n"
            "        [[ 600,  601,  602,  ...,  797,  798,  799],\n"
            "         [ 800,  801,  802,  ...,  997,  998,  999],\n"
            "         [1000, 1001, 1002,  ..., 1197, 1198, 1199]]])");
}

// A suffix that would pass column 80 goes on its own line.
TEST(Print, Suffixes) {
  double halves[8] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5};
  auto leaf = kiln::TensorOptions().dtype(kiln::kFloat64).requires_grad(true);
  EXPECT_EQ(str(kiln::ones({2}, kiln::TensorOptions().requires_grad(true))),
            "tensor([1., 1.], requires_grad=True)");
  EXPECT_EQ(str(kiln::arange(8., kiln::kFloat64) + 0.5),
            "tensor([0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.5000],\n"
            "       dtype=torch.float64)");
  EXPECT_EQ(str(kiln::from_blob(halves, {8}, leaf)),
            "tensor([0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.5000],\n"
            "       dtype=torch.float64, requires_grad=True)");
}
