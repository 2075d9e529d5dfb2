#pragma once
// Indices for Tensor::index / index_put_, close to LibTorch's:
//   using namespace kiln::indexing;
//   t.index({Slice(0, 2), 1});          // t[0:2, 1]
//   t.index({None, Ellipsis, -1});      // t[None, ..., -1]
//   t.index_put_({Slice(), Slice(0, 2)}, 4);   // t[:, 0:2] = 4
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <variant>
#include <vector>

namespace kiln {

class Tensor;

namespace indexing {

/// start:stop:step; absent bounds mean the whole range (Python's rules).
struct Slice {
  std::optional<int64_t> start, stop, step;
  Slice(std::optional<int64_t> start = std::nullopt, std::optional<int64_t> stop = std::nullopt,
        std::optional<int64_t> step = std::nullopt)
      : start(start), stop(stop), step(step) {}
};
struct EllipsisIndex {};
inline constexpr EllipsisIndex Ellipsis{};
/// `None` inserts a dimension of size 1 (numpy's newaxis).
inline constexpr std::nullopt_t None = std::nullopt;

}  // namespace indexing

/// One component of an index: an integer, a slice, None, Ellipsis, or a
/// tensor (int64 indices or a bool mask: advanced indexing).
class TensorIndex {
public:
  enum class Kind { Int, Slice, None, Ellipsis, Tensor };
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  TensorIndex(T i) : kind_(Kind::Int), int_(int64_t(i)) {}  // NOLINT
  TensorIndex(indexing::Slice s) : kind_(Kind::Slice), slice_(s) {}  // NOLINT
  TensorIndex(std::nullopt_t) : kind_(Kind::None) {}  // NOLINT
  TensorIndex(indexing::EllipsisIndex) : kind_(Kind::Ellipsis) {}  // NOLINT
  TensorIndex(const Tensor& t);  // NOLINT
  TensorIndex(std::initializer_list<int64_t> list);  // an int64 index tensor

  Kind kind() const { return kind_; }
  int64_t integer() const { return int_; }
  const indexing::Slice& slice() const { return slice_; }
  const Tensor& tensor() const;

private:
  Kind kind_;
  int64_t int_ = 0;
  indexing::Slice slice_;
  std::shared_ptr<Tensor> tensor_;
};

}  // namespace kiln
