// The textual graph IR (lib/text): printing a parsed file gives the same
// text, parsing a printed graph gives the same graph, errors are reported
// like a compiler's, and no input crashes the parser.
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "passes/passes.h"
#include "runtime/buffer.h"
#include "schedule/schedule.h"
#include "tensor/tensor_impl.h"
#include "text/npy.h"
#include "text/parser.h"
#include "text/printer.h"

namespace {

using kiln::NodeRef;
namespace text = kiln::text;

// Every op of ops.def but buffer (written as input), in canonical form.
const char* kEveryOp = R"(%x = input : f32[2, 3] = [[1, -2.5, 3], [0.5, 4, -1]]
%y = input : f32[2, 3] = [[2, 2, 2], [3, 3, 3]]
%k = input : i32[2, 3] = [[7, -7, 3], [4, 5, -6]]
%c = input : bool[2, 3] = [[true, false, true], [false, true, false]]
%i = input : i64[2, 2] = [[2, 0], [1, 1]]
%big = input : f16[64]
%c3 = full {value = true} : bool[]
%rand = rand {seed = 5, offset = 3} : f32[2, 3]
%randn = randn {seed = 5, offset = 9} : f64[4]
%cast = cast(%x) : f64[2, 3]
%copy = copy(%x) : f32[2, 3]
%neg = neg(%x) : f32[2, 3]
%abs = abs(%x) : f32[2, 3]
%sqrt = sqrt(%y) : f32[2, 3]
%exp = exp(%x) : f32[2, 3]
%log = log(%y) : f32[2, 3]
%sin = sin(%x) : f32[2, 3]
%cos = cos(%x) : f32[2, 3]
%tan = tan(%x) : f32[2, 3]
%tanh = tanh(%x) : f32[2, 3]
%sigmoid = sigmoid(%x) : f32[2, 3]
%relu = relu(%x) : f32[2, 3]
%not = logical_not(%c) : bool[2, 3]
%exp2 = exp2(%x) : f32[2, 3]
%log2 = log2(%y) : f32[2, 3]
%log1p = log1p(%y) : f32[2, 3]
%expm1 = expm1(%x) : f32[2, 3]
%erf = erf(%x) : f32[2, 3]
%sign = sign(%x) : f32[2, 3]
%floor = floor(%x) : f32[2, 3]
%ceil = ceil(%x) : f32[2, 3]
%round = round(%x) : f32[2, 3]
%trunc = trunc(%x) : f32[2, 3]
%add = add(%x, %y) : f32[2, 3]
%c1 = full {value = 1.5} : f32[]
%sub = sub(%x, %c1) : f32[2, 3]
%mul = mul(%x, %y) : f32[2, 3]
%div = div(%x, %y) : f32[2, 3]
%pow = pow(%y, %x) : f32[2, 3]
%atan2 = atan2(%x, %y) : f32[2, 3]
%hypot = hypot(%x, %y) : f32[2, 3]
%lae = logaddexp(%x, %y) : f32[2, 3]
%c2 = full {value = 2} : i32[2, 3]
%rem = remainder(%k, %c2) : i32[2, 3]
%fmod = fmod(%k, %c2) : i32[2, 3]
%fdiv = floor_divide(%k, %c2) : i32[2, 3]
%tdiv = trunc_divide(%k, %c2) : i32[2, 3]
%max = maximum(%x, %y) : f32[2, 3]
%min = minimum(%x, %y) : f32[2, 3]
%cmin = clamp_min(%x, %c1) : f32[2, 3]
%cmax = clamp_max(%x, %c1) : f32[2, 3]
%eq = eq(%x, %y) : bool[2, 3]
%ne = ne(%x, %y) : bool[2, 3]
%lt = lt(%x, %y) : bool[2, 3]
%le = le(%x, %y) : bool[2, 3]
%gt = gt(%x, %y) : bool[2, 3]
%ge = ge(%x, %y) : bool[2, 3]
%where = where(%c, %x, %y) : f32[2, 3]
%sum = sum(%x) {dims = [1]} : f32[2, 1]
%prod = prod(%x) {dims = [0, 1]} : f32[1, 1]
%amax = amax(%x) {dims = [0]} : f32[1, 3]
%amin = amin(%x) {dims = [1]} : f32[2, 1]
%argmax = argmax(%x) {dims = [1]} : i64[2, 1]
%argmin = argmin(%x) {dims = [0]} : i64[1, 3]
%cumsum = cumsum(%x) {dim = 1} : f32[2, 3]
%isum = sum(%k) {dims = [0]} : i32[1, 3]
%index = index(%x, %i) {map = [0, -1], sel = [1]} : f32[2, 2]
%put = index_put(%x, %index, %i) {map = [0, -1], sel = [1], accumulate = true} : f32[2, 3]
%reshape = reshape(%x) {shape = [3, 2]} : f32[3, 2]
%permute = permute(%x) {dims = [1, 0]} : f32[3, 2]
%expand = expand(%sum) {shape = [2, 3]} : f32[2, 3]
%slice = slice(%x) {dim = 1, start = 2, length = 2, step = -1} : f32[2, 2]
%detach = detach(%x) : f32[2, 3]
%strided = as_strided(%x) {shape = [2, 2], strides = [1, 2], offset = 1} : f32[2, 2]
%scatter = view_scatter(%x, %strided) {shape = [2, 2], strides = [3, 1], offset = 0} : f32[2, 3]
%cat = cat(%x, %y) {dim = 0} : f32[4, 3]
%half = sqrt(%big) : f16[64]
output %c3, %rand, %randn, %cast, %copy, %neg, %abs, %sqrt, %exp, %log, %sin, %cos, %tan, %tanh, %sigmoid, %relu, %not, %exp2, %log2, %log1p, %expm1, %erf, %sign, %floor, %ceil, %round, %trunc, %add, %sub, %mul, %div, %pow, %atan2, %hypot, %lae, %rem, %fmod, %fdiv, %tdiv, %max, %min, %cmin, %cmax, %eq, %ne, %lt, %le, %gt, %ge, %where, %sum, %prod, %amax, %amin, %argmax, %argmin, %cumsum, %isum, %index, %put, %reshape, %permute, %expand, %slice, %detach, %strided, %scatter, %cat, %half
)";

