// Matmuls through the CPU backend's tiles (the dot tile: both operands
// contiguous along k; the outer-product tile: B row-major along n), with
// the shapes that leave remainders (rows, masked columns, a K below one
// vector), batches whose blocks cross a batch, transposed operands, float64
// and fused epilogues: each against a float64 reference, and bitwise the
// same with 1 and 2 threads.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

namespace kiln {
namespace {

struct Shape3 {
  int64_t batch, m, k, n;
};

// C[b, i, j] = sum_k A[b, i, k] B[b, k, j] in float64, from row-major data.
std::vector<double> reference(const std::vector<double>& a, const std::vector<double>& b, const Shape3& s) {
  std::vector<double> c(size_t(s.batch * s.m * s.n), 0.0);
  for (int64_t q = 0; q < s.batch; ++q)
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < s.k; ++p)
          acc += a[size_t((q * s.m + i) * s.k + p)] * b[size_t((q * s.k + p) * s.n + j)];
        c[size_t((q * s.m + i) * s.n + j)] = acc;
      }
  return c;
}

template <class T>
std::vector<double> as_double(const Tensor& t) {
  std::vector<T> v = t.to(std::is_same_v<T, float> ? kFloat32 : kFloat64).template to_vector<T>();
  return std::vector<double>(v.begin(), v.end());
}

// How A and B are laid out in memory (their values are the same).
enum class Layouts { RowMajor, TransposedA, TransposedB };

template <class T>
void check(const Shape3& s, Layouts layouts, DType dt) {
  SCOPED_TRACE(testing::Message() << "batch " << s.batch << " m " << s.m << " k " << s.k << " n " << s.n
                                  << " layouts " << int(layouts) << " " << name(dt));
  manual_seed(uint64_t(s.m * 1000 + s.k * 10 + s.n));
  Tensor a = randn({s.batch, s.m, s.k}, dt).realize(), b = randn({s.batch, s.k, s.n}, dt).realize();
  Tensor bias = randn({s.n}, dt).realize();
  std::vector<double> ra = as_double<T>(a), rb = as_double<T>(b), rbias = as_double<T>(bias);
  // The same values through other layouts.
  Tensor A = a, B = b;
  if (layouts == Layouts::TransposedA) A = a.transpose(1, 2).contiguous().realize().transpose(1, 2);
  if (layouts == Layouts::TransposedB) B = b.transpose(1, 2).contiguous().realize().transpose(1, 2);
  const int before = get_num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    // Realized one by one: together the scheduler would compute both sums
    // in one kernel, which no tile takes.
    Tensor plain = (s.batch == 1 ? matmul(A.squeeze(0), B.squeeze(0)) : matmul(A, B)).realize();
    Tensor fused = (matmul(A, B) + bias).relu().realize();
    // Assigned first, so that the product and the sum are not needed later:
    // only the relu is stored, computed in the product's kernel (its
    // epilogue), with the same values.
    Tensor only = (matmul(A, B) + bias).relu();
    int64_t launched = runtime_stats().kernels_launched;
    only.realize();
    if (layouts == Layouts::RowMajor) EXPECT_EQ(runtime_stats().kernels_launched, launched + 1);
    EXPECT_EQ(as_double<T>(only), as_double<T>(fused));
    return std::pair{as_double<T>(plain), as_double<T>(fused)};
  };
  auto [p1, f1] = run(1);
  auto [p2, f2] = run(2);
  set_num_threads(before);
  EXPECT_EQ(p1, p2) << "the result depends on the thread count";
  EXPECT_EQ(f1, f2) << "the fused result depends on the thread count";
  std::vector<double> want = reference(ra, rb, s);
  double tol = dt == kFloat64 ? 1e-12 : 1e-5;
  for (size_t e = 0; e < want.size(); ++e) {
    double scale = std::sqrt(double(s.k)) + std::fabs(want[e]);
    ASSERT_NEAR(p1[e], want[e], tol * scale) << "element " << e;
    double relu = std::max(0.0, want[e] + rbias[e % size_t(s.n)]);
    ASSERT_NEAR(f1[e], relu, tol * (scale + std::fabs(rbias[e % size_t(s.n)]))) << "element " << e;
  }
}

