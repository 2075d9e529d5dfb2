// kiln_conformance: runs the PyTorch conformance corpus against kiln.
//
//   kiln_conformance [CASES_DIR] [--filter SUBSTR] [-v]
//
// Every cases/*.json file is a "family". Each case is executed through
// kOps (below): the one table mapping an op name to the kiln API. Ops (or
// argument forms) kiln does not offer yet are skipped, not failed; to add an
// op, add a row to kOps.
//
// Gradients are checked through kiln::grad for every case with inputs that
// require grad.
#include <kiln/kiln.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "corpus.h"

#ifndef KILN_CONFORMANCE_DIR
#define KILN_CONFORMANCE_DIR "test/conformance/corpus/cases"
#endif

namespace {

using namespace conformance;
using kiln::Scalar;
using kiln::Shape;
using kiln::Tensor;
using Outputs = std::vector<Tensor>;

/// Thrown by the runner (never by kiln) when a case needs something kiln's API
/// does not have yet; the case is counted as skipped.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ------------------------------------------------------ argument values

/// A resolved VALUE: None, a tensor, a Python scalar (kiln::Scalar keeps
/// bool/int/float apart), a string, or a list.
struct Value {
  std::variant<std::monostate, Tensor, Scalar, std::string, std::vector<Value>, kiln::TensorIndex> v;

  bool is_none() const { return std::holds_alternative<std::monostate>(v); }
  bool is_tensor() const { return std::holds_alternative<Tensor>(v); }
  bool is_scalar() const { return std::holds_alternative<Scalar>(v); }

  const Tensor& tensor() const {
    if (!is_tensor()) throw Unsupported("expected a tensor argument");
    return std::get<Tensor>(v);
  }
  const Scalar& scalar() const {
    if (!is_scalar()) throw Unsupported("expected a scalar argument");
    return std::get<Scalar>(v);
  }
  int64_t integer() const {
    if (!is_scalar() || !scalar().is_integral()) throw Unsupported("expected an int argument");
    return scalar().to_int();
  }
  const std::string& str() const {
    if (!std::holds_alternative<std::string>(v)) throw Unsupported("expected a string argument");
    return std::get<std::string>(v);
  }
  /// A list of tensors (cat/stack).
  std::vector<Tensor> tensors() const {
    if (!std::holds_alternative<std::vector<Value>>(v)) throw Unsupported("expected a list of tensors");
    std::vector<Tensor> out;
    for (const Value& x : std::get<std::vector<Value>>(v)) out.push_back(x.tensor());
    return out;
  }
  bool is_list() const { return std::holds_alternative<std::vector<Value>>(v); }
  /// An index tuple (getitem/setitem).
  std::vector<kiln::TensorIndex> index() const {
    std::vector<kiln::TensorIndex> out;
    for (const Value& x : std::get<std::vector<Value>>(v)) out.push_back(std::get<kiln::TensorIndex>(x.v));
    return out;
  }
  /// A list of ints (sizes, dims).
  Shape ints() const {
    if (!std::holds_alternative<std::vector<Value>>(v)) throw Unsupported("expected a list of ints");
    Shape out;
    for (const Value& x : std::get<std::vector<Value>>(v)) out.push_back(x.integer());
    return out;
  }
};

// An int64 index tensor from a (nested) JSON list.
Tensor index_tensor(const json& j) {
  Shape shape;
  for (const json* p = &j; p->is_array(); p = &(*p)[0]) {
    shape.push_back(int64_t(p->size()));
    if (p->empty()) break;
  }
  std::vector<int64_t> flat;
  std::function<void(const json&)> walk = [&](const json& x) {
    if (x.is_array()) for (const json& y : x) walk(y);
    else flat.push_back(x.get<int64_t>());
  };
  walk(j);
  Tensor t = kiln::empty(shape, kiln::kInt64);
  std::copy(flat.begin(), flat.end(), static_cast<int64_t*>(t.data_ptr()));
  return t;
}

Value resolve(const json& j, const std::vector<Tensor>& inputs) {
  if (j.is_null()) return {};
  if (j.is_object()) {
    // Index components of getitem/setitem.
    using namespace kiln::indexing;
    auto opt = [](const json& x) { return x.is_null() ? std::nullopt : std::optional<int64_t>(x.get<int64_t>()); };
    if (j.contains("int")) return {kiln::TensorIndex(j.at("int").get<int64_t>())};
    if (j.contains("slice")) {
      const json& sl = j.at("slice");
      return {kiln::TensorIndex(Slice(opt(sl[0]), opt(sl[1]), opt(sl[2])))};
    }
    if (j.contains("none")) return {kiln::TensorIndex(None)};
    if (j.contains("ellipsis")) return {kiln::TensorIndex(Ellipsis)};
    if (j.contains("list")) return {kiln::TensorIndex(index_tensor(j.at("list")))};
    if (j.contains("mask")) return {kiln::TensorIndex(inputs.at(j.at("mask").at("input").get<size_t>()))};
    return {inputs.at(j.at("input").get<size_t>())};
  }
  if (j.is_array()) {
    std::vector<Value> items;
    for (const json& x : j) items.push_back(resolve(x, inputs));
    return {std::move(items)};
  }
  if (j.is_boolean()) return {Scalar(j.get<bool>())};
  if (j.is_number_integer()) return {Scalar(j.get<int64_t>())};
  if (j.is_number_float()) return {Scalar(j.get<double>())};
  const auto& s = j.get_ref<const std::string&>();
  if (s == "nan" || s == "inf" || s == "-inf") return {Scalar(json_double(j))};
  return {s};
}

/// The resolved args/kwargs of one call.
struct Call {
  std::vector<Tensor> inputs;  // all inputs (expr refers to them by name)
  std::vector<Value> args;
  std::map<std::string, Value> kwargs;

