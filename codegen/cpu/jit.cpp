// The CPU backend's JIT: one ORC LLJIT per process, tuned for the host CPU;
// kernels compiled to relocatable objects (what the disk cache keeps),
// loaded under a resource tracker each (so they can be unloaded), and the
// stages as text for KILN_DEBUG=3 and kilnc.
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "codegen/cpu/cpu_jit.h"
#include "codegen/cpu/lowering.h"
#include "codegen_id.h"
#include "kiln/error.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "runtime/disk_cache.h"

namespace kiln::cpu {

namespace {

struct Jit {
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::unique_ptr<llvm::TargetMachine> tm;  // for the IR optimizer and emit()
};

Jit& jit() {
  static Jit j = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    auto fail = [](llvm::Error e) -> Error {
      return Error("kiln: cannot create the CPU JIT: " + llvm::toString(std::move(e)));
    };
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) throw fail(jtmb.takeError());
    jtmb->setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
    Jit out;
    auto tm = jtmb->createTargetMachine();
    if (!tm) throw fail(tm.takeError());
    out.tm = std::move(*tm);
    auto lljit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
    if (!lljit) throw fail(lljit.takeError());
    out.lljit = std::move(*lljit);
    // libm (f64 sin/exp/tan, powf, ...) resolves from the process.
    auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
        out.lljit->getDataLayout().getGlobalPrefix());
    if (!gen) throw fail(gen.takeError());
    out.lljit->getMainJITDylib().addGenerator(std::move(*gen));
    return out;
  }();
  return j;
}

/// One compilation of one kernel, up to a requested stage. Collects MLIR
/// diagnostics so failures can name what went wrong.
class Compilation {
public:
  Compilation(const Kernel& k, std::string sym)
      : k_(k), sym_(std::move(sym)), ctx_(make_context()),
        handler_(ctx_.get(), [this](mlir::Diagnostic& d) {
          diag_ += d.str() + "\n";
          return mlir::success();
        }) {}

  mlir::ModuleOp build() {
    module_ = build_module(*ctx_, k_, sym_);
    if (mlir::failed(mlir::verify(*module_))) fail("invalid MLIR");
    return *module_;
  }

  mlir::ModuleOp lower() {
    build();
    if (mlir::failed(lower_to_llvm_dialect(*module_))) fail("lowering to the LLVM dialect failed");
    return *module_;
  }

  /// The optimized LLVM module, in `llctx`.
  std::unique_ptr<llvm::Module> optimize(llvm::LLVMContext& llctx) {
    lower();
    auto m = mlir::translateModuleToLLVMIR(*module_, llctx, k_.name);
    if (!m) fail("translation to LLVM IR failed");
    Jit& j = jit();
    m->setDataLayout(j.lljit->getDataLayout());
    m->setTargetTriple(j.lljit->getTargetTriple().str());
    // Loops keep LLVM's width for the host (256 bits on Intel's AVX-512
    // cores, prefer-256-bit). 512-bit loops ran softmax 11% faster on a Xeon
    // core but took 20% longer to compile (an elementwise kernel 9.8 ->
    // 11.7 ms, a reduction 19 -> 22 ms); the tiles use vector_bits() anyway.
    for (llvm::Function& f : *m)
      if (!f.isDeclaration()) f.addFnAttr(llvm::Attribute::NoUnwind);
    std::string err;
    llvm::raw_string_ostream es(err);
    if (llvm::verifyModule(*m, &es)) fail("invalid LLVM IR: " + es.str());
    optimize_llvm(*m, *j.tm);
    return m;
  }

  [[noreturn]] void fail(const std::string& what) {
    // Rebuild so the message shows the MLIR as built, not half-lowered.
    std::string text;
    try {
      auto ctx = make_context();
      auto module = build_module(*ctx, k_, sym_);
      llvm::raw_string_ostream os(text);
      module->print(os);
    } catch (const std::exception& e) {
      text = e.what();
    }
    throw Error("kiln: failed to compile kernel " + k_.name + ": " + what +
                (diag_.empty() ? "" : "\n" + diag_) + "\n" + text);
  }

private:
  const Kernel& k_;
  std::string sym_;
  std::unique_ptr<mlir::MLIRContext> ctx_;
  mlir::ScopedDiagnosticHandler handler_;
  std::string diag_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
};

/// "kiln_<name>" with the name reduced to identifier characters.
std::string symbol_base(const Kernel& k) {
  std::string s = "kiln_";
  for (char c : k.name) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

}  // namespace

