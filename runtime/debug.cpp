#include "runtime/debug.h"

#include <cstdlib>

namespace kiln {

int debug_level() {
  static const int level = [] {
    const char* s = std::getenv("KILN_DEBUG");
    return s ? std::atoi(s) : 0;
  }();
  return level;
}

}  // namespace kiln
