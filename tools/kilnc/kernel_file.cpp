#include "kernel_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "kernel/kernel_parser.h"
#include "kernel/reference.h"
#include "kernel/verify.h"
#include "kiln/error.h"
#include "runtime/buffer.h"
#include "targets.h"
#include "text/parser.h"

namespace kilnc {

const char* kKernelUsage = R"(Kernel files (kilnc --kernel FILE):

  Kernel IR kernels, as --emit=kernel prints them, each followed by one or
  more launch lines; '#' starts a comment. Each launch fills the args, runs
  the kernel on the reference evaluator and on every backend of this build
  that can run here, and compares every output arg (its whole buffer):

    kernel E_add rank=2 {
      arg0: in f32 inner=contig
      arg1: in f32 inner=bcast
      arg2: out f32 inner=contig
      %0 = load arg0 : f32
      %1 = load arg1 : f32
      %2 = add %0, %1 : f32
      store arg2, %2
    }
    launch sizes=[4, 8] arg0.fill=-2..2 arg1.fill=[1, -0.0, nan]

  A launch line holds sizes=[...] (the iteration space) and, optionally:
    argN.strides=[...]   strides over the iteration space (elements). Default:
                         contiguous; stride 0 along the last dim for an
                         inner=bcast arg; in a reduction kernel, an arg only
                         the [post] stage uses is contiguous over the output
                         dims (stride 0 along the reduced ones)
    argN.offset=K        first element (default 0)
    argN.istrides=[...]  the stride of each index operand (required for an
                         arg with indices=N)
    argN.size=E          elements of the buffer (default: what the strides
                         reach, at least 1)
    argN.fill=LO..HI     uniform random values in [LO, HI) (integers: LO..HI
                         inclusive); argN.fill=[v, ...]: element i gets
                         v[i % n] (nan, inf, -inf, -0.0 are values). Default:
                         inputs random (floats in [0, 1), integers 0..9, bool
                         half true), outputs 0
    params=[v, ...]      the values of the param consts, by slot (required
                         when the kernel has any)
    ulps=N atol=X        this launch's float tolerance (below)
  The strides must agree with each arg's inner class: contig needs stride 1
  and bcast stride 0 along the last dim (in a reduction kernel, for an arg
  the [post] stage stores, the last output dim).

  Tolerances: bool and integers are exact. A float output passes when
  |got - ref| <= ulps * ulp(ref) + atol at every element (NaN matches NaN
  only, inf itself only), with ulp(ref) the dtype's spacing at ref:
    f64  16 ulp + 1e-12     f32  16 ulp + 1e-6
    f16   2 ulp + 1e-3      bf16  2 ulp + 1e-2
  (float32 arithmetic is exact in the reference; transcendentals are the C
  library's double functions rounded to the dtype; reductions differ by the
  order a backend sums in.) Prints each output's max error and PASS or FAIL
  per backend; the exit status is 1 on a FAIL.
)";

namespace {

using kiln::DType;
using kiln::Error;
using kiln::Instr;
using kiln::Kernel;
using kiln::Scalar;
using kiln::Shape;

struct LaunchLine {
  int line;
  std::string text;
};

struct KernelCase {
  Kernel kernel;
  int line;
  std::vector<LaunchLine> launches;
};

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
}

// "line N: why" (parse_kernel's form) -> "FILE:N: why".
std::string at_file(const std::string& file, const std::string& msg) {
  if (msg.rfind("line ", 0) == 0) return file + ":" + msg.substr(5);
  return file + ": " + msg;
}