std::string print_parsed(const text::Parsed& p) {
  text::PrintOptions o;
  o.names = &p.names;
  o.inputs = p.inputs;
  return text::print(p.outputs, o);
}

std::string roundtrip(const std::string& src) { return print_parsed(text::parse(src)); }

// The values of a computed node, as doubles, in row-major order.
std::vector<double> values_of(const NodeRef& n) {
  return kiln::wrap(n).to(kiln::kFloat64).contiguous().to_vector<double>();
}

bool same_scalar(const kiln::Scalar& a, const kiln::Scalar& b) {
  if (a.is_floating() && b.is_floating() && std::isnan(a.to_double()) && std::isnan(b.to_double())) return true;
  return a == b;
}

// Structural equality: the same ops, types, attributes and sharing.
// Computed nodes are inputs: their types and (when both have them) values.
::testing::AssertionResult same_graph(const std::vector<NodeRef>& a, const std::vector<NodeRef>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "different numbers of outputs";
  std::unordered_map<const kiln::Node*, const kiln::Node*> map, back;
  std::function<std::string(const NodeRef&, const NodeRef&)> eq = [&](const NodeRef& x, const NodeRef& y) -> std::string {
    if (auto it = map.find(x.get()); it != map.end()) return it->second == y.get() ? "" : "different sharing";
    if (back.count(y.get())) return "different sharing";
    map[x.get()] = y.get();
    back[y.get()] = x.get();
    std::string where = std::string(kiln::op_name(x->op)) + " vs " + kiln::op_name(y->op);
    if (x->dtype != y->dtype || x->shape != y->shape) return "types differ at " + where;
    if (x->realized() != y->realized()) return "computed vs not at " + where;
    if (x->realized()) {
      bool xs = x->buffer->bytes() > 0, ys = y->buffer->bytes() > 0;
      if (xs && ys && x->numel() <= 32 && values_of(x) != values_of(y)) return "values differ at " + where;
      return "";
    }
    if (x->op != y->op || x->inputs.size() != y->inputs.size()) return "ops differ: " + where;
    bool full = x->op == kiln::Op::Full;
    if (full ? !same_scalar(x->attr<kiln::FullAttrs>().value, y->attr<kiln::FullAttrs>().value)
             : kiln::attrs_str(x->attrs) != kiln::attrs_str(y->attrs))
      return "attributes differ at " + where;
    for (size_t i = 0; i < x->inputs.size(); ++i)
      if (std::string e = eq(x->inputs[i], y->inputs[i]); !e.empty()) return e;
    return "";
  };
  for (size_t i = 0; i < a.size(); ++i)
    if (std::string e = eq(a[i], b[i]); !e.empty()) return ::testing::AssertionFailure() << e;
  return ::testing::AssertionSuccess();
}

