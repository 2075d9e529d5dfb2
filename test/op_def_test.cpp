// Every op's definition (lib/ops/) is complete for its kind, and every
// elementwise op's numerics come out as primitives plus what a backend
// declares native, for every dtype the graph lets reach it.
#include <string>

#include <gtest/gtest.h>

#include "kernel/kernel_parser.h"
#include "ops/decompose.h"
#include "ops/op_def.h"

namespace kiln {
namespace {

TEST(OpDef, EveryOpIsDefinedForItsKind) {
  for (size_t i = 0; i < kNumOps; ++i) {
    Op op = Op(i);
    const ops::OpDef& d = ops::op_def(op);  // the table checks itself when built
    SCOPED_TRACE(op_name(op));
    if (is_primitive(op)) {
      EXPECT_EQ(d.gradient, nullptr);
      EXPECT_EQ(d.decompose, nullptr);
      continue;
    }
    EXPECT_NE(d.gradient, nullptr);
    EXPECT_EQ(d.decompose != nullptr, is_elementwise(op) || is_random(op));
  }
}

// A backend with only the natives that have no shared expansion.
bool minimal_native(Op op, DType t) {
  if (op == Op::Pow || op == Op::Atan2 || op == Op::Fmod) return is_floating(t);
  return t == kFloat64 && op_info(op).traits == OpTraits::FloatMath;
}

TEST(OpDef, NumericsAreOnlyPrimitivesAndNatives) {
  const DType dtypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kInt8, kUInt8, kInt16, kBool};
  int checked = 0;
  for (size_t i = 0; i < kNumOps; ++i) {
    Op op = Op(i);
    if (!is_elementwise(op) || op == Op::Where || op == Op::Cast) continue;
    int arity = op_info(op).arity;
    for (DType t : dtypes) {
      OpTraits tr = op_info(op).traits;
      // What graph/builders.cpp lets through.
      if (tr == OpTraits::FloatMath && !is_floating(t)) continue;
      if (tr == OpTraits::NoBool && t == kBool) continue;
      if (tr == OpTraits::IntIdentity && !is_floating(t)) continue;
      DType out = tr == OpTraits::Compare || tr == OpTraits::BoolResult ? kBool : t;
      std::string ty = short_dtype_name(t), oty = short_dtype_name(out);
      std::string operands = arity == 1 ? "%0" : "%0, %1";
      std::string text = "kernel k rank=1 {\n  arg0: in " + ty + " inner=contig\n  arg1: in " + ty +
                         " inner=contig\n  arg2: out " + oty + " inner=contig\n  %0 = load arg0 : " + ty +
                         "\n  %1 = load arg1 : " + ty + "\n  %2 = " + op_name(op) + " " + operands + " : " + oty +
                         "\n  store arg2, %2\n}\n";
      SCOPED_TRACE(text);
      Kernel k = decompose(parse_kernel(text), minimal_native);
      for (const Instr& in : k.body) {
        if (in.kind != Instr::Kind::Compute) continue;
        bool native = minimal_native(in.op, in.dtype) ||
                      (!in.operands.empty() && minimal_native(in.op, k.body[size_t(in.operands[0])].dtype));
        bool plain = is_primitive(in.op) || op_info(in.op).traits != OpTraits::FloatMath || in.op == Op::Sqrt ||
                     in.op == Op::Div;
        EXPECT_TRUE(plain || native) << op_name(in.op) << " left in the decomposition of " << op_name(op);
        EXPECT_TRUE(in.dtype != kFloat16 && in.dtype != kBFloat16) << "a half register in " << op_name(op);
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 200);
}

}  // namespace
}  // namespace kiln