std::vector<KernelCase> split(const std::string& source, const std::string& file) {
  std::vector<std::string> lines;
  std::stringstream ss(source);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  std::vector<KernelCase> cases;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string s = trim(lines[i].substr(0, lines[i].find('#')));
    if (s.empty()) continue;
    int number = int(i) + 1;
    if (s.rfind("kernel", 0) == 0) {
      size_t end = i;
      while (end < lines.size() && trim(lines[end].substr(0, lines[end].find('#'))) != "}") ++end;
      std::string text;
      for (size_t j = i; j < std::min(end + 1, lines.size()); ++j) text += lines[j] + "\n";
      try {
        cases.push_back({kiln::parse_kernel(text, number), number, {}});
      } catch (const Error& e) {
        throw Error(at_file(file, e.what()));
      }
      i = end;
    } else if (s.rfind("launch", 0) == 0) {
      if (cases.empty()) throw Error(fmt::format("{}:{}: a launch line before any kernel", file, number));
      cases.back().launches.push_back({number, s.substr(6)});
    } else {
      throw Error(fmt::format("{}:{}: expected 'kernel NAME rank=N {{' or 'launch sizes=[...]', got '{}'", file,
                              number, s));
    }
  }
  if (cases.empty()) throw Error(fmt::format("{}: no kernel in the file", file));
  return cases;
}

// --- Launch lines -------------------------------------------------------------

struct Fill {
  enum Kind { Default, Range, List } kind = Default;
  double lo = 0, hi = 0;
  std::vector<Scalar> values;
};

struct ArgLaunch {
  std::optional<Shape> strides, istrides;
  int64_t offset = 0;
  std::optional<int64_t> size;
  Fill fill;
};

struct Launch {
  int line = 0;
  Shape sizes;
  std::vector<ArgLaunch> args;
  std::vector<Scalar> params;
  std::optional<double> ulps, atol;
};

class LaunchParser {
public:
  LaunchParser(const std::string& file, const LaunchLine& l, const Kernel& k) : file_(file), l_(l), k_(k) {}

