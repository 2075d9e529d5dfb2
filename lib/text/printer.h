#pragma once
// The textual graph IR (.kiln): a line-oriented, hand-writable form of the
// graph that the parser (text/parser.h) reads back into the same nodes.
//
//   # a comment runs to the end of the line
//   %x = input : f32[4, 3]                 a realized value (a graph input)
//   %y = input : f32[3] = [1, 2, 3]        ... with its data
//   %0 = mul(%x, %y) : f32[4, 3]           one op per line: name(operands)
//   %1 = sum(%0) {dims = [1]} : f32[4, 1]  {attributes}, then the result type
//   output %1                              the values the graph computes
//
// The full grammar is in text/parser.h. print() writes a graph in canonical
// form: inputs first, then every other node once, operands before users; a
// canonical text parses and prints back to itself, and parsing a printed
// graph gives back the same graph.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graph/node.h"

namespace kiln {
struct Schedule;
}

namespace kiln::text {

/// Names of nodes (without the leading '%').
using NameMap = std::unordered_map<const Node*, std::string>;

struct PrintOptions {
  /// Names to keep; every other node gets the next free number (%0, %1...).
  const NameMap* names = nullptr;
  /// Inputs declared first, in this order, even if no output uses them.
  std::vector<NodeRef> inputs;
  /// Realized values with at most this many elements print their data.
  int64_t inline_limit = 32;
  /// If set, receives the name of every printed node.
  NameMap* assigned = nullptr;
};

/// The graph behind `outputs` as .kiln text (empty for no outputs).
std::string print(const std::vector<NodeRef>& outputs, const PrintOptions& options = {});

/// "f32", "i64", "bool", ... (the spelling types use in the text).
std::string_view dtype_str(DType t);
/// "f32[4, 3]"; "f32[]" for a 0-dim value.
std::string type_str(DType t, const Shape& shape);
/// A number as the text writes it: enough digits to read back exactly.
std::string scalar_str(const Scalar& s);

/// Whether the text shows `n` as an input: realized values are leaves.
inline bool is_input(const Node& n) { return n.realized(); }

/// Names for a rewritten graph `after` (passes::optimize or one pass of `before`, whose
/// nodes have `names`): kept nodes keep theirs, each output takes the name
/// of the output it replaces, and a rebuilt node the name of an original it
/// equals structurally (by value numbering, so nodes CSE merged match too).
/// The result also keeps the names of vanished nodes, so fresh numbers
/// given when printing never reuse them.
NameMap carry_names(const std::vector<NodeRef>& before, const NameMap& names, const std::vector<NodeRef>& after);

/// The schedule of `outputs` with the names of their printed graph: per
/// kernel, Schedule::str's line, then what it reads, what it writes (and
/// why that value has a buffer: output, reduction, write, ...) and the
/// nodes it computes (noting those another kernel computes too):
///   kernel 1 R_sub_exp_sum over [2, 4]: sum [2, 1]
///     reads    %x, %m
///     writes   %s (reduction)
///     computes %d = sub (also in kernel 2), %e = exp (also in kernel 2), %s = sum
std::string schedule_str(const Schedule& schedule, const std::vector<NodeRef>& outputs, const NameMap& names);

}  // namespace kiln::text
