// The cse pass: structurally equal nodes become one (see passes.h).
#include <bit>
#include <cmath>
#include <unordered_map>

#include "passes/passes.h"
#include "passes/rewrite.h"

namespace kiln::passes {

namespace {

// Op, type, attributes and the (already merged) inputs by address.
struct Key {
  Op op;
  DType dtype;
  Scalar::Kind kind;
  uint64_t value;  // the constant: its bits (every NaN alike), or the integer
  Shape shape;
  Attrs attrs;
  std::vector<const Node*> inputs;
  bool operator==(const Key&) const = default;
};

Key key_of(const Node& n, const std::vector<NodeRef>& inputs) {
  static const Scalar none;
  const Scalar& v = n.op == Op::Full ? n.attr<FullAttrs>().value : none;
  uint64_t value;
  if (!v.is_floating()) value = uint64_t(v.to_int());
  else if (std::isnan(v.to_double())) value = ~uint64_t{0};
  else value = std::bit_cast<uint64_t>(v.to_double());
  Key k{n.op, n.dtype, v.kind(), value, n.shape, n.attrs, {}};
  k.inputs.reserve(inputs.size());
  for (const NodeRef& x : inputs) k.inputs.push_back(x.get());
  return k;
}

struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = std::hash<uint64_t>()(k.value);
    auto mix = [&](uint64_t x) { h ^= std::hash<uint64_t>()(x) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    mix(uint64_t(k.op) | uint64_t(k.dtype) << 8 | uint64_t(k.kind) << 24);
    for (int64_t d : k.shape) mix(uint64_t(d));
    mix(k.shape.size());
    mix(k.attrs.index());  // (equal keys have equal attrs; the fields are compared, not hashed)
    for (const Node* x : k.inputs) mix(reinterpret_cast<uintptr_t>(x));
    return h;
  }
};

class Cse : public Rewrite {
public:
  explicit Cse(const std::vector<NodeRef>& outputs) : kept_(kept_nodes(outputs)) {}

private:
  NodeRef rewrite(const NodeRef& n, std::vector<NodeRef>& in, bool changed) override {
    Key key = key_of(*n, in);
    // A kept node keeps its own node, but later equal nodes may merge into it.
    if (!kept_.count(n.get()))
      if (auto it = table_.find(key); it != table_.end()) return it->second;
    NodeRef r = changed ? with_inputs(*n, in) : n;
    table_.emplace(std::move(key), r);
    return r;
  }

  std::unordered_set<const Node*> kept_;
  std::unordered_map<Key, NodeRef, KeyHash> table_;  // the first node of each structure
};

}  // namespace

std::vector<NodeRef> cse(const std::vector<NodeRef>& outputs) { return Cse(outputs).run(outputs); }

}  // namespace kiln::passes
