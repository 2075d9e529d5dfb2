#pragma once
// The Kernel IR verifier: the target-neutral rules every backend relies on
// (SSA order, stages of a reduction, arg kinds and dtypes, operand counts
// and dtypes of each op). Backends run it before building anything, and
// parse_kernel (kernel_parser.h) after reading a kernel, so a malformed
// kernel is refused with the instruction named, never miscompiled.
#include <string>

#include "kernel/kernel.h"
#include "kiln/error.h"

namespace kiln {

/// What verify_kernel throws: "kernel NAME: %I: why" (or "kernel NAME: why"
/// for the kernel's header), with the instruction's index (-1: the header).
class KernelError : public Error {
public:
  KernelError(const std::string& what, int instr, std::string why)
      : Error(what), instr(instr), why(std::move(why)) {}
  int instr;
  std::string why;  // the message without the "kernel NAME: %I: " prefix
};

/// Throws KernelError when `k` breaks a rule of the Kernel IR.
void verify_kernel(const Kernel& k);
/// The KernelError for instruction i of `k`.
[[noreturn]] void invalid_instr(const Kernel& k, size_t i, const std::string& why);
/// The stage an instruction's value belongs to in a reduction kernel: 0 runs
/// per element of the reduced dims, 1 once per output element. A Reduce is
/// folded in stage 0 but its value is a stage-1 value.
int stage_of(const Instr& in);

}  // namespace kiln
