// realize(): schedule, compile (through the kernel cache), allocate, launch.
#include <fmt/format.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "backend/kernel_cache.h"
#include "graph/builders.h"
#include "launches.h"
#include "passes/passes.h"
#include "kiln/runtime.h"
#include "runtime/allocator.h"
#include "runtime/debug.h"
#include "runtime/thread_pool.h"
#include "schedule/schedule.h"
#include "schedule_cache.h"
#include "text/printer.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::atomic<int64_t>& launch_limit() {
  static std::atomic<int64_t> limit = [] {
    int64_t n = int64_t(1) << 42;
    if (const char* env = std::getenv("KILN_MAX_ELEMENTS"); env && std::atoll(env) > 0) n = std::atoll(env);
    return n;
  }();
  return limit;
}

// Refuses a schedule with a launch over more elements than the limit,
// before anything is allocated or run.
void check_launch_sizes(const Schedule& sched) {
  int64_t limit = launch_limit();
  for (const ScheduledKernel& sk : sched.kernels) {
    int64_t n = 1;
    bool overflow = false;
    for (int64_t d : sk.sizes) overflow |= __builtin_mul_overflow(n, d, &n);
    if (!overflow && n <= limit) continue;
    const std::string& name = sk.kernel.name;
    std::string ops = name.size() > 2 ? name.substr(2) : name;  // "R_mul_sum" -> "mul_sum"
    std::replace(ops.begin(), ops.end(), '_', ' ');
    throw Error(fmt::format("{}: one kernel launch over {} elements (kernel {} over {}) exceeds the limit of {} "
                            "elements per launch (raise it with kiln::set_max_launch_elements or "
                            "KILN_MAX_ELEMENTS)",
                            ops, overflow ? std::string("more than 2^63") : std::to_string(n), name,
                            shape_str(sk.sizes), limit));
  }
}

// Copies elements between two strided layouts of one shape.
void copy_strided(const char* src, const Layout& sl, char* dst, const Layout& dl, size_t es) {
  size_t r = sl.shape.size();
  int64_t n = numel(sl.shape);
  Shape idx(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t so = sl.offset, d = dl.offset;
    for (size_t k = 0; k < r; ++k) {
      so += idx[k] * sl.strides[k];
      d += idx[k] * dl.strides[k];
    }
    std::memcpy(dst + d * int64_t(es), src + so * int64_t(es), es);
    for (size_t k = r; k-- > 0;)
      if (++idx[k] < sl.shape[k]) break;
      else idx[k] = 0;
  }
}

// A from_blob tensor's in-place result, now computed, goes into the
// caller's memory, and the node aliases that memory from now on. A node
// that aliased it until now and that something still reads (a lazy value
// built before the in-place op) keeps the old contents in a copy of its own.
void write_back(const NodeRef& n) {
  std::shared_ptr<External> ext = std::move(n->write_back);
  size_t es = size_t(element_size(n->dtype));
  if (NodeRef cur = ext->current.lock(); cur && cur != n && cur->realized() && cur->buffer == ext->buffer &&
                                         cur.use_count() > 1) {
    auto copy = Buffer::allocate_elements(cur->numel(), int64_t(es));
    Layout l = Layout::contiguous(cur->shape);
    copy_strided(static_cast<const char*>(cur->buffer->data()), cur->layout, static_cast<char*>(copy->data()), l, es);
    cur->buffer = std::move(copy);
    cur->layout = l;
  }
  copy_strided(static_cast<const char*>(n->buffer->data()), n->layout, static_cast<char*>(ext->buffer->data()),
               ext->layout, es);
  n->buffer = ext->buffer;
  n->layout = ext->layout;
  ext->current = n;
}

// passes::optimize, printing (KILN_DEBUG=2) the graph, the graph after each
// pass that changed it and the optimized graph. Names carry over from one
// graph to the next (text::carry_names), so a node keeps its name.
std::vector<NodeRef> optimize_and_log(const std::vector<NodeRef>& targets) {
  text::NameMap names;
  auto print = [&](const std::vector<NodeRef>& graph) {
    text::NameMap assigned;
    text::PrintOptions options;
    options.names = &names;
    options.assigned = &assigned;
    std::string s = text::print(graph, options);
    for (auto& [n, name] : assigned) names[n] = name;
    return s;
  };
  std::fprintf(stderr, "---- graph\n%s", print(targets).c_str());
  // Every graph printed stays alive until the end: `names` is keyed by
  // address, and a freed node's address may come back as a new node.
  std::vector<std::vector<NodeRef>> printed = {targets};
  std::vector<NodeRef> optimized = passes::optimize(targets, [&](const char* pass, const std::vector<NodeRef>& after) {
    names = text::carry_names(printed.back(), names, after);
    std::fprintf(stderr, "// after %s\n%s", pass, print(after).c_str());
    printed.push_back(after);
  });
  std::fprintf(stderr, "---- optimized graph\n%s", print(optimized).c_str());
  return optimized;
}

}  // namespace

std::recursive_mutex& runtime_mutex() {
  static std::recursive_mutex mu;
  return mu;
}

