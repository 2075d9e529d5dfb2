#include "schedule_cache.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <map>
#include <tuple>
#include <mutex>
#include <type_traits>
#include <unordered_set>

#include "backend/kernel_cache.h"
#include "launches.h"
#include "graph/attrs.h"
#include "kiln/runtime.h"
#include "schedule/plan.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {

void push_shape(std::vector<int64_t>& key, const Shape& s) {
  key.push_back(int64_t(s.size()));
  key.insert(key.end(), s.begin(), s.end());
}

void push_attrs(std::vector<int64_t>& key, const Attrs& attrs) {
  key.push_back(int64_t(attrs.index()));
  for_each_field(attrs, [&](const char*, const auto& v) {
    using T = std::remove_cvref_t<decltype(v)>;
    if constexpr (std::is_same_v<T, Shape>) push_shape(key, v);
    else if constexpr (std::is_same_v<T, Scalar>) {
      key.push_back(int64_t(v.kind()));
      key.push_back(v.is_floating() ? std::bit_cast<int64_t>(v.to_double()) : v.to_int());
    } else key.push_back(int64_t(v));
  });
}

int64_t type_word(const Node& n) {
  return int64_t(n.dtype) | int64_t(n.device.type) << 8 | int64_t(n.device.index) << 16;
}

std::atomic<int64_t> g_hits{0};  // replays (runtime_stats() reads it from any thread)

uint64_t hash_words(const std::vector<int64_t>& words) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ words.size();
  for (int64_t w : words) {
    h ^= uint64_t(w) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
  }
  return h ^ (h >> 33);
}

}  // namespace

GraphWalk walk_graph(std::vector<NodeRef> requested) {
  GraphWalk g;
  g.roots = std::move(requested);
  g.requested = g.roots.size();
  std::unordered_map<const Node*, int32_t> pos;
  pos.reserve(4 * g.roots.size() + 16);
  std::vector<int64_t> edges;  // references from inside the graph, by position
  std::unordered_map<const Buffer*, int32_t> first_leaf;
  std::vector<const NodeRef*> stack;
  std::vector<int64_t>& key = g.key;
  // A node gets its position when first reached: a leaf's words go in then,
  // an op's when it is taken from the stack (after every node before it).
  auto reach = [&](const NodeRef& r) {
    auto [it, added] = pos.emplace(r.get(), int32_t(g.nodes.size()));
    if (added) {
      g.nodes.push_back(&r);
      edges.push_back(0);
      const Node& n = *r;
      if (!n.realized()) {
        stack.push_back(&r);
      } else {
        g.leaves.push_back(it->second);
        key.push_back(-1);
        key.push_back(type_word(n));
        push_shape(key, n.shape);
        key.insert(key.end(), n.layout.strides.begin(), n.layout.strides.end());
        key.push_back(n.layout.offset);
        auto shared = first_leaf.emplace(n.buffer.get(), int32_t(g.leaves.size() - 1));
        key.push_back(shared.first->second);
      }
    }
    edges[it->second]++;
    return it->second;
  };
  for (const NodeRef& t : g.roots) key.push_back(reach(t));
  // A floating constant that becomes a launch parameter is left out of the
  // key, so a learning rate that changes every step replays too: only which
  // of them are equal is kept (cse merges equal constants), and the replay
  // reads their values from the new graph. A pow's constant exponent stays
  // in the key: the kernel has it as a literal (x^2 and x^0.5 have fast paths).
  std::vector<std::pair<int32_t, size_t>> fulls;  // position, where its value goes in the key
  // So is a random value's seed and offset (launch parameters too): a new
  // draw replays the schedule of the last one.
  std::vector<std::pair<int32_t, size_t>> randoms;
  std::vector<const Node*> pows;
  while (!stack.empty()) {
    const NodeRef& r = *stack.back();
    const Node& n = *r;
    stack.pop_back();
    if (n.write_back) g.cacheable = false;
    key.push_back(int64_t(n.op));
    key.push_back(type_word(n));
    push_shape(key, n.shape);
    if (n.op == Op::Full && is_param_scalar(n.dtype, n.attr<FullAttrs>().value)) {
      fulls.push_back({pos[&n], key.size()});
      key.resize(key.size() + 2);
    } else if (is_random(n.op)) {
      randoms.push_back({pos[&n], key.size()});
      key.push_back(0);
    } else {
      push_attrs(key, n.attrs);
    }
    if (n.op == Op::Pow) pows.push_back(&n);
    key.push_back(int64_t(n.inputs.size()));
    size_t first = stack.size();
    for (const NodeRef& x : n.inputs) key.push_back(reach(x));
    // Inputs come off the stack in order.
    std::reverse(stack.begin() + int64_t(first), stack.end());
  }
  std::unordered_set<int32_t> exponents;
  for (const Node* p : pows) {
    const Node* e = p->inputs[1].get();
    while (!e->realized() && is_view(e->op)) e = e->inputs[0].get();
    if (!e->realized() && e->op == Op::Full) exponents.insert(pos[e]);
  }
  std::map<std::pair<int64_t, int64_t>, int32_t> first_equal;  // dtype and value -> first free constant
  for (auto [p, at] : fulls) {
    const Node& n = **g.nodes[size_t(p)];
    const Scalar& value = n.attr<FullAttrs>().value;
    int64_t bits = value.is_floating() ? std::bit_cast<int64_t>(value.to_double()) : value.to_int();
    if (exponents.count(p)) {
      key[at] = int64_t(value.kind());
      key[at + 1] = bits;
    } else {
      g.free_constants.push_back(p);
      key[at] = -3;
      key[at + 1] = first_equal.emplace(std::pair(int64_t(n.dtype) << 8 | int64_t(value.kind()), bits), p).first->second;
    }
  }

  std::map<std::tuple<int64_t, int64_t, int64_t>, int32_t> first_draw;  // op, seed, offset -> first random node
  for (auto [p, at] : randoms) {
    const Node& n = **g.nodes[size_t(p)];
    const RandomAttrs& a = n.attr<RandomAttrs>();
    g.free_constants.push_back(p);
    key[at] = first_draw.emplace(std::tuple(int64_t(n.op), a.seed, a.offset), p).first->second;
  }

  // The values needed later: referred to from more places than the graph's
  // edges and the targets' own references.
  std::vector<char> is_root(g.nodes.size(), 0);
  for (const NodeRef& t : g.roots) is_root[pos[t.get()]] = 1;
  std::vector<int32_t> later;
  for (size_t p = 0; p < g.nodes.size(); ++p) {
    const NodeRef& r = *g.nodes[p];
    if (is_root[p] || r->realized() || r.use_count() <= edges[p]) continue;
    const Node* root = r.get();
    while (!root->realized() && is_view(root->op)) root = root->inputs[0].get();
    if (root->op == Op::Full && !root->realized()) continue;
    later.push_back(int32_t(p));
  }
  g.targets.reserve(g.roots.size() + later.size());
  g.targets = g.roots;
  key.push_back(-2);
  for (int32_t p : later) {
    g.targets.push_back(*g.nodes[size_t(p)]);
    key.push_back(p);
  }
  key.push_back(fusion_enabled());
  key.push_back(max_kernel_ops());
  g.hash = hash_words(key);
  return g;
}