  Launch parse() {
    Launch la;
    la.line = l_.line;
    la.args.resize(k_.args.size());
    bool have_sizes = false;
    const std::string& s = l_.text;
    size_t p = 0;
    while (true) {
      while (p < s.size() && (s[p] == ' ' || s[p] == '\t')) ++p;
      if (p >= s.size()) break;
      size_t eq = s.find('=', p);
      if (eq == std::string::npos) fail(fmt::format("expected KEY=VALUE, got '{}'", s.substr(p)));
      std::string key = s.substr(p, eq - p), value;
      p = eq + 1;
      if (p < s.size() && s[p] == '[') {
        size_t close = s.find(']', p);
        if (close == std::string::npos) fail(fmt::format("{}: expected ']' closing the list", key));
        value = s.substr(p, close - p + 1);
        p = close + 1;
      } else {
        size_t end = s.find_first_of(" \t", p);
        value = s.substr(p, end == std::string::npos ? std::string::npos : end - p);
        p = end == std::string::npos ? s.size() : end;
      }
      if (key == "sizes") {
        la.sizes = ints(key, value, 0);
        have_sizes = true;
      } else if (key == "params") {
        la.params = list(key, value);
      } else if (key == "ulps") {
        la.ulps = number(key, value).to_double();
      } else if (key == "atol") {
        la.atol = number(key, value).to_double();
      } else if (key.rfind("arg", 0) == 0 && key.find('.') != std::string::npos) {
        size_t dot = key.find('.');
        std::string field = key.substr(dot + 1);
        std::optional<int64_t> a = integer(key.substr(3, dot - 3));
        if (!a || *a < 0 || size_t(*a) >= k_.args.size())
          fail(fmt::format("{}: kernel {} has args arg0..arg{}", key, k_.name, k_.args.size() - 1));
        ArgLaunch& arg = la.args[size_t(*a)];
        if (field == "strides") arg.strides = ints(key, value, std::numeric_limits<int64_t>::min());
        else if (field == "istrides") arg.istrides = ints(key, value, std::numeric_limits<int64_t>::min());
        else if (field == "offset") arg.offset = ints(key, "[" + value + "]", 0)[0];
        else if (field == "size") arg.size = ints(key, "[" + value + "]", 1)[0];
        else if (field == "fill") arg.fill = fill(key, value);
        else fail(fmt::format("unknown key '{}' (argN.strides, .offset, .istrides, .size, .fill)", key));
      } else {
        fail(fmt::format("unknown key '{}' (sizes, params, ulps, atol, argN.strides, .offset, .istrides, .size, .fill)",
                         key));
      }
    }
    if (!have_sizes) fail("expected sizes=[...] (the iteration space)");
    if (int(la.sizes.size()) != k_.rank)
      fail(fmt::format("sizes has {} dims, kernel {} has rank {}", la.sizes.size(), k_.name, k_.rank));
    for (size_t a = 0; a < la.args.size(); ++a) {
      const ArgLaunch& arg = la.args[a];
      if (arg.strides && int(arg.strides->size()) != k_.rank)
        fail(fmt::format("arg{}.strides has {} dims, kernel {} has rank {}", a, arg.strides->size(), k_.name, k_.rank));
      int n = k_.args[a].num_index;
      if (n > 0 && !arg.istrides)
        fail(fmt::format("arg{} has {} index operand{}: give arg{}.istrides=[...]", a, n, n == 1 ? "" : "s", a));
      if (arg.istrides && int(arg.istrides->size()) != n)
        fail(fmt::format("arg{}.istrides has {} values, arg{} has {} index operands", a, arg.istrides->size(), a, n));
    }
    int slots = 0;
    for (const Instr& in : k_.body)
      if (in.kind == Instr::Kind::Const && in.param >= 0) slots = std::max(slots, in.param + 1);
    if (int(la.params.size()) != slots)
      fail(slots ? fmt::format("kernel {} has {} param slot{}: give params=[...] with {} value{}", k_.name, slots,
                               slots == 1 ? "" : "s", slots, slots == 1 ? "" : "s")
                 : fmt::format("params: kernel {} has no param consts", k_.name));
    return la;
  }

private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(fmt::format("{}:{}: launch: {}", file_, l_.line, why));
  }

  static std::optional<int64_t> integer(const std::string& s) {
    if (s.empty()) return std::nullopt;
    size_t used = 0;
    try {
      long long v = std::stoll(s, &used);
      if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }

  Scalar number(const std::string& key, const std::string& s) const {
    if (s == "nan") return Scalar(std::numeric_limits<double>::quiet_NaN());
    if (s == "inf") return Scalar(std::numeric_limits<double>::infinity());
    if (s == "-inf") return Scalar(-std::numeric_limits<double>::infinity());
    if (s == "true") return Scalar(true);
    if (s == "false") return Scalar(false);
    if (std::optional<int64_t> v = integer(s)) return Scalar(*v);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size())
      fail(fmt::format("{}: expected a number (or nan, inf, -inf, true, false), got '{}'", key, s));
    return Scalar(d);
  }

  std::vector<Scalar> list(const std::string& key, const std::string& v) const {
    if (v.size() < 2 || v.front() != '[' || v.back() != ']') fail(fmt::format("{}: expected [v, ...], got '{}'", key, v));
    std::vector<Scalar> out;
    std::string body = v.substr(1, v.size() - 2);
    if (trim(body).empty()) return out;
    std::stringstream ss(body);
    for (std::string item; std::getline(ss, item, ',');) out.push_back(number(key, trim(item)));
    return out;
  }

  Shape ints(const std::string& key, const std::string& v, int64_t lo) const {
    Shape out;
    for (const Scalar& s : list(key, v)) {
      if (!s.is_integral() || s.to_int() < lo)
        fail(fmt::format("{}: expected integers{}, got '{}'", key, lo == 0 ? " >= 0" : lo == 1 ? " >= 1" : "", v));
      out.push_back(s.to_int());
    }
    return out;
  }

  Fill fill(const std::string& key, const std::string& v) const {
    Fill f;
    if (!v.empty() && v[0] == '[') {
      f.kind = Fill::List;
      f.values = list(key, v);
      if (f.values.empty()) fail(fmt::format("{}: expected at least one value", key));
      return f;
    }
    size_t dots = v.find("..");
    if (dots == std::string::npos) fail(fmt::format("{}: expected LO..HI or [v, ...], got '{}'", key, v));
    f.kind = Fill::Range;
    f.lo = number(key, v.substr(0, dots)).to_double();
    f.hi = number(key, v.substr(dots + 2)).to_double();
    if (!(f.lo <= f.hi) || !std::isfinite(f.lo) || !std::isfinite(f.hi))
      fail(fmt::format("{}: expected finite LO <= HI, got '{}'", key, v));
    return f;
  }

  const std::string& file_;
  const LaunchLine& l_;
  const Kernel& k_;
};