  size_t nargs() const { return args.size(); }
  /// Positional argument i (None when absent).
  const Value& arg(size_t i) const { return i < args.size() ? args[i] : none(); }
  /// Keyword argument (None when absent).
  const Value& kw(const std::string& name) const {
    auto it = kwargs.find(name);
    return it == kwargs.end() ? none() : it->second;
  }
  /// A parameter given either positionally at `i` or by `name`.
  const Value& param(size_t i, const std::string& name) const {
    return i < args.size() ? args[i] : kw(name);
  }
  const Tensor& self() const { return arg(0).tensor(); }

  static const Value& none() {
    static const Value n;
    return n;
  }
};

// ------------------------------------------------------ the op table

/// How one corpus op maps to kiln: the keyword arguments it understands (a case
/// using any other keyword is skipped) and the call itself.
struct OpDef {
  std::set<std::string> kwargs;
  std::function<Outputs(const Call&)> run;
};

Tensor eval_expr(const std::string& text, const std::vector<Tensor>& vars);

/// `alpha=` of add/sub (default 1).
Scalar alpha(const Call& c) { return c.kw("alpha").is_none() ? Scalar(1) : c.kw("alpha").scalar(); }

/// Reduction arguments: dim (int, list or absent = all), keepdim, dtype.
Shape dims(const Call& c) {
  const Value& d = c.param(1, "dim");
  if (d.is_none()) return {};
  if (d.is_list()) {
    if (d.ints().empty()) throw Unsupported("an empty dim list");
    return d.ints();
  }
  return {d.integer()};
}
bool keepdim(const Call& c) { return !c.kw("keepdim").is_none() && c.kw("keepdim").scalar().to_bool(); }
std::optional<kiln::DType> dtype_kw(const Call& c) {
  if (c.kw("dtype").is_none()) return std::nullopt;
  return kiln::dtype_from_name(c.kw("dtype").str());
}
std::optional<int64_t> opt_int(const Value& v) {
  if (v.is_none()) return std::nullopt;
  return v.integer();
}
double opt_double(const Value& v, double dflt) { return v.is_none() ? dflt : v.scalar().to_double(); }
std::string opt_str(const Value& v, const std::string& dflt) { return v.is_none() ? dflt : v.str(); }
std::optional<Tensor> opt_tensor(const Value& v) {
  if (v.is_none()) return std::nullopt;
  return v.tensor();
}
/// var/std: `correction=` or `unbiased=` (default unbiased).
double correction(const Call& c) {
  if (!c.kw("correction").is_none()) return c.kw("correction").scalar().to_double();
  if (!c.kw("unbiased").is_none()) return c.kw("unbiased").scalar().to_bool() ? 1 : 0;
  return 1;
}

/// A clamp bound: absent, a scalar, or a tensor.
template <typename T> std::optional<T> bound(const Value& v) {
  if (v.is_none()) return std::nullopt;
  if constexpr (std::is_same_v<T, Tensor>) return v.tensor();
  else return v.scalar();
}

// A binary op `f(T, T|scalar)` where kiln has both overloads.
#define TENSOR_OR_SCALAR(f)                                                                       \
  [](const Call& c) -> Outputs {                                                                  \
    return {c.arg(1).is_tensor() ? kiln::f(c.self(), c.arg(1).tensor()) : kiln::f(c.self(), c.arg(1).scalar())}; \
  }
// A unary op `f(T)`.
#define UNARY(f) [](const Call& c) -> Outputs { return {kiln::f(c.self())}; }

const std::map<std::string, OpDef> kOps = {
    // ---- elementwise binary: torch.<op>(T, T|scalar, ...)
    {"add", {{"alpha"}, [](const Call& c) -> Outputs {
       return {c.arg(1).is_tensor() ? kiln::add(c.self(), c.arg(1).tensor(), alpha(c))
                                    : kiln::add(c.self(), c.arg(1).scalar(), alpha(c))};
     }}},
    {"sub", {{"alpha"}, [](const Call& c) -> Outputs {
       return {c.arg(1).is_tensor() ? kiln::sub(c.self(), c.arg(1).tensor(), alpha(c))
                                    : kiln::sub(c.self(), c.arg(1).scalar(), alpha(c))};
     }}},
    {"mul", {{}, TENSOR_OR_SCALAR(mul)}},
    {"div", {{"rounding_mode"}, [](const Call& c) -> Outputs {
       std::string mode = c.kw("rounding_mode").is_none() ? "" : c.kw("rounding_mode").str();
       if (c.arg(1).is_tensor()) return {c.self().div(c.arg(1).tensor(), mode)};
       return {c.self().div(c.arg(1).scalar(), mode)};
     }}},
    {"remainder", {{}, TENSOR_OR_SCALAR(remainder)}},
    {"fmod", {{}, TENSOR_OR_SCALAR(fmod)}},
    {"atan2", {{}, [](const Call& c) -> Outputs { return {kiln::atan2(c.self(), c.arg(1).tensor())}; }}},
    {"eq", {{}, TENSOR_OR_SCALAR(eq)}},
    {"ne", {{}, TENSOR_OR_SCALAR(ne)}},
    {"lt", {{}, TENSOR_OR_SCALAR(lt)}},
    {"le", {{}, TENSOR_OR_SCALAR(le)}},
    {"gt", {{}, TENSOR_OR_SCALAR(gt)}},
    {"ge", {{}, TENSOR_OR_SCALAR(ge)}},
    {"maximum", {{}, [](const Call& c) -> Outputs { return {kiln::maximum(c.self(), c.arg(1).tensor())}; }}},
    {"minimum", {{}, [](const Call& c) -> Outputs { return {kiln::minimum(c.self(), c.arg(1).tensor())}; }}},
    {"pow", {{}, [](const Call& c) -> Outputs {  // pow(T, T|scalar) or pow(scalar, T)
       if (c.arg(0).is_scalar()) return {kiln::pow(c.arg(0).scalar(), c.arg(1).tensor())};
       return {c.arg(1).is_tensor() ? kiln::pow(c.self(), c.arg(1).tensor()) : kiln::pow(c.self(), c.arg(1).scalar())};
     }}},
    {"where", {{}, [](const Call& c) -> Outputs {  // where(cond, T|scalar, T|scalar)
       const Tensor& cond = c.self();
       const Value &a = c.arg(1), &b = c.arg(2);
       if (a.is_tensor() && b.is_tensor()) return {kiln::where(cond, a.tensor(), b.tensor())};
       if (a.is_tensor()) return {kiln::where(cond, a.tensor(), b.scalar())};
       return {kiln::where(cond, a.scalar(), b.tensor())};
     }}},
    {"clamp", {{"min", "max"}, [](const Call& c) -> Outputs {  // clamp(T, min, max), either may be absent
       const Value &lo = c.param(1, "min"), &hi = c.param(2, "max");
       if (lo.is_tensor() || hi.is_tensor()) return {kiln::clamp(c.self(), bound<Tensor>(lo), bound<Tensor>(hi))};
       return {kiln::clamp(c.self(), bound<Scalar>(lo), bound<Scalar>(hi))};
     }}},

    // ---- elementwise unary: torch.<op>(T)
    {"neg", {{}, UNARY(neg)}},
    {"abs", {{}, UNARY(abs)}},
    {"sqrt", {{}, UNARY(sqrt)}},
    {"exp", {{}, UNARY(exp)}},
    {"log", {{}, UNARY(log)}},
    {"sin", {{}, UNARY(sin)}},
    {"cos", {{}, UNARY(cos)}},
    {"tan", {{}, UNARY(tan)}},
    {"tanh", {{}, UNARY(tanh)}},
    {"sigmoid", {{}, UNARY(sigmoid)}},
    {"relu", {{}, UNARY(relu)}},
    {"rsqrt", {{}, UNARY(rsqrt)}},
    {"reciprocal", {{}, UNARY(reciprocal)}},
    {"square", {{}, UNARY(square)}},
    {"exp2", {{}, UNARY(exp2)}},
    {"log2", {{}, UNARY(log2)}},
    {"log1p", {{}, UNARY(log1p)}},
    {"expm1", {{}, UNARY(expm1)}},
    {"erf", {{}, UNARY(erf)}},
    {"sign", {{}, UNARY(sign)}},
    {"floor", {{}, UNARY(floor)}},
    {"ceil", {{}, UNARY(ceil)}},
    {"round", {{}, UNARY(round)}},
    {"trunc", {{}, UNARY(trunc)}},

    // ---- dtype: x.to(dtype)
    {"to", {{}, [](const Call& c) -> Outputs { return {c.self().to(kiln::dtype_from_name(c.arg(1).str()))}; }}},

    // ---- shape
    {"reshape", {{}, [](const Call& c) -> Outputs { return {c.self().reshape(c.arg(1).ints())}; }}},
    {"view", {{}, [](const Call& c) -> Outputs { return {c.self().view(c.arg(1).ints())}; }}},
    {"expand", {{}, [](const Call& c) -> Outputs { return {c.self().expand(c.arg(1).ints())}; }}},
    {"broadcast_to", {{}, [](const Call& c) -> Outputs { return {c.self().expand(c.arg(1).ints())}; }}},
    {"permute", {{}, [](const Call& c) -> Outputs { return {c.self().permute(c.arg(1).ints())}; }}},
    {"transpose", {{}, [](const Call& c) -> Outputs {
       return {c.self().transpose(c.arg(1).integer(), c.arg(2).integer())};
     }}},
    {"t", {{}, [](const Call& c) -> Outputs { return {c.self().t()}; }}},
    {"flatten", {{"start_dim", "end_dim"}, [](const Call& c) -> Outputs {
       const Value &s = c.param(1, "start_dim"), &e = c.param(2, "end_dim");
       return {c.self().flatten(s.is_none() ? 0 : s.integer(), e.is_none() ? -1 : e.integer())};
     }}},
    {"squeeze", {{"dim"}, [](const Call& c) -> Outputs {
       const Value& d = c.param(1, "dim");
       return {d.is_none() ? c.self().squeeze() : c.self().squeeze(d.integer())};
     }}},
    {"unsqueeze", {{"dim"}, [](const Call& c) -> Outputs { return {c.self().unsqueeze(c.param(1, "dim").integer())}; }}},
    {"contiguous", {{}, [](const Call& c) -> Outputs { return {c.self().contiguous()}; }}},
    {"narrow", {{}, [](const Call& c) -> Outputs {
       return {c.self().narrow(c.arg(1).integer(), c.arg(2).integer(), c.arg(3).integer())};
     }}},
    {"split", {{"dim"}, [](const Call& c) -> Outputs {
       int64_t dim = c.param(2, "dim").is_none() ? 0 : c.param(2, "dim").integer();
       return c.arg(1).is_list() ? c.self().split(c.arg(1).ints(), dim) : c.self().split(c.arg(1).integer(), dim);
     }}},
    {"chunk", {{"dim"}, [](const Call& c) -> Outputs {
       int64_t dim = c.param(2, "dim").is_none() ? 0 : c.param(2, "dim").integer();
       return c.self().chunk(c.arg(1).integer(), dim);
     }}},
    {"cat", {{"dim"}, [](const Call& c) -> Outputs {
       int64_t dim = c.param(1, "dim").is_none() ? 0 : c.param(1, "dim").integer();
       return {kiln::cat(c.arg(0).tensors(), dim)};
     }}},
    {"stack", {{"dim"}, [](const Call& c) -> Outputs {
       int64_t dim = c.param(1, "dim").is_none() ? 0 : c.param(1, "dim").integer();
       return {kiln::stack(c.arg(0).tensors(), dim)};
     }}},
    {"flip", {{}, [](const Call& c) -> Outputs { return {c.self().flip(c.arg(1).ints())}; }}},
    {"repeat", {{}, [](const Call& c) -> Outputs { return {c.self().repeat(c.arg(1).ints())}; }}},
    {"tile", {{}, [](const Call& c) -> Outputs { return {c.self().tile(c.arg(1).ints())}; }}},
    {"movedim", {{}, [](const Call& c) -> Outputs {
       if (c.arg(1).is_list()) return {c.self().movedim(c.arg(1).ints(), c.arg(2).ints())};
       return {c.self().movedim(c.arg(1).integer(), c.arg(2).integer())};
     }}},
    {"logical_not", {{}, UNARY(logical_not)}},

    // ---- linear algebra
    {"matmul", {{}, [](const Call& c) -> Outputs { return {kiln::matmul(c.self(), c.arg(1).tensor())}; }}},
    {"mm", {{}, [](const Call& c) -> Outputs { return {kiln::mm(c.self(), c.arg(1).tensor())}; }}},
    {"bmm", {{}, [](const Call& c) -> Outputs { return {kiln::bmm(c.self(), c.arg(1).tensor())}; }}},
    {"dot", {{}, [](const Call& c) -> Outputs { return {kiln::dot(c.self(), c.arg(1).tensor())}; }}},
    {"outer", {{}, [](const Call& c) -> Outputs { return {kiln::outer(c.self(), c.arg(1).tensor())}; }}},

    // ---- torch.nn.functional
    {"softmax", {{"dim"}, [](const Call& c) -> Outputs {
       return {kiln::nn::softmax(c.self(), c.param(1, "dim").integer())};
     }}},
    {"log_softmax", {{"dim"}, [](const Call& c) -> Outputs {
       return {kiln::nn::log_softmax(c.self(), c.param(1, "dim").integer())};
     }}},
    {"gelu", {{"approximate"}, [](const Call& c) -> Outputs {
       return {kiln::nn::gelu(c.self(), c.kw("approximate").is_none() ? "none" : c.kw("approximate").str())};
     }}},
    {"silu", {{}, [](const Call& c) -> Outputs { return {kiln::nn::silu(c.self())}; }}},
    {"leaky_relu", {{"negative_slope"}, [](const Call& c) -> Outputs {
       return {kiln::nn::leaky_relu(c.self(), opt_double(c.param(1, "negative_slope"), 0.01))};
     }}},
    {"elu", {{"alpha"}, [](const Call& c) -> Outputs {
       return {kiln::nn::elu(c.self(), opt_double(c.param(1, "alpha"), 1.0))};
     }}},
    {"softplus", {{"beta", "threshold"}, [](const Call& c) -> Outputs {
       return {kiln::nn::softplus(c.self(), opt_double(c.param(1, "beta"), 1.0),
                                  opt_double(c.param(2, "threshold"), 20.0))};
     }}},
    {"mse_loss", {{"reduction"}, [](const Call& c) -> Outputs {
       return {kiln::nn::mse_loss(c.self(), c.arg(1).tensor(), opt_str(c.param(2, "reduction"), "mean"))};
     }}},
    {"nll_loss", {{"weight", "ignore_index", "reduction"}, [](const Call& c) -> Outputs {
       return {kiln::nn::nll_loss(c.self(), c.arg(1).tensor(), opt_tensor(c.param(2, "weight")),
                                  opt_int(c.kw("ignore_index")).value_or(-100), opt_str(c.kw("reduction"), "mean"))};
     }}},
    {"cross_entropy", {{"weight", "ignore_index", "reduction", "label_smoothing"}, [](const Call& c) -> Outputs {
       return {kiln::nn::cross_entropy(c.self(), c.arg(1).tensor(), opt_tensor(c.param(2, "weight")),
                                       opt_int(c.kw("ignore_index")).value_or(-100), opt_str(c.kw("reduction"), "mean"),
                                       opt_double(c.kw("label_smoothing"), 0.0))};
     }}},
    {"layer_norm", {{"weight", "bias", "eps"}, [](const Call& c) -> Outputs {
       return {kiln::nn::layer_norm(c.self(), c.arg(1).ints(), opt_tensor(c.param(2, "weight")),
                                    opt_tensor(c.param(3, "bias")), opt_double(c.param(4, "eps"), 1e-5))};
     }}},
    {"linear", {{"bias"}, [](const Call& c) -> Outputs {
       return {kiln::nn::linear(c.self(), c.arg(1).tensor(), opt_tensor(c.param(2, "bias")))};
     }}},

    // ---- reductions
    {"sum", {{"dim", "keepdim", "dtype"}, [](const Call& c) -> Outputs {
       return {c.self().sum(dims(c), keepdim(c), dtype_kw(c))};
     }}},
    {"mean", {{"dim", "keepdim", "dtype"}, [](const Call& c) -> Outputs {
       return {c.self().mean(dims(c), keepdim(c), dtype_kw(c))};
     }}},
    {"prod", {{"dim", "keepdim", "dtype"}, [](const Call& c) -> Outputs {
       if (c.param(1, "dim").is_none()) return {c.self().prod(dtype_kw(c))};
       return {c.self().prod(c.param(1, "dim").integer(), keepdim(c), dtype_kw(c))};
     }}},
    {"amax", {{"dim", "keepdim"}, [](const Call& c) -> Outputs { return {c.self().amax(dims(c), keepdim(c))}; }}},
    {"amin", {{"dim", "keepdim"}, [](const Call& c) -> Outputs { return {c.self().amin(dims(c), keepdim(c))}; }}},
    {"max", {{"dim", "keepdim"}, [](const Call& c) -> Outputs {
       if (c.param(1, "dim").is_none()) return {c.self().max()};
       auto [v, i] = c.self().max(c.param(1, "dim").integer(), keepdim(c));
       return {v, i};
     }}},
    {"min", {{"dim", "keepdim"}, [](const Call& c) -> Outputs {
       if (c.param(1, "dim").is_none()) return {c.self().min()};
       auto [v, i] = c.self().min(c.param(1, "dim").integer(), keepdim(c));
       return {v, i};
     }}},
    {"argmax", {{"dim", "keepdim"}, [](const Call& c) -> Outputs {
       return {c.self().argmax(opt_int(c.param(1, "dim")), keepdim(c))};
     }}},
    {"argmin", {{"dim", "keepdim"}, [](const Call& c) -> Outputs {
       return {c.self().argmin(opt_int(c.param(1, "dim")), keepdim(c))};
     }}},
    {"var", {{"dim", "unbiased", "correction", "keepdim"}, [](const Call& c) -> Outputs {
       return {c.self().var(dims(c), correction(c), keepdim(c))};
     }}},
    {"std", {{"dim", "unbiased", "correction", "keepdim"}, [](const Call& c) -> Outputs {
       return {c.self().std(dims(c), correction(c), keepdim(c))};
     }}},
    {"norm", {{"p", "dim", "keepdim"}, [](const Call& c) -> Outputs {
       Scalar p = c.kw("p").is_none() ? Scalar(2) : c.kw("p").scalar();
       return {c.self().norm(p, dims(c), keepdim(c))};
     }}},
    {"logsumexp", {{"dim", "keepdim"}, [](const Call& c) -> Outputs {
       return {c.self().logsumexp(dims(c), keepdim(c))};
     }}},
    {"cumsum", {{"dim", "dtype"}, [](const Call& c) -> Outputs {
       return {c.self().cumsum(c.param(1, "dim").integer(), dtype_kw(c))};
     }}},
    {"all", {{"dim", "keepdim"}, [](const Call& c) -> Outputs {
       if (c.param(1, "dim").is_none()) return {c.self().all()};
       return {c.self().all(c.param(1, "dim").integer(), keepdim(c))};
     }}},
    {"any", {{"dim", "keepdim"}, [](const Call& c) -> Outputs {
       if (c.param(1, "dim").is_none()) return {c.self().any()};
       return {c.self().any(c.param(1, "dim").integer(), keepdim(c))};
     }}},

    // ---- indexing
    {"getitem", {{}, [](const Call& c) -> Outputs { return {c.self().index(c.arg(1).index())}; }}},
    {"index_select", {{}, [](const Call& c) -> Outputs {
       return {c.self().index_select(c.arg(1).integer(), c.arg(2).tensor())};
     }}},
    {"gather", {{}, [](const Call& c) -> Outputs { return {c.self().gather(c.arg(1).integer(), c.arg(2).tensor())}; }}},
    {"scatter_add", {{}, [](const Call& c) -> Outputs {
       return {c.self().scatter_add(c.arg(1).integer(), c.arg(2).tensor(), c.arg(3).tensor())};
     }}},
    {"masked_fill", {{}, [](const Call& c) -> Outputs {
       if (c.arg(2).is_tensor()) return {c.self().masked_fill(c.arg(1).tensor(), c.arg(2).tensor())};
       return {c.self().masked_fill(c.arg(1).tensor(), c.arg(2).scalar())};
     }}},
    {"setitem", {{}, [](const Call& c) -> Outputs {
       Tensor y = c.self().clone();
       if (c.arg(2).is_tensor()) y.index_put_(c.arg(1).index(), c.arg(2).tensor());
       else y.index_put_(c.arg(1).index(), c.arg(2).scalar());
       return {y};
     }}},

    // ---- composite expressions
    {"expr", {{"expr"}, [](const Call& c) -> Outputs {
       return {eval_expr(c.kw("expr").str(), c.inputs)};  // names a, b, c = inputs[0..2]
     }}},
};

#undef TENSOR_OR_SCALAR
#undef UNARY

// ------------------------------------------------------ expr

/// Recursive descent over the README's expression grammar (Python precedence):
///   sum     := product (('+' | '-') product)*
///   product := unary (('*' | '/') unary)*
///   unary   := '-' unary | power
///   power   := atom ['**' unary]           -- right-assoc, binds tighter than a unary minus on its left
///   atom    := number | name | name '(' sum ')' | '(' sum ')'
/// Operands are tensors or Python scalars (literals); tensor-scalar ops use the
/// kiln scalar overloads so literals keep their Python int/float kind.
class ExprParser {
public:
  ExprParser(const std::string& text, const std::vector<Tensor>& vars) : s_(text), vars_(vars) {}

