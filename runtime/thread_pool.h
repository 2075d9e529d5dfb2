#pragma once
// A fixed pool of worker threads for kernel launches. Idle workers block on a
// condition variable (never spin: on 2 cores a spinning worker steals the
// core the caller needs). The calling thread takes part in the work.
#include <cstdint>
#include <functional>

namespace kiln {

class ThreadPool {
public:
  static ThreadPool& instance();
  /// Runs fn(i) for i in [0, n) on up to num_threads() threads; returns when
  /// all are done. Exceptions from fn are rethrown in the caller.
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);
  int num_threads() const;
  void set_num_threads(int n);

private:
  ThreadPool();
  ~ThreadPool();
  struct State;
  State* s_;
};

}  // namespace kiln