int vector_bits() {
  static const int bits = [] {
    bool avx512 = jit().tm->getTargetFeatureString().contains("+avx512f");
    const char* force = std::getenv("KILN_CPU_VECTOR_BITS");
    if (force && std::string(force) == "256") return 256;
    return avx512 ? 512 : 256;
  }();
  return bits;
}

// What besides the kernel decides its machine code: this backend as built,
// LLVM, and the host CPU. A rebuilt backend never reuses old cache entries.
const std::string& identity() {
  static const std::string id = [] {
    Jit& j = jit();
    // The code generator's sources (not the build's time: a rebuild that
    // changes nothing here keeps the cache), LLVM, and the target.
    return std::string("kiln-cpu " KILN_CODEGEN_ID " llvm " LLVM_VERSION_STRING " ") +
           j.tm->getTargetCPU().str() + " " + j.tm->getTargetFeatureString().str() + " vector " +
           std::to_string(vector_bits());
  }();
  return id;
}

namespace {

// The kernel's symbol: named by its key, the same in every process (so
// cached objects link) and unique within one.
std::string symbol(const Kernel& k) {
  return symbol_base(k) + "_" + disk_cache::key_id(k.str() + "\n" + identity());
}

// Each kernel's code lives under a resource tracker of its own, so that
// release() can unmap it (a process that compiles tens of thousands of
// kernels would otherwise run out of memory mappings).
std::unordered_map<CpuKernelFn, llvm::orc::ResourceTrackerSP>& trackers() {
  static std::unordered_map<CpuKernelFn, llvm::orc::ResourceTrackerSP> t;
  return t;
}

}  // namespace

void validate(const Kernel& k) {
  try {
    verify_kernel(k);
  } catch (const KernelError& e) {
    throw Error(std::string("kiln: failed to compile ") + e.what());
  }
}

[[noreturn]] void invalid(const Kernel& k, size_t i, const std::string& why) {
  throw Error("kiln: failed to compile kernel " + k.name + ": %" + std::to_string(i) + ": " + why);
}

std::string compile_object(const Kernel& k) {
  validate(k);
  Compilation c(k, symbol(k));
  llvm::LLVMContext llctx;
  std::unique_ptr<llvm::Module> m = c.optimize(llctx);
  // Machine code as a relocatable object, by the JIT's own target.
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  if (jit().tm->addPassesToEmitFile(pm, os, nullptr, llvm::CGFT_ObjectFile)) c.fail("the target cannot emit objects");
  pm.run(*m);
  return std::string(buf.begin(), buf.end());
}

CpuKernelFn load_object(const Kernel& k, const std::string& object, std::string* err) {
  Jit& j = jit();
  std::string sym = symbol(k);
  // A failed load removes what it defined, so the name can be loaded again.
  auto rt = j.lljit->getMainJITDylib().createResourceTracker();
  if (auto e = j.lljit->addObjectFile(rt, llvm::MemoryBuffer::getMemBufferCopy(object, sym))) {
    *err = llvm::toString(std::move(e));
    llvm::consumeError(rt->remove());
    return nullptr;
  }
  auto addr = j.lljit->lookup(sym);
  if (!addr) {
    *err = llvm::toString(addr.takeError());
    llvm::consumeError(rt->remove());
    return nullptr;
  }
  auto fn = addr->toPtr<CpuKernelFn>();
  trackers()[fn] = std::move(rt);
  return fn;
}

void release(CpuKernelFn fn) {
  auto it = trackers().find(fn);
  if (it == trackers().end()) return;
  llvm::orc::ResourceTrackerSP rt = std::move(it->second);
  trackers().erase(it);
  // (Called from destructors: an error here only leaves the code mapped.)
  llvm::consumeError(rt->remove());
}

std::string emit(const Kernel& k, Stage stage) {
  validate(k);
  Compilation c(k, symbol_base(k));
  std::string out;
  llvm::raw_string_ostream os(out);
  switch (stage) {
    case Stage::Mlir: c.build().print(os); break;
    case Stage::LoweredMlir: c.lower().print(os); break;
    case Stage::LlvmIr: {
      llvm::LLVMContext llctx;
      c.optimize(llctx)->print(os, nullptr);
      break;
    }
    case Stage::Assembly: {
      llvm::LLVMContext llctx;
      auto m = c.optimize(llctx);
      llvm::SmallString<0> buf;
      llvm::raw_svector_ostream as(buf);
      llvm::legacy::PassManager pm;
      if (jit().tm->addPassesToEmitFile(pm, as, nullptr, llvm::CGFT_AssemblyFile))
        c.fail("the target cannot emit assembly");
      pm.run(*m);
      os << buf;
      break;
    }
  }
  return os.str();
}

}  // namespace kiln::cpu
