#include "launches.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "runtime/debug.h"
#include "runtime/thread_pool.h"

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Atomic: runtime_stats() may read it while another thread realizes.
std::atomic<int64_t> g_launched{0};
std::atomic<int64_t> g_blocked{0};  // groups run in row blocks

// One argument's access: where its row r starts (offset + r * stride0) and
// how far the row reaches (span, in elements).
struct Access {
  int64_t stride0, offset, span, bytes;
  bool write;
};

// The accesses of launch l by buffer, or false if l cannot be blocked.
bool accesses(const LaunchSpec& l, std::unordered_map<void*, std::vector<Access>>& by_ptr) {
  const Kernel& k = *l.kernel;
  const int R = k.rank;
  if (R < 1 || k.serial || k.contraction || l.sizes[0] < 4) return false;
  int64_t at = R;
  for (size_t a = 0; a < k.args.size(); ++a) {
    const KernelArg& arg = k.args[a];
    if (arg.num_index) return false;
    const int64_t* st = l.params.data() + at;
    at += R + 1 + arg.num_index;
    if (arg.position) continue;
    int64_t span = 0;
    for (int d = 1; d < R; ++d) {
      if (st[d] < 0) return false;
      span += (l.sizes[size_t(d)] - 1) * st[d];
    }
    by_ptr[l.ptrs[a]].push_back({st[0], st[R], span, int64_t(element_size(arg.dtype)), arg.is_output});
  }
  return true;
}

// Whether launches [first, last) can run in row blocks; sets the bytes a
// row of them touches and whether blocking pays (a buffer of at least
// `big` bytes read or written by two of them).
bool legal(const std::vector<LaunchSpec>& ls, size_t first, size_t last, int64_t big, int64_t* row_bytes,
           bool* pays) {
  std::unordered_map<void*, std::vector<Access>> by_ptr;
  std::unordered_map<void*, int> users;
  for (size_t i = first; i < last; ++i) {
    if (ls[i].sizes[0] != ls[first].sizes[0]) return false;
    std::unordered_map<void*, std::vector<Access>> mine;
    if (!accesses(ls[i], mine)) return false;
    for (auto& [p, v] : mine) {
      users[p]++;
      by_ptr[p].insert(by_ptr[p].end(), v.begin(), v.end());
    }
  }
  const int64_t rows = ls[first].sizes[0];
  *row_bytes = 0;
  *pays = false;
  for (auto& [p, v] : by_ptr) {
    bool written = std::any_of(v.begin(), v.end(), [](const Access& a) { return a.write; });
    for (const Access& a : v) {
      if (!written) continue;
      if (a.stride0 <= 0 || a.stride0 != v[0].stride0 || a.offset != v[0].offset || a.span >= a.stride0) return false;
    }
    int64_t per_row = 0;
    for (const Access& a : v) per_row = std::max(per_row, a.stride0 * a.bytes);
    *row_bytes += per_row;
    if (users[p] >= 2 && per_row * rows >= big) *pays = true;
  }
  return true;
}

// Whether launch l reaches a buffer of `big` bytes or more along its rows.
bool large(const LaunchSpec& l, int64_t big) {
  const Kernel& k = *l.kernel;
  const int R = k.rank;
  if (R < 1) return false;
  int64_t at = R;
  for (const KernelArg& arg : k.args) {
    int64_t stride0 = l.params[size_t(at)];
    at += R + 1 + arg.num_index;
    if (!arg.position && stride0 > 0 && l.sizes[0] * stride0 * int64_t(element_size(arg.dtype)) >= big) return true;
  }
  return false;
}

void run_one(const LaunchSpec& l) {
  auto t0 = Clock::now();
  l.exe->launch(*l.kernel, l.ptrs.data(), l.params.data(), l.sizes);
  g_launched++;
  if (debug_level() >= 1)
    std::fprintf(stderr, "kiln: ran %s over [%s] in %.3f ms\n", l.kernel->name.c_str(),
                 fmt::format("{}", fmt::join(l.sizes, ", ")).c_str(), ms_since(t0));
}

void run_blocked(const std::vector<LaunchSpec>& ls, size_t first, size_t last, int64_t block_rows) {
  auto t0 = Clock::now();
  const int64_t rows = ls[first].sizes[0];
  const int64_t blocks = std::max<int64_t>(1, rows / block_rows);
  ThreadPool::instance().parallel_for(blocks, [&](int64_t b) {
    int64_t r0 = rows * b / blocks, r1 = rows * (b + 1) / blocks;
    std::vector<int64_t> params;
    Shape sizes;
    for (size_t i = first; i < last; ++i) {
      const LaunchSpec& l = ls[i];
      const Kernel& k = *l.kernel;
      const int R = k.rank;
      params = l.params;
      sizes = l.sizes;
      sizes[0] = r1 - r0;
      params[0] = r1 - r0;
      int64_t at = R;
      for (const KernelArg& arg : k.args) {
        params[size_t(at + R)] += r0 * params[size_t(at)];
        at += R + 1 + arg.num_index;
      }
      l.exe->launch_on_caller(k, l.ptrs.data(), params.data(), sizes);
    }
  });
  g_launched += int64_t(last - first);
  g_blocked++;
  if (debug_level() >= 1) {
    std::string names;
    for (size_t i = first; i < last; ++i) names += (names.empty() ? "" : ", ") + ls[i].kernel->name;
    std::fprintf(stderr, "kiln: ran %s in %lld blocks of %lld rows over [%s] in %.3f ms\n", names.c_str(),
                 (long long)blocks, (long long)(rows / blocks),
                 fmt::format("{}", fmt::join(ls[first].sizes, ", ")).c_str(), ms_since(t0));
  }
}

// The block size in force: the backend's (-1), none (0; KILN_ROW_BLOCKS=0
// starts so, to compare), or a test's.
std::atomic<int64_t>& block_override() {
  static std::atomic<int64_t> bytes = [] {
    const char* e = std::getenv("KILN_ROW_BLOCKS");
    return e && e[0] == '0' ? int64_t(0) : int64_t(-1);
  }();
  return bytes;
}

}  // namespace

void run_launches(const Backend& backend, const std::vector<LaunchSpec>& ls) {
  const int64_t over = block_override();
  int64_t block = over < 0 ? backend.row_block_bytes() : over;
  // A group pays only with a buffer of 16 blocks or more: without one (every
  // small schedule, every replay of a tiny step) there is nothing to search.
  if (block > 0 && !std::any_of(ls.begin(), ls.end(), [&](const LaunchSpec& l) { return large(l, 16 * block); }))
    block = 0;
  size_t i = 0;
  while (i < ls.size()) {
    // The longest legal group from i on.
    size_t end = i + 1;
    int64_t row_bytes = 0;
    bool pays = false;
    if (block > 0) {
      int64_t rb = 0;
      bool p = false;
      while (end < ls.size() && legal(ls, i, end + 1, 16 * block, &rb, &p)) {
        ++end;
        row_bytes = rb;
        pays = p;
      }
    }
    if (end - i >= 2 && pays) {
      run_blocked(ls, i, end, std::max<int64_t>(2, block / std::max<int64_t>(row_bytes, 1)));
    } else {
      for (size_t j = i; j < end; ++j) run_one(ls[j]);
    }
    i = end;
  }
}

int64_t kernels_launched_total() { return g_launched; }
void set_row_block_bytes(int64_t bytes) { block_override() = bytes; }
int64_t row_block_groups() { return g_blocked; }

}  // namespace kiln
