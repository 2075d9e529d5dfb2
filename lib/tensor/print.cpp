// The tensor printer, a transcription of PyTorch 1.13's torch/_tensor_str.py
// (_Formatter, _vector_str, _tensor_str_with_formatter, get_summarized_data,
// _add_suffixes and the plain-tensor branch of _str_intern) for the default
// print options. Names below follow the Python functions so the two can be
// compared side by side.
#include "tensor/print.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "kiln/error.h"

namespace kiln {
namespace {

// PRINT_OPTS defaults.
constexpr int kPrecision = 4;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int64_t kLineWidth = 80;

// One element as Python sees it after .item()/.tolist(): every floating type
// (half and bfloat16 go through float first, as _tensor_str does) becomes a
// double in f; integers and bools (0/1) go in i.
struct Element {
  double f = 0;
  int64_t i = 0;
};

// A strided window on the elements; slicing it never copies the shape.
struct View {
  const char* data;
  DType dtype;
  const int64_t* shape;
  const int64_t* strides;
  int64_t ndim;

  int64_t size0() const { return shape[0]; }
  View operator[](int64_t i) const {
    return {data + i * strides[0] * element_size(dtype), dtype, shape + 1, strides + 1, ndim - 1};
  }
};

Element read_element(const char* p, DType dtype) {
  Element e;
  if (dtype == kBool) {
    // Read the byte rather than a bool: any nonzero byte is True.
    e.i = *reinterpret_cast<const uint8_t*>(p) != 0;
    return e;
  }
  visit_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    T v;
    std::memcpy(&v, p, sizeof(T));
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
      e.f = double(float(v));
    else if constexpr (std::is_floating_point_v<T>)
      e.f = double(v);
    else if constexpr (!std::is_same_v<T, bool>)
      e.i = int64_t(v);
  });
  return e;
}

// Whether a dim of size n is shown as edgeitems, "...", edgeitems.
bool elides(int64_t n, bool summarize) { return summarize && n > 2 * kEdgeItems; }

// The indices of a dim that get printed (what get_summarized_data keeps).
std::vector<int64_t> shown_indices(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  bool elided = elides(n, summarize);
  for (int64_t i = 0; i < (elided ? kEdgeItems : n); ++i) idx.push_back(i);
  if (elided)
    for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
  return idx;
}

// get_summarized_data, flattened: the formatter only looks at the printed
// elements, so widths and modes ignore everything hidden behind "...".
void collect_shown(const View& v, bool summarize, std::vector<Element>& out) {
  if (v.ndim == 0) {
    out.push_back(read_element(v.data, v.dtype));
    return;
  }
  for (int64_t i : shown_indices(v.size0(), summarize)) collect_shown(v[i], summarize, out);
}

// Python's '{:.Nf}' / '{:.Ne}' of a float. C's printf rounds the exact binary
// value like Python does; only the non-finite spellings differ (C may print
// "-nan").
std::string python_float(double v, char conversion, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[512];  // %.4f of the largest double needs 314 characters
  const char* fmt = conversion == 'e' ? "%.*e" : "%.*f";
  std::snprintf(buf, sizeof buf, fmt, precision, v);
  return buf;
}

// torch._tensor_str._Formatter: picks int/sci mode and one column width for
// all elements.
class Formatter {
public:
  Formatter(DType dtype, const std::vector<Element>& values)
      : dtype_(dtype), floating_(is_floating(dtype)) {
    if (floating_)
      init_floating(values);
    else
      for (const Element& e : values) widen(plain_str(e));
  }

  int64_t width() const { return max_width_; }

  std::string format(const Element& e) const {
    std::string s;
    if (!floating_)
      s = plain_str(e);
    else if (sci_mode_)
      s = python_float(e.f, 'e', kPrecision);
    else if (int_mode_)
      s = python_float(e.f, 'f', 0) + (std::isfinite(e.f) ? "." : "");
    else
      s = python_float(e.f, 'f', kPrecision);
    return pad_left(s);
  }

private:
  std::string plain_str(const Element& e) const {
    if (dtype_ == kBool) return e.i ? "True" : "False";
    return std::to_string(e.i);
  }

  void widen(const std::string& s, int64_t extra = 0) {
    max_width_ = std::max(max_width_, int64_t(s.size()) + extra);
  }

  std::string pad_left(const std::string& s) const {
    int64_t pad = max_width_ - int64_t(s.size());
    return pad > 0 ? std::string(size_t(pad), ' ') + s : s;
  }