std::string shape_list(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// --- Buffers --------------------------------------------------------------------

// Which stages use each arg.
struct ArgUse {
  bool stage0 = false, stage1 = false, stored1 = false;
};

std::vector<ArgUse> arg_uses(const Kernel& k) {
  std::vector<ArgUse> use(k.args.size());
  for (const Instr& in : k.body) {
    if (in.kind != Instr::Kind::Load && in.kind != Instr::Kind::Store) continue;
    ArgUse& u = use[size_t(in.arg)];
    if (kiln::stage_of(in) == 1 && k.reduce_rank > 0) {
      u.stage1 = true;
      u.stored1 |= in.kind == Instr::Kind::Store;
    } else {
      u.stage0 = true;
    }
  }
  return use;
}

// One launch, ready to run: the params vector and each arg's initial data.
struct Prepared {
  std::vector<int64_t> params;
  std::vector<int64_t> numel;
  std::vector<std::vector<char>> init;  // each arg's initial bytes
};

void fill_values(DType t, const Fill& f, bool output, int64_t n, char* p, std::mt19937_64& rng, int a) {
  int64_t es = kiln::element_size(t);
  if (f.kind == Fill::Default) {
    if (output) {
      std::memset(p, 0, size_t(n * es));
      return;
    }
    kiln::text::InputDecl d{fmt::format("arg{}", a), t, {n}, false};
    auto buf = kiln::text::random_input(d, rng);
    std::memcpy(p, buf->data(), size_t(n * es));
    return;
  }
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  kiln::visit_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      T v;
      if (f.kind == Fill::List) {
        const Scalar& s = f.values[size_t(i % int64_t(f.values.size()))];
        if constexpr (std::is_same_v<T, bool>) v = s.to_bool();
        else if constexpr (std::is_integral_v<T>) {
          if (!std::isfinite(s.to_double()) && s.is_floating())
            throw Error(fmt::format("arg{}.fill: {} is not a value of {}", a, s.str(), kiln::name(t)));
          v = T(s.to_int());
        } else if constexpr (std::is_same_v<T, double>) v = s.to_double();
        else v = T(float(s.to_double()));
      } else if constexpr (std::is_same_v<T, bool>) {
        v = int64_t(std::floor(f.lo + uni(rng) * (f.hi - f.lo + 1))) != 0;
      } else if constexpr (std::is_integral_v<T>) {
        v = T(int64_t(std::floor(f.lo + uni(rng) * (f.hi - f.lo + 1))));
      } else if constexpr (std::is_same_v<T, double>) {
        v = f.lo + uni(rng) * (f.hi - f.lo);
      } else {
        v = T(float(f.lo + uni(rng) * (f.hi - f.lo)));
      }
      std::memcpy(p + i * es, &v, sizeof(T));
    }
  });
}