std::vector<NodeRef> nodes(const std::vector<kiln::Tensor>& ts) {
  std::vector<NodeRef> out;
  for (auto& t : ts) out.push_back(kiln::node_of(t));
  return out;
}

// The report parse() gives for `src` (named t.kiln), or "" if it parses.
std::string error_of(const std::string& src) {
  text::ParseOptions o;
  o.filename = "t.kiln";
  try {
    text::parse(src, o);
  } catch (const text::ParseError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---- printing a parsed file gives the same text

TEST(Text, EveryOpRoundTrips) {
  EXPECT_EQ(roundtrip(kEveryOp), kEveryOp);
  // And every op of ops.def is in it: a new op needs a text form and a line above.
  text::Parsed p = text::parse(kEveryOp);
  std::set<std::string> seen;
  for (auto& [node, name] : p.names) seen.insert(kiln::op_name(node->op));
  for (int i = 0; i <= int(kiln::Op::Cat); ++i)
    EXPECT_TRUE(seen.count(kiln::op_name(kiln::Op(i)))) << "no text test for op " << kiln::op_name(kiln::Op(i));
}

TEST(Text, CanonicalFormIsAFixedPoint) {
  // Comments, spacing and order of independent lines are not kept; the
  // canonical form then prints as itself.
  std::string messy = R"(# softmax
%x   = input:f32[4,8]     # no data: a placeholder
%m=amax(%x){dims=[1]}:f32[4,1]
%e = exp( sub(%x, %m) ) : f32[4, 8]
)";
  EXPECT_NE(error_of(messy), "");  // operands are values, not nested ops
  messy = R"(# softmax
%x   = input:f32[4,8]     # no data: a placeholder
%m=amax(%x){dims=[1]}:f32[4,1]
%d = sub(%x,%m):f32[4,8]
%e = exp(%d) : f32[4, 8]
%s = sum(%e) {dims = [1]} : f32[4, 1]

%y = div(%e, %s) : f32[4, 8]
output %y
)";
  std::string canonical = R"(%x = input : f32[4, 8]
%m = amax(%x) {dims = [1]} : f32[4, 1]
%d = sub(%x, %m) : f32[4, 8]
%e = exp(%d) : f32[4, 8]
%s = sum(%e) {dims = [1]} : f32[4, 1]
%y = div(%e, %s) : f32[4, 8]
output %y
)";
  EXPECT_EQ(roundtrip(messy), canonical);
  EXPECT_EQ(roundtrip(canonical), canonical);
}