  // Only nonzero finite values decide the mode and width; zeros, nan and inf
  // are printed in whatever width those give (so "0." and "nan" may overhang
  // a width of 1, as in PyTorch).
  void init_floating(const std::vector<Element>& values) {
    std::vector<double> vals;
    for (const Element& e : values)
      if (std::isfinite(e.f) && e.f != 0) vals.push_back(e.f);
    if (vals.empty()) return;

    double min_abs = INFINITY, max_abs = 0;
    for (double v : vals) {
      min_abs = std::min(min_abs, std::fabs(v));
      max_abs = std::max(max_abs, std::fabs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    bool wide_range = max_abs / min_abs > 1000.0 || max_abs > 1.0e8;
    // Integers never trigger sci mode for being small: the smallest is 1.
    sci_mode_ = wide_range || (!int_mode_ && min_abs < 1.0e-4);
    for (double v : vals) {
      if (sci_mode_)
        widen(python_float(v, 'e', kPrecision));
      else if (int_mode_)
        widen(python_float(v, 'f', 0), 1);  // +1 for the trailing "."
      else
        widen(python_float(v, 'f', kPrecision));
    }
  }

  DType dtype_;
  bool floating_;
  bool int_mode_ = true;
  bool sci_mode_ = false;
  int64_t max_width_ = 1;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

// The pieces of one dim, with "..." (or " ..." in a row) where elided.
template <typename F>
std::vector<std::string> dim_pieces(const View& v, bool summarize, const std::string& ellipsis,
                                    F piece) {
  std::vector<std::string> out;
  int64_t n = v.size0();
  for (int64_t i : shown_indices(n, summarize)) {
    if (elides(n, summarize) && i == n - kEdgeItems) out.push_back(ellipsis);
    out.push_back(piece(v[i]));
  }
  return out;
}

// _vector_str: a row, wrapped so each line holds as many full-width elements
// (plus ", ") as fit in linewidth - indent.
std::string vector_str(const View& v, int64_t indent, bool summarize, const Formatter& fmt) {
  int64_t element_length = fmt.width() + 2;
  // Python floors a true division; both floor and truncation give <= 0 (so
  // 1) when the indent passes the line width.
  int64_t per_line = std::max<int64_t>(1, (kLineWidth - indent) / element_length);
  auto element = [&](const View& e) { return fmt.format(read_element(e.data, e.dtype)); };
  std::vector<std::string> data = dim_pieces(v, summarize, " ...", element);

  std::vector<std::string> lines;
  for (size_t i = 0; i < data.size(); i += size_t(per_line)) {
    auto first = data.begin() + std::ptrdiff_t(i);
    auto last = data.begin() + std::ptrdiff_t(std::min(data.size(), i + size_t(per_line)));
    lines.push_back(join(std::vector<std::string>(first, last), ", "));
  }
  return "[" + join(lines, ",\n" + std::string(size_t(indent + 1), ' ')) + "]";
}

// _tensor_str_with_formatter: nested brackets, one newline between rows of
// a matrix, two between matrices, and so on.
std::string tensor_str(const View& v, int64_t indent, bool summarize, const Formatter& fmt) {
  if (v.ndim == 0) return fmt.format(read_element(v.data, v.dtype));
  if (v.ndim == 1) return vector_str(v, indent, summarize, fmt);
  auto slice = [&](const View& s) { return tensor_str(s, indent + 1, summarize, fmt); };
  std::vector<std::string> slices = dim_pieces(v, summarize, "...", slice);
  std::string sep =
      "," + std::string(size_t(v.ndim - 1), '\n') + std::string(size_t(indent + 1), ' ');
  return "[" + join(slices, sep) + "]";
}

// _add_suffixes: ", suffix" unless that would pass the line width, then a
// new line indented under the first bracket. PyTorch's last_line_len counts
// the last line 2 too long (len - rfind + 1, rfind being -1 without a
// newline); kept so the breaks fall where PyTorch's do.
std::string add_suffixes(const std::string& text, const std::vector<std::string>& suffixes,
                         int64_t indent) {
  std::string out = text;
  size_t nl = text.rfind('\n');
  int64_t last_line_len = int64_t(text.size()) - (nl == std::string::npos ? -1 : int64_t(nl)) + 1;
  for (const std::string& suffix : suffixes) {
    int64_t len = int64_t(suffix.size());
    if (last_line_len + len + 2 > kLineWidth) {
      out += ",\n" + std::string(size_t(indent), ' ') + suffix;
      last_line_len = indent + len;
    } else {
      out += ", " + suffix;
      last_line_len += len + 2;
    }
  }
  return out + ")";
}

// str(tuple(shape)): "(0, 3)", "(0,)".
std::string python_tuple(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string dtype_suffix(DType dtype) { return "dtype=torch." + std::string(name(dtype)); }

}  // namespace

std::string format_tensor(const void* data, DType dtype, const Shape& shape, const Shape& strides,
                          const std::vector<std::string>& extra_suffixes) {
  if (shape.size() != strides.size())
    throw Error("format_tensor: shape has " + std::to_string(shape.size()) + " dims but strides " +
                std::to_string(strides.size()));
  const std::string prefix = "tensor(";
  const int64_t indent = int64_t(prefix.size());
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;

  std::vector<std::string> suffixes;
  std::string body;
  if (numel == 0) {
    // No elements to tell int64 from float32 by, so only the default float
    // dtype goes unnamed; the shape is shown unless it is (0,), like NumPy.
    if (shape.size() != 1) suffixes.push_back("size=" + python_tuple(shape));
    if (dtype != kFloat32) suffixes.push_back(dtype_suffix(dtype));
    body = "[]";
  } else {
    // float32, int64 and bool are what torch.tensor infers from Python
    // numbers, so those go unnamed.
    if (dtype != kFloat32 && dtype != kInt64 && dtype != kBool)
      suffixes.push_back(dtype_suffix(dtype));
    View v{static_cast<const char*>(data), dtype, shape.data(), strides.data(),
           int64_t(shape.size())};
    bool summarize = numel > kThreshold;
    std::vector<Element> shown;
    collect_shown(v, summarize, shown);
    body = tensor_str(v, indent, summarize, Formatter(dtype, shown));
  }
  suffixes.insert(suffixes.end(), extra_suffixes.begin(), extra_suffixes.end());
  return add_suffixes(prefix + body, suffixes, indent);
}

}  // namespace kiln
