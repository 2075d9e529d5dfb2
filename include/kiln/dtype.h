#pragma once
// Element types, their C++ counterparts and PyTorch's type promotion.
#include <cstdint>
#include <cstring>
#include <string_view>

namespace kiln {

enum class DType : uint8_t {
  Bool, Int8, UInt8, Int16, Int32, Int64, Float16, BFloat16, Float32, Float64,
};
inline constexpr int kNumDTypes = 10;

// LibTorch-style spellings.
inline constexpr DType kBool = DType::Bool;
inline constexpr DType kInt8 = DType::Int8;
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kInt16 = DType::Int16;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kBFloat16 = DType::BFloat16;
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kHalf = DType::Float16;
inline constexpr DType kFloat = DType::Float32;
inline constexpr DType kDouble = DType::Float64;
inline constexpr DType kInt = DType::Int32;
inline constexpr DType kLong = DType::Int64;

/// Bytes per element.
int64_t element_size(DType t);
/// "float32", "int64", ... (PyTorch's names without the "torch." prefix).
std::string_view name(DType t);
/// Parses a name produced by name(); throws kiln::Error otherwise.
DType dtype_from_name(std::string_view s);
inline bool is_floating(DType t) { return t >= DType::Float16; }
inline bool is_integral(DType t) { return t >= DType::Int8 && t <= DType::Int64; }
inline bool is_signed(DType t) { return t != DType::UInt8 && t != DType::Bool; }
/// The smaller type that holds both (PyTorch's promote_types table).
DType promote_types(DType a, DType b);

/// IEEE binary16, stored as bits; converts to and from float with
/// round-to-nearest-even.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f);  // NOLINT: implicit like c10::Half
  operator float() const;  // NOLINT
};

/// bfloat16 (the top half of a float32), round-to-nearest-even from float.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f);  // NOLINT
  operator float() const {  // NOLINT
    uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

/// C++ element type <-> DType.
template <typename T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = kBool; };
template <> struct dtype_of<int8_t> { static constexpr DType value = kInt8; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = kUInt8; };
template <> struct dtype_of<int16_t> { static constexpr DType value = kInt16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = kInt32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = kInt64; };
template <> struct dtype_of<Half> { static constexpr DType value = kFloat16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = kBFloat16; };
template <> struct dtype_of<float> { static constexpr DType value = kFloat32; };
template <> struct dtype_of<double> { static constexpr DType value = kFloat64; };
template <typename T> inline constexpr DType dtype_of_v = dtype_of<T>::value;

/// Calls f(T{}) with the C++ type of `t`.
template <typename F> decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case kBool: return f(bool{});
    case kInt8: return f(int8_t{});
    case kUInt8: return f(uint8_t{});
    case kInt16: return f(int16_t{});
    case kInt32: return f(int32_t{});
    case kInt64: return f(int64_t{});
    case kFloat16: return f(Half{});
    case kBFloat16: return f(BFloat16{});
    case kFloat32: return f(float{});
    case kFloat64: break;
  }
  return f(double{});
}

}  // namespace kiln