TEST(Text, NumbersReadBackExactly) {
  std::string src = R"(%a = input : f32[5] = [0.1, 3.4028235e+38, 1e-45, -0, nan]
%b = input : f64[3] = [0.1, 2.2250738585072014e-308, -inf]
%c = input : f16[4] = [0.1, 65500, 6e-08, -1e-04]
%d = input : bf16[2] = [0.1, -3.39e+38]
%e = input : i64[2] = [-9223372036854775808, 9223372036854775807]
%f = input : u8[2] = [0, 255]
%g = input : bool[] = true
%h = full {value = 0.30000000000000004} : f64[]
%i = full {value = inf} : f32[3]
%j = full {value = -7} : i8[]
output %a, %b, %c, %d, %e, %f, %g, %h, %i, %j
)";
  EXPECT_EQ(roundtrip(src), src);
  text::Parsed p = text::parse(src);
  EXPECT_EQ(kiln::wrap(p.values.at("a")).to_vector<float>()[0], 0.1f);
  EXPECT_EQ(kiln::wrap(p.values.at("b")).to_vector<double>()[0], 0.1);
  EXPECT_EQ(kiln::wrap(p.values.at("e")).to_vector<int64_t>()[0], INT64_MIN);
}

TEST(Text, DataForms) {
  // Nested or flat lists, a number for a 0-dim value, lists across lines.
  EXPECT_EQ(roundtrip("%x = input : i32[2, 2] = [1, 2, 3, 4]\noutput %x\n"),
            "%x = input : i32[2, 2] = [[1, 2], [3, 4]]\noutput %x\n");
  EXPECT_EQ(roundtrip("%x = input : f32[2, 2] = [[1, 2],\n    # comment\n    [3, 4]]\noutput %x\n"),
            "%x = input : f32[2, 2] = [[1, 2], [3, 4]]\noutput %x\n");
  EXPECT_EQ(roundtrip("%x = input : f64[] = 2.5\noutput %x\n"), "%x = input : f64[] = 2.5\noutput %x\n");
  // More elements than the inline limit: a typed input.
  std::string list;
  for (int i = 0; i < 40; ++i) list += (i ? ", " : "") + std::to_string(i);
  text::Parsed p = text::parse("%x = input : i64[40] = [" + list + "]\noutput %x\n");
  EXPECT_EQ(print_parsed(p), "%x = input : i64[40]\noutput %x\n");
  EXPECT_EQ(kiln::wrap(p.outputs[0]).to_vector<int64_t>()[39], 39);
}

TEST(Text, NpyData) {
  auto dir = std::filesystem::temp_directory_path() / "kiln_text_test";
  std::filesystem::create_directories(dir);
  std::vector<int32_t> v = {1, 2, 3, 4, 5, 6};
  text::write_npy((dir / "a.npy").string(), kiln::kInt32, {2, 3}, v.data());
  text::ParseOptions o;
  o.base_dir = dir.string();
  text::Parsed p = text::parse("%a = input : i32[2, 3] = \"a.npy\"\n%s = sum(%a) {dims = [0, 1]} : i64[1, 1]\noutput %s\n", o);
  EXPECT_EQ(kiln::wrap(p.outputs[0]).item<int64_t>(), 21);
  o.filename = "t.kiln";
  try {
    text::parse("%a = input : f32[2, 3] = \"a.npy\"\noutput %a\n", o);
    FAIL() << "no error";
  } catch (const text::ParseError& e) {
    EXPECT_EQ(e.message, "'a.npy' holds i32[2, 3], but the input is declared f32[2, 3]");
    EXPECT_EQ(e.line, 1);
    EXPECT_EQ(e.column, 26);
  }
  std::filesystem::remove_all(dir);
}

// ---- parsing a printed graph gives the same graph

