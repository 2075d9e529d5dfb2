#include "kernel/kernel_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel/verify.h"
#include "kiln/error.h"

namespace kiln {

namespace {

// One line's tokens: words (names, numbers, %N, argN, reduce.sum) and the
// punctuation = : , { } [ ] as tokens of their own.
struct Line {
  int number = 0;
  std::vector<std::string_view> tokens;
};

bool is_punct(char c) { return c == '=' || c == ':' || c == ',' || c == '{' || c == '}' || c == '[' || c == ']'; }

std::vector<Line> tokenize(std::string_view text, int first_line) {
  std::vector<Line> lines;
  int number = first_line;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view s = text.substr(pos, end - pos);
    if (size_t hash = s.find('#'); hash != std::string_view::npos) s = s.substr(0, hash);
    Line line{number, {}};
    for (size_t i = 0; i < s.size();) {
      char c = s[i];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++i;
      } else if (is_punct(c)) {
        line.tokens.push_back(s.substr(i, 1));
        ++i;
      } else {
        size_t j = i;
        while (j < s.size() && !is_punct(s[j]) && s[j] != ' ' && s[j] != '\t' && s[j] != '\r') ++j;
        line.tokens.push_back(s.substr(i, j - i));
        i = j;
      }
    }
    if (!line.tokens.empty()) lines.push_back(std::move(line));
    ++number;
    pos = end + 1;
  }
  return lines;
}

// Reads one line's tokens left to right; every failure names the line and
// what was expected there.
class Cursor {
public:
  explicit Cursor(const Line& l) : l_(l) {}

  [[noreturn]] void fail(const std::string& expected) const {
    std::string got = i_ < l_.tokens.size() ? fmt::format("'{}'", l_.tokens[i_]) : "the end of the line";
    throw Error(fmt::format("line {}: expected {}, got {}", l_.number, expected, got));
  }
  bool at_end() const { return i_ >= l_.tokens.size(); }
  std::string_view peek() const { return at_end() ? std::string_view() : l_.tokens[i_]; }
  std::string_view next(const std::string& expected) {
    if (at_end()) fail(expected);
    return l_.tokens[i_++];
  }
  bool accept(std::string_view t) {
    if (peek() != t || at_end()) return false;
    ++i_;
    return true;
  }
  void expect(std::string_view t) {
    if (!accept(t)) fail(fmt::format("'{}'", t));
  }
  void expect_end() {
    if (!at_end()) fail("the end of the line");
  }
  int64_t integer(const std::string& expected, int64_t lo = 0) {
    if (at_end()) fail(expected);
    std::optional<int64_t> v = parse_int(peek());
    if (!v || *v < lo || *v > std::numeric_limits<int>::max()) fail(expected);
    ++i_;
    return *v;
  }
  /// "<prefix>N" (arg3, %12) -> N.
  int numbered(std::string_view prefix, const std::string& expected) {
    std::string_view t = peek();
    if (at_end() || t.substr(0, prefix.size()) != prefix) fail(expected);
    std::optional<int64_t> v = parse_int(t.substr(prefix.size()));
    if (!v || *v < 0 || *v > std::numeric_limits<int>::max()) fail(expected);
    ++i_;
    return int(*v);
  }
  DType dtype() {
    std::string_view t = next("a dtype (i1, i8, u8, i16, i32, i64, f16, bf16, f32, f64)");
    for (int d = 0; d < kNumDTypes; ++d)
      if (t == short_dtype_name(DType(d))) return DType(d);
    --i_;
    fail("a dtype (i1, i8, u8, i16, i32, i64, f16, bf16, f32, f64)");
  }
  int line() const { return l_.number; }

  static std::optional<int64_t> parse_int(std::string_view s) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
  }

private:
  const Line& l_;
  size_t i_ = 0;
};