Prepared prepare(const Kernel& k, const Launch& la, const std::string& file, uint64_t seed) {
  const int R = k.rank, O = R - k.reduce_rank;
  auto fail = [&](const std::string& why) { throw Error(fmt::format("{}:{}: launch: {}", file, la.line, why)); };
  // The reference evaluator takes microseconds per element: kernel files
  // are for small launches.
  constexpr int64_t kMaxElements = int64_t(1) << 24;
  int64_t space = 1;
  for (int64_t s : la.sizes)
    if (__builtin_mul_overflow(space, std::max<int64_t>(s, 1), &space) || space > kMaxElements)
      fail(fmt::format("sizes={} is over {} elements (kilnc --kernel runs small launches)", shape_list(la.sizes),
                       kMaxElements));
  std::vector<ArgUse> use = arg_uses(k);
  Prepared pr;
  pr.params.assign(la.sizes.begin(), la.sizes.end());
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull + uint64_t(la.line));
  for (size_t a = 0; a < k.args.size(); ++a) {
    const kiln::KernelArg& ka = k.args[a];
    const ArgLaunch& al = la.args[a];
    bool post_only = k.reduce_rank > 0 && use[a].stage1 && !use[a].stage0;
    // The dim the inner class describes (see the scheduler's emitter).
    int class_dim = k.reduce_rank > 0 && use[a].stored1 ? O - 1 : R - 1;
    Shape strides(size_t(R), 0);
    if (al.strides) {
      strides = *al.strides;
    } else {
      int64_t s = 1;
      for (int d = (post_only ? O : R) - 1; d >= 0; --d) {
        if (d == class_dim && ka.inner == kiln::InnerStride::Bcast) continue;
        strides[size_t(d)] = s;
        s *= std::max<int64_t>(la.sizes[size_t(d)], 1);
      }
    }
    if (R > 0 && ka.inner != kiln::InnerStride::General) {
      int64_t want = ka.inner == kiln::InnerStride::Contig ? 1 : 0;
      if (strides[size_t(class_dim)] != want)
        fail(fmt::format("arg{} is inner={} but its stride along dim {} is {} (needs {})", a,
                         kiln::inner_stride_name(ka.inner), class_dim, strides[size_t(class_dim)], want));
    }
    // The elements the strides reach (stage 1 sees the output dims only).
    int64_t lo = al.offset, hi = al.offset;
    bool empty = false;
    int dims = post_only ? O : R;
    for (int d = 0; d < R; ++d) empty |= la.sizes[size_t(d)] == 0;
    for (int d = 0; d < dims && !empty; ++d) {
      int64_t span = 0;
      bool over = __builtin_mul_overflow(la.sizes[size_t(d)] - 1, strides[size_t(d)], &span) ||
                  __builtin_add_overflow(span < 0 ? lo : hi, span, span < 0 ? &lo : &hi);
      if (over || hi >= kMaxElements)
        fail(fmt::format("arg{}: its strides reach past {} elements", a, kMaxElements));
    }
    if (lo < 0) fail(fmt::format("arg{}: the strides reach element {} (before the buffer): raise arg{}.offset", a, lo, a));
    int64_t numel = std::max<int64_t>(empty ? 1 : hi + 1, 1);
    if (al.size && *al.size > kMaxElements)
      fail(fmt::format("arg{}.size={} is over {} elements", a, *al.size, kMaxElements));
    if (al.size) {
      if (*al.size < numel && ka.num_index == 0)
        fail(fmt::format("arg{}.size={} is smaller than the {} elements its strides reach", a, *al.size, numel));
      numel = *al.size;
    }
    pr.numel.push_back(numel);
    pr.params.insert(pr.params.end(), strides.begin(), strides.end());
    pr.params.push_back(al.offset);
    if (al.istrides) pr.params.insert(pr.params.end(), al.istrides->begin(), al.istrides->end());
    std::vector<char> bytes(size_t(numel * kiln::element_size(ka.dtype)));
    fill_values(ka.dtype, al.fill, ka.is_output, numel, bytes.data(), rng, int(a));
    pr.init.push_back(std::move(bytes));
  }
  // Param consts by slot, as the scheduler passes them (param_bits).
  std::vector<int64_t> scalars(la.params.size(), 0);
  for (const Instr& in : k.body)
    if (in.kind == Instr::Kind::Const && in.param >= 0)
      scalars[size_t(in.param)] = kiln::param_bits(in.dtype, la.params[size_t(in.param)]);
  pr.params.insert(pr.params.end(), scalars.begin(), scalars.end());
  return pr;
}

// --- Comparison ----------------------------------------------------------------

struct Tolerance {
  double ulps = 0, atol = 0;
};