// ---- recording

Replay::Replay(const GraphWalk& g, const Schedule& sched) : evictions_(kernel_cache_evictions()) {
  kept_.reserve(g.nodes.size());
  for (const NodeRef* r : g.nodes) kept_.push_back(*r);
  was_leaf_.assign(g.nodes.size(), 0);
  for (int32_t p : g.leaves) was_leaf_[size_t(p)] = 1;
  for (int32_t p : g.free_constants) free_constant_.emplace(g.nodes[size_t(p)]->get(), p);
  for (const NodeRef& n : kept_)
    if (n->op == Op::Full && !n->realized() && !free_constant_.count(n.get())) key_constant_.insert(n.get());
  for (size_t i = 0; i < g.leaves.size(); ++i) {
    const Node* leaf = g.nodes[size_t(g.leaves[i])]->get();
    leaf_of_node_.emplace(leaf, int32_t(i));
    leaf_of_buffer_.emplace(leaf->buffer.get(), int32_t(i));
  }
  for (const NodeRef& n : sched.materialized) {
    fresh_of_node_.emplace(n.get(), int32_t(fresh_.size()));
    fresh_.push_back({n->numel(), element_size(n->dtype)});
  }
}

bool Replay::leaf_source(const Buffer* b, Source* s) const {
  auto it = leaf_of_buffer_.find(b);
  if (it == leaf_of_buffer_.end()) return false;
  *s = {false, it->second};
  return true;
}

void Replay::record_launch(const ScheduledKernel& sk, const Executable& exe) {
  Launch l{sk.kernel, &exe, sk.sizes, {}, {}, {}};
  l.params.assign(sk.sizes.begin(), sk.sizes.end());
  int64_t n = 1;
  for (int64_t d : sk.sizes) n = __builtin_mul_overflow(n, d, &n) ? INT64_MAX : n;
  max_elements_ = std::max(max_elements_, n);
  for (size_t a = 0; a < sk.arg_nodes.size(); ++a) {
    const NodeRef& node = sk.arg_nodes[a];
    Source s{};
    if (sk.kernel.args[a].position) s = {false, -1};
    else if (auto it = leaf_of_node_.find(node.get()); it != leaf_of_node_.end()) s = {false, it->second};
    else if (node->realized()) ok_ &= leaf_source(node->buffer.get(), &s);
    else if (auto it = fresh_of_node_.find(node.get()); it != fresh_of_node_.end()) s = {true, it->second};
    else ok_ = false;
    l.args.push_back(s);
    const Layout& layout = sk.arg_layouts[a];
    l.params.insert(l.params.end(), layout.strides.begin(), layout.strides.end());
    l.params.push_back(layout.offset);
    const Shape& is = sk.arg_index_strides[a];
    l.params.insert(l.params.end(), is.begin(), is.end());
  }
  for (size_t i = 0; i < sk.scalars.size(); ++i) {
    // A launch parameter is read from the replayed graph's constant.
    const ScalarSource& src = sk.scalar_nodes[i];
    auto it = free_constant_.find(src.node);
    if (it != free_constant_.end()) l.scalars.push_back({int32_t(l.params.size()), it->second, src.field});
    else ok_ &= is_key_constant(src.node);
    l.params.push_back(sk.scalars[i]);
  }
  launches_.push_back(std::move(l));
}

