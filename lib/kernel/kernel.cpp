#include "kernel/kernel.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>

namespace kiln {

const char* short_dtype_name(DType t) {
  static constexpr const char* names[] = {"i1", "i8", "u8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64"};
  return names[size_t(t)];
}

const char* inner_stride_name(InnerStride s) {
  switch (s) {
    case InnerStride::Contig: return "contig";
    case InnerStride::Bcast: return "bcast";
    case InnerStride::General: break;
  }
  return "strided";
}

const char* reduce_op_name(ReduceOp op) {
  static constexpr const char* names[] = {"sum", "prod", "max", "min", "argmax", "argmin"};
  return names[size_t(op)];
}

std::string Kernel::str() const {
  std::string s = fmt::format("kernel {} rank={}{}{}{} {{\n", name, rank,
                              reduce_rank ? fmt::format(" reduce={}", reduce_rank) : "",
                              serial ? " serial" : "", contraction ? " contraction" : "");
  for (size_t a = 0; a < args.size(); ++a)
    s += fmt::format("  arg{}: {} {} inner={}{}\n", a, args[a].is_output ? "out" : args[a].position ? "pos" : "in",
                     short_dtype_name(args[a].dtype), inner_stride_name(args[a].inner),
                     args[a].num_index ? fmt::format(" indices={}", args[a].num_index) : "");
  auto operands = [](const Instr& in, size_t from) {
    std::string ops;
    for (size_t k = from; k < in.operands.size(); ++k) ops += fmt::format(", %{}", in.operands[k]);
    return ops;
  };
  for (size_t i = 0; i < body.size(); ++i) {
    const Instr& in = body[i];
    std::string post = in.post_reduce ? "  [post]" : "";
    switch (in.kind) {
      case Instr::Kind::Load:
        s += fmt::format("  %{} = load arg{}{} : {}{}\n", i, in.arg, operands(in, 0), short_dtype_name(in.dtype), post);
        break;
      case Instr::Kind::Reduce:
      case Instr::Kind::Scan:
        s += fmt::format("  %{} = {}.{} %{} : {}{}\n", i, in.kind == Instr::Kind::Reduce ? "reduce" : "scan",
                         reduce_op_name(in.reduce), in.operands.at(0), short_dtype_name(in.dtype), post);
        break;
      case Instr::Kind::Const:
        if (in.param >= 0)
          s += fmt::format("  %{} = param {} : {}{}\n", i, in.param, short_dtype_name(in.dtype), post);
        else
          s += fmt::format("  %{} = const {} : {}{}\n", i, in.value.str(), short_dtype_name(in.dtype), post);
        break;
      case Instr::Kind::Compute: {
        std::string ops;
        for (int o : in.operands) ops += fmt::format("{}%{}", ops.empty() ? "" : ", ", o);
        s += fmt::format("  %{} = {} {} : {}{}\n", i, op_name(in.op), ops, short_dtype_name(in.dtype), post);
        break;
      }
      case Instr::Kind::Store:
        s += fmt::format("  store{} arg{}{}, %{}{}\n", in.accumulate ? ".add" : "", in.arg, operands(in, 1),
                         in.operands.at(0), post);
        break;
    }
  }
  return s + "}\n";
}

bool is_contraction(const Kernel& k) {
  if (k.reduce_rank != 1) return false;
  int reduce = -1, mul = -1;
  std::vector<int> loads;
  for (size_t i = 0; i < k.body.size(); ++i) {
    const Instr& in = k.body[i];
    bool stage0 = !in.post_reduce && in.kind != Instr::Kind::Reduce;
    switch (in.kind) {
      case Instr::Kind::Const: break;
      case Instr::Kind::Scan: return false;
      case Instr::Kind::Reduce:
        if (reduce >= 0 || in.reduce != ReduceOp::Sum) return false;
        reduce = int(i);
        break;
      case Instr::Kind::Load:
        if (stage0) loads.push_back(int(i));
        break;
      case Instr::Kind::Compute:
        if (!stage0) break;
        if (in.op != Op::Mul || mul >= 0) return false;
        mul = int(i);
        break;
      case Instr::Kind::Store:
        if (stage0) return false;
        break;
    }
  }
  if (reduce < 0 || mul < 0 || loads.size() != 2 || k.body[size_t(reduce)].operands[0] != mul) return false;
  const Instr& m = k.body[size_t(mul)];
  if (!((m.operands[0] == loads[0] && m.operands[1] == loads[1]) || (m.operands[0] == loads[1] && m.operands[1] == loads[0])))
    return false;
  for (int l : loads) {
    const Instr& in = k.body[size_t(l)];
    const KernelArg& a = k.args[size_t(in.arg)];
    if (!in.operands.empty() || a.is_output || a.position) return false;
  }
  return true;
}

int64_t first_scalar_param(const Kernel& k) {
  int64_t n = k.rank;
  for (const KernelArg& a : k.args) n += k.rank + 1 + a.num_index;
  return n;
}

int64_t param_bits(DType t, const Scalar& v) {
  if (!is_floating(t)) return v.to_int();
  double d = v.to_double();
  if (t == kFloat64) return std::bit_cast<int64_t>(d);
  float f = float(d);
  if (t == kFloat16) f = float(Half(f));
  if (t == kBFloat16) f = float(BFloat16(f));
  return int64_t(std::bit_cast<uint32_t>(f));
}

bool is_param_scalar(DType t, const Scalar& v) {
  if (!is_floating(t)) return false;
  double d = v.to_double();
  return !(d == 0 || d == 1 || d == -1 || std::isinf(d) || std::isnan(d));
}

}  // namespace kiln
