#pragma once
// The hostile-input table's machinery: a case is a name, an input (a lambda
// calling kiln's public API) and an expectation (a kiln::Error whose message
// holds some words, or a value). The runner (table_main.cpp) runs every case
// in a forked child with a time limit, so a crash or a hang fails that case
// only.
#include <kiln/kiln.h>

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace hostile {

/// What an input produced: a tensor's dtype, shape and (up to 64) values,
/// or a number, a shape, a dtype or a count.
struct Val {
  std::optional<std::string> dtype;
  std::optional<kiln::Shape> shape;
  std::optional<std::vector<double>> values;
  int64_t numel = -1;  // of a tensor whose values are not all kept

  Val() = default;
  Val(const kiln::Tensor& t);  // NOLINT: realizes t
  Val(std::tuple<kiln::Tensor, kiln::Tensor> vi);  // NOLINT: max/min with dim: the values
  Val(double v) : values(std::vector<double>{v}) {}  // NOLINT
  Val(float v) : Val(double(v)) {}  // NOLINT
  Val(int64_t v) : values(std::vector<double>{double(v)}) {}  // NOLINT
  Val(int v) : Val(int64_t(v)) {}  // NOLINT
  Val(size_t v) : Val(int64_t(v)) {}  // NOLINT
  Val(bool v) : Val(int64_t(v)) {}  // NOLINT
  Val(kiln::DType t) : dtype(std::string(kiln::name(t))) {}  // NOLINT
  static Val of_shape(const kiln::Shape& s) {
    Val v;
    v.shape = s;
    return v;
  }
  static Val of_values(std::vector<double> xs) {
    Val v;
    v.values = std::move(xs);
    return v;
  }
  std::string str() const;
};

struct Expect {
  enum class Kind { Error, Value, Below, AtLeast };
  Kind kind = Kind::Value;
  std::string op;                  // Error: the op the message names first ("op: ...")
  std::vector<std::string> words;  // Error: substrings of the message (case-insensitive;
                                   // "a|b" accepts either)
  Val val;                         // Value: the fields it has must match
  double tol = 1e-6;               // Value: relative tolerance; Below/AtLeast: the bound
  std::string str() const;
};

/// A kiln::Error that names `op` the way kiln's messages do ("op: ...", so
/// "amax: ..." does not name max; "" for messages without an op) and
/// contains each of `words` (case-insensitive; "a|b" accepts either).
inline Expect raises(std::string op, std::vector<std::string> words) {
  Expect e;
  e.kind = Expect::Kind::Error;
  e.op = std::move(op);
  e.words = std::move(words);
  return e;
}
/// A value: the fields `v` has (dtype, shape, values) must equal the result's;
/// values within relative tolerance `tol` (NaN equals NaN).
inline Expect is(Val v, double tol = 1e-6) {
  Expect e;
  e.val = std::move(v);
  e.tol = tol;
  return e;
}
inline Expect values(std::vector<double> xs, double tol = 1e-6) { return is(Val::of_values(std::move(xs)), tol); }
inline Expect shape(kiln::Shape s) { return is(Val::of_shape(std::move(s))); }
/// A tensor of this dtype and shape (values unchecked).
inline Expect typed(kiln::DType t, kiln::Shape s) {
  Val v(t);
  v.shape = std::move(s);
  return is(v);
}
/// Every value < bound / >= bound.
inline Expect below(double bound) {
  Expect e;
  e.kind = Expect::Kind::Below;
  e.tol = bound;
  return e;
}
inline Expect at_least(double bound) {
  Expect e;
  e.kind = Expect::Kind::AtLeast;
  e.tol = bound;
  return e;
}

struct Case {
  std::string group, name;
  std::function<Val()> run;
  Expect expect;
  /// Set while kiln's behaviour is known to be wrong: the case is reported
  /// as XFAIL, and as XPASS (a failure: remove the mark) once it passes.
  std::string known_failure;
  /// Seconds before the case counts as a hang (0: the runner's default).
  int timeout_s = 0;

  Case& xfail(std::string why) {
    known_failure = std::move(why);
    return *this;
  }
  Case& timeout(int s) {
    timeout_s = s;
    return *this;
  }
};

/// The table (cases.cpp).
std::vector<Case> all_cases();

/// Runs one case in this process: a status word and what it got.
///   PASS, NO_ERROR (expected an error), WRONG_MESSAGE, WRONG_VALUE,
///   UNEXPECTED_ERROR (expected a value), FOREIGN_EXCEPTION (not kiln::Error)
std::pair<std::string, std::string> evaluate(const Case& c);

}  // namespace hostile