TEST(Text, TensorGraphsRoundTrip) {
  using namespace kiln;
  Tensor a = tensor({{1., 2., 3.}, {4., 5., 6.}});
  Tensor b = rand({64, 3});  // too large to inline: a typed input
  Tensor idx = tensor({int64_t(2), int64_t(0)});
  Tensor c = (a * 2 + 1).exp().sum({1}, true);
  Tensor d = b.t().matmul(b).relu();
  Tensor e = a.index({indexing::Slice(), idx});
  Tensor f = a.clone();
  f.index_put_({indexing::Slice(), idx}, 7.0);
  Tensor g = a.clone();
  g.narrow(1, 1, 2).mul_(3);  // writes through a view: view_scatter
  Tensor h = cat({a, a.flip({1})}, 0).cumsum(0);
  auto [mx, am] = a.max(1);
  Tensor i = where(a > 2, a.sin(), a.to(kFloat64).sqrt());
  Tensor j = a.gather(1, tensor({{int64_t(0), int64_t(0)}, {int64_t(1), int64_t(2)}})).scatter_add(
      1, tensor({{int64_t(1), int64_t(1)}, {int64_t(0), int64_t(0)}}), ones({2, 2}));
  Tensor k = a.to(kInt32).remainder(2).to(kBool).logical_not();
  std::vector<Tensor> outs = {c, d, e, f, g, h, mx, am, i, j, k};

  std::string s = to_text(outs);
  text::Parsed p = text::parse(s);
  EXPECT_TRUE(same_graph(nodes(outs), p.outputs)) << s;
  EXPECT_EQ(print_parsed(p), s);
  // The parsed graph computes the same values (b is random: skip d).
  text::ParseOptions with_b;
  with_b.input_data = [&](const text::InputDecl& decl) -> std::shared_ptr<Buffer> {
    // b and its transpose (a computed view: an input of its own).
    if (decl.has_data) return nullptr;
    Tensor t = decl.shape == b.shape() ? b : b.t();
    return node_of(t.contiguous().realize())->buffer;
  };
  text::Parsed q = text::parse(s, with_b);
  for (size_t n = 0; n < outs.size(); ++n) {
    // (Up to rounding: kernels over other layouts may sum in another order.)
    std::vector<double> want = values_of(node_of(outs[n])), got = values_of(q.outputs[n]);
    ASSERT_EQ(want.size(), got.size());
    for (size_t e = 0; e < want.size(); ++e) EXPECT_NEAR(want[e], got[e], 1e-5 * std::abs(want[e])) << "output " << n;
  }
}

TEST(Text, ComputedTensorsPrintAsInputs) {
  using namespace kiln;
  Tensor a = tensor({{1., 2.}, {3., 4.}});
  Tensor y = a * 2;
  EXPECT_EQ(to_text({y}),
            "%0 = input : f32[2, 2] = [[1, 2], [3, 4]]\n"
            "%1 = full {value = 2} : f32[]\n"
            "%2 = mul(%0, %1) : f32[2, 2]\n"
            "output %2\n");
  y.realize();
  EXPECT_EQ(to_text({y, y.t()}),
            "%0 = input : f32[2, 2] = [[2, 4], [6, 8]]\n"
            "%1 = input : f32[2, 2] = [[2, 6], [4, 8]]\n"
            "output %0, %1\n");
  Tensor r = rand({100});
  r.realize();
  EXPECT_EQ(to_text({r}), "%0 = input : f32[100]\noutput %0\n");
  EXPECT_EQ(to_text({}), "");
}

