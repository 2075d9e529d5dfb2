#include "runtime/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "kiln/error.h"

namespace kiln {

struct ThreadPool::State {
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::vector<std::thread> workers;
  int nthreads = 1;
  bool stop = false;
  // The current job: tasks [0, n) handed out through `next`.
  const std::function<void(int64_t)>* fn = nullptr;
  int64_t n = 0;
  std::atomic<int64_t> next{0};
  int64_t generation = 0;
  int active = 0;  // workers inside the current job
  std::exception_ptr error;

  void run_tasks(const std::function<void(int64_t)>& f, int64_t count) {
    for (int64_t i; (i = next.fetch_add(1)) < count;) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
    }
  }

  void worker() {
    int64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      work_cv.wait(lock, [&] { return stop || generation != seen; });
      if (stop) return;
      seen = generation;
      if (!fn) continue;  // woke after the job ended
      ++active;
      const auto* f = fn;
      int64_t count = n;
      lock.unlock();
      run_tasks(*f, count);
      lock.lock();
      if (--active == 0) done_cv.notify_all();
    }
  }

  void start(int threads) {
    nthreads = std::max(1, threads);
    for (int i = 1; i < nthreads; ++i) workers.emplace_back([this] { worker(); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    work_cv.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
    stop = false;
  }
};

ThreadPool::ThreadPool() : s_(new State) {
  int n = int(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("KILN_NUM_THREADS")) n = std::atoi(env);
  s_->start(n > 0 ? n : 1);
}

ThreadPool::~ThreadPool() {
  s_->shutdown();
  delete s_;
}

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

int ThreadPool::num_threads() const { return s_->nthreads; }

void ThreadPool::set_num_threads(int n) {
  if (n < 1) throw Error("set_num_threads: expected a positive number of threads, got " + std::to_string(n));
  s_->shutdown();
  s_->start(n);
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (n == 1 || s_->nthreads == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::unique_lock<std::mutex> lock(s_->mu);
  s_->fn = &fn;
  s_->n = n;
  s_->next = 0;
  s_->error = nullptr;
  ++s_->generation;
  lock.unlock();
  s_->work_cv.notify_all();
  s_->run_tasks(fn, n);
  lock.lock();
  // Every task has been taken (by us, after the loop above) and no worker is
  // still inside one.
  s_->done_cv.wait(lock, [&] { return s_->active == 0; });
  s_->fn = nullptr;
  if (s_->error) std::rethrow_exception(s_->error);
}

}  // namespace kiln
