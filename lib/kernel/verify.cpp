#include "kernel/verify.h"

#include <string>

namespace kiln {

// ---------------------------------------------------------------------------
// Kernel validation. Code generators trust the kernel afterwards; a
// malformed kernel is a scheduler bug (or a hand-written kernel's mistake),
// so it is reported here with the instruction rather than as a code
// generator's error (or a miscompile) later.

[[noreturn]] void invalid_instr(const Kernel& k, size_t i, const std::string& why) {
  throw KernelError("kernel " + k.name + ": %" + std::to_string(i) + ": " + why, int(i), why);
}

int stage_of(const Instr& in) { return in.kind == Instr::Kind::Reduce || in.post_reduce ? 1 : 0; }

namespace {

// The dtype rules of the Kernel IR primitives (ops.def): operands of one
// dtype (checked by the caller), `t` the first's.
template <typename Bad>
void verify_primitive(const Instr& in, DType t, const Bad& bad) {
  bool ints = is_integral(t) || t == kBool;
  switch (in.op) {
    case Op::Fma:
      if (t != kFloat32 && t != kFloat64) bad();
      break;
    case Op::Bitcast:
      if (element_size(in.dtype) != element_size(t) || t == kBool || in.dtype == kBool ||
          t == kFloat16 || t == kBFloat16 || in.dtype == kFloat16 || in.dtype == kBFloat16)
        bad();
      return;
    case Op::BitAnd: case Op::BitOr: case Op::BitXor:
      if (!ints) bad();
      break;
    case Op::Shl: case Op::LShr: case Op::AShr: case Op::IDiv: case Op::IRem:
      if (!is_integral(t)) bad();
      break;
    case Op::RoundF16: case Op::RoundBF16:
      if (t != kFloat32) bad();
      break;
    default: bad();
  }
  if (in.dtype != t) bad();
}

}  // namespace

void verify_kernel(const Kernel& k) {
  auto fail = [&](const std::string& why) { throw KernelError("kernel " + k.name + ": " + why, -1, why); };
  if (k.rank < 0) fail("negative rank");
  if (k.reduce_rank < 0 || (k.reduce_rank > 0 && k.reduce_rank >= k.rank))
    fail("reduce_rank " + std::to_string(k.reduce_rank) + " needs at least one output dim (rank " +
         std::to_string(k.rank) + ")");
  const bool reduction = k.reduce_rank > 0;
  for (size_t i = 0; i < k.body.size(); ++i) {
    const Instr& in = k.body[i];
    for (int o : in.operands)
      if (o < 0 || size_t(o) >= i || k.body[size_t(o)].kind == Instr::Kind::Store)
        invalid_instr(k, i, "operand %" + std::to_string(o) + " is not an earlier value");
    auto dt = [&](size_t n) { return k.body[size_t(in.operands[n])].dtype; };
    if (!reduction && (in.post_reduce || in.kind == Instr::Kind::Reduce || in.kind == Instr::Kind::Scan))
      invalid_instr(k, i, "reduction instruction in a kernel without reduced dims (reduce_rank 0)");
    if (reduction) {
      // Stage 0 sees only stage-0 values, stage 1 only stage-1 values (a
      // Reduce's result, not the per-element values it folded); constants
      // are visible everywhere.
      int st = in.kind == Instr::Kind::Reduce ? 0 : stage_of(in);
      if (in.kind == Instr::Kind::Scan && in.post_reduce) invalid_instr(k, i, "a scan is a stage-0 value, not [post]");
      for (int o : in.operands) {
        const Instr& x = k.body[size_t(o)];
        if (x.kind != Instr::Kind::Const && stage_of(x) != st)
          invalid_instr(k, i, std::string(st ? "stage-1" : "stage-0") + " instruction uses %" + std::to_string(o) +
                            ", a stage-" + std::to_string(stage_of(x)) + " value");
      }
    }
    switch (in.kind) {
      case Instr::Kind::Load:
      case Instr::Kind::Store: {
        bool load = in.kind == Instr::Kind::Load;
        if (in.arg < 0 || size_t(in.arg) >= k.args.size()) invalid_instr(k, i, "no such arg");
        if (!load && in.operands.empty()) invalid_instr(k, i, "store without a value");
        const KernelArg& a = k.args[size_t(in.arg)];
        size_t first = load ? 0 : 1;
        if (in.operands.size() - first != size_t(a.num_index))
          invalid_instr(k, i, std::to_string(in.operands.size() - first) + " index operands, arg" +
                            std::to_string(in.arg) + " has " + std::to_string(a.num_index));
        for (size_t n = first; n < in.operands.size(); ++n)
          if (dt(n) != kInt64) invalid_instr(k, i, "index operand %" + std::to_string(in.operands[n]) + " is not int64");
        if (load && in.accumulate) invalid_instr(k, i, "accumulating load");
        if (!load && !a.is_output) invalid_instr(k, i, "store to an input arg");
        if (a.position) {
          // A position arg has no memory: its loads give int64 positions.
          if (!load || a.is_output || a.num_index || a.dtype != kInt64 || in.dtype != kInt64)
            invalid_instr(k, i, "a position arg (pos) is int64 and only loaded, without indices");
          break;
        }
        // Decomposed kernels (ops/decompose.h) hold float16/bfloat16
        // values in f32 registers: their loads widen and stores narrow.
        DType v = load ? in.dtype : dt(0);
        bool reg = v == register_dtype(a.dtype) && in.dtype == v;
        if (!reg && (v != a.dtype || in.dtype != a.dtype))
          invalid_instr(k, i, std::string("dtype ") + std::string(name(v)) + " does not match arg" +
                            std::to_string(in.arg) + " (" + std::string(name(a.dtype)) + ")");
        break;
      }
      case Instr::Kind::Const:
        if (!in.operands.empty()) invalid_instr(k, i, "const takes no operands");
        if (in.param >= 0 && !is_floating(in.dtype) && in.dtype != kInt64)
          invalid_instr(k, i, "a param const must be floating-point or int64");
        break;
      case Instr::Kind::Reduce:
      case Instr::Kind::Scan: {
        bool arg = in.reduce == ReduceOp::ArgMax || in.reduce == ReduceOp::ArgMin;
        if (in.operands.size() != 1) invalid_instr(k, i, "a reduction takes one operand");
        if (in.kind == Instr::Kind::Scan && arg) invalid_instr(k, i, "no scan of argmax/argmin");
        if (arg ? in.dtype != kInt64 : in.dtype != dt(0))
          invalid_instr(k, i, std::string("reduce.") + reduce_op_name(in.reduce) + " of " + std::string(name(dt(0))) +
                            " cannot give " + std::string(name(in.dtype)));
        break;
      }
      case Instr::Kind::Compute: {
        if (is_random(in.op)) {
          // rand/randn of (position, seed, offset), all int64.
          if (in.operands.size() != 3 || dt(0) != kInt64 || dt(1) != kInt64 || dt(2) != kInt64 ||
              !is_floating(in.dtype))
            invalid_instr(k, i, std::string(op_name(in.op)) + " takes int64 (position, seed, offset) and gives a float");
          break;
        }
        if (!is_elementwise(in.op) && !is_primitive(in.op))
          invalid_instr(k, i, std::string("'") + op_name(in.op) + "' is not an elementwise op");
        if (in.operands.size() != size_t(op_info(in.op).arity))
          invalid_instr(k, i, std::string("wrong operand count for ") + op_name(in.op));
        auto bad = [&] {
          invalid_instr(k, i, std::string(op_name(in.op)) + " does not take these dtypes (result " +
                            std::string(name(in.dtype)) + ")");
        };
        if (in.op == Op::Cast) break;
        if (is_primitive(in.op)) {
          verify_primitive(in, dt(0), bad);
          for (size_t n = 1; n < in.operands.size(); ++n)
            if (dt(n) != dt(0)) bad();
          break;
        }
        if (in.op == Op::LogicalNot) {
          if (in.dtype != kBool) bad();
          break;
        }
        if (in.op == Op::Where) {
          if (dt(1) != in.dtype || dt(2) != in.dtype) bad();
          break;
        }
        for (size_t n = 0; n < in.operands.size(); ++n)
          if (dt(n) != dt(0)) bad();
        if (is_comparison(in.op) ? in.dtype != kBool : in.dtype != dt(0)) bad();
        if (is_float_math(in.op) && !is_floating(dt(0))) bad();
        break;
      }
    }
  }
  if (k.contraction && !is_contraction(k))
    fail("marked 'contraction' but stage 0 is not the sum of a product of two loads of input args");
}

}  // namespace kiln