bool Replay::finish(const Schedule& sched) {
  std::unordered_map<const Buffer*, int32_t> fresh_of_buffer;
  for (size_t i = 0; i < sched.materialized.size(); ++i)
    fresh_of_buffer.emplace(sched.materialized[i]->buffer.get(), int32_t(i));
  for (size_t p = 0; p < kept_.size(); ++p) {
    const Node& n = *kept_[p];
    if (was_leaf_[p] || !n.realized()) continue;
    Source s{};
    if (auto it = fresh_of_buffer.find(n.buffer.get()); it != fresh_of_buffer.end()) s = {true, it->second};
    else ok_ &= leaf_source(n.buffer.get(), &s);
    outcomes_.push_back({int32_t(p), s, n.layout});
  }
  kept_.clear();
  free_constant_.clear();
  key_constant_.clear();
  leaf_of_buffer_.clear();
  leaf_of_node_.clear();
  fresh_of_node_.clear();
  was_leaf_.clear();
  return ok_;
}

// ---- replaying

void Replay::run(const GraphWalk& g, const Backend& backend) const {
  std::vector<std::shared_ptr<Buffer>> fresh;
  fresh.reserve(fresh_.size());
  for (auto [numel, size] : fresh_) fresh.push_back(backend.allocate(numel, size));
  auto data = [&](Source s) -> void* {
    if (!s.fresh && s.index < 0) return nullptr;
    return s.fresh ? fresh[size_t(s.index)]->data() : (*g.nodes[size_t(g.leaves[size_t(s.index)])])->buffer->data();
  };
  std::vector<LaunchSpec> specs(launches_.size());
  for (size_t i = 0; i < launches_.size(); ++i) {
    const Launch& l = launches_[i];
    LaunchSpec& spec = specs[i];
    spec.exe = l.exe;
    spec.kernel = &l.kernel;
    spec.sizes = l.sizes;
    for (Source s : l.args) spec.ptrs.push_back(data(s));
    spec.params = l.params;
    for (const Launch::ParamSource& sc : l.scalars)
      spec.params[size_t(sc.at)] = scalar_value({g.nodes[size_t(sc.node)]->get(), sc.field});
  }
  run_launches(backend, specs);
  count_kernel_cache_hits(int64_t(launches_.size()));
  g_hits++;
  // Every node first, then realize them: realizing one drops its inputs,
  // which may be the last reference to another.
  std::vector<NodeRef> nodes;
  nodes.reserve(outcomes_.size());
  for (const Outcome& o : outcomes_) nodes.push_back(*g.nodes[size_t(o.node)]);
  for (size_t i = 0; i < outcomes_.size(); ++i) {
    Source s = outcomes_[i].source;
    nodes[i]->set_realized(s.fresh ? fresh[size_t(s.index)] : (*g.nodes[size_t(g.leaves[size_t(s.index)])])->buffer,
                           outcomes_[i].layout);
  }
}

// ---- the cache

namespace {

struct Entry {
  std::vector<int64_t> key;
  std::unique_ptr<Replay> replay;
};

std::atomic<bool>& cache_on() {
  static std::atomic<bool> on = [] {
    const char* e = std::getenv("KILN_SCHEDULE_CACHE");
    return !(e && e[0] == '0');
  }();
  return on;
}
bool cache_enabled() { return cache_on(); }

// Distinct graph structures kept; a process that meets more starts over
// (each entry costs a walk's key and the launches' parameters).
constexpr size_t kCapacity = 1024;

std::unordered_map<uint64_t, Entry>& entries() {
  static std::unordered_map<uint64_t, Entry> m;
  return m;
}

}  // namespace

const Replay* find_replay(const GraphWalk& g) {
  if (!g.cacheable || !cache_enabled()) return nullptr;
  auto it = entries().find(g.hash);
  if (it == entries().end() || it->second.key != g.key) return nullptr;
  // A kernel it launches may have been unloaded since.
  if (it->second.replay->evictions_ != kernel_cache_evictions()) {
    entries().erase(it);
    return nullptr;
  }
  return it->second.replay.get();
}

void keep_replay(const GraphWalk& g, std::unique_ptr<Replay> r) {
  if (!g.cacheable || !cache_enabled()) return;
  if (entries().size() >= kCapacity) entries().clear();
  entries()[g.hash] = Entry{g.key, std::move(r)};
}

int64_t schedule_cache_hits() { return g_hits; }

void set_schedule_cache_enabled(bool on) {
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
  cache_on() = on;
}
bool schedule_cache_enabled() { return cache_on(); }

}  // namespace kiln