  Tensor parse() {
    Value v = sum();
    skip_space();
    if (pos_ != s_.size()) fail("unexpected '" + s_.substr(pos_) + "'");
    return v.tensor();
  }

private:
  Value sum() {
    Value v = product();
    while (char op = next_is("+-")) v = binary(op, v, product());
    return v;
  }
  Value product() {
    Value v = unary();
    while (char op = next_is("*/")) v = binary(op, v, unary());
    return v;
  }
  Value unary() {
    if (next_is("-")) return negate(unary());
    return power();
  }
  Value power() {
    Value base = atom();
    if (next_is("**")) return binary('^', base, unary());
    return base;
  }
  Value atom() {
    skip_space();
    if (pos_ >= s_.size()) fail("unexpected end");
    char ch = s_[pos_];
    if (ch == '(') {
      ++pos_;
      Value v = sum();
      expect(')');
      return v;
    }
    if (std::isdigit(static_cast<unsigned char>(ch)) || ch == '.') return number();
    std::string name;
    while (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) name += s_[pos_++];
    if (name.empty()) fail(std::string("unexpected '") + ch + "'");
    if (!next_is("(")) {
      if (name.size() != 1 || name[0] < 'a' || size_t(name[0] - 'a') >= vars_.size()) fail("unknown name " + name);
      return {vars_[size_t(name[0] - 'a')]};
    }
    Value arg = sum();
    expect(')');
    return {call(name, arg.tensor())};
  }
  Value number() {
    size_t end = pos_;
    bool is_float = false;
    while (end < s_.size()) {
      char ch = s_[end];
      if (std::isdigit(static_cast<unsigned char>(ch))) {
        ++end;
      } else if (ch == '.' || ch == 'e' || ch == 'E') {
        is_float = true;
        ++end;
        if ((ch == 'e' || ch == 'E') && end < s_.size() && (s_[end] == '+' || s_[end] == '-')) ++end;
      } else {
        break;
      }
    }
    std::string lit = s_.substr(pos_, end - pos_);
    pos_ = end;
    if (is_float) return {Scalar(std::stod(lit))};
    return {Scalar(int64_t(std::stoll(lit)))};
  }

