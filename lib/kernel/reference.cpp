#include "kernel/reference.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "kernel/philox.h"
#include "kernel/verify.h"
#include "kiln/error.h"

namespace kiln {

namespace {

// One value: floats in f (every float16/bfloat16/float32 value is a double
// exactly), integers and bool (0 or 1) in i, wrapped to their dtype.
struct Val {
  double f = 0;
  int64_t i = 0;
};

// --- Integers ---------------------------------------------------------------

/// v reduced to dtype t's width: two's complement for the signed types,
/// modulo for uint8 and bool.
int64_t wrap(DType t, uint64_t v) {
  switch (t) {
    case kBool: return int64_t(v & 1);
    case kInt8: return int8_t(v);
    case kUInt8: return uint8_t(v);
    case kInt16: return int16_t(v);
    case kInt32: return int32_t(v);
    default: return int64_t(v);
  }
}

// --- Floats -----------------------------------------------------------------

/// A float32 register value as dtype t (float16/bfloat16: rounded to
/// nearest even).
double round_reg(DType t, float r) {
  if (t == kFloat16) return float(Half(r));
  if (t == kBFloat16) return float(BFloat16(r));
  return r;
}

/// f64 -> f32 rounded to odd (exact results stay, others are truncated with
/// the last bit set), so that a following rounding to float16/bfloat16 is
/// one rounding from the double.
float round_odd(double d) {
  float t = float(d);
  if (double(t) == d || std::isnan(d)) return t;
  uint32_t bits = std::bit_cast<uint32_t>(t);
  if (std::fabs(double(t)) > std::fabs(d)) --bits;  // back toward zero
  return std::bit_cast<float>(bits | 1u);
}

/// A double result (the C library's, or a float64 op) as dtype t.
double from_double(DType t, double d) {
  if (t == kFloat64) return d;
  return round_reg(t, float(d));
}

/// An op on two float operands in the register precision of t (double for
/// float64, float otherwise), rounded to t.
template <typename F>
double fbin(DType t, double a, double b, F f) {
  if (t == kFloat64) return f(a, b);
  return round_reg(t, f(float(a), float(b)));
}

/// A transcendental: the C library's double function, rounded to t.
template <typename F>
double fmath(DType t, double x, F f) {
  return from_double(t, f(x));
}

/// c10's div_floor_floating, in the register type R.
template <typename R>
R floor_divide(R a, R b) {
  if (b == 0) return a / b;
  R m = std::fmod(a, b);
  R d = (a - m) / b;
  if (m != 0 && ((b < 0) != (m < 0))) d = d - 1;
  if (d == 0) return std::copysign(R(0), a / b);
  R fl = std::floor(d);
  if (d - fl > R(0.5)) fl = fl + 1;
  return fl;
}

template <typename R>
R remainder(R a, R b) {
  R m = std::fmod(a, b);
  if (m != 0 && ((b < 0) != (m < 0))) m = m + b;
  return m;
}

/// Max (or min) of floats as reductions and maximum() see them: NaN wins,
/// and of equal values the second (b) is taken, as the backends' compare
/// and select do.
double fmax_nan(double a, double b, bool max) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return (max ? a > b : a < b) ? a : b;
}

// --- The interpreter --------------------------------------------------------

class Interpreter {
public:
  Interpreter(const Kernel& k, const std::vector<ReferenceBuffer>& bufs, const std::vector<int64_t>& params,
              const Shape& sizes)
      : k_(k), bufs_(bufs), params_(params), sizes_(sizes), v_(k.body.size()) {}