TEST(Text, OptionsAndNames) {
  // Given names are kept; others take the next free number.
  text::Parsed p = text::parse("%0 = input : f32[3]\n%x = neg(%0) : f32[3]\n%y = exp(%x) : f32[3]\noutput %y\n");
  text::NameMap names = {{p.values.at("x").get(), "1"}};
  text::PrintOptions o;
  o.names = &names;
  EXPECT_EQ(text::print(p.outputs, o), "%0 = input : f32[3]\n%1 = neg(%0) : f32[3]\n%2 = exp(%1) : f32[3]\noutput %2\n");
  names = {{p.values.at("y").get(), "0"}};
  EXPECT_EQ(text::print(p.outputs, o), "%1 = input : f32[3]\n%2 = neg(%1) : f32[3]\n%0 = exp(%2) : f32[3]\noutput %0\n");
  // Scalars as operands, attribute defaults (sum over every dim, reshape to the type).
  EXPECT_EQ(roundtrip("%x = input : f32[2, 3]\n%y = mul(%x, 2.5) : f32[2, 3]\n%s = sum(%y) : f32[1, 1]\n"
                      "%r = reshape(%s) : f32[]\noutput %r\n"),
            "%x = input : f32[2, 3]\n%0 = full {value = 2.5} : f32[]\n%y = mul(%x, %0) : f32[2, 3]\n"
            "%s = sum(%y) {dims = [0, 1]} : f32[1, 1]\n%r = reshape(%s) {shape = []} : f32[]\noutput %r\n");
  // The builders' implicit nodes become explicit: promotion casts.
  EXPECT_EQ(roundtrip("%x = input : i32[2]\n%y = input : f32[2]\n%z = add(%x, %y) : f32[2]\noutput %z\n"),
            "%x = input : i32[2]\n%y = input : f32[2]\n%0 = cast(%x) : f32[2]\n%z = add(%0, %y) : f32[2]\noutput %z\n");
}

TEST(Text, RequiresGradAndGradients) {
  text::ParseOptions o;
  o.requires_grad = [](const text::InputDecl& d) { return d.name == "w"; };
  text::Parsed p = text::parse("%w = input : f32[3]\n%x = input : f32[3]\n%y = mul(%w, %x) : f32[3]\noutput %y\n", o);
  EXPECT_TRUE(p.values.at("w")->requires_grad);
  EXPECT_FALSE(p.values.at("x")->requires_grad);
  EXPECT_TRUE(p.outputs[0]->requires_grad);
}

TEST(Text, NamesFollowTheOptimizerAndTheSchedule) {
  // x*1 folds and exp(x) is merged (CSE): the survivors keep their names,
  // the output keeps its own, rebuilt nodes match their originals.
  text::Parsed p = text::parse(R"(%x = input : f32[2, 4]
%one = full {value = 1} : f32[]
%a = mul(%x, %one) : f32[2, 4]
%b = exp(%a) : f32[2, 4]
%c = exp(%x) : f32[2, 4]
%m = amax(%b) {dims = [1]} : f32[2, 1]
%d = sub(%c, %m) : f32[2, 4]
%y = div(%d, %m) : f32[2, 4]
output %y
)");
  std::vector<NodeRef> opt = kiln::passes::optimize(p.outputs);
  text::NameMap names = text::carry_names(p.outputs, p.names, opt);
  text::PrintOptions o;
  o.names = &names;
  EXPECT_EQ(text::print(opt, o), R"(%x = input : f32[2, 4]
%c = exp(%x) : f32[2, 4]
%m = amax(%c) {dims = [1]} : f32[2, 1]
%d = sub(%c, %m) : f32[2, 4]
%y = div(%d, %m) : f32[2, 4]
output %y
)");
  EXPECT_EQ(text::schedule_str(kiln::make_schedule(opt), opt, names),
            "kernel 0 R_exp_amax over [2, 4]: amax [2, 1]\n"
            "  reads    %x\n"
            "  writes   %m (reduction)\n"
            "  computes %c = exp (also in kernel 1), %m = amax\n"
            "kernel 1 E_exp_sub_div over [2, 4]: div [2, 4]\n"
            "  reads    %x, %m\n"
            "  writes   %y (output)\n"
            "  computes %c = exp (also in kernel 0), %d = sub, %y = div\n");
}

// ---- errors like a compiler