  static Tensor call(const std::string& f, const Tensor& x) {
    if (f == "sin") return kiln::sin(x);
    if (f == "cos") return kiln::cos(x);
    if (f == "exp") return kiln::exp(x);
    if (f == "log") return kiln::log(x);
    if (f == "tanh") return kiln::tanh(x);
    if (f == "sigmoid") return kiln::sigmoid(x);
    if (f == "relu") return kiln::relu(x);
    if (f == "sum") return kiln::sum(x);
    if (f == "mean") return kiln::mean(x);
    throw std::runtime_error("expr: unknown function " + f);
  }
  static Value negate(const Value& v) {
    if (v.is_tensor()) return {kiln::neg(v.tensor())};
    const Scalar& s = v.scalar();
    return {s.is_floating() ? Scalar(-s.to_double()) : Scalar(-s.to_int())};
  }
  /// op is one of + - * / and '^' for **.
  static Value binary(char op, const Value& a, const Value& b) {
    // Tensor-tensor, tensor-literal and literal-tensor: the kiln overloads
    // keep a Python literal's int/float kind for type promotion.
    auto apply = [op](const auto& x, const auto& y) -> Value {
      switch (op) {
        case '+': return {x + y};
        case '-': return {x - y};
        case '*': return {x * y};
        case '/': return {x / y};
        default: return {kiln::pow(x, y)};
      }
    };
    if (a.is_tensor() && b.is_tensor()) return apply(a.tensor(), b.tensor());
    if (a.is_tensor()) return apply(a.tensor(), b.scalar());
    if (b.is_tensor()) return apply(a.scalar(), b.tensor());
    throw Unsupported("expr: arithmetic between two literals");
  }

  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  /// Consumes `tok` if it comes next and returns its first char; with a
  /// one-char set like "+-", consumes whichever of them comes next. A single
  /// '*' never matches the start of '**'.
  char next_is(const std::string& tok) {
    skip_space();
    if (pos_ >= s_.size()) return 0;
    if (tok == "**") {
      if (s_.compare(pos_, 2, "**") != 0) return 0;
      pos_ += 2;
      return '^';
    }
    char ch = s_[pos_];
    if (tok.find(ch) == std::string::npos) return 0;
    if (ch == '*' && s_.compare(pos_, 2, "**") == 0) return 0;
    ++pos_;
    return ch;
  }
  void expect(char ch) {
    skip_space();
    if (pos_ >= s_.size() || s_[pos_] != ch) fail(std::string("expected '") + ch + "'");
    ++pos_;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("expr \"" + s_ + "\" at " + std::to_string(pos_) + ": " + what);
  }

