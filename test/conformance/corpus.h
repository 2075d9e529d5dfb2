#pragma once
// Reading the conformance corpus (../shared/conformance, format
// "conformance-v1", see its README.md): JSON tensors -> kiln tensors, and
// comparing kiln results with the expected PyTorch tensors.
//
// Everything here is independent of kiln's own conversions: float16/bfloat16
// values are rounded from double and decoded by the helpers below, so a bug in
// kiln::Half / kiln::BFloat16 shows up as a failure instead of being hidden.
#include <kiln/kiln.h>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace conformance {

using json = nlohmann::json;

// ------------------------------------------------------ float16 / bfloat16

/// A binary floating format with `mant` stored mantissa bits and `exp`
/// exponent bits (float16: 10/5, bfloat16: 7/8).
struct SmallFloat {
  int mant, exp;
  int bias() const { return (1 << (exp - 1)) - 1; }
};
inline constexpr SmallFloat kHalfFormat{10, 5};
inline constexpr SmallFloat kBFloat16Format{7, 8};

/// Rounds a double to the format, round-to-nearest-even, overflowing to ±inf.
/// Rounds once, directly from double (double -> float -> half can round twice).
inline double round_to(SmallFloat f, double x) {
  if (!std::isfinite(x) || x == 0) return x;
  const int emin = 1 - f.bias();
  const int e = std::max(int(std::ilogb(x)), emin);  // exponent of x's binade (subnormals: emin)
  const int q = e - f.mant;                            // x is rounded to a multiple of 2^q
  double r = std::ldexp(std::nearbyint(std::ldexp(x, -q)), q);  // default mode: ties to even
  const double max_finite = std::ldexp(2.0 - std::ldexp(1.0, -f.mant), f.bias());
  if (std::fabs(r) > max_finite) r = std::copysign(INFINITY, x);
  return r;
}

/// The bit pattern of `x`, which must already be a value of the format.
inline uint16_t encode(SmallFloat f, double x) {
  const uint16_t sign = std::signbit(x) ? uint16_t(1u << (f.mant + f.exp)) : 0;
  const uint16_t inf = uint16_t(((1u << f.exp) - 1) << f.mant);
  if (std::isnan(x)) return uint16_t(inf | (1u << (f.mant - 1)));
  x = std::fabs(x);
  if (std::isinf(x)) return sign | inf;
  if (x == 0) return sign;
  const int emin = 1 - f.bias();
  const int e = std::ilogb(x);
  if (e < emin)  // subnormal: x / 2^(emin - mant)
    return sign | uint16_t(std::ldexp(x, f.mant - emin));
  const auto frac = uint16_t(std::ldexp(x, f.mant - e) - std::ldexp(1.0, f.mant));
  return sign | uint16_t(uint32_t(e + f.bias()) << f.mant) | frac;
}

inline double decode(SmallFloat f, uint16_t bits) {
  const bool neg = bits >> (f.mant + f.exp);
  const int e = (bits >> f.mant) & ((1 << f.exp) - 1);
  const int frac = bits & ((1 << f.mant) - 1);
  double v;
  if (e == (1 << f.exp) - 1) v = frac ? std::numeric_limits<double>::quiet_NaN() : INFINITY;
  else if (e == 0) v = std::ldexp(double(frac), 1 - f.bias() - f.mant);
  else v = std::ldexp(double(frac + (1 << f.mant)), e - f.bias() - f.mant);
  return neg ? -v : v;
}

// ------------------------------------------------------ JSON -> values

/// A JSON number or one of the strings "nan", "inf", "-inf", as a double.
inline double json_double(const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    throw std::runtime_error("not a number: \"" + s + "\"");
  }
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  return v.get<double>();
}

/// A float element of a tensor of dtype `t`, converted from its JSON text as
/// the README says (float32: (float)double; float16/bfloat16: one RNE rounding).
inline double float_element(kiln::DType t, const json& v) {
  const double d = json_double(v);
  switch (t) {
    case kiln::kFloat16: return round_to(kHalfFormat, d);
    case kiln::kBFloat16: return round_to(kBFloat16Format, d);
    case kiln::kFloat32: return double(float(d));
    default: return d;
  }
}

inline kiln::Shape json_shape(const json& s) { return s.get<kiln::Shape>(); }

