#pragma once
// kiln::Error: every user error (bad shapes, dtypes, indices, arguments)
// throws this, at the call that caused it, naming the op and what was valid.
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace kiln
