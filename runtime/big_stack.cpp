#include "runtime/big_stack.h"

#include <pthread.h>

namespace kiln {

namespace {
struct Work {
  const std::function<int()>* fn;
  int rc = 1;
};
void* run(void* p) {
  auto* w = static_cast<Work*>(p);
  w->rc = (*w->fn)();
  return nullptr;
}
}  // namespace

int run_with_big_stack(const std::function<int()>& work) {
  Work w{&work};
  pthread_attr_t attr;
  pthread_t thread;
  bool attr_ok = pthread_attr_init(&attr) == 0;
  if (attr_ok && pthread_attr_setstacksize(&attr, size_t(1) << 30) == 0 && pthread_create(&thread, &attr, run, &w) == 0)
    pthread_join(thread, nullptr);
  else
    run(&w);
  if (attr_ok) pthread_attr_destroy(&attr);
  return w.rc;
}

}  // namespace kiln
