// What running a parsed graph needs: data for its inputs, and the value
// checks the C++ API makes at the call.
#include <fmt/format.h>

#include <cstring>
#include <unordered_set>

#include "kiln/runtime.h"
#include "tensor/tensor_impl.h"
#include "text/parser.h"

namespace kiln::text {

std::shared_ptr<Buffer> random_input(const InputDecl& d, std::mt19937_64& rng) {
  int64_t n = numel(d.shape);
  int64_t es = element_size(d.dtype);
  if (n > (int64_t(1) << 34) / es)
    throw Error(fmt::format("input %{} ({}) is too large to fill", d.name, type_str(d.dtype, d.shape)));
  auto buf = Buffer::allocate(size_t(std::max<int64_t>(n * es, 1)));
  char* p = static_cast<char*>(buf->data());
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  visit_dtype(d.dtype, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      T v;
      if constexpr (std::is_same_v<T, bool>) v = uni(rng) < 0.5;
      else if constexpr (std::is_integral_v<T>) v = T(int(uni(rng) * 10));
      else v = T(float(uni(rng)));
      std::memcpy(p + i * es, &v, sizeof(T));
    }
  });
  return buf;
}

DataError check_data(const std::vector<NodeRef>& outputs) {
  struct Check {
    NodeRef op, value;
    int64_t size;  // index: the dim size; -1: a divisor
    int64_t dim;
  };
  std::vector<Check> checks;
  std::unordered_set<const Node*> seen;
  std::vector<NodeRef> stack(outputs.begin(), outputs.end());
  while (!stack.empty()) {
    NodeRef n = stack.back();
    stack.pop_back();
    if (!seen.insert(n.get()).second || n->realized()) continue;
    for (const NodeRef& x : n->inputs) stack.push_back(x);
    if (n->op == Op::Index || n->op == Op::IndexPut) {
      size_t first = n->op == Op::Index ? 1 : 2;
      const Shape& sel = n->op == Op::Index ? n->attr<IndexAttrs>().sel : n->attr<IndexPutAttrs>().sel;
      for (size_t k = first; k < n->inputs.size(); ++k) {
        int64_t dim = sel[k - first];
        checks.push_back({n, n->inputs[k], n->inputs[0]->shape[size_t(dim)], dim});
      }
    }
    bool int_div = n->op == Op::Remainder || n->op == Op::Fmod || n->op == Op::FloorDiv || n->op == Op::TruncDiv;
    if (int_div && !is_floating(n->dtype)) checks.push_back({n, n->inputs[1], -1, 0});
  }
  if (checks.empty()) return {};
  std::vector<Tensor> values;
  for (auto& c : checks) values.push_back(wrap(c.value));
  realize(values);
  for (size_t i = 0; i < checks.size(); ++i) {
    const Check& c = checks[i];
    for (int64_t v : values[i].to(kInt64).to_vector<int64_t>()) {
      if (c.size >= 0 && (v < 0 || v >= c.size))
        return {c.op, fmt::format("{}: index {} is out of bounds for dimension {} with size {}", op_name(c.op->op), v,
                                  c.dim, c.size)};
      if (c.size < 0 && v == 0) return {c.op, fmt::format("{}: integer division by zero", op_name(c.op->op))};
    }
  }
  return {};
}

}  // namespace kiln::text