// A literal as Scalar::str() prints it: true/false, an integer, or a float
// (nan, inf, -inf, or a decimal with '.' or an exponent).
Scalar literal(Cursor& c) {
  const char* what = "a constant (true, false, an integer, or a float like 0.5, 1e-05, nan, inf)";
  std::string_view t = c.next(what);
  if (t == "true") return Scalar(true);
  if (t == "false") return Scalar(false);
  if (t == "nan") return Scalar(std::numeric_limits<double>::quiet_NaN());
  if (t == "inf") return Scalar(std::numeric_limits<double>::infinity());
  if (t == "-inf") return Scalar(-std::numeric_limits<double>::infinity());
  if (t.find_first_of(".eE") == std::string_view::npos) {
    if (std::optional<int64_t> v = Cursor::parse_int(t)) return Scalar(*v);
  } else {
    std::string s(t);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    // strtod also takes "infinity" and hex floats; the printer makes neither.
    bool plain = s.find_first_not_of("0123456789.eE+-") == std::string::npos;
    if (plain && end == s.c_str() + s.size()) return Scalar(d);
  }
  throw Error(fmt::format("line {}: expected {}, got '{}'", c.line(), what, t));
}

const std::unordered_map<std::string_view, Op>& ops_by_name() {
  static const std::unordered_map<std::string_view, Op> m = [] {
    std::unordered_map<std::string_view, Op> by_name;
    constexpr int kNumOps = 0
#define OP(E, name, kind, arity, traits, attrs) +1
#include "graph/ops.def"
#undef OP
        ;
    for (int i = 0; i < kNumOps; ++i) by_name[op_name(Op(i))] = Op(i);
    return by_name;
  }();
  return m;
}

std::optional<ReduceOp> reduce_op(std::string_view s) {
  for (int r = 0; r <= int(ReduceOp::ArgMin); ++r)
    if (s == reduce_op_name(ReduceOp(r))) return ReduceOp(r);
  return std::nullopt;
}

// "%N" operands separated by commas, up to the ':' of the dtype (or a
// store's '[post]').
void operands(Cursor& c, Instr& in, bool leading_comma) {
  bool first = true;
  while (!c.at_end() && c.peek() != ":" && c.peek() != "[") {
    if (!first || leading_comma) c.expect(",");
    in.operands.push_back(c.numbered("%", "an operand (%N)"));
    first = false;
  }
}

void post_flag(Cursor& c, Instr& in) {
  if (c.accept("[")) {
    c.expect("post");
    c.expect("]");
    in.post_reduce = true;
  }
  c.expect_end();
}

Instr instruction(Cursor& c, size_t index) {
  Instr in;
  std::string_view head = c.peek();
  if (head == "store" || head == "store.add") {
    c.next("store");
    in.kind = Instr::Kind::Store;
    in.accumulate = head == "store.add";
    in.arg = c.numbered("arg", "an argument (argN)");
    // store argN[, %index...], %value: the value is printed last.
    operands(c, in, /*leading_comma=*/true);
    if (in.operands.empty()) c.fail("', %VALUE' (the stored value)");
    std::rotate(in.operands.begin(), in.operands.end() - 1, in.operands.end());
    post_flag(c, in);
    return in;
  }
  int id = c.numbered("%", fmt::format("an instruction ('%{} = ...' or 'store ...')", index));
  if (size_t(id) != index) {
    throw Error(fmt::format("line {}: expected %{} (instructions are numbered in order), got %{}", c.line(), index, id));
  }
  c.expect("=");
  std::string_view what = c.next("an op (load, const, param, reduce.OP, scan.OP or an op of the op table)");
  if (what == "load") {
    in.kind = Instr::Kind::Load;
    in.arg = c.numbered("arg", "an argument (argN)");
    operands(c, in, /*leading_comma=*/true);
  } else if (what == "const") {
    in.kind = Instr::Kind::Const;
    in.value = literal(c);
  } else if (what == "param") {
    in.kind = Instr::Kind::Const;
    in.param = int(c.integer("a param slot (an integer >= 0)"));
    in.value = Scalar(0.0);  // the launch gives the value
  } else if (what.rfind("reduce.", 0) == 0 || what.rfind("scan.", 0) == 0) {
    bool scan = what[0] == 's';
    std::optional<ReduceOp> r = reduce_op(what.substr(scan ? 5 : 7));
    if (!r) throw Error(fmt::format("line {}: unknown reduction '{}' (sum, prod, max, min, argmax, argmin)", c.line(), what));
    in.kind = scan ? Instr::Kind::Scan : Instr::Kind::Reduce;
    in.reduce = *r;
    in.operands.push_back(c.numbered("%", "an operand (%N)"));
  } else {
    auto it = ops_by_name().find(what);
    if (it == ops_by_name().end())
      throw Error(fmt::format("line {}: unknown op '{}' (not in the op table, graph/ops.def)", c.line(), what));
    in.kind = Instr::Kind::Compute;
    in.op = it->second;
    operands(c, in, /*leading_comma=*/false);
  }
  c.expect(":");
  in.dtype = c.dtype();
  post_flag(c, in);
  return in;
}

}  // namespace

