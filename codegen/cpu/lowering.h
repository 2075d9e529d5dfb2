#pragma once
// The CPU backend's stages, for its own files (the only ones that see MLIR
// and LLVM): Kernel IR -> validated (kernel/verify.h) -> decomposed into
// primitives (lib/ops/decompose.h) -> MLIR (kernel_to_mlir.cpp: loops in
// kernel_builder.h, reduction_loops.cpp, matmul_tile.cpp; one value in
// scalar_emitter.cpp) -> the LLVM dialect and optimized LLVM IR
// (pipeline.cpp) -> machine code in the JIT (jit.cpp).
#include <memory>
#include <string>

#include "kernel/kernel.h"
#include "kernel/verify.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/LogicalResult.h"

namespace llvm {
class Module;
class TargetMachine;
}  // namespace llvm

namespace kiln::cpu {

/// Checks `k` before anything is built from it: the Kernel IR verifier
/// (kernel/verify.h), reported as a failed compilation.
void validate(const Kernel& k);
/// The compile error for instruction i of `k`.
[[noreturn]] void invalid(const Kernel& k, size_t i, const std::string& why);

/// The kernel as an MLIR module (func, scf, arith, math, llvm dialects)
/// defining the entry point `sym` (a CpuKernelFn).
mlir::OwningOpRef<mlir::ModuleOp> build_module(mlir::MLIRContext& ctx, const Kernel& k, const std::string& sym);

/// A context with the dialects build_module uses.
std::unique_ptr<mlir::MLIRContext> make_context();
/// Lowers build_module's output to the LLVM dialect.
mlir::LogicalResult lower_to_llvm_dialect(mlir::ModuleOp module);
/// LLVM's O2 pipeline with loop and SLP vectorization, for `tm`.
void optimize_llvm(llvm::Module& m, llvm::TargetMachine& tm);

}  // namespace kiln::cpu
