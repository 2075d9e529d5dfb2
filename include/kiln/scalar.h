#pragma once
// A Python-like number: bool, integer or floating. The kind matters for type
// promotion (int64 tensor + 2 stays int64, + 2.5 becomes float32).
#include <cstdint>
#include <string>
#include <type_traits>

#include "kiln/dtype.h"

namespace kiln {

class Scalar {
public:
  enum class Kind : uint8_t { Bool, Int, Float };

  Scalar() : Scalar(int64_t{0}) {}
  Scalar(bool v) : kind_(Kind::Bool), i_(v), d_(v) {}  // NOLINT
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v) : kind_(Kind::Int), i_(int64_t(v)), d_(double(v)) {}  // NOLINT
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Scalar(T v) : kind_(Kind::Float), i_(0), d_(double(v)) {}  // NOLINT
  Scalar(Half v) : Scalar(float(v)) {}  // NOLINT
  Scalar(BFloat16 v) : Scalar(float(v)) {}  // NOLINT

  Kind kind() const { return kind_; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_integral() const { return kind_ == Kind::Int; }
  bool is_floating() const { return kind_ == Kind::Float; }
  double to_double() const { return d_; }
  int64_t to_int() const { return kind_ == Kind::Float ? int64_t(d_) : i_; }
  bool to_bool() const { return kind_ == Kind::Float ? d_ != 0.0 : i_ != 0; }
  /// The dtype a tensor made from this scalar gets: bool, int64 or float32.
  DType default_dtype() const;
  /// Whether dtype `t` holds this value without overflow (a float may lose
  /// digits or its fraction; infinities and NaN fit floating dtypes).
  bool fits(DType t) const;
  std::string str() const;

  friend bool operator==(const Scalar& a, const Scalar& b) {
    return a.kind_ == b.kind_ && (a.kind_ == Kind::Float ? a.d_ == b.d_ : a.i_ == b.i_);
  }

private:
  Kind kind_;
  int64_t i_;
  double d_;
};

}  // namespace kiln
