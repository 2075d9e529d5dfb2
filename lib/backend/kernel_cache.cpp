#include "backend/kernel_cache.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <unordered_map>

#include "kiln/error.h"
#include "runtime/debug.h"
#include "runtime/disk_cache.h"

namespace kiln {

namespace {

std::atomic<int64_t> g_compiled{0}, g_from_disk{0}, g_hits{0}, g_evictions{0};

size_t capacity() {
  static const size_t n = [] {
    const char* e = std::getenv("KILN_MAX_RESIDENT_KERNELS");
    long v = e ? std::atol(e) : 0;
    return v > 0 ? size_t(v) : size_t(4096);
  }();
  return n;
}

// Loaded kernels, most recently used first.
struct Entry {
  std::string key;
  std::unique_ptr<Executable> exe;
};
std::list<Entry>& lru() {
  static std::list<Entry> l;
  return l;
}
std::unordered_map<std::string, std::list<Entry>::iterator>& index() {
  static std::unordered_map<std::string, std::list<Entry>::iterator> m;
  return m;
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

std::unique_ptr<Executable> load_or_compile(Backend& b, const Kernel& k, const std::string& key) {
  std::string why;
  if (auto cached = disk_cache::load(key)) {
    if (auto exe = b.load(k, *cached, &why)) {
      g_from_disk++;
      return exe;
    }
  }
  if (debug_level() >= 3)
    for (const BackendStage& s : b.stages())
      if (s.name != "asm") std::fprintf(stderr, "---- %s: %s\n%s", s.name.c_str(), k.name.c_str(), b.emit(k, s.name).c_str());
  std::string artifact = b.compile(k);
  auto exe = b.load(k, artifact, &why);
  if (!exe) throw Error("kiln: failed to load kernel " + k.name + ": " + why);
  g_compiled++;
  disk_cache::store(key, artifact);
  return exe;
}

}  // namespace

const Executable& compiled_kernel(Backend& b, const Kernel& k) {
  std::string key = k.str() + "\n" + b.identity();
  if (auto it = index().find(key); it != index().end()) {
    lru().splice(lru().begin(), lru(), it->second);
    g_hits++;
    return *it->second->exe;
  }
  auto t0 = std::chrono::steady_clock::now();
  int64_t from_disk = g_from_disk;
  std::unique_ptr<Executable> exe = load_or_compile(b, k, key);
  if (debug_level() >= 1)
    std::fprintf(stderr, "kiln: %s %s in %.1f ms\n", g_from_disk > from_disk ? "loaded (disk cache)" : "compiled",
                 k.name.c_str(), ms_since(t0));
  lru().push_front({key, std::move(exe)});
  index()[key] = lru().begin();
  while (lru().size() > capacity()) {
    index().erase(lru().back().key);
    lru().pop_back();  // (its destructor unloads the kernel)
    g_evictions++;
  }
  return *lru().front().exe;
}

int64_t kernel_cache_evictions() { return g_evictions; }
void count_kernel_cache_hits(int64_t n) { g_hits += n; }

KernelCacheStats kernel_cache_stats() { return {g_compiled.load(), g_from_disk.load(), g_hits.load()}; }

}  // namespace kiln
