#include "text/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "runtime/buffer.h"

namespace kiln::text {

namespace {

// NumPy's type string for a dtype ('<f4'); bfloat16 has none.
const char* descr_of(DType t) {
  switch (t) {
    case kBool: return "|b1";
    case kInt8: return "|i1";
    case kUInt8: return "|u1";
    case kInt16: return "<i2";
    case kInt32: return "<i4";
    case kInt64: return "<i8";
    case kFloat16: return "<f2";
    case kFloat32: return "<f4";
    case kFloat64: return "<f8";
    case kBFloat16: break;
  }
  return nullptr;
}

// The value of 'key' in the header's Python dict literal, as raw text.
std::string dict_value(const std::string& h, const std::string& key, const std::string& path) {
  size_t k = h.find("'" + key + "'");
  if (k == std::string::npos) throw Error(fmt::format("{}: not an .npy file: its header has no '{}'", path, key));
  size_t colon = h.find(':', k);
  if (colon == std::string::npos) throw Error(fmt::format("{}: malformed .npy header", path));
  size_t b = h.find_first_not_of(" ", colon + 1);
  if (b == std::string::npos) throw Error(fmt::format("{}: malformed .npy header", path));
  size_t e;
  if (h[b] == '\'') e = h.find('\'', b + 1) + 1;
  else if (h[b] == '(') e = h.find(')', b) + 1;
  else e = h.find_first_of(",}", b);
  if (e == std::string::npos || e == 0 || e <= b) throw Error(fmt::format("{}: malformed .npy header", path));
  return h.substr(b, e - b);
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  // Only regular files: a directory, a FIFO or /dev/zero would give a raw
  // stream error, block, or never end.
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    throw Error(fmt::format("{}: not a regular file (an .npy file was expected)", path));
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    throw Error(fmt::format("{}: not an .npy file (no \\x93NUMPY magic)", path));
  int major = uint8_t(bytes[6]);
  size_t hlen, start;
  if (major == 1) {
    hlen = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(fmt::format("{}: truncated .npy header", path));
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    start = 12;
  } else {
    throw Error(fmt::format("{}: unsupported .npy format version {}", path, major));
  }
  if (bytes.size() < start + hlen) throw Error(fmt::format("{}: truncated .npy header", path));
  std::string h = bytes.substr(start, hlen);
  std::string descr = dict_value(h, "descr", path);
  std::string fortran = dict_value(h, "fortran_order", path);
  std::string shape_s = dict_value(h, "shape", path);
  if (fortran.rfind("False", 0) != 0)
    throw Error(fmt::format("{}: Fortran-ordered arrays are not supported (save with np.ascontiguousarray)", path));
  if (descr.size() < 3) throw Error(fmt::format("{}: malformed dtype {}", path, descr));
  descr = descr.substr(1, descr.size() - 2);
  std::optional<DType> dt;
  for (DType t : {kBool, kInt8, kUInt8, kInt16, kInt32, kInt64, kFloat16, kFloat32, kFloat64}) {
    std::string d = descr_of(t);
    // '<' and '=' (native: little-endian here) are the same; '|' for bytes.
    if (descr == d || (descr.size() == d.size() && (descr[0] == '<' || descr[0] == '=' || descr[0] == '|') &&
                       descr.compare(1, std::string::npos, d, 1) == 0))
      dt = t;
  }
  if (!dt)
    throw Error(fmt::format("{}: unsupported dtype '{}' (kiln reads bool, i1, u1, <i2, <i4, <i8, <f2, <f4, <f8)",
                            path, descr));
  Shape shape;
  {
    std::string inner = shape_s.substr(1, shape_s.size() - 2);
    std::stringstream ss(inner);
    std::string item;
    while (std::getline(ss, item, ',')) {
      size_t b = item.find_first_not_of(" L");
      if (b == std::string::npos) continue;
      try {
        size_t used = 0;
        long long v = std::stoll(item.substr(b), &used);
        if (v < 0) throw std::out_of_range("negative");
        shape.push_back(v);
      } catch (const std::exception&) {
        throw Error(fmt::format("{}: malformed shape {}", path, shape_s));
      }
    }
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > (int64_t(1) << 48) / d) throw Error(fmt::format("{}: shape {} is too large", path, shape_s));
    n *= d;
  }
  size_t need = size_t(n) * size_t(element_size(*dt));
  size_t at = start + hlen;
  if (bytes.size() - at < need)
    throw Error(fmt::format("{}: truncated data: shape {} needs {} bytes, the file has {}", path, shape_s, need,
                            bytes.size() - at));
  auto buf = Buffer::allocate(std::max<size_t>(need, 1));
  std::memcpy(buf->data(), bytes.data() + at, need);
  if (*dt == kBool)  // anything but 0 is true
    for (size_t i = 0; i < need; ++i) static_cast<uint8_t*>(buf->data())[i] = bytes[at + i] != 0;
  return {*dt, shape, buf};
}

void write_npy(const std::string& path, DType dtype, const Shape& shape, const void* data) {
  const char* d = descr_of(dtype);
  if (!d) throw Error(fmt::format("{}: .npy has no {} dtype", path, name(dtype)));
  std::string sh = fmt::format("{}", fmt::join(shape, ", "));
  if (shape.size() == 1) sh += ",";  // a Python 1-tuple
  std::string h = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", d, sh);
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Error(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  f.write("\x93NUMPY\x01\x00", 8);
  char len[2] = {char(h.size() & 0xff), char(h.size() >> 8)};
  f.write(len, 2);
  f.write(h.data(), std::streamsize(h.size()));
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  f.write(static_cast<const char*>(data), std::streamsize(n * element_size(dtype)));
  if (!f) throw Error(fmt::format("{}: write failed", path));
}

}  // namespace kiln::text
