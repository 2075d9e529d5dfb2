#include "text/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "graph/builders.h"
#include "runtime/buffer.h"
#include "text/npy.h"

namespace kiln::text {

// ---------------------------------------------------------------------------
// Diagnostics

std::string format_diagnostic(std::string_view file, std::string_view source, int line, int column,
                              std::string_view message, std::string_view severity) {
  std::string s = fmt::format("{}:{}:{}: {}: {}\n", file, line, column, severity, message);
  // The source line, then a caret under the column (tabs kept for alignment).
  size_t begin = 0;
  for (int l = 1; l < line && begin != std::string_view::npos; ++l) {
    begin = source.find('\n', begin);
    if (begin != std::string_view::npos) ++begin;
  }
  if (begin == std::string_view::npos || begin > source.size()) return s;
  size_t end = source.find('\n', begin);
  std::string_view text = source.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.empty()) return s;  // the end of the file: nothing to point at
  std::string shown, caret;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    // Control bytes would garble the terminal: show them as '?'.
    char out = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : char(c);
    shown += out;
    if (int(i) < column - 1) caret += out == '\t' ? '\t' : ' ';
  }
  if (int(text.size()) < column - 1) caret += std::string(size_t(column - 1) - text.size(), ' ');
  s += shown + "\n" + caret + "^\n";
  return s;
}

namespace {

// ---------------------------------------------------------------------------
// Tokens

enum class Tok { Value, Ident, Number, String, Punct, Newline, End, Bad };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // Value: the name without '%'; String: the contents; Bad: the message
  int line = 1, col = 1;
};

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::Value: return "'%" + t.text + "'";
    case Tok::String: return "a string";
    case Tok::Newline: return "end of line";
    case Tok::End: return "end of file";
    default: return "'" + t.text + "'";
  }
}

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }
bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::vector<Token> lex(std::string_view s) {
  std::vector<Token> toks;
  int line = 1;
  size_t line_start = 0, i = 0;
  auto col = [&](size_t at) { return int(at - line_start) + 1; };
  while (i < s.size()) {
    char c = s[i];
    if (c == '\n') {
      toks.push_back({Tok::Newline, "\\n", line, col(i)});
      ++i;
      ++line;
      line_start = i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    size_t b = i;
    Token t{Tok::Bad, "", line, col(i)};
    if (c == '%') {
      ++i;
      while (i < s.size() && is_name_char(s[i])) ++i;
      if (i == b + 1) t.text = "expected a name after '%'";
      else t = {Tok::Value, std::string(s.substr(b + 1, i - b - 1)), line, col(b)};
    } else if (is_ident_start(c)) {
      while (i < s.size() && (is_name_char(s[i]))) ++i;
      t = {Tok::Ident, std::string(s.substr(b, i - b)), line, col(b)};
    } else if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1])) ||
               ((c == '-' || c == '+') && i + 1 < s.size() &&
                (is_digit(s[i + 1]) || s[i + 1] == '.' || s.compare(i + 1, 3, "inf") == 0 ||
                 s.compare(i + 1, 3, "nan") == 0))) {
      if (c == '-' || c == '+') ++i;
      if (s.compare(i, 3, "inf") == 0 || s.compare(i, 3, "nan") == 0) {
        i += 3;
      } else {
        while (i < s.size() && is_digit(s[i])) ++i;
        if (i < s.size() && s[i] == '.') {
          ++i;
          while (i < s.size() && is_digit(s[i])) ++i;
        }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
          size_t e = i + 1;
          if (e < s.size() && (s[e] == '-' || s[e] == '+')) ++e;
          if (e < s.size() && is_digit(s[e])) {
            i = e;
            while (i < s.size() && is_digit(s[i])) ++i;
          }
        }
      }
      if (i < s.size() && (is_name_char(s[i]))) {
        while (i < s.size() && is_name_char(s[i])) ++i;
        t.text = fmt::format("invalid number '{}'", s.substr(b, i - b));
      } else {
        t = {Tok::Number, std::string(s.substr(b, i - b)), line, col(b)};
      }
    } else if (c == '"') {
      ++i;
      std::string v;
      while (i < s.size() && s[i] != '"' && s[i] != '\n') {
        if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] != '\n') ++i;
        v += s[i++];
      }
      if (i < s.size() && s[i] == '"') {
        ++i;
        t = {Tok::String, v, line, col(b)};
      } else {
        t.text = "missing terminating '\"'";
      }
    } else if (std::strchr("=:,()[]{}", c)) {
      ++i;
      t = {Tok::Punct, std::string(1, c), line, col(b)};
    } else {
      unsigned char u = static_cast<unsigned char>(c);
      t.text = u >= 0x20 && u < 0x7f ? fmt::format("unexpected character '{}'", c)
                                     : fmt::format("unexpected byte 0x{:02x}", u);
      ++i;
    }
    toks.push_back(t);
    if (t.kind == Tok::Bad) {
      // Skip to the end of the line: one bad token per line is enough.
      while (i < s.size() && s[i] != '\n') ++i;
    }
  }
  toks.push_back({Tok::End, "", line, col(i)});
  return toks;
}

// ---------------------------------------------------------------------------
// Numbers

bool is_float_literal(const std::string& s) {
  return s.find_first_of(".eEni") != std::string::npos;  // '.', exponent, nan, inf
}