const Shape3 kShapes[] = {
    {1, 37, 19, 45},  // remainder rows and masked columns
    {1, 64, 128, 96}, {1, 5, 3, 200},  // a K below one vector
    {1, 1, 7, 33},    {1, 256, 10, 64},  // the MLP's dy W3
    {3, 17, 23, 41},  // row blocks across batches
    {1, 9, 2100, 70},  // column chunks (a long K)
    {1, 40, 33, 1024},  // B rows 4 KiB apart: copied into panels
    {1, 1024, 5, 33},   // transposed, A's k steps 4 KiB: A copied by the pass
    // Large enough for a task a thread: split by rows, and (few rows) by
    // columns.
    {1, 64, 256, 100}, {1, 12, 300, 600},
};

TEST(Matmul, Float32AllLayouts) {
  for (const Shape3& s : kShapes)
    for (Layouts l : {Layouts::RowMajor, Layouts::TransposedA, Layouts::TransposedB}) check<float>(s, l, kFloat32);
}

TEST(Matmul, Float64) {
  for (Layouts l : {Layouts::RowMajor, Layouts::TransposedA, Layouts::TransposedB}) {
    check<double>({1, 13, 29, 70}, l, kFloat64);
    check<double>({2, 9, 5, 17}, l, kFloat64);
    check<double>({1, 20, 7, 512}, l, kFloat64);  // B rows 4 KiB apart
  }
}

// The outer-product tile copies B into panels where its rows are 4 KiB
// apart: the copy changes no value. The same B as a view with rows 1024
// floats apart (copied, whole tiles and the masked last columns) and as a
// contiguous tensor (read in place), plain and with an epilogue.
TEST(Matmul, PanelCopyChangesNoValue) {
  manual_seed(7);
  Tensor a = randn({48, 71}).realize(), wide = randn({71, 1024}).realize(), bias = randn({1000}).realize();
  Tensor strided = wide.slice(1, 0, 1000), dense = strided.contiguous().realize();
  for (int threads : {1, 2}) {
    const int before = get_num_threads();
    set_num_threads(threads);
    // One by one, so that each is a kernel of its own (the tile's).
    Tensor p1 = matmul(a, strided).realize(), p2 = matmul(a, dense).realize();
    Tensor f1 = (matmul(a, strided) + bias).relu().realize(), f2 = (matmul(a, dense) + bias).relu().realize();
    set_num_threads(before);
    EXPECT_EQ(p1.to_vector<float>(), p2.to_vector<float>()) << threads << " threads";
    EXPECT_EQ(f1.to_vector<float>(), f2.to_vector<float>()) << threads << " threads";
  }
}

// A large A B^T (B of 16 MiB or more, 1024 rows of A or more): the pass
// copies B with its columns innermost so that the outer-product tile takes
// it. Sampled elements against a float64 reference, and the same bits on
// any thread count.
TEST(Matmul, LargeTransposedBIsCopiedForTheOuterTile) {
  manual_seed(9);
  const int64_t M = 1024, K = 2048, N = 2048;
  Tensor a = (rand({M, K}) - 0.5).realize(), b = (rand({N, K}) - 0.5).realize();
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  const int before = get_num_threads();
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor y = matmul(a, b.t());
    int64_t launched = runtime_stats().kernels_launched;
    y.realize();
    EXPECT_EQ(runtime_stats().kernels_launched, launched + 2) << "the copy of B, then the product";
    runs.push_back(y.to_vector<float>());
  }
  set_num_threads(before);
  EXPECT_EQ(runs[0], runs[1]) << "the result depends on the thread count";
  for (int64_t e = 0; e < M * N; e += 20011) {
    int64_t i = e / N, j = e % N;
    double want = 0;
    for (int64_t k = 0; k < K; ++k) want += double(va[size_t(i * K + k)]) * double(vb[size_t(j * K + k)]);
    ASSERT_NEAR(runs[0][size_t(e)], want, 1e-5 * std::sqrt(double(K))) << "element " << i << ", " << j;
  }
}

}  // namespace
}  // namespace kiln