TEST(Text, ErrorReports) {
  EXPECT_EQ(error_of("%x = input : f32[4]\n%0 = mull(%x, %x) : f32[4]\noutput %0\n"),
            "t.kiln:2:6: error: unknown op 'mull'; did you mean 'mul'?\n"
            "%0 = mull(%x, %x) : f32[4]\n"
            "     ^\n");
  EXPECT_EQ(error_of("%x = input : f32[4]\n%y = input : f32[3]\n%0 = add(%x, %y) : f32[4]\noutput %0\n"),
            "t.kiln:3:6: error: add: the size of tensor a (4) must match the size of tensor b (3) at non-singleton "
            "dimension 0 (shapes [4] and [3] do not broadcast)\n"
            "%0 = add(%x, %y) : f32[4]\n"
            "     ^\n");
  EXPECT_EQ(error_of("%x = input : f32[4]\n%0 = sum(%x) {dims = [0]} : f32[]\noutput %0\n"),
            "t.kiln:2:29: error: 'sum' gives f32[1], but the declared type is f32[]\n"
            "%0 = sum(%x) {dims = [0]} : f32[]\n"
            "                            ^\n");
  EXPECT_EQ(error_of("%x = input : f32[4]\n%0 = neg(%z) : f32[4]\noutput %0\n"),
            "t.kiln:2:10: error: use of undefined value '%z'\n"
            "%0 = neg(%z) : f32[4]\n"
            "         ^\n");
  EXPECT_EQ(error_of("%x = input : f32[4]\n%x = neg(%x) : f32[4]\noutput %x\n"),
            "t.kiln:2:1: error: redefinition of '%x'\n"
            "%x = neg(%x) : f32[4]\n"
            "^\n"
            "t.kiln:1:1: note: previous definition is here\n"
            "%x = input : f32[4]\n"
            "^\n");
  EXPECT_EQ(error_of("%x = input : f32[4]\n"),
            "t.kiln:2:1: error: the graph has no outputs: add a line 'output %name'\n");
  EXPECT_EQ(error_of("%x = input : f32[4]\n%0 = add(%x,\noutput %0\n"),
            "t.kiln:2:13: error: expected an operand (%name or a number), found end of line\n"
            "%0 = add(%x,\n"
            "            ^\n");
  EXPECT_EQ(error_of("%x = input : f33[4]\n"),
            "t.kiln:1:14: error: unknown type 'f33' (expected bool, i8, u8, i16, i32, i64, f16, bf16, f32 or f64)\n"
            "%x = input : f33[4]\n"
            "             ^\n");
  EXPECT_EQ(error_of("%x = input : f32[99999999999999999999]\n"),
            "t.kiln:1:18: error: invalid dimension size '99999999999999999999'\n"
            "%x = input : f32[99999999999999999999]\n"
            "                 ^\n");
  EXPECT_EQ(error_of("%x = input : f32[2] = [1, 2, 3]\n"),
            "t.kiln:1:23: error: the data has shape [3] (3 numbers) but the input is declared f32[2]\n"
            "%x = input : f32[2] = [1, 2, 3]\n"
            "                      ^\n");
  EXPECT_EQ(error_of("%x = input : i8[2] = [1, 200]\n"),
            "t.kiln:1:26: error: value 200 out of range for i8\n"
            "%x = input : i8[2] = [1, 200]\n"
            "                         ^\n");
  EXPECT_EQ(error_of("%x = input : f32[2, 3]\n%0 = slice(%x) {dim = 1, start = 2, length = 2} : f32[2, 2]\noutput %0\n"),
            "t.kiln:2:6: error: slice: elements start=2, length=2, step=1 are not all within dim 1 of size 3\n"
            "%0 = slice(%x) {dim = 1, start = 2, length = 2} : f32[2, 2]\n"
            "     ^\n");
  EXPECT_EQ(error_of("%x = input : f32[2]\n%0 = sum(%x) {dim = 0} : f32[1]\noutput %0\n"),
            "t.kiln:2:15: error: 'sum' has no attribute 'dim' (its attributes: dims)\n"
            "%0 = sum(%x) {dim = 0} : f32[1]\n"
            "              ^\n");
  EXPECT_EQ(error_of("%x = input : f32[2]\n%0 = neg(%x, %x) : f32[2]\noutput %0\n"),
            "t.kiln:2:6: error: 'neg' takes 1 operand, got 2\n"
            "%0 = neg(%x, %x) : f32[2]\n"
            "     ^\n");
  EXPECT_EQ(error_of("%x = input : bool[2]\n%0 = neg(%x) : bool[2]\noutput %0\n"),
            "t.kiln:2:6: error: neg: not supported for bool tensors (shape [2]); use logical_not() to invert a mask\n"
            "%0 = neg(%x) : bool[2]\n"
            "     ^\n");
  EXPECT_EQ(error_of("%x = input : f32[2]\n\tx = neg(%x) : f32[2]\n"),
            "t.kiln:2:2: error: expected '%name = ...' or 'output %name', found 'x' (value names start with '%')\n"
            "\tx = neg(%x) : f32[2]\n"
            "\t^\n");
}

