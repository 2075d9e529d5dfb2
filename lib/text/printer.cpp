#include "text/printer.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <functional>
#include <unordered_set>

#include "kiln/text.h"
#include "runtime/buffer.h"
#include "schedule/schedule.h"
#include "tensor/tensor_impl.h"

namespace kiln::text {

std::string_view dtype_str(DType t) {
  static constexpr const char* names[] = {"bool", "i8", "u8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64"};
  return names[size_t(t)];
}

std::string type_str(DType t, const Shape& shape) {
  return fmt::format("{}[{}]", dtype_str(t), fmt::join(shape, ", "));
}

std::string scalar_str(const Scalar& s) { return s.str(); }

namespace {

template <typename F> std::string shortest(F v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// One element at `p`, as the data of a `dtype` input writes it.
std::string element_str(const char* p, DType dtype) {
  return visit_dtype(dtype, [&](auto tag) -> std::string {
    using T = decltype(tag);
    T v;
    std::memcpy(&v, p, sizeof(T));
    if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
    else if constexpr (std::is_same_v<T, double>) return shortest(v);
    else if constexpr (std::is_same_v<T, float>) return shortest(v);
    else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      // The fewest digits that read back as the same 16-bit value.
      float f = float(v);
      if (!std::isfinite(f)) return shortest(f);
      for (int digits = 1; digits < 9; ++digits) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.*g", digits, double(f));
        if (T(std::strtof(buf, nullptr)).bits == v.bits) return shortest(std::strtof(buf, nullptr));
      }
      return shortest(f);
    }
    else return std::to_string(int64_t(v));
  });
}

// The data of a realized node as a nested list, or "" when it is not
// readable here (too large, a placeholder without storage, not on the CPU).
std::string data_str(const Node& n, int64_t limit) {
  int64_t count = n.numel();
  if (count == 0 || count > limit || !n.buffer || n.buffer->device() != kCPU || !n.buffer->data()) return "";
  const Layout& l = n.layout;
  if (l.shape != n.shape || l.strides.size() != l.shape.size()) return "";
  int64_t lo = l.offset, hi = l.offset;
  for (size_t d = 0; d < l.shape.size(); ++d) {
    int64_t span = (l.shape[d] - 1) * l.strides[d];
    (span < 0 ? lo : hi) += span;
  }
  int64_t es = element_size(n.dtype);
  if (lo < 0 || (hi + 1) * es > int64_t(n.buffer->bytes())) return "";
  const char* base = static_cast<const char*>(n.buffer->data());
  std::string s;
  // Walks the elements in row-major order, opening and closing brackets.
  size_t rank = l.shape.size();
  if (rank == 0) return element_str(base + l.offset * es, n.dtype);
  Shape idx(rank, 0);
  s += std::string(rank, '[');
  for (int64_t k = 0; k < count; ++k) {
    int64_t off = l.offset;
    for (size_t d = 0; d < rank; ++d) off += idx[d] * l.strides[d];
    s += element_str(base + off * es, n.dtype);
    size_t d = rank;
    int closed = 0;
    while (d-- > 0) {
      if (++idx[d] < l.shape[d]) break;
      idx[d] = 0;
      ++closed;
    }
    s += std::string(size_t(closed), ']');
    if (k + 1 < count) s += ", " + std::string(size_t(closed), '[');
  }
  return s;
}

std::string ints_str(const Shape& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }

// " {name = value, ...}" for the attributes of n's op ("" if none): the
// fields of its attribute struct (graph/attrs.h), in their order.
std::string attrs_str(const Node& n) {
  std::vector<std::string> a;
  for_each_field(n.attrs, [&](const char* name, const auto& v) {
    using T = std::remove_cvref_t<decltype(v)>;
    std::string value;
    if constexpr (std::is_same_v<T, Shape>) value = ints_str(v);
    else if constexpr (std::is_same_v<T, Scalar>) value = scalar_str(v);
    else if constexpr (std::is_same_v<T, bool>) value = v ? "true" : "false";
    else value = std::to_string(v);
    a.push_back(fmt::format("{} = {}", name, value));
  });
  if (a.empty()) return "";
  return fmt::format(" {{{}}}", fmt::join(a, ", "));
}

}  // namespace