std::optional<int64_t> parse_int(const std::string& s) {
  std::string_view v = s;
  if (!v.empty() && v[0] == '+') v.remove_prefix(1);
  int64_t x;
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
  return x;
}

// Parses a floating literal as F; nullopt if it does not fit.
template <typename F> std::optional<F> parse_float(const std::string& s) {
  std::string_view v = s;
  bool neg = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  if (v == "inf") return neg ? -std::numeric_limits<F>::infinity() : std::numeric_limits<F>::infinity();
  if (v == "nan") return std::numeric_limits<F>::quiet_NaN();
  std::string t(v);
  if (!t.empty() && t[0] == '.') t = "0" + t;
  F x;
  auto r = std::from_chars(t.data(), t.data() + t.size(), x);
  if (r.ptr != t.data() + t.size()) return std::nullopt;
  if (r.ec == std::errc::result_out_of_range) {
    // Underflow rounds to zero or a subnormal; overflow does not fit.
    double d = std::strtod(t.c_str(), nullptr);
    if (std::isinf(d) || std::fabs(d) > double(std::numeric_limits<F>::max())) return std::nullopt;
    x = F(d);
  } else if (r.ec != std::errc()) {
    return std::nullopt;
  }
  return neg ? -x : x;
}

// ---------------------------------------------------------------------------
// The parser

struct Operand {
  Token tok;
  NodeRef node;                 // a value
  std::optional<Scalar> scalar; // or a number
};

struct AttrVal {
  Token name;
  Token at;  // where the value starts
  enum Kind { Number, List, Bool } kind = Number;
  Token number;
  std::vector<Token> list;
  bool b = false;
  bool used = false;
};

constexpr int kNumOps = 0
#define OP(E, name, kind, arity, traits, attrs) +1
#include "graph/ops.def"
#undef OP
    ;

// Elements and bytes beyond which a shape is refused (2^48 elements).
constexpr int64_t kMaxNumel = int64_t(1) << 48;

