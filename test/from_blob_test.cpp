// from_blob shares the caller's memory both ways, as torch.from_numpy does.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <vector>

using namespace kiln;
using kiln::indexing::Slice;

TEST(FromBlob, CloneCopiesAtTheCall) {
  int64_t arr[2] = {1, 2};
  auto c = from_blob(arr, {2}, TensorOptions().dtype(kInt64)).clone();
  arr[0] = 10;
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
}

TEST(FromBlob, LazyValuesReadTheMemoryWhenRealized) {
  // The documented rule: a lazy value reads caller memory when it is computed.
  float buf[2] = {1, 2};
  auto y = from_blob(buf, {2}) * 2;
  buf[0] = 100;
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{200, 4}));
  // Once computed, it keeps its value.
  buf[0] = 7;
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{200, 4}));
}

TEST(FromBlob, InPlaceOpsWriteIntoTheCallersMemory) {
  float buf[4] = {1, 2, 3, 4};
  auto t = from_blob(buf, {4});
  t.add_(1);
  t.mul_(2);
  t.realize();
  EXPECT_EQ(std::vector<float>(buf, buf + 4), (std::vector<float>{4, 6, 8, 10}));
  EXPECT_EQ(t.data_ptr(), static_cast<void*>(buf));  // still the caller's memory
  // Through a view, and with index_put_.
  t.slice(0, 0, 2).fill_(0);
  t.index_put_({3}, 5);
  t.realize();
  EXPECT_EQ(std::vector<float>(buf, buf + 4), (std::vector<float>{0, 0, 8, 5}));
  // Later writes to the memory are seen by the tensor again.
  buf[2] = -1;
  EXPECT_EQ((t + 0).to_vector<float>(), (std::vector<float>{0, 0, -1, 5}));
}

TEST(FromBlob, StridedMemoryIsWrittenAtItsStrides) {
  float buf[6] = {0, 1, 2, 3, 4, 5};  // a 2x3 array seen transposed: [3, 2] strides (1, 3)
  auto t = from_blob(buf, {3, 2}, {1, 3});
  t.add_(10);
  t.realize();
  EXPECT_EQ(std::vector<float>(buf, buf + 6), (std::vector<float>{10, 11, 12, 13, 14, 15}));
}

TEST(FromBlob, ValuesBuiltBeforeAnInPlaceOpKeepTheOldContents) {
  float buf[3] = {1, 2, 3};
  auto t = from_blob(buf, {3});
  auto before = t * 1;  // lazy, reads t as it was
  t.add_(1);
  t.realize();  // writes {2, 3, 4} into buf
  EXPECT_EQ(std::vector<float>(buf, buf + 3), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(before.to_vector<float>(), (std::vector<float>{1, 2, 3}));
}

TEST(FromBlob, DeleterRunsWhenTheLastReferenceGoes) {
  int calls = 0;
  auto* data = new float[3]{1, 2, 3};
  {
    auto t = from_blob(data, {3}, [&](void* p) {
      ++calls;
      delete[] static_cast<float*>(p);
    });
    auto s = (t * 2).sum();
    EXPECT_EQ(s.item<float>(), 12.f);
    EXPECT_EQ(calls, 0);
  }
  EXPECT_EQ(calls, 1);
}

TEST(FromBlob, NullDataIsRejected) {
  try {
    from_blob(nullptr, {4});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("from_blob: data is a null pointer"), std::string::npos) << e.what();
  }
  EXPECT_EQ(from_blob(nullptr, {0}).numel(), 0);
}
