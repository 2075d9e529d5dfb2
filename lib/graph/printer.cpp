#include "graph/printer.h"

#include <fmt/format.h>

#include <functional>
#include <unordered_map>

namespace kiln {

std::string graph_str(const std::vector<NodeRef>& outputs) {
  std::unordered_map<const Node*, int> ids;
  std::string s;
  std::function<int(const NodeRef&)> visit = [&](const NodeRef& n) -> int {
    if (auto it = ids.find(n.get()); it != ids.end()) return it->second;
    std::vector<std::string> ins;
    for (const NodeRef& x : n->inputs) ins.push_back(fmt::format("%{}", visit(x)));
    int id = int(ids.size());
    ids[n.get()] = id;
    std::string attrs;
    switch (n->op) {
      case Op::Full: attrs = fmt::format(" {{value={}}}", n->attrs.value.str()); break;
      case Op::Reshape: case Op::Expand: attrs = fmt::format(" {{shape=[{}]}}", fmt::join(n->attrs.ints, ", ")); break;
      case Op::Permute: attrs = fmt::format(" {{dims=[{}]}}", fmt::join(n->attrs.ints, ", ")); break;
      case Op::AsStrided: case Op::ViewScatter: {
        Layout l = decode_layout(n->attrs.ints);
        attrs = fmt::format(" {{shape=[{}], strides=[{}], offset={}}}", fmt::join(l.shape, ", "),
                            fmt::join(l.strides, ", "), l.offset);
        break;
      }
      default: break;
    }
    const char* op = n->realized() && n->op != Op::Buffer ? "buffer" : op_name(n->op);
    std::string args = ins.empty() ? "" : fmt::format("({})", fmt::join(ins, ", "));
    s += fmt::format("%{} = {}{}{} : {}[{}]\n", id, op, args, attrs, name(n->dtype), fmt::join(n->shape, ", "));
    return id;
  };
  for (const NodeRef& n : outputs) visit(n);
  return s;
}

}  // namespace kiln
