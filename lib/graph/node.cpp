#include "graph/node.h"

#include <atomic>
#include <string>
#include <type_traits>

#include "kiln/error.h"

namespace kiln {

namespace {
std::atomic<int64_t> g_nodes_alive{0};

template <class A, size_t I = 0> constexpr size_t attrs_index() {
  if constexpr (std::is_same_v<std::variant_alternative_t<I, Attrs>, A>) return I;
  else return attrs_index<A, I + 1>();
}

constexpr OpInfo kOpTable[] = {
#define OP(E, name, kind, arity, traits, attrs) \
  {name, OpKind::kind, arity, OpTraits::traits, attrs_index<attrs>()},
#include "graph/ops.def"
#undef OP
};

const Attrs kDefaultAttrs[] = {
#define OP(E, name, kind, arity, traits, attrs) Attrs(attrs{}),
#include "graph/ops.def"
#undef OP
};
}  // namespace

const OpInfo& op_info(Op op) { return kOpTable[size_t(op)]; }

Attrs default_attrs(Op op) { return kDefaultAttrs[size_t(op)]; }

std::string attrs_str(const Attrs& a) {
  std::string s;
  for_each_field(a, [&](const char* name, const auto& v) {
    using T = std::remove_cvref_t<decltype(v)>;
    s += s.empty() ? "" : ", ";
    s += name;
    s += " = ";
    if constexpr (std::is_same_v<T, Shape>) s += shape_str(v);
    else if constexpr (std::is_same_v<T, Scalar>) s += v.str();
    else if constexpr (std::is_same_v<T, bool>) s += v ? "true" : "false";
    else s += std::to_string(v);
  });
  return s;
}

Shape reduced_dims(const Node& n) {
  if (n.op == Op::Cumsum) return n.shape.empty() ? Shape{} : Shape{n.attr<ScanAttrs>().dim};
  return n.attr<ReduceAttrs>().dims;
}

int64_t nodes_alive() { return g_nodes_alive.load(std::memory_order_relaxed); }

Node::Node(Op op, DType dtype, Shape shape, Attrs attrs, std::vector<NodeRef> inputs)
    : op(op), dtype(dtype), shape(std::move(shape)), attrs(std::move(attrs)),
      inputs(std::move(inputs)) {
  if (this->attrs.index() != op_info(op).attrs_index)
    throw Error(std::string("kiln: internal: a ") + op_name(op) + " node built with another op's attributes");
  if (!this->inputs.empty()) {
    device = this->inputs[0]->device;
    for (const NodeRef& x : this->inputs)
      if (!(x->device == device))
        throw Error(std::string(op_name(op)) + ": expected all tensors to be on the same device, but found at "
                    "least two devices, " + device.str() + " and " + x->device.str() + "!");
  }
  g_nodes_alive.fetch_add(1, std::memory_order_relaxed);
}

Node::~Node() {
  g_nodes_alive.fetch_sub(1, std::memory_order_relaxed);
  // Long chains (e.g. 10^5 in-place updates) would recurse once per node in
  // the implicit destructor: unlink iteratively instead.
  std::vector<NodeRef> pending = std::move(inputs);
  while (!pending.empty()) {
    NodeRef n = std::move(pending.back());
    pending.pop_back();
    if (n && n.use_count() == 1) {
      for (auto& in : n->inputs) pending.push_back(std::move(in));
      n->inputs.clear();
    }
  }
}

int64_t Node::numel() const { return kiln::numel(shape); }

void Node::set_realized(std::shared_ptr<Buffer> buf, Layout l) {
  buffer = std::move(buf);
  layout = std::move(l);
  if (!requires_grad || grad_leaf) inputs.clear();
}

namespace {
thread_local bool t_grad_mode = true;
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode_enabled(bool enabled) { t_grad_mode = enabled; }

}  // namespace kiln