  std::string s_;
  const std::vector<Tensor>& vars_;
  size_t pos_ = 0;
};

Tensor eval_expr(const std::string& text, const std::vector<Tensor>& vars) { return ExprParser(text, vars).parse(); }

// ------------------------------------------------------ running cases

enum class Verdict { Pass, Fail, Skip };
struct Result {
  Verdict verdict;
  std::string detail;  // why it failed / was skipped
};

std::string exception_text(const std::exception& e) {
  std::string s = e.what();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// Step 4 of the README: d(sum_j <outputs[j], cotangents[j]>)/d(inputs[k])
// for every input that requires grad, through kiln::grad.
Result check_gradients(const json& c, const std::vector<Tensor>& inputs, const Outputs& outs, double rtol,
                       double atol) {
  std::vector<Tensor> diff_outs, cotangents, wrt;
  std::vector<size_t> wrt_index;
  const json& cots = c.at("cotangents");
  for (size_t j = 0; j < outs.size(); ++j) {
    // An output that does not require grad (e.g. overwritten entirely)
    // contributes nothing: its inputs' gradients are zero.
    if (cots[j].is_null() || !outs[j].requires_grad()) continue;
    diff_outs.push_back(outs[j]);
    cotangents.push_back(make_tensor(cots[j]));
  }
  const json& grads = c.at("grads");
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (grads[k].is_null()) continue;
    wrt.push_back(inputs[k]);
    wrt_index.push_back(k);
  }
  if (wrt.empty()) return {Verdict::Pass, {}};
  try {
    std::vector<Tensor> got;
    if (diff_outs.empty()) {
      got.resize(wrt.size());
    } else {
      got = kiln::grad(diff_outs, wrt, cotangents, false, /*allow_unused=*/true);
    }
    for (size_t i = 0; i < wrt.size(); ++i) {
      // An input that does not influence the result has a zero gradient.
      Tensor g = got[i].defined() ? got[i] : kiln::zeros_like(wrt[i]);
      kiln::realize(g);
      if (auto diff = compare(g, grads[wrt_index[i]], rtol, atol))
        return {Verdict::Fail, "gradient of input " + std::to_string(wrt_index[i]) + ": " + *diff};
    }
  } catch (const kiln::Error& e) {
    if (std::string(e.what()).find("not supported yet") != std::string::npos)
      return {Verdict::Skip, "kiln (gradient): " + exception_text(e)};
    return {Verdict::Fail, "computing the gradient threw kiln::Error: " + exception_text(e)};
  } catch (const std::exception& e) {
    return {Verdict::Fail, "computing the gradient threw: " + exception_text(e)};
  }
  return {Verdict::Pass, {}};
}

Result run_case(const json& c) {
  const std::string op = c.at("op").get<std::string>();
  auto it = kOps.find(op);
  if (it == kOps.end()) return {Verdict::Skip, "op '" + op + "' is not mapped"};
  const OpDef& def = it->second;
  for (const auto& [k, _] : c.at("kwargs").items())
    if (!def.kwargs.count(k)) return {Verdict::Skip, op + "(" + k + "=) is not mapped"};

  const bool want_error = !c.at("error").is_null();
  // Building the inputs is not part of the call under test: failures there are
  // failures regardless of `error`.
  std::vector<Tensor> inputs;
  try {
    for (const json& in : c.at("inputs")) inputs.push_back(make_tensor(in));
  } catch (const std::exception& e) {
    return {Verdict::Fail, "building the inputs threw: " + exception_text(e)};
  }
  Call call;
  call.inputs = inputs;
  for (const json& a : c.at("args")) call.args.push_back(resolve(a, inputs));
  for (const auto& [k, v] : c.at("kwargs").items()) call.kwargs[k] = resolve(v, inputs);

  Outputs outs;
  try {
    outs = def.run(call);
  } catch (const Unsupported& e) {
    return {Verdict::Skip, e.what()};
  } catch (const kiln::Error& e) {
    if (want_error) return {Verdict::Pass, {}};
    // kiln's own word that a path is not built yet: counted, not hidden.
    if (std::string(e.what()).find("not supported yet") != std::string::npos)
      return {Verdict::Skip, "kiln: " + exception_text(e)};
    return {Verdict::Fail, "threw kiln::Error: " + exception_text(e)};
  } catch (const std::exception& e) {
    return {Verdict::Fail, "threw a non-kiln::Error exception: " + exception_text(e)};
  }

  if (want_error) {
    std::string what = "expected an error (" + c.at("error").get<std::string>() + "), but the call succeeded";
    try {
      kiln::realize(outs);
      if (outs.size() == 1) what += " with " + std::string(kiln::name(outs[0].dtype())) + shape_str(outs[0].shape());
    } catch (const std::exception& e) {
      what += " (realize threw: " + exception_text(e) + ")";
    }
    return {Verdict::Fail, what};
  }

  const json& expected = c.at("outputs");
  if (outs.size() != expected.size())
    return {Verdict::Fail, "expected " + std::to_string(expected.size()) + " outputs, got " + std::to_string(outs.size())};
  const double rtol = c.at("rtol").get<double>(), atol = c.at("atol").get<double>();
  try {
    kiln::realize(outs);
    for (size_t i = 0; i < outs.size(); ++i)
      if (auto diff = compare(outs[i], expected[i], rtol, atol))
        return {Verdict::Fail, (outs.size() > 1 ? "output " + std::to_string(i) + ": " : "") + *diff};
  } catch (const std::exception& e) {
    return {Verdict::Fail, "computing the result threw: " + exception_text(e)};
  }
  return check_gradients(c, inputs, outs, rtol, atol);
}

struct Tally {
  int passed = 0, failed = 0, skipped = 0;
  void add(Verdict v) { (v == Verdict::Pass ? passed : v == Verdict::Fail ? failed : skipped)++; }
  std::string str() const {
    return std::to_string(passed) + " passed, " + std::to_string(failed) + " failed, " +
           std::to_string(skipped) + " skipped";
  }
};

int usage() {
  std::cerr << "usage: kiln_conformance [CASES_DIR] [--filter SUBSTR] [-v]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = KILN_CONFORMANCE_DIR, filter;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-v") verbose = true;
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "-h" || a == "--help" || a[0] == '-') return usage();
    else dir = a;
  }

  std::vector<std::filesystem::path> files;
  try {
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".json") files.push_back(e.path());
  } catch (const std::exception& e) {
    std::cerr << "kiln_conformance: cannot read " << dir << ": " << e.what() << "\n";
    return 2;
  }
  if (files.empty()) {
    std::cerr << "kiln_conformance: no *.json cases in " << dir << "\n";
    return 2;
  }
  std::sort(files.begin(), files.end());

  Tally total;
  std::vector<std::pair<std::string, Tally>> families;
  for (const auto& file : files) {
    json doc;
    try {
      std::ifstream in(file);
      doc = json::parse(in);
    } catch (const std::exception& e) {
      std::cerr << "kiln_conformance: " << file.string() << ": " << e.what() << "\n";
      return 2;
    }
    Tally fam;
    for (const json& c : doc.at("cases")) {
      const std::string id = c.at("id").get<std::string>();
      if (!filter.empty() && id.find(filter) == std::string::npos) continue;
      Result r = run_case(c);
      fam.add(r.verdict);
      if (r.verdict == Verdict::Fail) std::cout << "FAIL " << id << ": " << r.detail << std::endl;
      else if (verbose) std::cout << (r.verdict == Verdict::Pass ? "pass " : "skip ") << id
                                  << (r.detail.empty() ? "" : ": " + r.detail) << std::endl;
    }
    families.emplace_back(file.stem().string(), fam);
    total.passed += fam.passed;
    total.failed += fam.failed;
    total.skipped += fam.skipped;
  }

  std::cout << "\n";
  for (const auto& [name, t] : families)
    if (filter.empty() || t.passed + t.failed + t.skipped > 0) std::cout << "  " << name << ": " << t.str() << "\n";
  std::cout << "conformance: " << total.str() << std::endl;
  return total.failed ? 1 : 0;
}
