#pragma once
// Buffer: a block of device memory holding elements. Owned buffers come from
// the caching allocator and go back to it when the last reference dies;
// borrowed buffers (from_blob) belong to the caller.
#include <cstddef>
#include <functional>
#include <memory>

#include "kiln/device.h"

namespace kiln {

class Buffer {
public:
  /// `bytes` of fresh, 64-byte aligned, uninitialized memory.
  static std::shared_ptr<Buffer> allocate(size_t bytes, Device device = kCPU);
  /// Room for `numel` elements of `element_size` bytes (at least one
  /// element); throws kiln::Error when the size does not fit in memory.
  static std::shared_ptr<Buffer> allocate_elements(int64_t numel, int64_t element_size, Device device = kCPU);
  /// Caller-owned memory: never freed by kiln; `deleter` (if any) is called
  /// with `data` when the last reference to the buffer goes.
  static std::shared_ptr<Buffer> borrow(void* data, size_t bytes, Device device = kCPU,
                                        std::function<void(void*)> deleter = nullptr);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  /// The caller's memory (from_blob), not kiln's.
  bool borrowed() const { return !owned_; }

private:
  Buffer(void* data, size_t bytes, Device device, bool owned)
      : data_(data), bytes_(bytes), device_(device), owned_(owned) {}
  void* data_;
  size_t bytes_;
  Device device_;
  bool owned_;
  std::function<void(void*)> deleter_;
};

}  // namespace kiln