std::string print(const std::vector<NodeRef>& outputs, const PrintOptions& options) {
  // Every node once, operands first (an explicit stack: graphs can be deep).
  std::vector<const Node*> inputs, ops;
  std::unordered_set<const Node*> seen;
  for (const NodeRef& n : options.inputs)
    if (n && seen.insert(n.get()).second) inputs.push_back(n.get());
  for (const NodeRef& out : outputs) {
    if (!out || seen.count(out.get())) continue;
    std::vector<std::pair<const Node*, size_t>> stack = {{out.get(), 0}};
    seen.insert(out.get());
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (!is_input(*n) && next < n->inputs.size()) {
        const Node* x = n->inputs[next++].get();
        if (seen.insert(x).second) stack.push_back({x, 0});
        continue;
      }
      (is_input(*n) ? inputs : ops).push_back(n);
      stack.pop_back();
    }
  }

  // Names: the given ones where free, else the next unused number.
  std::unordered_set<std::string> used;
  if (options.names)
    for (auto& [n, name] : *options.names) used.insert(name);
  std::unordered_map<const Node*, std::string> names;
  std::unordered_set<std::string> taken;
  int64_t counter = 0;
  auto assign = [&](const Node* n) {
    if (options.names) {
      auto it = options.names->find(n);
      if (it != options.names->end() && taken.insert(it->second).second) {
        names[n] = it->second;
        return;
      }
    }
    std::string s;
    do s = std::to_string(counter++);
    while (used.count(s) || taken.count(s));
    taken.insert(s);
    names[n] = s;
  };
  for (const Node* n : inputs) assign(n);
  for (const Node* n : ops) assign(n);

  std::string s;
  for (const Node* n : inputs) {
    s += fmt::format("%{} = input : {}", names[n], type_str(n->dtype, n->shape));
    std::string data = data_str(*n, options.inline_limit);
    if (!data.empty()) s += " = " + data;
    s += '\n';
  }
  for (const Node* n : ops) {
    std::vector<std::string> args;
    for (const NodeRef& x : n->inputs) args.push_back("%" + names.at(x.get()));
    s += fmt::format("%{} = {}{}{} : {}\n", names[n], op_name(n->op),
                     args.empty() ? "" : fmt::format("({})", fmt::join(args, ", ")), attrs_str(*n),
                     type_str(n->dtype, n->shape));
  }
  std::vector<std::string> outs;
  for (const NodeRef& out : outputs)
    if (out) outs.push_back("%" + names.at(out.get()));
  if (!outs.empty()) s += fmt::format("output {}\n", fmt::join(outs, ", "));
  if (options.assigned)
    for (auto& [n, name] : names) (*options.assigned)[n] = name;
  return s;
}

namespace {

// Calls f on every node behind `outs`, operands first (computed nodes are leaves).
void walk(const std::vector<NodeRef>& outs, const std::function<void(const Node*)>& f) {
  std::unordered_set<const Node*> seen;
  for (const NodeRef& o : outs) {
    if (!seen.insert(o.get()).second) continue;
    std::vector<std::pair<const Node*, size_t>> stack = {{o.get(), 0}};
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (!n->realized() && next < n->inputs.size()) {
        const Node* x = n->inputs[next++].get();
        if (seen.insert(x).second) stack.push_back({x, 0});
        continue;
      }
      f(n);
      stack.pop_back();
    }
  }
}

std::string structure(const Node& n, const std::vector<const Node*>& inputs) {
  std::string k = fmt::format("{}|{}|{}|{}", int(n.op), int(n.dtype), fmt::join(n.shape, ","), kiln::attrs_str(n.attrs));
  for (const Node* x : inputs) k += fmt::format("|{}", static_cast<const void*>(x));
  return k;
}

}  // namespace

