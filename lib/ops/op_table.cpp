// The op table: every family's definitions, checked once against the
// ops.def kinds, so an op added without its gradient or its numerics is an
// error at the first use of the table (and in the unit tests), not a wrong
// answer later.
#include <string>

#include "kiln/error.h"
#include "ops/op_def.h"

namespace kiln::ops {

namespace {

OpTable build() {
  OpTable ops;
  define_plumbing(ops);
  define_unary(ops);
  define_transcendental(ops);
  define_arithmetic(ops);
  define_division(ops);
  define_selection(ops);
  define_reductions(ops);
  define_views(ops);
  define_writes(ops);
  define_random(ops);
  for (size_t i = 0; i < kNumOps; ++i) {
    Op op = Op(i);
    const OpDef& d = ops[op];
    auto missing = [&](const char* what) {
      throw Error(std::string("kiln: internal: op ") + op_name(op) + " is defined without " + what +
                  " (lib/ops/op_def.h)");
    };
    if (is_primitive(op)) {
      // Kernel IR only: lowered by every backend, never differentiated.
      if (d.gradient || d.decompose) missing("nothing: a primitive has no gradient or decomposition");
      continue;
    }
    if (!d.gradient) missing("a gradient rule");
    bool computed = is_elementwise(op) || is_random(op);
    if (computed != (d.decompose != nullptr)) missing(computed ? "its numerics" : "kind Elementwise or Random");
  }
  return ops;
}

}  // namespace

const OpDef& op_def(Op op) {
  static const OpTable table = build();
  return table.defs.at(size_t(op));
}

}  // namespace kiln::ops