  void run() {
    const int R = k_.rank, O = R - k_.reduce_rank;
    if (int(sizes_.size()) != R)
      throw Error(fmt::format("reference evaluator: kernel {} has rank {}, launched over {} sizes", k_.name, R,
                              sizes_.size()));
    if (bufs_.size() != k_.args.size())
      throw Error(fmt::format("reference evaluator: kernel {} has {} args, got {} buffers", k_.name, k_.args.size(),
                              bufs_.size()));
    int64_t need = first_scalar_param(k_);
    for (const Instr& in : k_.body)
      if (in.kind == Instr::Kind::Const && in.param >= 0) need = std::max<int64_t>(need, first_scalar_param(k_) + in.param + 1);
    if (int64_t(params_.size()) < need)
      throw Error(fmt::format("reference evaluator: kernel {} needs {} launch parameters, got {}", k_.name, need,
                              params_.size()));
    for (size_t i = 0; i < k_.body.size(); ++i)
      if (k_.body[i].kind == Instr::Kind::Const) v_[i] = constant(k_.body[i]);
    for (int d = 0; d < O; ++d)
      if (sizes_[size_t(d)] == 0) return;  // nothing to compute
    bool reduced_empty = false;  // then every output element is the fold's initial value
    for (int d = O; d < R; ++d) reduced_empty |= sizes_[size_t(d)] == 0;
    idx_.assign(size_t(R), 0);
    if (k_.reduce_rank == 0) {
      do {
        for (size_t i = 0; i < k_.body.size(); ++i) eval(i, 0);
      } while (next(0, R));
      return;
    }
    acc_.assign(k_.body.size(), {});
    pos_.assign(k_.body.size(), 0);
    do {  // each output element
      for (size_t i = 0; i < k_.body.size(); ++i)
        if (k_.body[i].kind == Instr::Kind::Reduce || k_.body[i].kind == Instr::Kind::Scan) init_acc(i);
      for (int d = O; d < R; ++d) idx_[size_t(d)] = 0;
      int64_t pos = 0;  // row-major position in the reduced dims
      if (!reduced_empty) do {
        for (size_t i = 0; i < k_.body.size(); ++i) {
          const Instr& in = k_.body[i];
          if (in.kind == Instr::Kind::Reduce) fold(i, pos);
          else if (stage_of(in) == 0) eval(i, 0);
        }
        ++pos;
      } while (next(O, R));
      // Stage 1 sees the output dims only.
      for (size_t i = 0; i < k_.body.size(); ++i) {
        const Instr& in = k_.body[i];
        if (in.kind == Instr::Kind::Reduce) v_[i] = acc_result(i);
        else if (stage_of(in) == 1) eval(i, 1);
      }
    } while (next(0, O));
  }

private:
  [[noreturn]] void fail(size_t i, const std::string& why) const {
    throw Error(fmt::format("reference evaluator: kernel {}: %{}: {}", k_.name, i, why));
  }

  /// Advances dims [lo, hi) of idx_ row-major; false after the last.
  bool next(int lo, int hi) {
    for (int d = hi - 1; d >= lo; --d) {
      if (++idx_[size_t(d)] < sizes_[size_t(d)]) return true;
      idx_[size_t(d)] = 0;
    }
    return false;
  }

  DType dt(const Instr& in, size_t n) const { return k_.body[size_t(in.operands[n])].dtype; }
  const Val& op(const Instr& in, size_t n) const { return v_[size_t(in.operands[n])]; }

  Val constant(const Instr& in) {
    Val v;
    DType t = in.dtype;
    if (in.param >= 0) {
      // The launch value, as backends read it (param_bits).
      int64_t bits = params_[size_t(first_scalar_param(k_) + in.param)];
      if (!is_floating(t)) {
        v.i = wrap(t, uint64_t(bits));
        return v;
      }
      v.f = t == kFloat64 ? std::bit_cast<double>(bits) : double(std::bit_cast<float>(uint32_t(bits)));
      return v;
    }
    if (t == kBool) v.i = in.value.to_bool();
    else if (!is_floating(t)) v.i = wrap(t, uint64_t(in.value.to_int()));
    else if (t == kFloat64) v.f = in.value.to_double();
    else v.f = round_reg(t, float(in.value.to_double()));
    return v;
  }

  // --- Memory ---------------------------------------------------------------