Tolerance default_tolerance(DType t) {
  switch (t) {
    case kiln::kFloat64: return {16, 1e-12};
    case kiln::kFloat32: return {16, 1e-6};
    case kiln::kFloat16: return {2, 1e-3};
    case kiln::kBFloat16: return {2, 1e-2};
    default: return {0, 0};
  }
}

/// The spacing of dtype t's values at |x|.
double ulp(DType t, double x) {
  int mant = t == kiln::kFloat64 ? 52 : t == kiln::kFloat32 ? 23 : t == kiln::kFloat16 ? 10 : 7;
  int min_exp = t == kiln::kFloat64 ? -1022 : t == kiln::kFloat16 ? -14 : -126;
  int e = x == 0 || !std::isfinite(x) ? min_exp : std::max(std::ilogb(x), min_exp);
  return std::ldexp(1.0, e - mant);
}

double element(DType t, const char* p, int64_t i) {
  double v = 0;
  kiln::visit_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      v = p[i] != 0;
    } else {
      T x;
      std::memcpy(&x, p + i * sizeof(T), sizeof(T));
      if constexpr (std::is_integral_v<T> || std::is_same_v<T, double>) v = double(x);
      else v = double(float(x));
    }
  });
  return v;
}

int64_t int_element(DType t, const char* p, int64_t i) {
  int64_t v = 0;
  kiln::visit_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      v = p[i] != 0;
    } else if constexpr (std::is_integral_v<T>) {
      T x;
      std::memcpy(&x, p + i * sizeof(T), sizeof(T));
      v = int64_t(x);
    }
  });
  return v;
}

struct Comparison {
  bool pass = true;
  double max_abs = 0, max_ulps = 0;
  std::string first_bad;
};

Comparison compare(DType t, const std::vector<char>& ref, const char* got, int64_t n, Tolerance tol) {
  Comparison c;
  bool fl = kiln::is_floating(t);
  for (int64_t i = 0; i < n; ++i) {
    bool bad;
    if (!fl) {
      int64_t r = int_element(t, ref.data(), i), g = int_element(t, got, i);
      double err = std::fabs(double(r) - double(g));
      c.max_abs = std::max(c.max_abs, err);
      bad = r != g;
      if (bad && c.first_bad.empty()) c.first_bad = fmt::format("element {}: got {}, expected {}", i, g, r);
    } else {
      double r = element(t, ref.data(), i), g = element(t, got, i);
      double err = 0, ulps = 0;
      if (std::isnan(r) || std::isnan(g) || std::isinf(r) || std::isinf(g)) {
        bool same = (std::isnan(r) && std::isnan(g)) || r == g;
        err = ulps = same ? 0 : INFINITY;
      } else {
        err = std::fabs(g - r);
        ulps = err / ulp(t, r);
      }
      c.max_abs = std::max(c.max_abs, err);
      c.max_ulps = std::max(c.max_ulps, ulps);
      bad = !(err <= tol.ulps * ulp(t, r) + tol.atol);
      if (bad && c.first_bad.empty())
        c.first_bad = fmt::format("element {}: got {}, expected {} ({:.3g} ulp)", i, g, r, ulps);
    }
    if (bad) c.pass = false;
  }
  return c;
}


}  // namespace