NameMap carry_names(const std::vector<NodeRef>& before, const NameMap& names, const std::vector<NodeRef>& after) {
  // The rewritten nodes by structure (op, type, attributes, operands).
  std::unordered_map<std::string, const Node*> rewritten;
  std::unordered_set<const Node*> kept;  // nodes of both graphs
  walk(after, [&](const Node* n) {
    kept.insert(n);
    std::vector<const Node*> in;
    for (const NodeRef& x : n->inputs) in.push_back(x.get());
    rewritten.emplace(structure(*n, in), n);
  });
  // Each original's counterpart: the rewritten node built the same way from
  // the counterparts of its operands; for a folded node (x * 1, a cast
  // round trip, view chains) the counterpart of the operand it folded to.
  std::unordered_map<const Node*, const Node*> twin;
  std::vector<const Node*> order;
  walk(before, [&](const Node* n) {
    order.push_back(n);
    // A node the rewrite kept is its own counterpart, even where the
    // rewritten graph holds another of its structure (a requested value, or
    // a graph between passes, before CSE).
    if (n->realized() || kept.count(n)) {
      twin[n] = n;
      return;
    }
    std::vector<const Node*> in;
    for (const NodeRef& x : n->inputs) {
      auto it = twin.find(x.get());
      in.push_back(it == twin.end() ? nullptr : it->second);
    }
    if (std::count(in.begin(), in.end(), nullptr) == 0)
      if (auto it = rewritten.find(structure(*n, in)); it != rewritten.end()) {
        twin[n] = it->second;
        return;
      }
    auto same_type = [&](const Node* x) { return x->dtype == n->dtype && x->shape == n->shape; };
    for (const NodeRef& x : n->inputs) {
      auto found = twin.find(x.get());
      if (found == twin.end()) continue;
      const Node* t = found->second;
      if (same_type(t)) {
        twin[n] = t;
        return;
      }
      // A view of a view becomes one view of the first one's operand.
      if (is_view(n->op) && is_view(x->op) && !x->realized() && twin.count(x->inputs[0].get())) {
        std::vector<const Node*> grand = {twin.at(x->inputs[0].get())};
        if (auto it = rewritten.find(structure(*n, grand)); it != rewritten.end()) {
          twin[n] = it->second;
          return;
        }
      }
      // A cast round trip folds to the first cast's operand.
      if (!x->realized() && !x->inputs.empty() && twin.count(x->inputs[0].get()) &&
          same_type(twin.at(x->inputs[0].get()))) {
        twin[n] = twin.at(x->inputs[0].get());
        return;
      }
    }
  });

  NameMap out = names;  // names of vanished nodes stay reserved
  std::unordered_set<std::string> used;
  walk(after, [&](const Node* n) {
    if (auto it = names.find(n); it != names.end()) used.insert(it->second);
  });
  auto take = [&](const Node* n, const std::string& name) {
    if (names.count(n) || n->realized() || !used.insert(name).second) return;
    out[n] = name;
  };
  for (size_t i = 0; i < before.size() && i < after.size(); ++i)
    if (auto it = names.find(before[i].get()); it != names.end()) take(after[i].get(), it->second);
  for (const Node* n : order)
    if (auto t = twin.find(n); t != twin.end())
      if (auto it = names.find(n); it != names.end()) take(t->second, it->second);
  return out;
}