void realize(const std::vector<Tensor>& tensors) {
  // One schedule at a time: the kernel cache, the thread pool's job slot and
  // the nodes being realized are shared by every thread that realizes.
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
  std::vector<NodeRef> requested;
  for (const Tensor& t : tensors) {
    const NodeRef& n = node_of(t);
    if (!n->realized()) requested.push_back(n);
  }
  if (requested.empty()) return;
  GraphWalk walk = walk_graph(std::move(requested));
  // One realize computes on one device: its backend (the registry's).
  Device device = walk.roots[0]->device;
  for (const NodeRef& t : walk.roots)
    if (!(t->device == device))
      throw Error("realize: expected all tensors to be on the same device, but found at least two devices, " +
                  device.str() + " and " + t->device.str() + "!");
  Backend& backend = backend_for(device);
  if (debug_level() < 2)
    if (const Replay* replay = find_replay(walk); replay && replay->max_launch_elements() <= launch_limit()) {
      if (debug_level() >= 1) std::fprintf(stderr, "kiln: replaying a schedule seen before\n");
      replay->run(walk, backend);
      return;
    }

  std::vector<NodeRef>& targets = walk.targets;
  std::vector<NodeRef> optimized = debug_level() >= 2 ? optimize_and_log(targets) : passes::optimize(targets);
  Schedule sched = make_schedule(optimized, walk.requested);
  if (debug_level() >= 2) std::fprintf(stderr, "---- schedule\n%s", sched.str().c_str());
  check_launch_sizes(sched);

  auto replay = walk.cacheable && schedule_cache_enabled() ? std::make_unique<Replay>(walk, sched) : nullptr;
  std::unordered_map<Node*, std::shared_ptr<Buffer>> bufs;
  for (const NodeRef& n : sched.materialized)
    bufs[n.get()] = backend.allocate(n->numel(), element_size(n->dtype));
  std::vector<LaunchSpec> launches(sched.kernels.size());
  for (size_t i = 0; i < sched.kernels.size(); ++i) {
    const ScheduledKernel& sk = sched.kernels[i];
    if (debug_level() >= 2) std::fprintf(stderr, "---- kernel IR\n%s", sk.kernel.str().c_str());
    const Executable& exe = compiled_kernel(backend, sk.kernel);
    if (replay) replay->record_launch(sk, exe);
    LaunchSpec& l = launches[i];
    l.exe = &exe;
    l.kernel = &sk.kernel;
    l.sizes = sk.sizes;
    std::vector<void*>& ptrs = l.ptrs;
    std::vector<int64_t>& params = l.params;
    params.assign(sk.sizes.begin(), sk.sizes.end());
    for (size_t a = 0; a < sk.arg_nodes.size(); ++a) {
      const NodeRef& n = sk.arg_nodes[a];
      if (sk.kernel.args[a].position) ptrs.push_back(nullptr);  // no memory: positions
      else ptrs.push_back(n->realized() ? n->buffer->data() : bufs.at(n.get())->data());
      const Layout& l = sk.arg_layouts[a];
      params.insert(params.end(), l.strides.begin(), l.strides.end());
      params.push_back(l.offset);
      const Shape& is = sk.arg_index_strides[a];
      params.insert(params.end(), is.begin(), is.end());
    }
    params.insert(params.end(), sk.scalars.begin(), sk.scalars.end());
  }
  run_launches(backend, launches);

  // A requested view is laid out over the base its chain starts from, as the
  // scheduler saw it: taken before the materialized nodes are realized, since
  // a view on the way may have got a buffer of its own (gathered), and a
  // reshape over that copy's layout need not compose.
  struct ViewOf {
    NodeRef view, base;
    Layout layout;
  };
  std::vector<ViewOf> view_layouts;
  for (const NodeRef& v : sched.views) {
    if (v->realized()) continue;
    NodeRef base = v;
    while (!base->realized() && is_view(base->op)) base = base->inputs[0];
    view_layouts.push_back({v, base, graph::layout_of(v)});
  }
  for (const NodeRef& n : sched.materialized) n->set_realized(bufs.at(n.get()), Layout::contiguous(n->shape));
  for (ViewOf& w : view_layouts)
    if (!w.view->realized()) w.view->set_realized(w.base->buffer, std::move(w.layout));
  // Requested nodes the passes rewrote take the rewritten node's value.
  for (size_t i = 0; i < targets.size(); ++i)
    if (optimized[i] != targets[i]) targets[i]->set_realized(optimized[i]->buffer, optimized[i]->layout);
  if (replay && replay->finish(sched)) keep_replay(walk, std::move(replay));
  // (The schedule's own references go first: they would count as readers.)
  sched = Schedule();
  optimized.clear();
  bufs.clear();
  for (const NodeRef& t : targets)
    if (t->write_back && t->realized()) write_back(t);
}

void set_max_launch_elements(int64_t n) {
  if (n < 1) throw Error(fmt::format("set_max_launch_elements: expected a positive limit, got {}", n));
  launch_limit() = n;
}
int64_t max_launch_elements() { return launch_limit(); }

// Waits for a realization in flight: the pool's workers are busy in it.
void set_num_threads(int n) {
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
  ThreadPool::instance().set_num_threads(n);
}
int get_num_threads() {
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
  return ThreadPool::instance().num_threads();
}

void empty_cache() { allocator_empty_cache(); }

RuntimeStats runtime_stats() {
  RuntimeStats s;
  KernelCacheStats c = kernel_cache_stats();
  s.kernels_compiled = c.compiled;
  s.kernels_loaded = c.from_disk;
  s.kernel_cache_hits = c.hits;
  s.schedule_cache_hits = schedule_cache_hits();
  s.kernels_launched = kernels_launched_total();
  s.nodes_alive = nodes_alive();
  s.bytes_cached = int64_t(allocator_bytes_cached());
  s.bytes_in_use = int64_t(allocator_bytes_in_use());
  return s;
}

}  // namespace kiln