// ---- bad input never crashes

TEST(Text, FuzzedInputIsRejectedCleanly) {
  std::string base = kEveryOp;
  int ok = 0, errors = 0;
  auto attempt = [&](const std::string& src) {
    try {
      text::parse(src);
      ++ok;
    } catch (const text::ParseError& e) {
      EXPECT_GT(e.line, 0);
      ++errors;
    }  // any other exception fails the test; a crash fails it too
  };
  // Every truncation (on line boundaries and inside lines).
  for (size_t n = 0; n < base.size(); n += 7) attempt(base.substr(0, n));
  // Random edits: bytes replaced by characters the grammar cares about.
  const std::string alphabet = "%=:,()[]{}#\"-.0123456789eE \n\tabcxyz_\x01\xff";
  std::mt19937 rng(1234);
  for (int i = 0; i < 3000; ++i) {
    std::string s = base;
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        default: s.insert(at, std::string(1, alphabet[rng() % alphabet.size()])); break;
      }
      if (s.empty()) s = "%";
    }
    attempt(s);
  }
  EXPECT_GT(errors, 0);
  // Hostile lines: huge numbers, deep nesting, cycles, garbage.
  for (const std::string& s : {
           std::string("%x = input : f32[1000000000, 1000000000]\noutput %x\n"),
           std::string("%x = input : f32[3]\n%y = expand(%x) {shape = [9223372036854775807, 3]} : f32[2, 3]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%y = slice(%x) {dim = 0, start = 9223372036854775807, length = 2, step = "
                       "9223372036854775807} : f32[2]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%y = as_strided(%x) {shape = [2], strides = [4611686018427387904]} : f32[2]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%y = reshape(%x) {shape = [-1, -1]} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%y = reshape(%x) {shape = [4611686018427387904, 4]} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[2] = ") + std::string(100000, '[') + "\n",
           std::string("%a = add(%b, %b) : f32[]\n%b = add(%a, %a) : f32[]\noutput %a\n"),
           std::string("%a = add(%a, %a) : f32[]\noutput %a\n"),
           std::string("%x = input : f32[3]\n%y = index(%x, %x) {map = [5], sel = [0]} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%i = input : i64[3]\n%y = index(%x, %i) {map = [0], sel = [0]} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%i = input : i64[2]\n%y = index_put(%x, %x, %i) {map = [-1], sel = [0]} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%y = cat() {dim = 0} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%y = cumsum(%x) {dim = 7} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%y = permute(%x) {dims = [0, 0]} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[3]\n%y = full {value = 1e999} : f32[3]\noutput %y\n"),
           std::string("%x = input : f32[3] = [1e39, 1, 2]\noutput %x\n"),
           std::string("%x = input : f32[3] = \"/nonexistent.npy\"\noutput %x\n"),
           std::string("\xef\xbb\xbf%x = input : f32[3]\noutput %x\n"),
           std::string("%x = input : f32[3]\noutput %x, \n"),
           std::string("%\n"),
           std::string("\"unterminated\n"),
       }) {
    EXPECT_NE(error_of(s), "") << s.substr(0, 200);
  }
}
