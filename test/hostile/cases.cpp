// The hostile-input table: what kiln must do with bad (or merely odd) input.
// Each row: group, case name, the input (a lambda over kiln's public API;
// it runs in a forked child, so it builds every tensor itself), and the
// expectation: a kiln::Error whose message holds the op the user called and
// the key words of PyTorch's message, or PyTorch's value.
//
// Rows whose behaviour is wrong today carry .xfail("known failure: ...");
// the runner reports them as XFAIL, and fails with XPASS once one passes,
// so the mark is removed when the bug is fixed.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "harness.h"
#include "text/npy.h"

namespace hostile {

using namespace kiln;
using V = std::vector<double>;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Tensor s3() { return tensor(3.); }                              // a 0-dim tensor
Tensor m23() { return arange(6.).reshape({2, 3}); }              // [[0, 1, 2], [3, 4, 5]]
Tensor v3() { return arange(3.); }                               // [0, 1, 2]
Tensor idx(std::initializer_list<int64_t> v) { return TensorIndex(v).tensor(); }
TensorOptions dt(DType t) { return TensorOptions().dtype(t); }

// A fresh file path in the temporary directory.
std::string temp_path(const char* suffix) {
  const char* dir = std::getenv("TMPDIR");
  std::string p = std::string(dir && *dir ? dir : "/tmp") + "/kiln_hostile_" + std::to_string(getpid()) + suffix;
  return p;
}

}  // namespace

