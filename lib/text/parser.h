#pragma once
// Reading .kiln text (see text/printer.h) back into graph nodes.
//
// Grammar (one statement per line; '#' starts a comment; a data list may
// continue over several lines):
//
//   statement := value '=' 'input' ':' type [ '=' data ]
//              | value '=' OP [ '(' operand { ',' operand } ')' ] [ attrs ] ':' type
//              | 'output' value { ',' value }
//   value     := '%' NAME                 NAME: letters, digits, '_', '.'
//   operand   := value | number           (a number is a constant: add(%x, 1.5))
//   type      := DTYPE '[' [ INT { ',' INT } ] ']'
//   DTYPE     := bool i8 u8 i16 i32 i64 f16 bf16 f32 f64   (or float32, int64, ...)
//   attrs     := '{' NAME '=' attr { ',' NAME '=' attr } '}'
//   attr      := number | 'true' | 'false' | '[' [ INT { ',' INT } ] ']'
//   data      := number | nested list of numbers (or a flat list of all of
//                them) | "file.npy" (relative to the .kiln file)
//   number    := INT | FLOAT | 'nan' | 'inf' | '-inf' | 'true' | 'false'
//
// OP is any name of graph/ops.def except 'buffer' (a realized value is an
// input). Attributes by op (defaults in parentheses):
//   full            value
//   sum prod amax amin argmax argmin   dims (every dim): the reduced dims,
//                   which the result keeps with size 1
//   cumsum          dim
//   reshape expand  shape (the result's; -1 allowed)
//   permute         dims
//   slice           dim, start, length, step (1)
//   as_strided      shape (the result's), strides, offset (0)   over the
//                   operand's contiguous element order
//   view_scatter    shape (the source's), strides, offset (0)   where the
//                   second operand is written into the first
//   cat             dim (0)
//   index           map, sel          operands: source, i64 indices of the
//                   result's shape. Element i reads source[j] where
//                   j[map[o]] = i[o] (map[o] >= 0) and j[sel[k]] = index_k[i]
//   index_put       map, sel, accumulate (false)   operands: base, value,
//                   indices: base with value written (or added) where index
//                   would read
// cast converts to the result type. sum, prod and cumsum accumulate in the
// result type when it is the operand's (PyTorch's dtype= argument), else
// follow the default rule (integers sum as i64).
//
// Every op goes through the builders of graph/builders.h, so the text obeys
// the shape and dtype rules of the C++ API (broadcasting and promotion
// included), and the builders' implicit nodes (promotion casts, the copy
// before a reshape strides cannot express) become nodes of the graph; the
// declared type must equal the inferred one. What the builders leave to
// their callers is checked here: slice and strided views stay in bounds,
// index maps address each source dim once. Values are defined once, before
// they are used (so a graph has no cycles). Index values and integer
// divisors are data: `kilnc --run` checks them before running.
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kiln/error.h"
#include "text/printer.h"

namespace kiln::text {

/// A syntax or type error, with where it is and the compiler-style report:
///   file.kiln:3:6: error: unknown op 'mull'
///   %2 = mull(%0, %1) : f32[4]
///        ^
class ParseError : public Error {
public:
  ParseError(std::string file, int line, int column, std::string message, std::string report)
      : Error(std::move(report)), file(std::move(file)), line(line), column(column),
        message(std::move(message)) {}
  std::string file;
  int line, column;  // 1-based
  std::string message;  // without location
};

/// An input as declared in the text.
struct InputDecl {
  std::string name;  // without '%'
  DType dtype;
  Shape shape;
  bool has_data;  // the text gives its values (inline or as an .npy file)
};

struct ParseOptions {
  /// The name errors report.
  std::string filename = "<input>";
  /// Where relative .npy paths start (empty: the working directory).
  std::string base_dir;
  /// Which inputs require grad (for autodiff::gradients); none if unset.
  std::function<bool(const InputDecl&)> requires_grad;
  /// Data for an input: a contiguous buffer of its type, or null to use
  /// the text's data. Inputs with no data at all get a placeholder without
  /// storage: the graph can be printed, scheduled and compiled, not run.
  std::function<std::shared_ptr<Buffer>(const InputDecl&)> input_data;
};

struct Parsed {
  std::vector<NodeRef> inputs;       // declared order
  std::vector<InputDecl> input_decls;
  std::vector<NodeRef> outputs;      // in the order of the output statements
  NameMap names;                     // every named node -> its name
  std::unordered_map<std::string, NodeRef> values;  // name -> node
  std::unordered_map<const Node*, int> lines;       // node -> line that defined it
  /// Whether `n` was given data (an input with a placeholder cannot run).
  bool has_storage(const Node& n) const;
};

/// Parses `source`; throws ParseError (a kiln::Error) on the first error.
Parsed parse(std::string_view source, const ParseOptions& options = {});

/// Random data for input `d` (kilnc --run's inputs): floats in [0, 1),
/// integers in 0..9, bools half true. Throws kiln::Error naming the input
/// past 16 GiB.
std::shared_ptr<Buffer> random_input(const InputDecl& d, std::mt19937_64& rng);

/// What the C++ API checks when an op is called and a parsed graph cannot
/// say: index values in range, integer divisors non-zero. Computes those
/// values; the first op that fails and why, or an empty `message`.
struct DataError {
  NodeRef op;
  std::string message;
};
DataError check_data(const std::vector<NodeRef>& outputs);

/// The compiler-style report of an error at line:column of `source`.
std::string format_diagnostic(std::string_view file, std::string_view source, int line, int column,
                              std::string_view message, std::string_view severity = "error");

}  // namespace kiln::text