int run_kernel_file(const std::string& source, const KernelFileOptions& o, std::ostream& out) {
  std::vector<KernelCase> cases = split(source, o.file);
  if (!o.emit.empty()) {
    const Target& cpu = targets()[0];
    for (size_t c = 0; c < cases.size(); ++c)
      for (const std::string& stage : o.emit) {
        if (stage == "kernel") {
          out << (c ? "\n" : "") << cases[c].kernel.str();
        } else {
          std::unique_ptr<Backend> b = cpu.make();
          out << (c ? "\n" : "") << b->emit(stage, cases[c].kernel);
        }
      }
    return 0;
  }
  // Every launch is checked before anything runs.
  std::vector<std::vector<Launch>> launches(cases.size());
  for (size_t c = 0; c < cases.size(); ++c) {
    if (cases[c].launches.empty())
      throw Error(fmt::format("{}:{}: kernel {} has no launch line (launch sizes=[...])", o.file, cases[c].line,
                              cases[c].kernel.name));
    for (const LaunchLine& l : cases[c].launches) launches[c].push_back(LaunchParser(o.file, l, cases[c].kernel).parse());
  }

  // The backends that can run here; the others say why not.
  std::vector<std::pair<std::string, std::unique_ptr<Backend>>> backends;
  std::string ran, skipped;
  for (const Target& t : targets()) {
    try {
      backends.emplace_back(t.name, t.make());
      ran += (ran.empty() ? "" : ", ") + t.name;
    } catch (const Error& e) {
      skipped += fmt::format("\nskipped {}: {}", t.name, e.what());
    }
  }
  out << "backends: " << (ran.empty() ? "none can run here (only the reference runs)" : ran) << skipped << "\n";

  int failures = 0, checked = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    const Kernel& k = cases[c].kernel;
    for (const Launch& la : launches[c]) {
      Prepared pr = prepare(k, la, o.file, o.seed);
      out << fmt::format("kernel {} (line {}) launch sizes={} (line {})\n", k.name, cases[c].line,
                         shape_list(la.sizes), la.line);
      // The reference first: it checks every access against the buffers,
      // so the backends never run out of bounds.
      std::vector<std::vector<char>> ref = pr.init;
      std::vector<kiln::ReferenceBuffer> rb;
      for (size_t a = 0; a < ref.size(); ++a) rb.push_back({ref[a].data(), pr.numel[a]});
      try {
        kiln::run_reference(k, rb, pr.params, la.sizes);
      } catch (const Error& e) {
        throw Error(fmt::format("{}:{}: {}", o.file, la.line, e.what()));
      }
      for (auto& [bname, backend] : backends) {
        std::vector<std::shared_ptr<kiln::Buffer>> bufs;
        std::vector<void*> ptrs;
        for (size_t a = 0; a < pr.init.size(); ++a) {
          bufs.push_back(kiln::Buffer::allocate(pr.init[a].size()));
          std::memcpy(bufs.back()->data(), pr.init[a].data(), pr.init[a].size());
          ptrs.push_back(bufs.back()->data());
        }
        std::string error;
        try {
          backend->launch(k, ptrs.data(), pr.params.data(), la.sizes);
        } catch (const Error& e) {
          error = e.what();
        }
        for (size_t a = 0; a < k.args.size(); ++a) {
          if (!k.args[a].is_output) continue;
          ++checked;
          DType t = k.args[a].dtype;
          std::string what = fmt::format("  {}: arg{} {}[{}]", bname, a, kiln::short_dtype_name(t), pr.numel[a]);
          if (!error.empty()) {
            ++failures;
            out << fmt::format("{}: error: {}: FAIL\n", what, error);
            continue;
          }
          Tolerance tol = default_tolerance(t);
          if (la.ulps) tol.ulps = *la.ulps;
          if (la.atol) tol.atol = *la.atol;
          Comparison cmp = compare(t, ref[a], static_cast<const char*>(ptrs[a]), pr.numel[a], tol);
          std::string err = kiln::is_floating(t) ? fmt::format("max error {:.3g} ({:.3g} ulp), tolerance {} ulp + {}",
                                                               cmp.max_abs, cmp.max_ulps, tol.ulps, tol.atol)
                                                 : fmt::format("max error {}, exact", cmp.max_abs);
          out << fmt::format("{}: {}: {}{}\n", what, err, cmp.pass ? "PASS" : "FAIL",
                             cmp.pass ? "" : " (first at " + cmp.first_bad + ")");
          failures += !cmp.pass;
        }
      }
    }
  }
  out << fmt::format("{} output{} checked on {} backend{}: {}\n", checked, checked == 1 ? "" : "s",
                     backends.size(), backends.size() == 1 ? "" : "s",
                     failures ? fmt::format("{} FAIL", failures) : std::string("all PASS"));
  return failures ? 1 : 0;
}

}  // namespace kilnc
