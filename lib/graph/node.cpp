#include "graph/node.h"

#include <atomic>

namespace kiln {

namespace {
std::atomic<int64_t> g_nodes_alive{0};

constexpr OpInfo kOpTable[] = {
#define OP(E, name, kind, arity, traits) {name, OpKind::kind, arity, OpTraits::traits},
#include "graph/ops.def"
#undef OP
};
}  // namespace

const OpInfo& op_info(Op op) { return kOpTable[size_t(op)]; }

int64_t nodes_alive() { return g_nodes_alive.load(std::memory_order_relaxed); }

Node::Node(Op op, DType dtype, Shape shape, Attrs attrs, std::vector<NodeRef> inputs)
    : op(op), dtype(dtype), shape(std::move(shape)), attrs(std::move(attrs)),
      inputs(std::move(inputs)) {
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