unsigned edit_distance(std::string_view a, std::string_view b) {
  std::vector<unsigned> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = unsigned(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = unsigned(i);
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0u : 1u)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

class Parser {
public:
  Parser(std::string_view src, const ParseOptions& opt) : src_(src), opt_(opt), toks_(lex(src)) {}

  Parsed run() {
    while (peek().kind != Tok::End) {
      if (peek().kind == Tok::Newline) {
        ++pos_;
        continue;
      }
      statement();
      end_of_statement();
    }
    if (out_.outputs.empty())
      fail(peek(), "the graph has no outputs: add a line 'output %name'");
    for (size_t i = 0; i < out_.inputs.size(); ++i) out_.inputs[i]->buffer = held_[i];
    return std::move(out_);
  }

private:
  // ---- tokens
  const Token& peek() const { return toks_[pos_]; }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (t.kind == Tok::Bad) fail(t, t.text);
    if (t.kind != Tok::End) ++pos_;
    return t;
  }
  bool is_punct(char c) const { return peek().kind == Tok::Punct && peek().text[0] == c; }
  bool accept(char c) {
    if (!is_punct(c)) return false;
    ++pos_;
    return true;
  }
  void expect(char c, std::string_view context) {
    if (peek().kind == Tok::Bad) next();
    if (!accept(c)) fail(peek(), fmt::format("expected '{}' {}, found {}", c, context, describe(peek())));
  }
  void skip_newlines() {
    while (peek().kind == Tok::Newline) ++pos_;
  }
  void end_of_statement() {
    if (peek().kind == Tok::Bad) next();
    if (peek().kind != Tok::Newline && peek().kind != Tok::End)
      fail(peek(), fmt::format("expected end of line, found {}", describe(peek())));
  }

  [[noreturn]] void fail(const Token& at, const std::string& msg, const Token* note = nullptr,
                         const std::string& note_msg = "") {
    std::string report = format_diagnostic(opt_.filename, src_, at.line, at.col, msg);
    if (note) report += format_diagnostic(opt_.filename, src_, note->line, note->col, note_msg, "note");
    throw ParseError(opt_.filename, at.line, at.col, msg, report);
  }

  // ---- statements
  void statement() {
    const Token& t = peek();
    if (t.kind == Tok::Ident && t.text == "output") {
      next();
      do {
        const Token& v = next();
        if (v.kind != Tok::Value) fail(v, fmt::format("expected a value to output, found {}", describe(v)));
        out_.outputs.push_back(use(v));
      } while (accept(','));
      return;
    }
    if (t.kind != Tok::Value) {
      if (t.kind == Tok::Ident)
        fail(t, fmt::format("expected '%name = ...' or 'output %name', found '{}' (value names start with '%')", t.text));
      next();  // reports a bad token
      fail(t, fmt::format("expected '%name = ...' or 'output %name', found {}", describe(t)));
    }
    Token name = next();
    if (auto it = defs_.find(name.text); it != defs_.end())
      fail(name, fmt::format("redefinition of '%{}'", name.text), &it->second, "previous definition is here");
    expect('=', fmt::format("after '%{}'", name.text));
    const Token& op = next();
    if (op.kind != Tok::Ident) fail(op, fmt::format("expected an op name or 'input' after '=', found {}", describe(op)));
    NodeRef n = op.text == "input" ? input(name) : operation(name, op);
    defs_.emplace(name.text, name);
    out_.values[name.text] = n;
    out_.names.emplace(n.get(), name.text);  // a value aliasing another keeps the first name
    out_.lines.emplace(n.get(), name.line);
  }

  NodeRef use(const Token& v) {
    auto it = out_.values.find(v.text);
    if (it == out_.values.end()) fail(v, fmt::format("use of undefined value '%{}'", v.text));
    return it->second;
  }

  // ---- types
  struct Type {
    DType dtype;
    Shape shape;
    Token at;
  };

  Type type() {
    if (peek().kind == Tok::Bad) next();
    Token t = peek();
    if (t.kind != Tok::Ident) fail(t, fmt::format("expected a type such as f32[4, 3], found {}", describe(t)));
    next();
    Type ty{kFloat32, {}, t};
    static const std::map<std::string, DType, std::less<>> shorts = {
        {"bool", kBool}, {"i1", kBool},  {"i8", kInt8},      {"u8", kUInt8},    {"i16", kInt16},
        {"i32", kInt32}, {"i64", kInt64}, {"f16", kFloat16}, {"bf16", kBFloat16}, {"f32", kFloat32},
        {"f64", kFloat64}};
    if (auto it = shorts.find(t.text); it != shorts.end()) {
      ty.dtype = it->second;
    } else {
      try {
        ty.dtype = dtype_from_name(t.text);
      } catch (const Error&) {
        fail(t, fmt::format("unknown type '{}' (expected bool, i8, u8, i16, i32, i64, f16, bf16, f32 or f64)", t.text));
      }
    }
    expect('[', fmt::format("after '{}' (a 0-dim value is {}[])", t.text, t.text));
    int64_t numel = 1;
    if (!accept(']')) {
      do {
        Token d = peek();
        std::optional<int64_t> v;
        if (d.kind == Tok::Number) v = parse_int(d.text);
        if (!v || *v < 0)
          fail(d, d.kind == Tok::Number ? fmt::format("invalid dimension size '{}'", d.text)
                                        : fmt::format("expected a dimension size, found {}", describe(d)));
        next();
        if (*v > kMaxNumel || (*v != 0 && numel > kMaxNumel / *v))
          fail(d, fmt::format("shape too large (more than 2^48 elements)"));
        numel *= *v;
        ty.shape.push_back(*v);
      } while (accept(','));
      expect(']', "to close the shape");
    }
    return ty;
  }

  // ---- numbers
  Scalar scalar(const Token& t) {
    if (t.kind == Tok::Ident && (t.text == "true" || t.text == "false")) return Scalar(t.text == "true");
    if (t.kind == Tok::Ident && (t.text == "inf" || t.text == "nan")) return Scalar(*parse_float<double>(t.text));
    if (t.kind != Tok::Number) fail(t, fmt::format("expected a number, found {}", describe(t)));
    if (!is_float_literal(t.text)) {
      if (auto v = parse_int(t.text)) return Scalar(*v);
      fail(t, fmt::format("integer '{}' out of range (64 bits)", t.text));
    }
    if (auto v = parse_float<double>(t.text)) return Scalar(*v);
    fail(t, fmt::format("number '{}' out of range", t.text));
  }

  int64_t integer(const Token& t, std::string_view what) {
    std::optional<int64_t> v;
    if (t.kind == Tok::Number && !is_float_literal(t.text)) v = parse_int(t.text);
    if (!v)
      fail(t, t.kind == Tok::Number && !is_float_literal(t.text)
                  ? fmt::format("integer '{}' out of range (64 bits)", t.text)
                  : fmt::format("expected an integer for {}, found {}", what, describe(t)));
    return *v;
  }

  // Writes the literal `t` as element i of a `dtype` buffer.
  void store(char* p, DType dtype, const Token& t) {
    bool boolean = t.kind == Tok::Ident && (t.text == "true" || t.text == "false");
    bool special = t.kind == Tok::Ident && (t.text == "inf" || t.text == "nan");
    if (t.kind != Tok::Number && !boolean && !special)
      fail(t, fmt::format("expected a number, found {}", describe(t)));
    std::string type = std::string(dtype_str(dtype));
    if (dtype == kBool) {
      std::optional<int64_t> v = boolean ? std::optional<int64_t>(t.text == "true") : std::nullopt;
      if (!boolean && t.kind == Tok::Number) v = parse_int(t.text);
      if (!v || (*v != 0 && *v != 1)) fail(t, fmt::format("expected true, false, 0 or 1 for bool data, found '{}'", t.text));
      *reinterpret_cast<bool*>(p) = *v != 0;
      return;
    }
    if (!is_floating(dtype)) {
      if (special || (t.kind == Tok::Number && is_float_literal(t.text)))
        fail(t, fmt::format("expected an integer for {} data, found '{}'", type, t.text));
      std::optional<int64_t> v = boolean ? std::optional<int64_t>(t.text == "true") : parse_int(t.text);
      if (!v) fail(t, fmt::format("integer '{}' out of range (64 bits)", t.text));
      visit_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_integral_v<T>) {
          if (*v < int64_t(std::numeric_limits<T>::min()) || *v > int64_t(std::numeric_limits<T>::max()))
            fail(t, fmt::format("value {} out of range for {}", *v, type));
          T x = T(*v);
          std::memcpy(p, &x, sizeof x);
        }
      });
      return;
    }
    if (boolean) fail(t, fmt::format("expected a number for {} data, found '{}'", type, t.text));
    if (dtype == kFloat64) {
      auto v = parse_float<double>(t.text);
      if (!v) fail(t, fmt::format("number '{}' out of range for f64", t.text));
      std::memcpy(p, &*v, sizeof(double));
      return;
    }
    auto v = parse_float<float>(t.text);
    bool fits = v.has_value();
    if (fits && dtype == kFloat16 && std::isfinite(*v) && std::fabs(*v) > 65504.0f) fits = false;
    if (!fits) fail(t, fmt::format("number '{}' out of range for {}", t.text, type));
    if (dtype == kFloat32) std::memcpy(p, &*v, sizeof(float));
    else if (dtype == kFloat16) {
      Half h(*v);
      std::memcpy(p, &h, sizeof h);
    } else {
      BFloat16 h(*v);
      std::memcpy(p, &h, sizeof h);
    }
  }

  // ---- inputs
  NodeRef input(const Token& name) {
    expect(':', "after 'input' (inputs need a type: %x = input : f32[4])");
    Type ty = type();
    InputDecl decl{name.text, ty.dtype, ty.shape, false};
    std::shared_ptr<Buffer> data;
    if (accept('=')) {
      decl.has_data = true;
      data = input_data(ty);
    }
    if (opt_.input_data) {
      try {
        if (auto b = opt_.input_data(decl)) data = b;
      } catch (const Error& e) {
        fail(name, e.what());
      }
    }
    if (!data) {
      // A placeholder: no storage (nothing reads it unless the graph runs).
      static char placeholder[64];
      data = Buffer::borrow(placeholder, 0);
    }
    NodeRef n = graph::buffer(data, ty.dtype, Layout::contiguous(ty.shape));
    if (opt_.requires_grad && opt_.requires_grad(decl)) n->requires_grad = n->grad_leaf = true;
    // While the text is read, inputs are not yet computed: views over them
    // stay view nodes (builders compute a view of a computed value at once,
    // which would forget its op) and print back as written.
    held_.push_back(n->buffer);
    n->buffer.reset();
    out_.inputs.push_back(n);
    out_.input_decls.push_back(decl);
    return n;
  }

  std::shared_ptr<Buffer> input_data(const Type& ty) {
    Token at = peek();
    if (at.kind == Tok::String) {
      next();
      std::filesystem::path p(at.text);
      if (p.is_relative() && !opt_.base_dir.empty()) p = std::filesystem::path(opt_.base_dir) / p;
      NpyArray a;
      try {
        a = read_npy(p.string());
      } catch (const Error& e) {
        fail(at, e.what());
      }
      if (a.dtype != ty.dtype || a.shape != ty.shape)
        fail(at, fmt::format("'{}' holds {}, but the input is declared {}", at.text, type_str(a.dtype, a.shape),
                             type_str(ty.dtype, ty.shape)));
      return a.data;
    }
    // A number or a (nested) list; newlines inside brackets are spaces.
    std::vector<Token> items;
    Shape shape;  // from the nesting
    if (!is_punct('[')) {
      Token t = peek();
      if (t.kind == Tok::Bad) next();
      if (t.kind != Tok::Number && t.kind != Tok::Ident)
        fail(t, fmt::format("expected the input's data (a number, a list or an .npy file name), found {}", describe(t)));
      next();
      items.push_back(t);
    } else {
      int leaf_depth = -1;
      data_list(0, items, shape, leaf_depth);
      if (leaf_depth >= 0 && int(shape.size()) != leaf_depth)
        fail(at, "the data list is not rectangular (numbers and lists at the same depth)");
    }
    int64_t numel = kiln::numel(ty.shape);
    bool nested_ok = shape == ty.shape;
    bool flat_ok = shape.size() == 1 && int64_t(items.size()) == numel;
    if (!nested_ok && !flat_ok)
      fail(at, fmt::format("the data has shape {} ({} numbers) but the input is declared {}", shape_str(shape),
                           items.size(), type_str(ty.dtype, ty.shape)));
    int64_t es = element_size(ty.dtype);
    auto buf = Buffer::allocate_elements(numel, es);
    char* p = static_cast<char*>(buf->data());
    for (size_t i = 0; i < items.size(); ++i) store(p + int64_t(i) * es, ty.dtype, items[i]);
    return buf;
  }

  // A '[' ... ']' list at nesting depth d: its numbers go to `items`, the
  // length of the lists at each depth to `shape` (equal for siblings).
  void data_list(size_t d, std::vector<Token>& items, Shape& shape, int& leaf_depth) {
    Token open = next();  // '['
    if (d >= 64) fail(open, "the data list is nested too deeply (more than 64 levels)");
    skip_newlines();
    int64_t count = 0;
    if (!accept(']')) {
      while (true) {
        skip_newlines();
        if (peek().kind == Tok::Bad) next();
        if (is_punct('[')) {
          data_list(d + 1, items, shape, leaf_depth);
        } else {
          Token t = peek();
          if (t.kind != Tok::Number && t.kind != Tok::Ident)
            fail(t, fmt::format("expected a number or '[' in the data list, found {}", describe(t)), &open,
                 "the list starts here");
          if (leaf_depth >= 0 && leaf_depth != int(d) + 1)
            fail(t, "the data list is not rectangular (numbers at different depths)");
          leaf_depth = int(d) + 1;
          next();
          items.push_back(t);
        }
        ++count;
        skip_newlines();
        if (accept(',')) continue;
        if (accept(']')) break;
        if (peek().kind == Tok::Bad) next();
        fail(peek(), fmt::format("expected ',' or ']' in the data list, found {}", describe(peek())), &open,
             "the list starts here");
      }
    }
    if (shape.size() <= d) shape.resize(d + 1, -1);
    if (shape[d] == -1) shape[d] = count;
    else if (shape[d] != count)
      fail(open, fmt::format("the data list is not rectangular: this list has {} elements, an earlier one at the "
                             "same depth has {}", count, shape[d]));
  }

  // ---- ops
  NodeRef operation(const Token& name, const Token& op_tok) {
    Op op = find_op(op_tok);
    std::vector<Operand> args;
    if (accept('(')) {
      if (!accept(')')) {
        do {
          if (peek().kind == Tok::Bad) next();
          Token t = peek();
          if (t.kind == Tok::Value) {
            next();
            args.push_back({t, use(t), std::nullopt});
          } else if (t.kind == Tok::Number || (t.kind == Tok::Ident && (t.text == "true" || t.text == "false" ||
                                                                        t.text == "inf" || t.text == "nan"))) {
            next();
            args.push_back({t, nullptr, scalar(t)});
          } else {
            fail(t, fmt::format("expected an operand (%name or a number), found {}", describe(t)));
          }
        } while (accept(','));
        expect(')', "to close the operands");
      }
    }
    std::map<std::string, AttrVal> attrs;
    if (accept('{')) {
      if (!accept('}')) {
        do {
          if (peek().kind == Tok::Bad) next();
          Token an = peek();
          if (an.kind != Tok::Ident) fail(an, fmt::format("expected an attribute name, found {}", describe(an)));
          next();
          if (attrs.count(an.text)) fail(an, fmt::format("attribute '{}' given twice", an.text));
          expect('=', fmt::format("after attribute '{}'", an.text));
          attrs[an.text] = attr_value(an);
        } while (accept(','));
        expect('}', "to close the attributes");
      }
    }
    expect(':', fmt::format("before the result type of '{}' (every op declares it: %y = {}(...) : f32[4])",
                            op_tok.text, op_tok.text));
    Type ty = type();
    NodeRef n = build(op, op_tok, args, attrs, ty);
    if (n->dtype != ty.dtype || n->shape != ty.shape)
      fail(ty.at, fmt::format("'{}' gives {}, but the declared type is {}", op_tok.text, type_str(n->dtype, n->shape),
                              type_str(ty.dtype, ty.shape)));
    return n;
  }

  AttrVal attr_value(const Token& name) {
    AttrVal a;
    a.name = name;
    a.at = peek();
    if (accept('[')) {
      a.kind = AttrVal::List;
      if (!accept(']')) {
        do {
          if (peek().kind == Tok::Bad) next();
          a.list.push_back(peek());
          if (peek().kind != Tok::Number)
            fail(peek(), fmt::format("expected an integer in the list of '{}', found {}", name.text, describe(peek())));
          next();
        } while (accept(','));
        expect(']', fmt::format("to close the list of '{}'", name.text));
      }
      return a;
    }
    if (peek().kind == Tok::Bad) next();
    const Token& t = peek();
    if (t.kind == Tok::Ident && (t.text == "true" || t.text == "false")) {
      a.kind = AttrVal::Bool;
      a.b = t.text == "true";
      a.number = t;
    } else if (t.kind == Tok::Number || (t.kind == Tok::Ident && (t.text == "inf" || t.text == "nan"))) {
      a.number = t;
    } else {
      fail(t, fmt::format("expected a value for attribute '{}' (a number, true/false or a list), found {}", name.text,
                          describe(t)));
    }
    next();
    return a;
  }

  Op find_op(const Token& t) {
    static const std::map<std::string, Op, std::less<>> ops = [] {
      std::map<std::string, Op, std::less<>> m;
      for (int i = 0; i < kNumOps; ++i) m[op_name(Op(i))] = Op(i);
      return m;
    }();
    auto it = ops.find(t.text);
    if (it != ops.end() && is_primitive(it->second))
      fail(t, "'" + t.text + "' is a Kernel IR primitive, not a graph op");
    if (it != ops.end() && it->second != Op::Buffer) return it->second;
    if (t.text == "buffer") fail(t, "'buffer' is not an op: write a realized value as '%x = input : f32[4]'");
    // The closest name within 2 edits (ties: the one with the same first letter).
    std::string best;
    unsigned score = 5;
    auto consider = [&](const std::string& name) {
      unsigned s = 2 * edit_distance(t.text, name) + (name[0] != t.text[0]);
      if (s < score) score = s, best = name;
    };
    for (auto& [name, op] : ops)
      if (op != Op::Buffer) consider(name);
    consider("input");
    fail(t, best.empty() ? fmt::format("unknown op '{}'", t.text)
                         : fmt::format("unknown op '{}'; did you mean '{}'?", t.text, best));
  }

  // ---- building one op through graph/builders.h
  struct Ctx {
    Parser& p;
    Op op;
    const Token& op_tok;
    std::vector<Operand>& args;
    std::map<std::string, AttrVal>& attrs;
    const Type& ty;
    const char* name() const { return op_name(op); }

    AttrVal* find(const char* a) {
      auto it = attrs.find(a);
      if (it == attrs.end()) return nullptr;
      it->second.used = true;
      return &it->second;
    }
    AttrVal& need(const char* a) {
      AttrVal* v = find(a);
      if (!v) p.fail(op_tok, fmt::format("'{}' needs attribute '{}'", name(), a));
      return *v;
    }
    int64_t get_int(AttrVal& v) {
      if (v.kind != AttrVal::Number) p.fail(v.at, fmt::format("attribute '{}' must be an integer", v.name.text));
      return p.integer(v.number, "'" + v.name.text + "'");
    }
    int64_t get_int(const char* a) { return get_int(need(a)); }
    int64_t get_int(const char* a, int64_t dflt) {
      AttrVal* v = find(a);
      return v ? get_int(*v) : dflt;
    }
    Shape get_ints(AttrVal& v) {
      if (v.kind != AttrVal::List)
        p.fail(v.at, fmt::format("attribute '{}' must be a list of integers ([1, 2])", v.name.text));
      Shape s;
      for (const Token& t : v.list) s.push_back(p.integer(t, "'" + v.name.text + "'"));
      return s;
    }
    Shape get_ints(const char* a) { return get_ints(need(a)); }
    std::optional<Shape> maybe_ints(const char* a) {
      AttrVal* v = find(a);
      if (!v) return std::nullopt;
      return get_ints(*v);
    }
    bool get_bool(const char* a, bool dflt) {
      AttrVal* v = find(a);
      if (!v) return dflt;
      if (v->kind != AttrVal::Bool) p.fail(v->at, fmt::format("attribute '{}' must be true or false", a));
      return v->b;
    }
    Scalar get_scalar(const char* a) {
      AttrVal& v = need(a);
      if (v.kind == AttrVal::List) p.fail(v.at, fmt::format("attribute '{}' must be a number", a));
      return p.scalar(v.number);
    }
    NodeRef node(size_t i) {
      if (!args[i].node)
        p.fail(args[i].tok, fmt::format("operand {} of '{}' must be a value (%name), not a number", i + 1, name()));
      return args[i].node;
    }
    graph::Operand operand(size_t i) {
      if (args[i].node) return graph::Operand(args[i].node);
      return graph::Operand(*args[i].scalar);
    }
    [[noreturn]] void fail(const std::string& msg) { p.fail(op_tok, fmt::format("{}: {}", name(), msg)); }
    [[noreturn]] void fail_at(const AttrVal* v, const std::string& msg) {
      p.fail(v ? v->at : op_tok, fmt::format("{}: {}", name(), msg));
    }
  };

  // Which attributes each op takes (the parser rejects others): the fields
  // of its attribute struct (ops.def names it; graph/attrs.h lists them).
  static std::vector<const char*> allowed_attrs(Op op) {
    std::vector<const char*> names;
    Attrs a = default_attrs(op);
    for_each_field(a, [&](const char* name, const auto&) { names.push_back(name); });
    return names;
  }

  // An attribute's value has its field's type: a list for a Shape, true or
  // false for a bool, a number otherwise (integers are checked where read).
  void check_attr_type(Op op, const AttrVal& v) {
    Attrs a = default_attrs(op);
    for_each_field(a, [&](const char* name, const auto& field) {
      if (v.name.text != name) return;
      using T = std::remove_cvref_t<decltype(field)>;
      if constexpr (std::is_same_v<T, Shape>) {
        if (v.kind != AttrVal::List) fail(v.at, fmt::format("attribute '{}' must be a list of integers ([1, 2])", name));
      } else if constexpr (std::is_same_v<T, bool>) {
        if (v.kind != AttrVal::Bool) fail(v.at, fmt::format("attribute '{}' must be true or false", name));
      } else if constexpr (std::is_same_v<T, int64_t>) {
        if (v.kind != AttrVal::Number) fail(v.at, fmt::format("attribute '{}' must be an integer", name));
      } else {  // a Scalar: a number, or true/false
        if (v.kind == AttrVal::List) fail(v.at, fmt::format("attribute '{}' must be a number", name));
      }
    });
  }

  NodeRef build(Op op, const Token& op_tok, std::vector<Operand>& args, std::map<std::string, AttrVal>& attrs,
                const Type& ty) {
    // Arity (ops.def), then attribute names.
    int arity = op_info(op).arity;
    int min_arity = op == Op::Index ? 2 : op == Op::IndexPut ? 3 : 1;
    if (arity >= 0 && int(args.size()) != arity)
      fail(op_tok, fmt::format("'{}' takes {} operand{}, got {}", op_tok.text, arity, arity == 1 ? "" : "s",
                               args.size()));
    if (arity < 0 && int(args.size()) < min_arity)
      fail(op_tok, fmt::format("'{}' takes at least {} operands, got {}", op_tok.text, min_arity, args.size()));
    std::vector<const char*> allowed = allowed_attrs(op);
    for (auto& [an, v] : attrs)
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return an == a; }))
        fail(v.name, allowed.empty()
                         ? fmt::format("'{}' takes no attributes", op_tok.text)
                         : fmt::format("'{}' has no attribute '{}' (its attributes: {})", op_tok.text, an,
                                       fmt::join(allowed, ", ")));
    for (auto& [an, v] : attrs) check_attr_type(op, v);
    Ctx c{*this, op, op_tok, args, attrs, ty};
    try {
      return build_op(c);
    } catch (const ParseError&) {
      throw;
    } catch (const Error& e) {
      // A builder's shape/dtype rule: reported at the op.
      fail(op_tok, e.what());
    } catch (const std::exception& e) {
      fail(op_tok, fmt::format("{}: invalid operands ({})", op_tok.text, e.what()));
    }
  }

  // An index map's entries: -1 or a dim of a rank-`rank` value.
  static void check_dims_in(Ctx& c, const Shape& v, int64_t rank, bool allow_minus1, const char* what) {
    for (int64_t d : v)
      if (d < (allow_minus1 ? -1 : 0) || d >= rank)
        c.fail_at(c.find(what), fmt::format("'{}' entry {} is not {}a dim of the source (rank {})", what, d,
                                            allow_minus1 ? "-1 or " : "", rank));
  }

  // Checks index/index_put addressing: map (over the iteration shape) and
  // sel (one source dim per index operand), each source dim used once.
  static void check_addressing(Ctx& c, const NodeRef& src, const Shape& iter, const Shape& map, const Shape& sel,
                               const std::vector<NodeRef>& idx) {
    int64_t rank = int64_t(src->shape.size());
    if (map.size() != iter.size())
      c.fail_at(c.find("map"), fmt::format("'map' needs one entry per dim of {} ({}), got {}", shape_str(iter),
                                           iter.size(), map.size()));
    if (sel.size() != idx.size())
      c.fail_at(c.find("sel"), fmt::format("'sel' needs one dim per index operand ({}), got {}", idx.size(), sel.size()));
    check_dims_in(c, map, rank, true, "map");
    check_dims_in(c, sel, rank, false, "sel");
    std::vector<int> uses(size_t(rank), 0);
    for (int64_t d : map)
      if (d >= 0) uses[size_t(d)]++;
    for (int64_t d : sel) uses[size_t(d)]++;
    for (int64_t d = 0; d < rank; ++d)
      if (uses[size_t(d)] > 1) c.fail(fmt::format("source dim {} is addressed twice by 'map' and 'sel'", d));
    for (size_t o = 0; o < iter.size(); ++o)
      if (map[o] >= 0 && iter[o] > src->shape[size_t(map[o])])
        c.fail(fmt::format("dim {} of size {} walks source dim {} of size {}", o, iter[o], map[o],
                           src->shape[size_t(map[o])]));
    for (size_t k = 0; k < idx.size(); ++k)
      if (idx[k]->dtype != kInt64 || idx[k]->shape != iter)
        c.fail(fmt::format("index operand {} must be {}, got {}", k + 1, type_str(kInt64, iter),
                           type_str(idx[k]->dtype, idx[k]->shape)));
    if (kiln::numel(iter) > 0 && src->numel() == 0) c.fail("indexing a value with no elements");
  }

  // A strided view `l` must stay within `numel` elements.
  static void check_layout(Ctx& c, const Layout& l, int64_t numel, const char* over) {
    if (l.strides.size() != l.shape.size())
      c.fail_at(c.find("strides"), fmt::format("'strides' needs one entry per dim of the shape {}, got {}",
                                               shape_str(l.shape), l.strides.size()));
    __int128 lo = l.offset, hi = l.offset, count = 1;
    for (size_t d = 0; d < l.shape.size(); ++d) {
      if (l.shape[d] < 0) c.fail(fmt::format("invalid size {} in shape {}", l.shape[d], shape_str(l.shape)));
      count *= l.shape[d];
      if (count > kMaxNumel) c.fail(fmt::format("shape {} is too large", shape_str(l.shape)));
      if (l.shape[d] == 0) continue;
      __int128 span = __int128(l.shape[d] - 1) * l.strides[d];
      (span < 0 ? lo : hi) += span;
    }
    if (count > 0 && (lo < 0 || hi >= numel))
      c.fail(fmt::format("the view (shape {}, strides {}, offset {}) reaches outside the {} elements of {}",
                         shape_str(l.shape), shape_str(l.strides), l.offset, numel, over));
  }

  NodeRef build_op(Ctx& c) {
    const Op op = c.op;
    const Type& ty = c.ty;
    switch (op_info(op).kind) {
      case OpKind::Leaf:  // full (buffer is refused by find_op)
        return graph::full(c.get_scalar("value"), ty.dtype, ty.shape);
      case OpKind::Random:
        if (!is_floating(ty.dtype)) c.fail(fmt::format("{} gives a floating point type, not {}", op_name(op), name(ty.dtype)));
        return graph::random(op, ty.dtype, ty.shape, uint64_t(c.get_int("seed")), uint64_t(c.get_int("offset")));
      case OpKind::Elementwise:
        if (op == Op::Cast) return graph::cast(c.node(0), ty.dtype);
        if (op == Op::Copy) return graph::copy(c.node(0));
        if (op == Op::Where) return graph::where(c.node(0), c.operand(1), c.operand(2));
        if (op_info(op).arity == 2) {
          if (!c.args[0].node && !c.args[1].node) c.fail("at least one operand must be a value (%name)");
          return graph::binary(op, c.operand(0), c.operand(1));
        }
        return graph::unary(op, c.node(0));
      case OpKind::Reduce:
      case OpKind::Scan: {
        NodeRef x = c.node(0);
        Shape dims;
        if (op == Op::Cumsum) {
          dims = {c.get_int("dim")};
        } else if (auto d = c.maybe_ints("dims")) {
          dims = *d;
        } else {
          for (int64_t d = 0; d < int64_t(x->shape.size()); ++d) dims.push_back(d);
        }
        // The declared type is the accumulator when it is the operand's
        // (dtype=), else the default rule applies (and is checked).
        std::optional<DType> acc;
        if ((op == Op::Sum || op == Op::Prod || op == Op::Cumsum) && ty.dtype == x->dtype) acc = ty.dtype;
        return graph::reduce(op, x, dims, acc);
      }
      case OpKind::View: {
        NodeRef x = c.node(0);
        switch (op) {
          case Op::Reshape: {
            auto s = c.maybe_ints("shape");
            Shape to = graph::infer_shape(s ? *s : ty.shape, x->numel(), "reshape");
            // The exact node when strides can express it (also a no-op
            // reshape), else PyTorch's reshape: a copy, then the view.
            return graph::layout_of(x).reshape(to) ? graph::view(x, to) : graph::reshape(x, to);
          }
          case Op::Permute: return graph::permute(x, c.get_ints("dims"));
          case Op::Expand: {
            auto s = c.maybe_ints("shape");
            Shape to = s ? *s : ty.shape;
            for (int64_t d : to)
              if (d < -1 || d > kMaxNumel) c.fail_at(c.find("shape"), fmt::format("invalid size {} in {}", d, shape_str(to)));
            return graph::expand(x, to);
          }
          case Op::Slice: {
            if (x->shape.empty()) c.fail("cannot slice a 0-dim value");
            int64_t dim = wrap_dim(c.get_int("dim"), int64_t(x->shape.size()), "slice");
            int64_t start = c.get_int("start"), length = c.get_int("length"), step = c.get_int("step", 1);
            int64_t size = x->shape[size_t(dim)];
            if (step == 0) c.fail_at(c.find("step"), "step must not be 0");
            if (length < 0) c.fail_at(c.find("length"), fmt::format("length {} is negative", length));
            __int128 last = __int128(start) + __int128(length - 1) * step;
            bool ok = length == 0 ? (start >= 0 && start <= size)
                                  : (start >= 0 && start < size && last >= 0 && last < size);
            if (!ok)
              c.fail(fmt::format("elements start={}, length={}, step={} are not all within dim {} of size {}", start,
                                 length, step, dim, size));
            return graph::slice(x, dim, start, length, step);
          }
          case Op::Detach: return graph::detach(x);
          case Op::AsStrided: {
            auto s = c.maybe_ints("shape");
            Layout l{s ? *s : ty.shape, c.get_ints("strides"), c.get_int("offset", 0)};
            check_layout(c, l, x->numel(), "the operand");
            return graph::as_strided(x, l);
          }
          default: break;
        }
        break;
      }
      case OpKind::Scatter: {
        if (op == Op::Cat) {
          std::vector<NodeRef> xs;
          for (size_t i = 0; i < c.args.size(); ++i) xs.push_back(c.node(i));
          return graph::cat(xs, c.get_int("dim", 0));
        }
        if (op == Op::ViewScatter) {
          NodeRef base = c.node(0), src = c.node(1);
          auto s = c.maybe_ints("shape");
          Layout l{s ? *s : src->shape, c.get_ints("strides"), c.get_int("offset", 0)};
          if (l.shape != src->shape)
            c.fail(fmt::format("the view's shape {} is not the source's {}", shape_str(l.shape), shape_str(src->shape)));
          check_layout(c, l, base->numel(), "the base");
          return graph::view_scatter(base, src, l);
        }
        if (op == Op::IndexPut) {
          NodeRef base = c.node(0), value = c.node(1);
          std::vector<NodeRef> idx;
          for (size_t i = 2; i < c.args.size(); ++i) idx.push_back(c.node(i));
          Shape map = c.get_ints("map"), sel = c.get_ints("sel");
          const Shape& iter = idx[0]->shape;
          check_addressing(c, base, iter, map, sel, idx);
          if (graph::broadcast(value->shape, iter, "index_put") != iter)
            c.fail(fmt::format("value of shape {} does not broadcast to the index shape {}", shape_str(value->shape),
                               shape_str(iter)));
          return graph::index_put(base, value, idx, map, sel, c.get_bool("accumulate", false));
        }
        break;
      }
      case OpKind::Gather: {
        NodeRef src = c.node(0);
        std::vector<NodeRef> idx;
        for (size_t i = 1; i < c.args.size(); ++i) idx.push_back(c.node(i));
        Shape map = c.get_ints("map"), sel = c.get_ints("sel");
        check_addressing(c, src, ty.shape, map, sel, idx);
        return graph::index(src, idx, map, sel, ty.shape);
      }
      case OpKind::Primitive: break;  // refused by find_op
    }
    c.fail("internal: no text form for this op");
  }

  std::string_view src_;
  const ParseOptions& opt_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  Parsed out_;
  std::unordered_map<std::string, Token> defs_;
  std::vector<std::shared_ptr<Buffer>> held_;  // the inputs' buffers, while parsing
};

}  // namespace

bool Parsed::has_storage(const Node& n) const {
  if (!n.realized()) return true;
  return n.numel() == 0 || (n.buffer && int64_t(n.buffer->bytes()) >= n.numel() * element_size(n.dtype));
}

Parsed parse(std::string_view source, const ParseOptions& options) {
  Parser p(source, options);
  return p.run();
}

}  // namespace kiln::text
