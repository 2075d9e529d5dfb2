// DType names, sizes, promotion, and the Half/BFloat16 conversions.
#include "kiln/dtype.h"

#include <array>
#include <cmath>

#include "kiln/error.h"
#include "kiln/scalar.h"

namespace kiln {

int64_t element_size(DType t) {
  static constexpr std::array<int64_t, kNumDTypes> sizes = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8};
  return sizes[size_t(t)];
}

std::string_view name(DType t) {
  static constexpr std::array<std::string_view, kNumDTypes> names = {
      "bool", "int8", "uint8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"};
  return names[size_t(t)];
}

DType dtype_from_name(std::string_view s) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (name(DType(i)) == s) return DType(i);
  if (s == "half") return kFloat16;
  if (s == "float") return kFloat32;
  if (s == "double") return kFloat64;
  if (s == "long") return kInt64;
  if (s == "int") return kInt32;
  throw Error("unknown dtype '" + std::string(s) + "'");
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  // PyTorch's table (c10/core/ScalarType.cpp), rows/cols in DType order:
  // b1 i1 u1 i2 i4 i8 f2 bf f4 f8
  constexpr DType b1 = kBool, i1 = kInt8, u1 = kUInt8, i2 = kInt16, i4 = kInt32, i8 = kInt64,
                  f2 = kFloat16, bf = kBFloat16, f4 = kFloat32, f8 = kFloat64;
  static constexpr DType table[kNumDTypes][kNumDTypes] = {
      /* b1 */ {b1, i1, u1, i2, i4, i8, f2, bf, f4, f8},
      /* i1 */ {i1, i1, i2, i2, i4, i8, f2, bf, f4, f8},
      /* u1 */ {u1, i2, u1, i2, i4, i8, f2, bf, f4, f8},
      /* i2 */ {i2, i2, i2, i2, i4, i8, f2, bf, f4, f8},
      /* i4 */ {i4, i4, i4, i4, i4, i8, f2, bf, f4, f8},
      /* i8 */ {i8, i8, i8, i8, i8, i8, f2, bf, f4, f8},
      /* f2 */ {f2, f2, f2, f2, f2, f2, f2, f4, f4, f8},
      /* bf */ {bf, bf, bf, bf, bf, bf, f4, bf, f4, f8},
      /* f4 */ {f4, f4, f4, f4, f4, f4, f4, f4, f4, f8},
      /* f8 */ {f8, f8, f8, f8, f8, f8, f8, f8, f8, f8},
  };
  return table[size_t(a)][size_t(b)];
}

// IEEE half <-> float, round to nearest even (including subnormals).
Half::Half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {  // inf or nan
    bits = uint16_t(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u | ((absx >> 13) & 0x3ffu) : 0));
    return;
  }
  if (absx >= 0x477ff000u) {  // rounds to >= 65520: overflow to inf
    bits = uint16_t(sign | 0x7c00u);
    return;
  }
  if (absx < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    float a;
    std::memcpy(&a, &absx, 4);
    // Scale so the subnormal step (2^-24) is one unit, then round to even.
    float scaled = a * 16777216.0f;  // 2^24, exact
    bits = uint16_t(sign | uint32_t(std::nearbyint(scaled)));
    return;
  }
  uint32_t mant_odd = (absx >> 13) & 1u;
  absx += 0xfffu + mant_odd;  // round to nearest even on the dropped 13 bits
  bits = uint16_t(sign | ((absx - 0x38000000u) >> 13));
}

Half::operator float() const {
  uint32_t sign = uint32_t(bits & 0x8000u) << 16;
  uint32_t exp = (bits >> 10) & 0x1fu;
  uint32_t mant = bits & 0x3ffu;
  uint32_t out;
  if (exp == 0) {
    float v = float(mant) * 5.9604644775390625e-08f;  // mant * 2^-24, exact
    std::memcpy(&out, &v, 4);
    out |= sign;
  } else if (exp == 31) {
    out = sign | 0x7f800000u | (mant << 13);
  } else {
    out = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &out, 4);
  return f;
}

BFloat16::BFloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    bits = uint16_t((x >> 16) | 0x40u);  // quiet NaN, sign kept
    return;
  }
  x += 0x7fffu + ((x >> 16) & 1u);
  bits = uint16_t(x >> 16);
}

bool Scalar::fits(DType t) const {
  if (t == kBool) return true;
  if (kiln::is_floating(t)) {
    if (!std::isfinite(d_) || t == kFloat64) return true;
    double max = t == kFloat32 ? 3.4028234663852886e38 : t == kFloat16 ? 65504.0 : 3.3895313892515355e38;
    return std::fabs(d_) <= max;
  }
  if (kind_ == Kind::Float && !std::isfinite(d_)) return false;
  auto in = [&](double lo, double hi) {
    return kind_ == Kind::Float ? d_ >= lo && d_ < hi + 1 : double(i_) >= lo && double(i_) <= hi;
  };
  switch (t) {
    case kInt8: return in(-128, 127);
    case kUInt8: return in(0, 255);
    case kInt16: return in(-32768, 32767);
    case kInt32: return in(-2147483648.0, 2147483647.0);
    default: return kind_ != Kind::Float || (d_ >= -9223372036854775808.0 && d_ < 9223372036854775808.0);
  }
}

DType Scalar::default_dtype() const {
  switch (kind_) {
    case Kind::Bool: return kBool;
    case Kind::Int: return kInt64;
    case Kind::Float: break;
  }
  return kFloat32;
}

std::string Scalar::str() const {
  switch (kind_) {
    case Kind::Bool: return i_ ? "true" : "false";
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: break;
  }
  if (std::isnan(d_)) return "nan";
  if (std::isinf(d_)) return d_ > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d_);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace kiln