/// A kiln tensor with the dtype, shape and data of a corpus TENSOR/INPUT.
inline kiln::Tensor make_tensor(const json& spec) {
  const kiln::DType t = kiln::dtype_from_name(spec.at("dtype").get<std::string>());
  const kiln::Shape shape = json_shape(spec.at("shape"));
  const bool grad = spec.value("requires_grad", false);
  const json& data = spec.at("data");
  kiln::Tensor x = kiln::empty(shape, kiln::TensorOptions(t).requires_grad(grad));
  if (size_t(x.numel()) != data.size())
    throw std::runtime_error("corpus tensor: shape and data length disagree");
  if (data.empty()) return x;
  kiln::visit_dtype(t, [&](auto zero) {
    using T = decltype(zero);
    T* p = x.data_ptr<T>();
    for (size_t i = 0; i < data.size(); ++i) {
      if constexpr (std::is_same_v<T, kiln::Half>) p[i].bits = encode(kHalfFormat, float_element(t, data[i]));
      else if constexpr (std::is_same_v<T, kiln::BFloat16>) p[i].bits = encode(kBFloat16Format, float_element(t, data[i]));
      else if constexpr (std::is_same_v<T, bool>) p[i] = data[i].get<bool>();
      else if constexpr (std::is_floating_point_v<T>) p[i] = T(float_element(t, data[i]));
      else p[i] = T(data[i].get<int64_t>());
    }
  });
  return x;
}

// ------------------------------------------------------ comparing

/// Shortest text that round-trips (what Python's repr prints); float32 values
/// as floats, so 0.1f prints as 0.1.
inline std::string fmt_value(double v, kiln::DType t = kiln::kFloat64) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  auto r = t == kiln::kFloat32 ? std::to_chars(buf, buf + sizeof buf, float(v))
                               : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

inline std::string shape_str(const kiln::Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

/// Flat row-major index -> "[i, j, k]".
inline std::string index_str(const kiln::Shape& shape, int64_t flat) {
  kiln::Shape idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

/// The elements of a (realized) tensor as doubles; integers are exact below 2^53
/// which is all the corpus uses.
inline std::vector<double> actual_values(const kiln::Tensor& x) {
  std::vector<double> out;
  auto widen = [&](const auto& v) { out.assign(v.begin(), v.end()); };
  switch (x.dtype()) {
    case kiln::kBool: { auto v = x.to_vector<bool>(); for (bool b : v) out.push_back(b); break; }
    case kiln::kFloat16: for (auto h : x.to_vector<kiln::Half>()) out.push_back(decode(kHalfFormat, h.bits)); break;
    case kiln::kBFloat16: for (auto h : x.to_vector<kiln::BFloat16>()) out.push_back(decode(kBFloat16Format, h.bits)); break;
    case kiln::kFloat32: widen(x.to_vector<float>()); break;
    case kiln::kFloat64: widen(x.to_vector<double>()); break;
    default: widen(x.to(kiln::kInt64).to_vector<int64_t>()); break;
  }
  return out;
}

/// Compares `actual` with the expected corpus TENSOR. Returns nullopt when they
/// agree, otherwise what differs (one line).
inline std::optional<std::string> compare(const kiln::Tensor& actual, const json& expected, double rtol,
                                          double atol) {
  const std::string want_dtype = expected.at("dtype").get<std::string>();
  const kiln::Shape want_shape = json_shape(expected.at("shape"));
  if (std::string(kiln::name(actual.dtype())) != want_dtype)
    return "dtype: expected " + want_dtype + ", got " + std::string(kiln::name(actual.dtype())) +
           " (shape " + shape_str(actual.shape()) + ")";
  if (actual.shape() != want_shape)
    return "shape: expected " + shape_str(want_shape) + ", got " + shape_str(actual.shape());

  const kiln::DType t = actual.dtype();
  const json& data = expected.at("data");
  const std::vector<double> got = actual_values(actual);
  int64_t first = -1, bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    bool ok;
    if (kiln::is_floating(t)) {
      const double e = float_element(t, data[i]), a = got[i];
      if (std::isnan(e) || std::isnan(a)) ok = std::isnan(e) && std::isnan(a);
      else if (std::isinf(e) || std::isinf(a)) ok = e == a;
      else ok = std::fabs(a - e) <= atol + rtol * std::fabs(e);
    } else {
      ok = got[i] == json_double(data[i]);
    }
    if (!ok && bad++ == 0) first = int64_t(i);
  }
  if (bad == 0) return std::nullopt;
  const double e = kiln::is_floating(t) ? float_element(t, data[size_t(first)]) : json_double(data[size_t(first)]);
  std::string what = "value at " + index_str(want_shape, first) + ": expected " + fmt_value(e, t) + ", got " +
                     fmt_value(got[size_t(first)], t) + " (" + std::to_string(bad) + " of " +
                     std::to_string(got.size()) + " elements differ";
  if (kiln::is_floating(t)) what += ", rtol " + fmt_value(rtol) + " atol " + fmt_value(atol);
  return what + ")";
}

}  // namespace conformance
