// Buffers and the caching allocator behind them.
//
// A fresh 64 MiB block from glibc costs ~50 ms of page faults (large blocks
// are mmap'ed and returned to the kernel on free), more than the kernel that
// fills it. Freed blocks are therefore kept, bucketed by rounded size, and
// handed out again: a loop that allocates the same sizes every iteration
// touches fresh memory only in its first iteration.
#include "runtime/buffer.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "kiln/error.h"
#include "runtime/allocator.h"

namespace kiln {

namespace {

// Sizes are rounded up so that near-equal requests share a bucket: to 64
// bytes below 1 MiB, then to 1/8 of the next power of two (<= 12.5% waste).
size_t round_size(size_t n) {
  if (n < (size_t(1) << 20)) return (n + 63) & ~size_t(63);
  size_t p = size_t(1) << (64 - __builtin_clzll(n - 1));
  size_t step = p / 8;
  return (n + step - 1) / step * step;
}

class CachingAllocator {
public:
  void* allocate(size_t bytes) {
    size_t size = round_size(std::max<size_t>(bytes, 1));
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= size;
        in_use_ += size;
        sizes_[p] = size;
        return p;
      }
      // Sizes that come and go (a smaller last batch, varying lengths) would
      // leave blocks no request reuses: past a bound, give them back.
      if (cached_ + size > std::max(kMinCacheBound, in_use_)) release_cached_locked();
    }
    void* p = std::aligned_alloc(64, size);
    if (!p) {
      empty();
      p = std::aligned_alloc(64, size);
      if (!p) throw Error("kiln: out of memory allocating " + std::to_string(size) + " bytes");
    }
    std::lock_guard<std::mutex> lock(mu_);
    in_use_ += size;
    sizes_[p] = size;
    return p;
  }

  void release(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sizes_.find(p);
    size_t size = it->second;
    sizes_.erase(it);
    in_use_ -= size;
    free_[size].push_back(p);
    cached_ += size;
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached_locked();
  }

  size_t cached() {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }
  size_t in_use() {
    std::lock_guard<std::mutex> lock(mu_);
    return in_use_;
  }

  ~CachingAllocator() { empty(); }

private:
  static constexpr size_t kMinCacheBound = size_t(1) << 30;  // 1 GiB

  void release_cached_locked() {
    for (auto& [size, ptrs] : free_)
      for (void* p : ptrs) std::free(p);
    free_.clear();
    cached_ = 0;
  }

  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  std::map<void*, size_t> sizes_;
  size_t cached_ = 0, in_use_ = 0;
};

CachingAllocator& allocator() {
  // Leaked on purpose: buffers held by static tensors may die after it would.
  static auto* a = new CachingAllocator();
  return *a;
}

}  // namespace

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes, Device device) {
  if (bytes > (size_t(1) << 56)) throw Error("kiln: cannot allocate " + std::to_string(bytes) + " bytes: too large");
  if (!device.is_cpu()) throw Error("kiln: allocation on " + device.str() + " is not supported yet");
  return std::shared_ptr<Buffer>(new Buffer(allocator().allocate(bytes), bytes, device, true));
}

std::shared_ptr<Buffer> Buffer::allocate_elements(int64_t numel, int64_t element_size, Device device) {
  int64_t bytes;
  if (__builtin_mul_overflow(std::max<int64_t>(numel, 1), element_size, &bytes) || bytes > (int64_t(1) << 56))
    throw Error("kiln: cannot allocate " + std::to_string(numel) + " elements of " + std::to_string(element_size) +
                " bytes: too large");
  return allocate(size_t(bytes), device);
}

std::shared_ptr<Buffer> Buffer::borrow(void* data, size_t bytes, Device device, std::function<void(void*)> deleter) {
  auto b = std::shared_ptr<Buffer>(new Buffer(data, bytes, device, false));
  b->deleter_ = std::move(deleter);
  return b;
}

Buffer::~Buffer() {
  if (owned_) allocator().release(data_);
  else if (deleter_) deleter_(data_);
}

size_t allocator_bytes_cached() { return allocator().cached(); }
size_t allocator_bytes_in_use() { return allocator().in_use(); }
void allocator_empty_cache() { allocator().empty(); }

}  // namespace kiln