std::string schedule_str(const Schedule& s, const std::vector<NodeRef>& outputs, const NameMap& names) {
  auto nm = [&](const NodeRef& n) {
    auto it = names.find(n.get());
    return it == names.end() ? std::string("%?") : "%" + it->second;
  };
  std::unordered_set<const Node*> mat;
  std::unordered_map<const Node*, std::string> requested;  // why an output's buffer exists
  for (const NodeRef& n : s.materialized) mat.insert(n.get());
  for (const NodeRef& o : outputs) {
    NodeRef n = o;
    while (!n->realized() && kiln::is_view(n->op)) n = n->inputs[0];
    requested.emplace(n.get(), n == o ? "output" : "output " + nm(o) + " is a view of it");
  }
  // Which kernels compute each non-materialized node (to show recomputation).
  std::vector<std::vector<NodeRef>> computed(s.kernels.size());
  std::unordered_map<const Node*, std::vector<size_t>> where;
  std::unordered_map<const Node*, int> parts;  // writes of a node seen so far
  for (size_t k = 0; k < s.kernels.size(); ++k) {
    const auto& sk = s.kernels[k];
    std::vector<NodeRef> roots;
    for (size_t a = 0; a < sk.arg_nodes.size(); ++a) {
      if (!sk.kernel.args[a].is_output) continue;
      const NodeRef& m = sk.arg_nodes[a];
      int part = parts[m.get()]++;
      switch (m->op) {  // a write node's kernels each compute one of its operands
        case Op::ViewScatter: case Op::Cat:
          if (size_t(part) < m->inputs.size()) roots.push_back(m->inputs[size_t(part)]);
          break;
        case Op::IndexPut:
          if (part == 0) roots.push_back(m->inputs[0]);
          else roots.insert(roots.end(), m->inputs.begin() + 1, m->inputs.end());
          break;
        default: roots.push_back(m); break;
      }
    }
    // Depth-first from the roots, stopping at buffers: inputs first.
    std::unordered_set<const Node*> seen;
    std::vector<NodeRef> order;
    for (const NodeRef& r : roots) {
      if (!seen.insert(r.get()).second) continue;
      std::vector<std::pair<NodeRef, size_t>> stack = {{r, 0}};
      while (!stack.empty()) {
        auto& [n, next] = stack.back();
        bool leaf = n->realized() || (mat.count(n.get()) && std::find(roots.begin(), roots.end(), n) == roots.end());
        if (!leaf && next < n->inputs.size()) {
          NodeRef x = n->inputs[next++];
          if (seen.insert(x.get()).second) stack.push_back({x, 0});
          continue;
        }
        if (!leaf && n->op != Op::Full) order.push_back(n);
        stack.pop_back();
      }
    }
    for (const NodeRef& n : order) where[n.get()].push_back(k);
    computed[k] = order;
  }
  auto why = [&](const NodeRef& n) -> std::string {
    if (auto it = requested.find(n.get()); it != requested.end()) return it->second;
    auto it = s.reasons.find(n.get());
    return it == s.reasons.end() ? std::string("?") : it->second;
  };

  std::string out;
  for (size_t k = 0; k < s.kernels.size(); ++k) {
    const auto& sk = s.kernels[k];
    out += fmt::format("kernel {} {} over {}: {}\n", k, sk.kernel.name, kiln::shape_str(sk.sizes),
                       fmt::join(sk.notes, ", "));
    std::vector<std::string> reads, writes, comps;
    std::unordered_set<const Node*> listed;
    for (size_t a = 0; a < sk.arg_nodes.size(); ++a) {
      const NodeRef& n = sk.arg_nodes[a];
      if (sk.kernel.args[a].is_output) {
        if (listed.insert(n.get()).second) writes.push_back(fmt::format("{} ({})", nm(n), why(n)));
      } else if (!sk.kernel.args[a].position && std::find(reads.begin(), reads.end(), nm(n)) == reads.end()) {
        reads.push_back(nm(n));
      }
    }
    for (const NodeRef& n : computed[k]) {
      std::string c = fmt::format("{} = {}", nm(n), kiln::op_name(n->op));
      if (kiln::is_view(n->op)) c += " (view)";
      std::vector<std::string> others;
      for (size_t j : where[n.get()])
        if (j != k) others.push_back(std::to_string(j));
      if (!others.empty()) c += fmt::format(" (also in kernel {})", fmt::join(others, ", "));
      comps.push_back(c);
    }
    if (!reads.empty()) out += fmt::format("  reads    {}\n", fmt::join(reads, ", "));
    out += fmt::format("  writes   {}\n", fmt::join(writes, ", "));
    if (!comps.empty()) out += fmt::format("  computes {}\n", fmt::join(comps, ", "));
  }
  if (s.kernels.empty()) out += "# no kernels: every output is an input or a view of one\n";
  return out;
}

}  // namespace kiln::text

namespace kiln {

std::string to_text(const std::vector<Tensor>& tensors) {
  std::vector<NodeRef> outs;
  for (const Tensor& t : tensors) outs.push_back(node_of(t));
  return text::print(outs);
}

}  // namespace kiln