std::vector<Case> all_cases() {
  std::vector<Case> cs;
  std::string g;
  auto add = [&](std::string name, std::function<Val()> f, Expect e) -> Case& {
    cs.push_back(Case{g, std::move(name), std::move(f), std::move(e), "", 0});
    return cs.back();
  };
  const std::string dor = "dimension out of range";

  // ---- 0-dim tensors in every dim-taking op -------------------------------
  g = "zero_dim";
  add("size(0)", [] { return s3().size(0); }, raises("size", {"dimension specified as 0 but tensor has no dimensions"}));
  add("size(-1)", [] { return s3().size(-1); }, raises("size", {"dimension specified as -1 but tensor has no dimensions"}));
  add("size(1)", [] { return s3().size(1); }, raises("size", {"dimension specified as 1 but tensor has no dimensions"}));
  add("stride(0)", [] { return s3().stride(0); }, raises("stride", {"dimension specified as 0 but tensor has no dimensions"}));
  add("t[0]", [] { return s3()[0]; }, raises("select", {"0-dim tensor"}));
  add("select(0,0)", [] { return s3().select(0, 0); }, raises("select", {"0-dim tensor"}));
  add("index({0})", [] { return s3().index({0}); }, raises("index", {"invalid index of a 0-dim tensor|too many indices for tensor of dimension 0"}));
  add("index_put_({0})", [] { auto t = s3(); t.index_put_({0}, 1.0); return t; },
      raises("index_put_", {"invalid index of a 0-dim tensor|too many indices for tensor of dimension 0"}));
  add("narrow", [] { return s3().narrow(0, 0, 1); }, raises("narrow", {"cannot be applied to a 0-dim tensor"}));
  add("slice", [] { return s3().slice(0, 0, 1); }, raises("slice", {"cannot be applied to a 0-dim tensor"}));
  add("split", [] { return s3().split(1).size(); }, raises("split", {"expects at least a 1-dimensional tensor"}));
  add("split(sizes)", [] { return s3().split(Shape{1}).size(); },
      raises("split", {"expects at least a 1-dimensional tensor"}));
  add("chunk", [] { return s3().chunk(2).size(); }, raises("chunk", {"expects at least a 1-dimensional tensor"}));
  add("flip({0})", [] { return s3().flip({0}); }, is(3.0));
  add("flip({1})", [] { return s3().flip({1}); }, raises("flip", {dor}));
  add("index_select(0)", [] { return s3().index_select(0, idx({0})); }, is(3.0));
  add("index_select(1)", [] { return s3().index_select(1, idx({0})); }, raises("index_select", {dor}));
  add("gather(0)", [] { return s3().gather(0, tensor(int64_t(0))); }, is(3.0));
  add("gather(1)", [] { return s3().gather(1, tensor(int64_t(0))); }, raises("gather", {dor}));
  add("scatter_add(0)", [] { return s3().scatter_add(0, tensor(int64_t(0)), tensor(2.)); }, is(5.0));
  add("movedim(0,0)", [] { return s3().movedim(0, 0); }, is(3.0));
  add("movedim(1,0)", [] { return s3().movedim(1, 0); }, raises("movedim", {dor}));
  add("mean({0})", [] { return s3().mean({0}); }, is(3.0));
  add("mean({1})", [] { return s3().mean({1}); }, raises("mean", {dor}));
  add("sum({0})", [] { return s3().sum({0}); }, is(3.0));
  add("sum({-1})", [] { return s3().sum({-1}); }, is(3.0));
  add("sum({-2})", [] { return s3().sum({-2}); }, raises("sum", {dor}));
  add("var({0})", [] { return s3().var({0}); }, is(NAN));
  add("std({0})", [] { return s3().std({0}); }, is(NAN));
  add("prod(0)", [] { return s3().prod(0); }, is(3.0));
  add("amax({0})", [] { return s3().amax({0}); }, is(3.0));
  add("amin({0})", [] { return s3().amin({0}); }, is(3.0));
  add("max(0)", [] { return std::get<1>(s3().max(0)); }, is(int64_t(0)));
  add("min(1)", [] { return s3().min(1); }, raises("min", {dor}));
  add("argmax(0)", [] { return s3().argmax(0); }, is(int64_t(0)));
  add("argmax(1)", [] { return s3().argmax(1); }, raises("argmax", {dor}));
  add("logsumexp({0})", [] { return s3().logsumexp({0}); }, is(3.0));
  add("logsumexp({1})", [] { return s3().logsumexp({1}); }, raises("logsumexp", {dor}));
  add("cumsum(0)", [] { return s3().cumsum(0); }, is(3.0));
  add("cumsum(1)", [] { return s3().cumsum(1); }, raises("cumsum", {dor}));
  add("norm(2,{0})", [] { return s3().norm(2, {0}); }, is(3.0));
  add("all(0)", [] { return s3().all(0); }, is(true));
  add("any(0)", [] { return s3().any(0); }, is(true));
  add("softmax(0)", [] { return nn::softmax(s3(), 0); }, is(1.0));
  add("softmax(1)", [] { return nn::softmax(s3(), 1); }, raises("softmax", {dor}));
  add("unsqueeze(0)", [] { return s3().unsqueeze(0); }, shape({1}));
  add("unsqueeze(2)", [] { return s3().unsqueeze(2); }, raises("unsqueeze", {dor}));
  add("squeeze(0)", [] { return s3().squeeze(0); }, is(3.0));
  add("squeeze(1)", [] { return s3().squeeze(1); }, raises("squeeze", {dor}));
  add("transpose(0,0)", [] { return s3().transpose(0, 0); }, is(3.0));
  add("transpose(0,1)", [] { return s3().transpose(0, 1); }, raises("transpose", {dor}));
  add("t()", [] { return s3().t(); }, is(3.0));
  add("permute({0})", [] { return s3().permute({0}); }, raises("permute", {"number of dim"}));
  add("flatten()", [] { return s3().flatten(); }, shape({1}));
  add("flatten(0,1)", [] { return s3().flatten(0, 1); }, raises("flatten", {dor}));
  add("repeat({2})", [] { return s3().repeat({2}); }, values({3, 3}));
  add("cat", [] { return cat({s3(), s3()}); }, raises("cat", {"zero-dimensional tensor", "cannot be concatenated"}));
  add("stack", [] { return stack({s3(), s3()}); }, values({3, 3}));

  // ---- shape mismatches ---------------------------------------------------
  g = "shape";
  const std::string nsd = "at non-singleton dimension";
  add("add", [] { return ones({2, 3}) + ones({4}); }, raises("add", {"(3)", "(4)", nsd + " 1"}));
  add("sub", [] { return ones({2, 3}) - ones({2}); }, raises("sub", {"(3)", "(2)", nsd + " 1"}));
  add("mul", [] { return ones({2, 3}) * ones({3, 2}); }, raises("mul", {nsd}));
  add("div", [] { return ones({2}) / ones({3}); }, raises("div", {nsd + " 0"}));
  add("pow", [] { return ones({2}).pow(ones({3})); }, raises("pow", {nsd + " 0"}));
  add("maximum", [] { return maximum(ones({2}), ones({3})); }, raises("maximum", {nsd}));
  add("minimum", [] { return minimum(ones({2}), ones({3})); }, raises("minimum", {nsd}));
  add("eq", [] { return ones({2}).eq(ones({3})); }, raises("eq", {nsd}));
  add("lt", [] { return ones({2}) < ones({3}); }, raises("lt", {nsd}));
  add("where", [] { return where(ones({2}).gt(0), ones({3}), ones({4})); }, raises("where", {nsd}));
  add("atan2", [] { return atan2(ones({2}), ones({3})); }, raises("atan2", {nsd}));
  add("remainder", [] { return remainder(ones({2}), ones({3})); }, raises("remainder", {nsd}));
  add("fmod", [] { return fmod(ones({2}), ones({3})); }, raises("fmod", {nsd}));
  add("clamp(tensor)", [] { return ones({2}).clamp(std::optional<Tensor>(ones({3}))); }, raises("clamp", {nsd}));
  add("masked_fill", [] { return ones({2, 3}).masked_fill(ones({4}, dt(kBool)), 1); }, raises("masked_fill", {nsd}));
  add("matmul 2x3@2x3", [] { return matmul(ones({2, 3}), ones({2, 3})); },
      raises("matmul", {"cannot be multiplied", "2x3 and 2x3"}));
  add("matmul 1d", [] { return matmul(ones({3}), ones({4})); }, raises("matmul", {"3", "4"}));
  add("matmul 0d", [] { return matmul(s3(), ones({3})); },
      raises("matmul", {"both arguments", "at least 1"}));
  add("matmul batch", [] { return matmul(ones({2, 2, 3}), ones({3, 3, 2})); }, raises("matmul", {nsd}));
  add("mm 1d", [] { return mm(ones({3}), ones({3, 2})); }, raises("mm", {"matri", "[3]"}));
  add("mm", [] { return mm(ones({2, 3}), ones({4, 2})); }, raises("mm", {"shapes cannot be multiplied (2x3 and 4x2)"}));
  add("bmm 2d", [] { return bmm(ones({2, 3}), ones({3, 2})); }, raises("bmm", {"3-D|3D"}));
  add("bmm batch", [] { return bmm(ones({2, 2, 3}), ones({3, 3, 2})); }, raises("bmm", {"[2, 2, 3]", "[3, 3, 2]"}));
  add("bmm inner", [] { return bmm(ones({2, 2, 3}), ones({2, 4, 2})); }, raises("bmm", {"[2, 2, 3]", "[2, 4, 2]"}));
  add("dot sizes", [] { return dot(ones({3}), ones({4})); }, raises("dot", {"inconsistent tensor size"}));
  add("dot 2d", [] { return dot(ones({2, 3}), ones({2, 3})); }, raises("dot", {"1D tensors expected"}));
  add("outer 2d", [] { return outer(ones({2, 3}), ones({2})); }, raises("outer", {"1-D|1D", "[2, 3]"}));
  add("cat sizes", [] { return cat({ones({2, 3}), ones({2, 4})}); },
      raises("cat", {"sizes of tensors must match except in dimension 0"}));
  add("cat ranks", [] { return cat({ones({2, 3}), ones({3})}); },
      raises("cat", {"same number of dimensions|shape [3]"}));
  add("cat empty list", [] { return cat({}); }, raises("cat", {"non-empty"}));
  add("stack sizes", [] { return stack({ones({2}), ones({3})}); },
      raises("stack", {"expects each tensor to be equal size"}));
  add("stack empty list", [] { return stack({}); }, raises("stack", {"non-empty"}));
  add("add_ grows self", [] { auto a = ones({1}); a.add_(ones({3})); return a; },
      raises("add_", {"output with shape [1] doesn't match the broadcast shape [3]"}));
  add("mul_ grows self", [] { auto a = ones({2}); a.mul_(ones({2, 2})); return a; },
      raises("mul_", {"output with shape [2] doesn't match the broadcast shape [2, 2]"}));
  add("copy_", [] { auto a = ones({2}); a.copy_(ones({3})); return a; }, raises("copy_", {nsd}));
  add("expand", [] { return ones({3}).expand({4}); }, raises("expand", {"must match the existing size (3)"}));
  add("expand fewer dims", [] { return ones({2, 3}).expand({3}); },
      raises("expand", {"the number of sizes provided (1) must be greater or equal"}));
  add("broadcast_to", [] { return ones({3}).broadcast_to({2, 4}); }, raises("broadcast_to", {"(3)"}));
  add("reshape numel", [] { return ones({2, 3}).reshape({4}); }, raises("reshape", {"[4]", "is invalid for input of size 6"}));
  add("view numel", [] { return ones({2, 3}).view({5}); }, raises("view", {"[5]", "is invalid for input of size 6"}));
  add("reshape two -1", [] { return ones({2, 3}).reshape({-1, -1}); }, raises("reshape", {"only one dimension can be inferred"}));
  add("reshape -2", [] { return ones({2, 3}).reshape({-2, 3}); }, raises("reshape", {"invalid shape dimension -2"}));
  add("view non-contiguous", [] { return ones({2, 3}).t().view({6}); },
      raises("view", {"view size", "is not compatible with input tensor's size", "stride"}));
  add("linear", [] { return nn::linear(ones({2, 3}), ones({4, 2})); }, raises("linear", {"2x3", "2x4"}));
  add("layer_norm", [] { return nn::layer_norm(ones({2, 3}), {4}); },
      raises("layer_norm", {"normalized_shape", "[4]", "[2, 3]"}));
  add("layer_norm weight", [] { return nn::layer_norm(ones({2, 3}), {3}, ones({2})); },
      raises("layer_norm", {"weight"}));
  add("mse_loss", [] { return nn::mse_loss(ones({2}), ones({3})); }, raises("mse_loss", {nsd}));
  add("matmul empty ok", [] { return matmul(ones({0, 3}), ones({3, 2})); }, shape({0, 2}));
  add("matmul k=0", [] { return matmul(ones({2, 0}), ones({0, 3})); }, values({0, 0, 0, 0, 0, 0}));

  // ---- dtypes -------------------------------------------------------------
  g = "dtype";
  add("sub bool", [] { return ones({2}, dt(kBool)) - ones({2}, dt(kBool)); },
      raises("sub", {"two bool tensors is not supported"}));
  add("neg bool", [] { return -ones({2}, dt(kBool)); }, raises("neg", {"bool tensor", "not supported"}));
  add("matmul float@int", [] { return matmul(ones({2, 2}), ones({2, 2}, dt(kInt64))); },
      raises("matmul", {"float", "int64"}));
  add("dot float.int", [] { return dot(ones({2}), ones({2}, dt(kInt64))); }, raises("dot", {"same dtype"}));
  add("index_select float index", [] { return v3().index_select(0, ones({1})); },
      raises("index_select", {"int64", "int32", "float32"}));
  add("gather int32 index", [] { return m23().gather(1, zeros({2, 1}, dt(kInt32))); },
      raises("gather", {"int64", "index"}));
  add("scatter_add int32 index", [] { return m23().scatter_add(1, zeros({2, 1}, dt(kInt32)), m23()); },
      raises("scatter_add", {"int64", "index"}));
  add("where float cond", [] { return where(ones({2}), ones({2}), ones({2})); },
      raises("where", {"condition to be a bool"}));
  add("nll_loss float target", [] { return nn::nll_loss(ones({2, 3}), ones({2})); },
      raises("nll_loss", {"int64", "float32"}));
  add("nll_loss int32 target", [] { return nn::nll_loss(ones({2, 3}), zeros({2}, dt(kInt32))); },
      raises("nll_loss", {"int64", "int32"}));
  add("cross_entropy int32 target", [] { return nn::cross_entropy(ones({2, 3}), zeros({2}, dt(kInt32))); },
      raises("cross_entropy", {"int64", "int32"}));
  add("add_ float into int", [] { auto a = ones({2}, dt(kInt64)); a.add_(ones({2})); return a; },
      raises("add_", {"result type float", "can't be cast to the desired output type"}));
  add("remainder int by 0", [] { return remainder(ones({2}, dt(kInt64)), zeros({2}, dt(kInt64))); },
      raises("remainder", {"ZeroDivisionError"}));
  add("div floor int by 0", [] { return div(ones({2}, dt(kInt64)), zeros({2}, dt(kInt64)), "floor"); },
      raises("div", {"ZeroDivisionError"}));
  add("fmod int by 0", [] { return fmod(ones({2}, dt(kInt64)), Scalar(0)); }, raises("fmod", {"ZeroDivisionError"}));
  add("div rounding mode", [] { return div(ones({2}), ones({2}), "round"); },
      raises("div", {"rounding_mode", "'round'"}));
  add("mean int", [] { return ones({2}, dt(kInt64)).mean(); }, raises("mean", {"could not infer output dtype"}));
  add("var int", [] { return ones({2}, dt(kInt64)).var(); }, raises("var", {"floating point"}));
  add("std int", [] { return ones({2}, dt(kInt64)).std(); }, raises("std", {"floating point"}));
  add("norm int", [] { return ones({2}, dt(kInt64)).norm(); }, raises("norm", {"floating point"}));
  add("softmax int", [] { return nn::softmax(ones({2}, dt(kInt64)), 0); }, raises("softmax", {"int64"}));
  add("rand int", [] { return rand({2}, dt(kInt64)); }, raises("rand", {"int64"}));
  add("randn int", [] { return randn({2}, dt(kInt64)); }, raises("randn", {"int64"}));
  add("pow int negative", [] { return ones({2}, dt(kInt64)).pow(Scalar(-1)); },
      raises("pow", {"integers to negative integer powers are not allowed"}));
  add("gelu approximate", [] { return nn::gelu(ones({2}), "foo"); }, raises("gelu", {"none", "tanh", "foo"}));
  add("dtype_from_name", [] { return dtype_from_name("float31"); }, raises("", {"unknown dtype", "float31"}));
  add("item of 2 elements", [] { return ones({2}).item<double>(); },
      raises("item", {"a Tensor with 2 elements cannot be converted to"}));
  add("data_ptr<float> of int64", [] { return int64_t(ones({2}, dt(kInt64)).data_ptr<float>() != nullptr); },
      raises("data_ptr", {"float32", "int64"}));
  add("to_vector<float> of int64", [] { return Val::of_values({double(ones({2}, dt(kInt64)).to_vector<float>()[0])}); },
      raises("to_vector", {"float32", "int64"}));
  add("item<float> of int64 converts", [] { return tensor(7).item<float>(); }, is(7.0));
  add("sum bool is int64", [] { return ones({3}, dt(kBool)).sum(); }, is(Val(kInt64)));
  add("cumsum uint8 is int64", [] { return ones({2}, dt(kUInt8)).cumsum(0); }, is(Val(kInt64)));
  add("int64 wraps", [] { return (tensor(kMax) + 1).item<int64_t>() == kMin; }, is(true));
  add("int8 mul wraps", [] { return (full({1}, 100, dt(kInt8)) * 2).to(kInt64); }, values({-56}));
  add("int32 mul wraps", [] { return (full({1}, 1 << 30, dt(kInt32)) * 4).to(kInt64); }, values({0}));

  // ---- out-of-range dims and indices -------------------------------------
  g = "range";
  add("select index", [] { return v3().select(0, 5); },
      raises("select", {"index 5", "out of", "dimension 0"}));
  add("t[-4]", [] { return v3()[-4]; }, raises("select", {"index -4", "out of"}));
  add("select INT64_MIN", [] { return v3().select(0, kMin); }, raises("select", {"out of"}));
  add("select dim", [] { return v3().select(1, 0); }, raises("select", {dor}));
  add("narrow start", [] { return v3().narrow(0, 3, 1); }, raises("narrow", {"start (3) + length (1) exceeds dimension size (3)"}));
  add("narrow length", [] { return v3().narrow(0, 1, 5); }, raises("narrow", {"exceeds dimension size (3)"}));
  add("narrow negative length", [] { return v3().narrow(0, 0, -1); }, raises("narrow", {"length"}));
  add("narrow start INT64_MAX", [] { return v3().narrow(0, kMax, 1); }, raises("narrow", {}));
  add("narrow dim", [] { return v3().narrow(1, 0, 1); }, raises("narrow", {dor}));
  add("transpose", [] { return m23().transpose(0, 5); },
      raises("transpose", {"dimension out of range (expected to be in range of [-2, 1], but got 5)"}));
  add("permute repeated", [] { return m23().permute({0, 0}); }, raises("permute", {"duplicate dim|repeated dim"}));
  add("permute count", [] { return m23().permute({0}); }, raises("permute", {"number of dim"}));
  add("unsqueeze", [] { return m23().unsqueeze(5); }, raises("unsqueeze", {"[-3, 2], but got 5"}));
  add("squeeze", [] { return m23().squeeze(5); }, raises("squeeze", {dor}));
  add("squeeze -3", [] { return m23().squeeze(-3); }, raises("squeeze", {dor}));
  add("flatten start>end", [] { return ones({2, 3, 4}).flatten(2, 0); },
      raises("flatten", {"start_dim", "cannot come after end_dim"}));
  add("sum dim", [] { return m23().sum({5}); }, raises("sum", {dor}));
  add("sum repeated dim", [] { return m23().sum({0, 0}); }, raises("sum", {"dim 0 appears multiple times"}));
  add("mean repeated dim", [] { return m23().mean({1, -1}); }, raises("mean", {"dim 1 appears multiple times"}));
  add("amax repeated dim", [] { return m23().amax({0, 0}); }, raises("amax", {"appears multiple times"}));
  add("var repeated dim", [] { return m23().var({0, 0}); }, raises("var", {"appears multiple times"}));
  add("logsumexp repeated dim", [] { return m23().logsumexp({1, 1}); }, raises("logsumexp", {"appears multiple times"}));
  add("flip repeated dim", [] { return m23().flip({0, 0}); }, raises("flip", {"appears multiple times"}));
  add("amax dim", [] { return m23().amax({2}); }, raises("amax", {dor}));
  add("prod dim", [] { return m23().prod(2); }, raises("prod", {dor}));
  add("all dim", [] { return m23().all(2); }, raises("all", {dor}));
  add("var dim", [] { return m23().var({2}); }, raises("var", {dor}));
  add("norm dim", [] { return m23().norm(2, {2}); }, raises("norm", {dor}));
  add("flip dim", [] { return m23().flip({2}); }, raises("flip", {dor}));
  add("movedim dim", [] { return m23().movedim(0, 2); }, raises("movedim", {dor}));
  add("movedim repeated", [] { return m23().movedim(Shape{0, 0}, Shape{0, 1}); }, raises("movedim", {"repeated dim"}));
  add("argmax dim", [] { return m23().argmax(3); }, raises("argmax", {dor}));
  add("max dim", [] { return m23().max(3); }, raises("max", {dor}));
  add("cumsum dim", [] { return m23().cumsum(3); }, raises("cumsum", {dor}));
  add("softmax dim", [] { return nn::softmax(m23(), 5); }, raises("softmax", {dor}));
  add("softmax dim -3", [] { return nn::softmax(m23(), -3); }, raises("softmax", {dor}));
  add("log_softmax dim", [] { return nn::log_softmax(m23(), 5); }, raises("log_softmax", {dor}));
  add("logsumexp dim", [] { return m23().logsumexp({5}); }, raises("logsumexp", {dor}));
  add("cat dim", [] { return cat({v3(), v3()}, 2); }, raises("cat", {dor}));
  add("stack dim", [] { return stack({v3(), v3()}, 3); }, raises("stack", {"[-2, 1], but got 3"}));
  add("index_select dim 2", [] { return m23().index_select(2, idx({0})); }, raises("index_select", {dor}));
  add("index_select dim -3", [] { return m23().index_select(-3, idx({0})); }, raises("index_select", {dor}));
  add("index_select dim -1 index 3", [] { return m23().index_select(-1, idx({3})); },
      raises("index_select", {"index 3", "out of"}));
  add("index_select index -1", [] { return v3().index_select(0, idx({-1})); },
      raises("index_select", {"index out of range in self"}));
  add("gather index", [] { return m23().gather(1, idx({5, 0}).reshape({2, 1})); },
      raises("gather", {"index 5 is out of bounds for dimension 1 with size 3"}));
  add("gather index -1", [] { return v3().gather(0, idx({-1})); }, raises("gather", {"out of bounds"}));
  add("gather rank", [] { return m23().gather(1, idx({0})); },
      raises("gather", {"index tensor must have the same number of dimensions as"}));
  add("scatter_add index", [] { return m23().scatter_add(1, idx({5, 0}).reshape({2, 1}), m23()); },
      raises("scatter_add", {"index 5 is out of bounds for dimension 1 with size 3"}));
  add("index tensor", [] { return v3().index({idx({5})}); }, raises("index", {"index 5 is out of bounds for dimension 0 with size 3"}));
  add("index int", [] { return v3().index({3}); }, raises("index", {"index 3 is out of bounds for dimension 0 with size 3"}));
  add("index too many", [] { return v3().index({0, 0}); }, raises("", {"too many indices for tensor of dimension 1"}));
  add("index_put_ index", [] { auto t = v3(); t.index_put_({idx({5})}, tensor(1.)); return t; },
      raises("index_put_", {"index 5 is out of bounds for dimension 0 with size 3"}));
  add("split size 0", [] { return v3().split(0).size(); }, raises("split", {"split_size", "got 0"}));
  add("split size -1", [] { return v3().split(-1).size(); }, raises("split", {"split_size", "got -1"}));
  add("split sizes sum", [] { return v3().split(Shape{1, 1}).size(); },
      raises("split", {"[1, 1]", "sum", "3"}));
  add("chunk 0", [] { return v3().chunk(0).size(); }, raises("chunk", {"chunks", "got 0|got: 0"}));
  add("chunk -1", [] { return v3().chunk(-1).size(); }, raises("chunk", {"chunks", "got -1|got: -1"}));
  add("slice step 0", [] { return v3().slice(0, 0, 3, 0); }, raises("slice", {"step must be positive"}));
  add("slice step -1", [] { return v3().slice(0, 0, 3, -1); }, raises("slice", {"step must be positive"}));
  add("repeat fewer dims", [] { return m23().repeat({2}); },
      raises("repeat", {"can not be smaller than"}));
  add("repeat negative", [] { return v3().repeat({-1}); }, raises("repeat", {"negative"}));
  add("tile negative", [] { return v3().tile({-1}); }, raises("tile", {"negative"}));
  add("zeros negative", [] { return zeros({-1}); }, raises("zeros", {"negative dimension -1"}));
  add("linspace steps -1", [] { return linspace(0, 1, -1); }, raises("linspace", {"number of steps must be non-negative"}));
  add("arange step 0", [] { return arange(0, 5, 0); }, raises("arange", {"step must be nonzero"}));
  add("arange wrong sign", [] { return arange(5, 0, 1); }, raises("arange", {"inconsistent with step sign"}));
  add("item of empty", [] { return zeros({0}).item<double>(); },
      raises("item", {"a Tensor with 0 elements cannot be converted to"}));
  add("slice clamps", [] { return v3().slice(0, -100, 100); }, values({0, 1, 2}));
  add("slice INT64_MIN..MAX", [] { return v3().slice(0, kMin, kMax); }, values({0, 1, 2}));
  add("split INT64_MAX", [] { return v3().split(kMax).size(); }, is(int64_t(1)));
  add("chunk INT64_MAX", [] { return v3().chunk(kMax).size(); }, is(int64_t(3)));

  // ---- integer overflow and huge sizes -------------------------------------
  g = "overflow";
  add("arange(0, 1e20)", [] { return arange(0, 1e20); }, raises("arange", {"invalid size", "possible overflow?"}));
  add("arange(-1e20, 0)", [] { return arange(-1e20, 0); }, raises("arange", {"invalid size", "possible overflow?"}));
  add("arange(0, INT64_MAX)", [] { return arange(int64_t(0), kMax); }, raises("arange", {"possible overflow"}));
  add("arange(INT64_MIN, INT64_MAX)", [] { return arange(kMin, kMax); }, raises("arange", {"possible overflow"}));
  add("arange(0, 1, 1e-300)", [] { return arange(0, 1, 1e-300); }, raises("arange", {"possible overflow"}));
  add("slice step INT64_MAX", [] { return arange(3).slice(0, 0, 3, kMax); }, values({0}));
  add("slice step INT64_MAX from 1", [] { return arange(3).slice(0, 1, kMax, kMax); }, values({1}));
  add("repeat huge", [] { return v3().repeat({int64_t(1) << 40, int64_t(1) << 40}); }, raises("repeat", {"too many elements|overflow"}));
  add("tile huge", [] { return v3().tile({int64_t(1) << 62}); }, raises("tile", {"too many elements|overflow"}));
  add("zeros 2^62 x 4", [] { return zeros({int64_t(1) << 62, 4}); }, raises("zeros", {"too many elements|overflow"}));
  add("empty 2^40 x 2^40", [] { return empty({int64_t(1) << 40, int64_t(1) << 40}); }, raises("empty", {"too many elements|overflow"}));
  add("ones INT64_MAX", [] { return ones({kMax}, dt(kFloat64)).sum(); }, raises("sum", {"elements per launch|too many elements"}))
      .timeout(10);
  add("linspace huge", [] { return linspace(0, 1, int64_t(1) << 62); }, raises("", {"cannot allocate", "4611686018427387904"}));
  add("expand numel overflow", [] { return v3().reshape({3, 1}).expand({3, int64_t(1) << 62}).sum(); },
      raises("expand", {"too many elements|overflow"}));
  add("full 300 uint8", [] { return full({2}, 300, dt(kUInt8)); },
      raises("full", {"value 300 cannot be converted to type uint8 without overflow"}));
  add("full -1 uint8", [] { return full({2}, -1, dt(kUInt8)); }, raises("full", {"cannot be converted to type uint8"}));
  add("full 1e6 float16", [] { return full({2}, 1e6, dt(kFloat16)); }, raises("full", {"float16 without overflow"}));
  add("full 2^40 int32", [] { return full({1}, int64_t(1) << 40, dt(kInt32)); }, raises("full", {"int32 without overflow"}));
  add("full 1e30 int64", [] { return full({1}, 1e30, dt(kInt64)); }, raises("full", {"int64 without overflow"}));
  add("fill_ 128 int8", [] { auto t = zeros({2}, dt(kInt8)); t.fill_(128); return t; },
      raises("fill_", {"cannot be converted to type int8 without overflow"}));
  add("full 255 uint8 ok", [] { return full({2}, 255, dt(kUInt8)).to(kInt64); }, values({255, 255}));
  add("ones 2^47 sum is refused quickly", [] { return ones({int64_t(1) << 47}).sum(); }, raises("sum", {"140737488355328"}))
      .timeout(10);
  add("zeros 2^61 realize", [] { return zeros({int64_t(1) << 61}, dt(kFloat64)).realize(); }, raises("", {"2305843009213693952"}));

  // ---- empty tensors -------------------------------------------------------
  g = "empty";
  const std::string nodim = "expected reduction dim to be specified for input.numel() == 0";
  add("max()", [] { return zeros({0}).max(); }, raises("max", {"cannot reduce a tensor with no elements|expected reduction dim"}));
  add("min()", [] { return zeros({0}).min(); }, raises("min", {"cannot reduce a tensor with no elements|expected reduction dim"}));
  add("argmax()", [] { return zeros({0}).argmax(); }, raises("argmax", {"cannot reduce a tensor with no elements|expected reduction dim"}));
  add("argmin()", [] { return zeros({0}).argmin(); }, raises("argmin", {"cannot reduce a tensor with no elements|expected reduction dim"}));
  add("amax()", [] { return zeros({0}).amax(); }, raises("amax", {"cannot reduce a tensor with no elements|expected reduction dim"}));
  add("amin()", [] { return zeros({0}).amin(); }, raises("amin", {"cannot reduce a tensor with no elements|expected reduction dim"}));
  add("max(0)", [] { return zeros({0}).max(0); }, raises("max", {"cannot reduce a tensor with no elements|expected reduction dim", "[0]"}));
  add("argmax(0)", [] { return zeros({0}).argmax(0); }, raises("argmax", {"cannot reduce a tensor with no elements|expected reduction dim", "[0]"}));
  add("amax({0})", [] { return zeros({0}).amax({0}); }, raises("amax", {"cannot reduce a tensor with no elements|expected reduction dim", "[0]"}));
  add("amax rows of width 0", [] { return zeros({2, 0}).amax({1}); }, raises("amax", {"cannot reduce a tensor with no elements|expected reduction dim", "[1]|dim 1"}));
  add("max(1) of [0,3]", [] { return std::get<0>(zeros({0, 3}).max(1)); }, shape({0}));
  add("argmax(1) of [0,3]", [] { return zeros({0, 3}).argmax(1); }, shape({0}));
  add("sum()", [] { return zeros({0}).sum(); }, is(0.0));
  add("prod()", [] { return zeros({0}).prod(); }, is(1.0));
  add("mean()", [] { return zeros({0}).mean(); }, is(NAN));
  add("var()", [] { return zeros({0}).var(); }, is(NAN));
  add("std()", [] { return zeros({0}).std(); }, is(NAN));
  add("var({0}) of [0,3]", [] { return zeros({0, 3}).var({0}); }, values({NAN, NAN, NAN}));
  add("norm()", [] { return zeros({0}).norm(); }, is(0.0));
  add("norm(inf)", [] { return zeros({0}).norm(INFINITY); }, is(0.0));
  add("logsumexp({0})", [] { return zeros({0}).logsumexp({0}); }, is(-INFINITY));
  add("logsumexp rows", [] { return zeros({2, 0}).logsumexp({1}); }, values({-INFINITY, -INFINITY}));
  add("logsumexp({0}) of [0,3]", [] { return zeros({0, 3}).logsumexp({0}); }, values({-INFINITY, -INFINITY, -INFINITY}));
  add("softmax over size 0", [] { return nn::softmax(zeros({2, 0}), 1); }, shape({2, 0}));
  add("log_softmax of [0,3]", [] { return nn::log_softmax(zeros({0, 3}), 0); }, shape({0, 3}));
  add("cumsum", [] { return zeros({0}).cumsum(0); }, shape({0}));
  add("all()", [] { return zeros({0}).all(); }, is(true));
  add("any()", [] { return zeros({0}).any(); }, is(false));
  add("cat with empty", [] { return cat({zeros({0}), v3()}); }, values({0, 1, 2}));
  add("cross_entropy empty batch", [] { return nn::cross_entropy(zeros({0, 3}), zeros({0}, dt(kInt64))); }, is(NAN));
  add("nll_loss empty batch sum",
      [] { return nn::nll_loss(zeros({0, 3}), zeros({0}, dt(kInt64)), std::nullopt, -100, "sum"); }, is(0.0));
  add("to_vector of empty", [] { return zeros({0}).to_vector<float>().size(); }, is(int64_t(0)));
  // LibTorch 1.13: "cannot reshape tensor of 0 elements into shape [0, -1] because the
  // unspecified dimension size -1 can be any value and is ambiguous".
  add("reshape [0,3] to [0,-1]", [] { return zeros({0, 3}).reshape({0, -1}); },
      raises("reshape", {"[0, -1]"}));
  add("reshape [0,3] to [-1,0]", [] { return zeros({0, 3}).reshape({-1, 0}); }, raises("reshape", {"ambiguous|is invalid for input of size 0"}));

  // ---- losses --------------------------------------------------------------
  g = "loss";
  add("cross_entropy target 5", [] { return nn::cross_entropy(randn({4, 3}), idx({0, 1, 5, 1})); },
      raises("cross_entropy", {"target 5 is out of bounds"}));
  add("cross_entropy target -1", [] { return nn::cross_entropy(randn({4, 3}), idx({0, -1, 2, 1})); },
      raises("cross_entropy", {"target -1 is out of bounds"}));
  add("cross_entropy 1-d target 3", [] { return nn::cross_entropy(zeros({3}), tensor(int64_t(3))); },
      raises("cross_entropy", {"target 3 is out of bounds"}));
  add("nll_loss target 5", [] { return nn::nll_loss(randn({4, 3}), idx({0, 1, 5, 1})); },
      raises("nll_loss", {"target 5 is out of bounds"}));
  add("nll_loss target -1", [] { return nn::nll_loss(randn({4, 3}), idx({0, -1, 2, 1})); },
      raises("nll_loss", {"target -1 is out of bounds"}));
  add("cross_entropy ignore_index", [] { return nn::cross_entropy(zeros({2, 3}), idx({0, -100})); },
      is(std::log(3.0), 1e-5));
  add("cross_entropy value", [] { return nn::cross_entropy(zeros({2, 4}), idx({0, 3})); }, is(std::log(4.0), 1e-5));
  add("nll_loss 1-d input", [] { return nn::nll_loss(tensor({-1., -2., -3.}), tensor(int64_t(1))); }, is(2.0));
  add("nll_loss weight size", [] { return nn::nll_loss(randn({4, 3}), idx({0, 1, 2, 1}), randn({2})); },
      raises("nll_loss", {"weight tensor should be defined either for all 3 classes or no classes"}));
  add("nll_loss weight 2-d", [] { return nn::nll_loss(randn({4, 3}), idx({0, 1, 2, 1}), ones({3, 1})); },
      raises("nll_loss", {"weight tensor should be defined either for all 3 classes"}));
  add("cross_entropy weight size", [] { return nn::cross_entropy(randn({4, 3}), idx({0, 1, 2, 1}), randn({2})); },
      raises("cross_entropy", {"weight tensor should be defined either for all 3 classes"}));
  add("cross_entropy label_smoothing 2",
      [] { return nn::cross_entropy(randn({4, 3}), idx({0, 1, 2, 1}), std::nullopt, -100, "mean", 2); },
      raises("cross_entropy", {"label_smoothing must be between 0.0 and 1.0. Got: 2"}));
  add("cross_entropy label_smoothing 1 ok",
      [] { return nn::cross_entropy(zeros({2, 4}), idx({0, 3}), std::nullopt, -100, "mean", 1.0); },
      is(std::log(4.0), 1e-5));
  add("cross_entropy reduction", [] { return nn::cross_entropy(zeros({2, 3}), idx({0, 1}), std::nullopt, -100, "avg"); },
      raises("cross_entropy", {"reduction", "avg"}));
  add("mse_loss reduction", [] { return nn::mse_loss(ones({2}), ones({2}), "avg"); },
      raises("mse_loss", {"reduction", "avg"}));
  add("cross_entropy batch sizes", [] { return nn::cross_entropy(randn({4, 3}), idx({0, 1, 2})); },
      raises("cross_entropy", {"batch_size|target of shape [4]", "[3]"}));
  add("nll_loss batch sizes", [] { return nn::nll_loss(randn({4, 3}), idx({0, 1, 2})); },
      raises("nll_loss", {"batch_size|target of shape [4]", "[3]"}));
  add("cross_entropy probabilities shape", [] { return nn::cross_entropy(randn({4, 3}), rand({4, 2})); },
      raises("cross_entropy", {"[4, 3]", "[4, 2]"}));

  // ---- files ----------------------------------------------------------------
  g = "npy";
  add("a directory", [] { return Val::of_shape(text::read_npy("/").shape); }, raises("", {"/", "not a regular file"}));
  add("a missing file", [] { return Val::of_shape(text::read_npy("/nonexistent/x.npy").shape); },
      raises("", {"/nonexistent/x.npy", "cannot open", "no such file"}));
  add("an empty file", [] {
        std::string p = temp_path(".npy");
        std::ofstream(p).close();
        struct Rm { std::string p; ~Rm() { std::remove(p.c_str()); } } rm{p};
        return Val::of_shape(text::read_npy(p).shape);
      }, raises("", {"not an .npy file"}));
  add("truncated data", [] {
        std::string p = temp_path(".npy");
        struct Rm { std::string p; ~Rm() { std::remove(p.c_str()); } } rm{p};
        float data[100] = {};
        text::write_npy(p, kFloat32, {100}, data);
        if (truncate(p.c_str(), 200) != 0) throw std::runtime_error("truncate failed");
        return Val::of_shape(text::read_npy(p).shape);
      }, raises("", {"truncated data", "needs 400 bytes"}));
  add("truncated header", [] {
        std::string p = temp_path(".npy");
        struct Rm { std::string p; ~Rm() { std::remove(p.c_str()); } } rm{p};
        float data[4] = {};
        text::write_npy(p, kFloat32, {4}, data);
        if (truncate(p.c_str(), 20) != 0) throw std::runtime_error("truncate failed");
        return Val::of_shape(text::read_npy(p).shape);
      }, raises("", {"truncated .npy header"}));
  add("round trip", [] {
        std::string p = temp_path(".npy");
        struct Rm { std::string p; ~Rm() { std::remove(p.c_str()); } } rm{p};
        double data[3] = {1.5, -2, 1e300};
        text::write_npy(p, kFloat64, {3}, data);
        auto a = text::read_npy(p);
        const double* d = static_cast<const double*>(a.data->data());
        return Val::of_values({d[0], d[1], d[2], double(a.shape.size())});
      }, values({1.5, -2, 1e300, 1}));

  // ---- precision of small floating types -------------------------------------
  g = "half";
  add("float16 mean of 70000", [] { return full({70000}, 0.5, dt(kFloat16)).mean().to(kFloat64); }, is(0.5));
  add("float16 var of 70000", [] { return full({2, 70000}, 0.5, dt(kFloat16)).var({1}).to(kFloat64); }, values({0, 0}));
  add("float16 mean of 70000 (varied)", [] { return (arange(70000) % 7).to(kFloat16).mean().to(kFloat64); },
      is(3.0, 1e-3));
  add("float16 var of 70000 (varied)", [] { return (arange(70000) % 2).to(kFloat16).var().to(kFloat64); },
      is(0.25, 1e-3));
  add("float16 mean dtype", [] { return full({70000}, 0.5, dt(kFloat16)).mean(); }, is(Val(kFloat16)));
  add("float16 sum overflows to inf", [] { return ones({70000}, dt(kFloat16)).sum().to(kFloat64); }, is(INFINITY));
  add("bfloat16 sum of 70000", [] { return ones({70000}, dt(kBFloat16)).sum().to(kFloat64); }, is(70144.0));
  add("bfloat16 mean of 80000", [] { return full({80000}, 1.0, dt(kBFloat16)).mean().to(kFloat64); }, is(1.0));
  add("rand float16 < 1", [] { manual_seed(3); return rand({1 << 20}, dt(kFloat16)).amax().to(kFloat64); }, below(1.0));
  add("rand bfloat16 < 1", [] { manual_seed(3); return rand({1 << 20}, dt(kBFloat16)).amax().to(kFloat64); }, below(1.0));
  add("rand float32 < 1", [] { manual_seed(3); return rand({1 << 20}).amax().to(kFloat64); }, below(1.0));
  add("rand bfloat16 >= 0", [] { manual_seed(3); return rand({1 << 20}, dt(kBFloat16)).amin().to(kFloat64); }, at_least(0.0));
  add("float16 norm of 300000", [] { return ones({300000}, dt(kFloat16)).norm().to(kFloat64); }, is(547.7, 1e-3));

  // ---- explicit accumulation dtypes ------------------------------------------
  g = "acc_dtype";
  add("sum(int32)", [] { return ones({2}, dt(kInt32)).sum(kInt32); }, is(Val(kInt32)));
  add("sum() of int32 is int64", [] { return ones({2}, dt(kInt32)).sum(); }, is(Val(kInt64)));
  add("sum({1}, int32)", [] { return ones({2, 2}, dt(kInt32)).sum({1}, false, kInt32); }, typed(kInt32, {2}));
  add("prod(int16)", [] { return ones({2}, dt(kInt32)).prod(kInt16); }, is(Val(kInt16)));
  add("prod(0, int16)", [] { return ones({2, 2}, dt(kInt32)).prod(0, false, kInt16); }, typed(kInt16, {2}));
  add("cumsum(0, int32)", [] { return ones({2}, dt(kInt32)).cumsum(0, kInt32); }, typed(kInt32, {2}));
  add("sum(uint8) wraps", [] { return full({300}, 1, dt(kUInt8)).sum(kUInt8).to(kInt64); }, is(int64_t(44)));
  add("sum(int32) wraps", [] { return tensor({1, 2147483647}).to(kInt32).sum(kInt32).to(kInt64); },
      is(int64_t(-2147483648LL)));
  add("mean(float64) of int", [] { return tensor({1, 2}).mean(kFloat64); }, is(Val(kFloat64)));

  // ---- autograd ----------------------------------------------------------------
  g = "autograd";
  add("zeros.norm().backward()", [] {
        auto z = zeros({2}, TensorOptions().requires_grad(true));
        z.norm().backward();
        return z.grad();
      }, values({0, 0}));
  add("zeros.std().backward() is nan", [] {
        auto z = zeros({2}, TensorOptions().requires_grad(true));
        z.std().backward();
        return z.grad();
      }, values({NAN, NAN}));
  add("backward of non-scalar", [] {
        auto z = zeros({2}, TensorOptions().requires_grad(true));
        (z * 2).backward();
        return z.grad();
      }, raises("backward", {"grad can be implicitly created only for scalar outputs"}));
  add("backward without grad", [] { auto z = zeros({1}); z.sum().backward(); return z.grad().defined(); },
      raises("backward", {"does not require grad"}));

  // ---- undefined tensors and bad handles -------------------------------------
  g = "handle";
  add("undefined + 1", [] { Tensor u; return u + 1; }, raises("add", {"undefined"}));
  add("undefined.sum()", [] { Tensor u; return u.sum(); }, raises("sum", {"undefined"}));
  add("undefined.size(0)", [] { Tensor u; return u.size(0); }, raises("size", {"undefined"}));
  add("undefined.item()", [] { Tensor u; return u.item<double>(); }, raises("item", {"undefined"}));
  add("cat with undefined", [] { Tensor u; return cat({u, ones({2})}); }, raises("cat", {"undefined"}));
  add("matmul with undefined", [] { Tensor u; return matmul(ones({2, 2}), u); }, raises("matmul", {"undefined"}));
  add("from_blob(nullptr)", [] { return from_blob(nullptr, {2}); }, raises("from_blob", {"null"}));
  add("from_blob(nullptr, {0}) ok", [] { return from_blob(nullptr, {0}); }, shape({0}));
  add("from_blob negative shape", [] { float f[2] = {}; return from_blob(f, {-1}).sum(); },
      raises("from_blob", {"negative dimension"}));
  add("zeros on CUDA", [] { return zeros({2}, TensorOptions().device(Device(DeviceType::CUDA))); },
      raises("zeros", {"cuda"}));
  add("ones on CUDA", [] { return ones({2}, TensorOptions().device(Device(DeviceType::CUDA))); }, raises("ones", {"cuda"}));
  add("rand on CUDA", [] { return rand({2}, TensorOptions().device(Device(DeviceType::CUDA))); }, raises("rand", {"cuda|only the cpu"}));

  // ---- values PyTorch defines at the edges -------------------------------------
  g = "edge_values";
  add("argmax takes the first of ties", [] { return tensor({1., 3., 3.}).argmax(); }, is(int64_t(1)));
  add("max with nan is nan", [] { return tensor({1., NAN}).max(); }, is(NAN));
  add("clamp min > max gives max", [] { return v3().clamp(Scalar(2), Scalar(1)); }, values({1, 1, 1}));
  add("round half to even", [] { return tensor({0.5, 1.5, 2.5}).round(); }, values({0, 2, 2}));
  add("remainder takes the divisor's sign", [] { return remainder(tensor(int64_t(-7)), tensor(int64_t(3))); },
      is(int64_t(2)));
  add("floor division", [] { return div(tensor(int64_t(-7)), tensor(int64_t(2)), "floor"); }, is(int64_t(-4)));
  add("std of one element", [] { return ones({1}).std(); }, is(NAN));
  add("log of -1", [] { return tensor(-1.).log(); }, is(NAN));
  add("0 ** 0", [] { return tensor(0.).pow(Scalar(0)); }, is(1.0));
  add("masked_fill with a tensor", [] { return ones({2}).masked_fill(ones({2}, dt(kBool)), tensor(7.)); }, values({7, 7}));
  add("masked_fill float mask", [] { return ones({2}).masked_fill(ones({2}), 1); }, raises("masked_fill", {"bool"}));
  add("expanded mm", [] { return ones({3}).expand({2, 3}).mm(ones({3, 1})); }, values({3, 3}));
  return cs;
}

}  // namespace hostile