  /// The element offset of Load/Store i in its arg's buffer (a position
  /// arg's: the position itself, unchecked).
  int64_t address(size_t i, int stage) const {
    const Instr& in = k_.body[i];
    const int R = k_.rank, O = R - k_.reduce_rank;
    const int a = in.arg;
    int64_t at = R;  // arg a's block of launch parameters
    for (int b = 0; b < a; ++b) at += R + 1 + k_.args[size_t(b)].num_index;
    int64_t off = params_[size_t(at + R)];
    int dims = stage == 1 ? O : R;
    for (int d = 0; d < dims; ++d) off += idx_[size_t(d)] * params_[size_t(at + d)];
    size_t first = in.kind == Instr::Kind::Store ? 1 : 0;
    for (size_t j = first; j < in.operands.size(); ++j)
      off += op(in, j).i * params_[size_t(at + R + 1 + int64_t(j - first))];
    if (k_.args[size_t(a)].position) return off;
    if (off < 0 || off >= bufs_[size_t(a)].numel)
      fail(i, fmt::format("arg{} element {} is outside its buffer of {} elements", a, off, bufs_[size_t(a)].numel));
    return off;
  }

  Val read(DType t, const void* base, int64_t n) const {
    Val v;
    const char* p = static_cast<const char*>(base) + n * element_size(t);
    visit_dtype(t, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        uint8_t byte;  // any non-zero byte is true, as backends load it
        std::memcpy(&byte, p, 1);
        v.i = byte != 0;
      } else {
        T x;
        std::memcpy(&x, p, sizeof(T));
        if constexpr (std::is_integral_v<T>) v.i = int64_t(x);
        else if constexpr (std::is_same_v<T, double>) v.f = x;
        else v.f = double(float(x));
      }
    });
    return v;
  }

  void write(DType t, void* base, int64_t n, const Val& v) const {
    char* p = static_cast<char*>(base) + n * element_size(t);
    visit_dtype(t, [&](auto tag) {
      using T = decltype(tag);
      T x;
      if constexpr (std::is_same_v<T, bool>) x = v.i != 0;
      else if constexpr (std::is_integral_v<T>) x = T(v.i);
      else if constexpr (std::is_same_v<T, double>) x = v.f;
      else x = T(float(v.f));  // float16/bfloat16 values are representable: exact
      std::memcpy(p, &x, sizeof(T));
    });
  }

  // --- Instructions -----------------------------------------------------------

  void eval(size_t i, int stage) {
    const Instr& in = k_.body[i];
    switch (in.kind) {
      case Instr::Kind::Const: return;  // set once, up front
      case Instr::Kind::Load: {
        if (k_.args[size_t(in.arg)].position) {
          v_[i].i = address(i, stage);
          return;
        }
        // The arg's dtype: a decomposed kernel loads float16/bfloat16 as f32.
        v_[i] = read(k_.args[size_t(in.arg)].dtype, bufs_[size_t(in.arg)].data, address(i, stage));
        return;
      }
      case Instr::Kind::Store: {
        int64_t n = address(i, stage);
        DType t = k_.args[size_t(in.arg)].dtype;
        Val x = op(in, 0);
        if (in.accumulate) x = add(t, read(t, bufs_[size_t(in.arg)].data, n), x);
        write(t, bufs_[size_t(in.arg)].data, n, x);
        return;
      }
      case Instr::Kind::Scan: {
        fold(i, 0);
        v_[i] = acc_result(i);
        return;
      }
      case Instr::Kind::Reduce: return;  // folded by run()
      case Instr::Kind::Compute: v_[i] = compute(i); return;
    }
  }

  Val add(DType t, const Val& a, const Val& b) const {
    Val r;
    if (is_floating(t)) r.f = fbin(t, a.f, b.f, [](auto x, auto y) { return x + y; });
    else if (t == kBool) r.i = a.i | b.i;
    else r.i = wrap(t, uint64_t(a.i) + uint64_t(b.i));
    return r;
  }

  Val cast(size_t i, const Val& x, DType from, DType to) const {
    Val r;
    if (from == to) return x;
    if (to == kBool) {
      r.i = is_floating(from) ? x.f != 0 : x.i != 0;  // NaN is true
      return r;
    }
    if (is_floating(from) && is_floating(to)) {
      if (to == kFloat64 || from != kFloat64) r.f = to == kFloat64 ? x.f : round_reg(to, float(x.f));
      else r.f = to == kFloat32 ? double(float(x.f)) : round_reg(to, round_odd(x.f));
      return r;
    }
    if (is_floating(from)) {
      // Truncates toward zero; narrow targets wrap through int32.
      double t = std::trunc(x.f);
      bool wide = to == kInt64;
      double lo = wide ? -0x1p63 : -0x1p31, hi = wide ? 0x1p63 : 0x1p31;
      if (!(t >= lo && t < hi))
        fail(i, fmt::format("cast of {} to {} is out of range (undefined)", x.f, name(to)));
      r.i = wrap(to, uint64_t(int64_t(t)));
      return r;
    }
    if (is_floating(to)) {
      // One rounding from the integer to float32 (or float64), then to t.
      if (to == kFloat64) r.f = double(x.i);
      else r.f = round_reg(to, float(x.i));
      return r;
    }
    r.i = wrap(to, uint64_t(x.i));  // the source is already sign- or zero-extended
    return r;
  }

  Val compute(size_t i) {
    const Instr& in = k_.body[i];
    const Op o = in.op;
    const DType out = in.dtype;
    DType t = dt(in, 0);
    Val r;
    if (o == Op::Cast) return cast(i, op(in, 0), t, out);
    if (o == Op::Copy) return op(in, 0);
    if (is_random(o)) {  // (position, seed, offset)
      uint64_t ctr = uint64_t(op(in, 2).i) + uint64_t(op(in, 0).i);
      double v = philox::value(o == Op::Randn, out, uint64_t(op(in, 1).i), ctr);
      r.f = out == kFloat64 ? v : round_reg(out, float(v));
      return r;
    }
    if (o == Op::Where) {
      Val c = cast(i, op(in, 0), t, kBool);
      return c.i ? op(in, 1) : op(in, 2);
    }
    const Val& a = op(in, 0);
    const Val b = in.operands.size() > 1 ? op(in, 1) : Val{};
    if (is_primitive(o)) return primitive(i, o, t, out, a, b);
    if (o == Op::LogicalNot) {
      r.i = is_floating(t) ? a.f == 0 : a.i == 0;  // NaN is true: not NaN is false
      return r;
    }
    if (is_comparison(o)) {
      if (is_floating(t)) {
        double x = a.f, y = b.f;
        // Ordered: false on NaN, except ne.
        r.i = o == Op::Eq ? x == y : o == Op::Ne ? x != y : o == Op::Lt ? x < y
            : o == Op::Le ? x <= y : o == Op::Gt ? x > y : x >= y;
      } else {
        int64_t x = a.i, y = b.i;  // uint8 and bool are held non-negative
        r.i = o == Op::Eq ? x == y : o == Op::Ne ? x != y : o == Op::Lt ? x < y
            : o == Op::Le ? x <= y : o == Op::Gt ? x > y : x >= y;
      }
      return r;
    }
    if (is_floating(t)) {
      r.f = compute_float(i, o, out, a.f, b.f);
      return r;
    }
    r.i = compute_int(i, o, t, a.i, b.i);
    return r;
  }

  /// The Kernel IR primitives of decomposed kernels (ops.def).
  Val primitive(size_t i, Op o, DType t, DType out, const Val& a, const Val& b) {
    const Instr& in = k_.body[i];
    Val r;
    unsigned width = t == kBool ? 1 : unsigned(element_size(t) * 8);
    uint64_t mask = width == 64 ? ~0ull : (1ull << width) - 1;
    switch (o) {
      case Op::Fma: {
        const Val& c = op(in, 2);
        r.f = t == kFloat64 ? std::fma(a.f, b.f, c.f) : double(std::fma(float(a.f), float(b.f), float(c.f)));
        return r;
      }
      case Op::Bitcast:
        if (t == kFloat32) r.i = wrap(out, std::bit_cast<uint32_t>(float(a.f)));
        else if (t == kFloat64) r.i = std::bit_cast<int64_t>(a.f);
        else if (out == kFloat32) r.f = std::bit_cast<float>(uint32_t(a.i));
        else r.f = std::bit_cast<double>(a.i);
        return r;
      case Op::RoundF16: r.f = round_reg(kFloat16, float(a.f)); return r;
      case Op::RoundBF16: r.f = round_reg(kBFloat16, float(a.f)); return r;
      case Op::BitAnd: r.i = wrap(t, uint64_t(a.i) & uint64_t(b.i)); return r;
      case Op::BitOr: r.i = wrap(t, uint64_t(a.i) | uint64_t(b.i)); return r;
      case Op::BitXor: r.i = wrap(t, uint64_t(a.i) ^ uint64_t(b.i)); return r;
      case Op::Shl: case Op::LShr: case Op::AShr:
        if (b.i < 0 || uint64_t(b.i) >= width)
          fail(i, fmt::format("shift by {} of a {}-bit value (undefined)", b.i, width));
        if (o == Op::Shl) r.i = wrap(t, uint64_t(a.i) << b.i);
        else if (o == Op::LShr) r.i = wrap(t, (uint64_t(a.i) & mask) >> b.i);
        else r.i = wrap(t, uint64_t(a.i >> b.i));  // held sign-extended: arithmetic
        return r;
      case Op::IDiv: case Op::IRem:
        if (b.i == 0) fail(i, fmt::format("{} by zero (undefined)", op_name(o)));
        if (is_signed(t) && b.i == -1 && wrap(t, uint64_t(a.i) - 1) > a.i)  // the minimum
          fail(i, fmt::format("{} of the minimum by -1 (undefined)", op_name(o)));
        r.i = o == Op::IDiv ? a.i / b.i : a.i % b.i;  // C++: toward zero, as idiv/irem
        return r;
      default: break;
    }
    throw Error(fmt::format("reference evaluator: op {} not supported yet", op_name(o)));
  }

  double compute_float(size_t i, Op o, DType t, double a, double b) {
    const Instr& in = k_.body[i];
    auto f1 = [&](auto f) { return fmath(t, a, f); };
    switch (o) {
      case Op::Neg: return -a;
      case Op::Abs: return std::fabs(a);
      case Op::Relu: return a <= 0 ? 0.0 : a;  // NaN stays
      case Op::Sqrt: return t == kFloat64 ? std::sqrt(a) : round_reg(t, std::sqrt(float(a)));
      case Op::Exp: return f1([](double x) { return std::exp(x); });
      case Op::Log: return f1([](double x) { return std::log(x); });
      case Op::Sin: return f1([](double x) { return std::sin(x); });
      case Op::Cos: return f1([](double x) { return std::cos(x); });
      case Op::Tan: return f1([](double x) { return std::tan(x); });
      case Op::Tanh: return f1([](double x) { return std::tanh(x); });
      case Op::Sigmoid: return f1([](double x) { return 1 / (1 + std::exp(-x)); });
      case Op::Exp2: return f1([](double x) { return std::exp2(x); });
      case Op::Log2: return f1([](double x) { return std::log2(x); });
      case Op::Log1p: return f1([](double x) { return std::log1p(x); });
      case Op::Expm1: return f1([](double x) { return std::expm1(x); });
      case Op::Erf: return f1([](double x) { return std::erf(x); });
      case Op::Sign: return a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0;  // NaN: 0
      case Op::Floor: return std::floor(a);
      case Op::Ceil: return std::ceil(a);
      case Op::Round: return std::nearbyint(a);  // half to even
      case Op::Trunc: return std::trunc(a);
      case Op::Add: return fbin(t, a, b, [](auto x, auto y) { return x + y; });
      case Op::Sub: return fbin(t, a, b, [](auto x, auto y) { return x - y; });
      case Op::Mul: return fbin(t, a, b, [](auto x, auto y) { return x * y; });
      case Op::Div: return fbin(t, a, b, [](auto x, auto y) { return x / y; });
      case Op::Pow: return pow(in, t, a, b);
      case Op::Atan2: return from_double(t, std::atan2(a, b));
      case Op::Hypot: return from_double(t, std::hypot(a, b));
      case Op::LogAddExp:
        if (std::isinf(a) && a == b) return a;
        return from_double(t, std::max(a, b) + std::log1p(std::exp(-std::fabs(a - b))));
      case Op::Fmod: return fbin(t, a, b, [](auto x, auto y) { return std::fmod(x, y); });
      case Op::Remainder: return fbin(t, a, b, [](auto x, auto y) { return remainder(x, y); });
      case Op::FloorDiv: return fbin(t, a, b, [](auto x, auto y) { return floor_divide(x, y); });
      case Op::TruncDiv: return std::trunc(fbin(t, a, b, [](auto x, auto y) { return x / y; }));
      case Op::Maximum: case Op::ClampMin: return fmax_nan(a, b, true);
      case Op::Minimum: case Op::ClampMax: return fmax_nan(a, b, false);
      default: break;
    }
    throw Error(fmt::format("reference evaluator: op {} not supported yet", op_name(o)));
  }

  /// pow: a literal exponent of 2, 3, 0.5, -0.5, -1 or -2 is computed as
  /// PyTorch's pow_tensor_scalar does (products, sqrt, reciprocals, each
  /// rounded to t); any other as the C library's pow.
  double pow(const Instr& in, DType t, double x, double e) {
    const Instr& ei = k_.body[size_t(in.operands[1])];
    auto mul = [&](double p, double q) { return fbin(t, p, q, [](auto u, auto v) { return u * v; }); };
    auto recip = [&](double v) { return fbin(t, 1.0, v, [](auto u, auto w) { return u / w; }); };
    auto sqrt = [&](double v) { return t == kFloat64 ? std::sqrt(v) : round_reg(t, std::sqrt(float(v))); };
    if (ei.kind == Instr::Kind::Const && ei.param < 0) {
      e = ei.value.to_double();  // the literal as written picks the path, as in the backends
      if (e == 2) return mul(x, x);
      if (e == 3) return mul(mul(x, x), x);
      if (e == 0.5) return sqrt(x);
      if (e == -0.5) return recip(sqrt(x));
      if (e == -1) return recip(x);
      if (e == -2) return recip(mul(x, x));
    }
    return from_double(t, std::pow(x, e));
  }

  int64_t compute_int(size_t i, Op o, DType t, int64_t a, int64_t b) {
    const bool sg = is_signed(t);
    auto w = [&](uint64_t v) { return wrap(t, v); };
    switch (o) {
      case Op::Neg: return w(0 - uint64_t(a));
      case Op::Abs: return sg && a < 0 ? w(0 - uint64_t(a)) : a;
      case Op::Relu: return a <= 0 ? 0 : a;
      case Op::LogicalNot: return a == 0;
      case Op::Sign: return t == kBool ? a : a > 0 ? 1 : a < 0 ? w(uint64_t(-1)) : 0;
      case Op::Floor: case Op::Ceil: case Op::Round: case Op::Trunc: return a;
      case Op::Add: return t == kBool ? (a | b) : w(uint64_t(a) + uint64_t(b));
      case Op::Sub: return w(uint64_t(a) - uint64_t(b));  // bool: xor
      case Op::Mul: return w(uint64_t(a) * uint64_t(b));  // bool: and
      case Op::Pow: {
        if (b < 0) fail(i, fmt::format("pow of an integer to the negative power {} (undefined)", b));
        uint64_t result = 1, sq = uint64_t(a);
        for (uint64_t e = uint64_t(b); e; e >>= 1) {
          if (e & 1) result *= sq;
          sq *= sq;
        }
        return w(result);
      }
      case Op::Remainder: case Op::Fmod: case Op::FloorDiv: case Op::TruncDiv: {
        if (b == 0) fail(i, fmt::format("integer {} by zero (undefined)", op_name(o)));
        if (!sg) return o == Op::Remainder || o == Op::Fmod ? a % b : a / b;
        if (b == -1) return o == Op::Remainder || o == Op::Fmod ? 0 : w(0 - uint64_t(a));  // -INT_MIN wraps
        int64_t q = a / b, m = a % b;  // C++: toward zero, m has a's sign
        bool differ = m != 0 && ((m < 0) != (b < 0));
        if (o == Op::TruncDiv) return q;
        if (o == Op::Fmod) return m;
        if (o == Op::Remainder) return differ ? m + b : m;
        return differ ? q - 1 : q;
      }
      case Op::Maximum: case Op::ClampMin: return std::max(a, b);
      case Op::Minimum: case Op::ClampMax: return std::min(a, b);
      default: break;
    }
    throw Error(fmt::format("reference evaluator: op {} not supported yet", op_name(o)));
  }

  // --- Reductions and scans ---------------------------------------------------

  void init_acc(size_t i) {
    const Instr& in = k_.body[i];
    DType t = dt(in, 0);
    Val& a = acc_[i];
    pos_[i] = 0;
    bool fl = is_floating(t);
    auto lowest = [&] { return t == kBool ? 0 : t == kUInt8 ? 0 : wrap(t, uint64_t(1) << (int_bits(t) - 1)); };
    auto highest = [&] { return t == kBool ? 1 : t == kUInt8 ? 255 : wrap(t, (uint64_t(1) << (int_bits(t) - 1)) - 1); };
    switch (in.reduce) {
      case ReduceOp::Sum: a = {0.0, 0}; break;
      case ReduceOp::Prod: a = {1.0, 1}; break;
      case ReduceOp::Max: case ReduceOp::ArgMax:
        a = fl ? Val{-INFINITY, 0} : Val{0, lowest()};
        break;
      case ReduceOp::Min: case ReduceOp::ArgMin:
        a = fl ? Val{INFINITY, 0} : Val{0, highest()};
        break;
    }
  }
  static int int_bits(DType t) { return int(element_size(t)) * 8; }

  /// Folds the operand of Reduce/Scan i (at reduced position pos).
  void fold(size_t i, int64_t pos) {
    const Instr& in = k_.body[i];
    DType t = dt(in, 0);
    const Val& x = op(in, 0);
    Val& a = acc_[i];
    bool fl = is_floating(t);
    switch (in.reduce) {
      case ReduceOp::Sum:
        // float16/bfloat16 accumulate in float32 (rounded once, acc_result).
        if (fl) a.f = t == kFloat64 ? a.f + x.f : double(float(a.f) + float(x.f));
        else a = add(t, a, x);
        return;
      case ReduceOp::Prod:
        if (fl) a.f = t == kFloat64 ? a.f * x.f : double(float(a.f) * float(x.f));
        else a.i = t == kBool ? (a.i & x.i) : wrap(t, uint64_t(a.i) * uint64_t(x.i));
        return;
      case ReduceOp::Max:
      case ReduceOp::Min: {
        bool mx = in.reduce == ReduceOp::Max;
        if (!fl) {
          a.i = mx ? std::max(a.i, x.i) : std::min(a.i, x.i);
        } else if (std::isnan(a.f) || std::isnan(x.f)) {
          a.f = std::numeric_limits<double>::quiet_NaN();
        } else if (mx ? x.f > a.f : x.f < a.f) {
          a.f = x.f;
        } else if (x.f == 0 && a.f == 0 && std::signbit(a.f) != std::signbit(x.f)) {
          a.f = mx ? 0.0 : -0.0;  // max: +0 over -0; min: -0 over +0
        }
        return;
      }
      case ReduceOp::ArgMax:
      case ReduceOp::ArgMin: {
        bool mx = in.reduce == ReduceOp::ArgMax;
        bool pick;
        if (fl) pick = (mx ? x.f > a.f : x.f < a.f) || (std::isnan(x.f) && !std::isnan(a.f));  // the first NaN wins
        else pick = mx ? x.i > a.i : x.i < a.i;
        if (pick) {
          a = x;
          pos_[i] = pos;
        }
        return;
      }
    }
  }

  Val acc_result(size_t i) const {
    const Instr& in = k_.body[i];
    DType t = dt(in, 0);
    Val r = acc_[i];
    if (in.reduce == ReduceOp::ArgMax || in.reduce == ReduceOp::ArgMin) return {0, pos_[i]};
    if (is_floating(t) && t != kFloat64) r.f = round_reg(t, float(r.f));
    return r;
  }

  const Kernel& k_;
  const std::vector<ReferenceBuffer>& bufs_;
  const std::vector<int64_t>& params_;
  const Shape& sizes_;
  std::vector<Val> v_;       // the current element's values
  std::vector<int64_t> idx_; // the current element's index
  std::vector<Val> acc_;     // Reduce/Scan accumulators
  std::vector<int64_t> pos_; // ArgMax/ArgMin positions
};

}  // namespace

void run_reference(const Kernel& k, const std::vector<ReferenceBuffer>& buffers, const std::vector<int64_t>& params,
                   const Shape& sizes) {
  verify_kernel(k);
  Interpreter(k, buffers, params, sizes).run();
}

}  // namespace kiln