Kernel parse_kernel(std::string_view text, int first_line) {
  std::vector<Line> lines = tokenize(text, first_line);
  if (lines.empty()) throw Error(fmt::format("line {}: expected 'kernel NAME rank=N {{', got no text", first_line));
  Kernel k;
  size_t li = 0;
  {
    Cursor c(lines[li++]);
    c.expect("kernel");
    std::string_view name = c.next("a kernel name");
    if (is_punct(name[0])) c.fail("a kernel name");
    k.name = std::string(name);
    c.expect("rank");
    c.expect("=");
    k.rank = int(c.integer("a rank (an integer >= 0)"));
    if (c.accept("reduce")) {
      c.expect("=");
      k.reduce_rank = int(c.integer("a number of reduced dims (an integer >= 1)", 1));
    }
    if (c.accept("serial")) k.serial = true;
    if (c.accept("contraction")) k.contraction = true;
    c.expect("{");
    c.expect_end();
  }
  // Arguments, then the body, then the closing brace.
  std::vector<int> line_of;  // of each instruction
  bool closed = false;
  for (; li < lines.size() && !closed; ++li) {
    Cursor c(lines[li]);
    if (c.accept("}")) {
      c.expect_end();
      closed = true;
      break;
    }
    if (k.body.empty() && c.peek().rfind("arg", 0) == 0) {
      int a = c.numbered("arg", "an argument (argN)");
      if (size_t(a) != k.args.size())
        throw Error(fmt::format("line {}: expected arg{} (arguments are numbered in order), got arg{}", c.line(),
                                k.args.size(), a));
      c.expect(":");
      KernelArg arg;
      std::string_view dir = c.next("'in', 'out' or 'pos'");
      if (dir != "in" && dir != "out" && dir != "pos") {
        throw Error(fmt::format("line {}: expected 'in', 'out' or 'pos', got '{}'", c.line(), dir));
      }
      arg.is_output = dir == "out";
      arg.position = dir == "pos";
      arg.dtype = c.dtype();
      c.expect("inner");
      c.expect("=");
      std::string_view inner = c.next("contig, bcast or strided");
      bool found = false;
      for (InnerStride s : {InnerStride::Contig, InnerStride::Bcast, InnerStride::General})
        if (inner == inner_stride_name(s)) {
          arg.inner = s;
          found = true;
        }
      if (!found) throw Error(fmt::format("line {}: expected contig, bcast or strided, got '{}'", c.line(), inner));
      if (c.accept("indices")) {
        c.expect("=");
        arg.num_index = int(c.integer("a number of index operands (an integer >= 1)", 1));
      }
      c.expect_end();
      k.args.push_back(arg);
      continue;
    }
    Instr in = instruction(c, k.body.size());
    // A store prints no dtype: it is the stored value's.
    if (in.kind == Instr::Kind::Store && in.operands[0] >= 0 && size_t(in.operands[0]) < k.body.size())
      in.dtype = k.body[size_t(in.operands[0])].dtype;
    k.body.push_back(std::move(in));
    line_of.push_back(c.line());
  }
  if (!closed) {
    int last = lines.back().number;
    throw Error(fmt::format("line {}: expected '}}' closing kernel {}, got the end of the text", last, k.name));
  }
  if (li + 1 < lines.size())
    throw Error(fmt::format("line {}: expected the end of the text after kernel {}'s '}}'", lines[li + 1].number,
                            k.name));
  try {
    verify_kernel(k);
  } catch (const KernelError& e) {
    int line = e.instr >= 0 ? line_of[size_t(e.instr)] : lines[0].number;
    throw Error(fmt::format("line {}: invalid kernel {}: {}{}", line, k.name,
                            e.instr >= 0 ? fmt::format("%{}: ", e.instr) : "", e.why));
  }
  return k;
}

}  // namespace kiln
