#include "codegen/cpu/cpu_backend.h"

#include <algorithm>

#include "codegen/cpu/cpu_jit.h"
#include "codegen/cpu/scalar_emitter.h"
#include "runtime/thread_pool.h"

namespace kiln::cpu {

namespace {

// A loaded kernel; unmapped when the kernel cache drops it.
class CpuExecutable : public Executable {
public:
  explicit CpuExecutable(CpuKernelFn fn) : fn_(fn) {}
  ~CpuExecutable() override { release(fn_); }

  // Splits the iteration space into tasks of at least ~16K elements (1M
  // for a contraction): over rows when there are enough, else over column
  // ranges. Four tasks a thread balance uneven work; a contraction's work
  // is even, and each of its tasks copies the operand panels it reads
  // (matmul_tile.cpp), so it gets one task a thread.
  void launch(const Kernel& k, void* const* ptrs, const int64_t* params, const Shape& sizes) const override {
    Shape out(sizes.begin(), sizes.end() - k.reduce_rank);
    int64_t cols = out.back();
    int64_t rows = numel(out) / std::max<int64_t>(cols, 1);
    int64_t total = numel(sizes);  // work, including the reduced elements
    // A contraction's unit of work is one vector lane's fma: a task of 1M
    // of them is ~15 us, what waking a thread costs.
    const int64_t min_task = k.contraction ? int64_t(1) << 20 : int64_t(1) << 14;
    auto& pool = ThreadPool::instance();
    const int64_t per_thread = k.contraction ? 1 : 4;
    int64_t tasks = std::min<int64_t>(pool.num_threads() * per_thread, std::max<int64_t>(total / min_task, 1));
    tasks = std::min(tasks, rows * cols);
    if (tasks <= 1 || k.serial) {
      fn_(ptrs, params, 0, rows, 0, cols);
      return;
    }
    // A contraction's tiles take 8 rows at a time: with fewer rows a task,
    // its tasks split the columns instead (in whole tiles of 32).
    const bool few_rows = k.contraction && rows < tasks * 16 && cols >= tasks * 64;
    if (rows >= tasks && !few_rows) {
      pool.parallel_for(tasks, [&](int64_t t) { fn_(ptrs, params, rows * t / tasks, rows * (t + 1) / tasks, 0, cols); });
    } else {
      // Column chunks aligned to 64 elements keep vector loops whole.
      int64_t align = k.contraction ? 32 : k.reduce_rank ? 1 : 64;
      int64_t chunk = ((cols + tasks - 1) / tasks + align - 1) / align * align;
      int64_t n = (cols + chunk - 1) / chunk;
      pool.parallel_for(n, [&](int64_t t) { fn_(ptrs, params, 0, rows, t * chunk, std::min(cols, (t + 1) * chunk)); });
    }
  }

  void launch_on_caller(const Kernel& k, void* const* ptrs, const int64_t* params, const Shape& sizes) const override {
    int64_t cols = sizes[sizes.size() - 1 - size_t(k.reduce_rank)];
    int64_t rows = numel(Shape(sizes.begin(), sizes.end() - k.reduce_rank)) / std::max<int64_t>(cols, 1);
    fn_(ptrs, params, 0, rows, 0, cols);
  }

private:
  CpuKernelFn fn_;
};

class CpuBackend : public Backend {
public:
  const std::string& name() const override { return name_; }
  const std::string& description() const override { return description_; }
  DeviceType device() const override { return DeviceType::CPU; }
  const std::string& identity() const override { return cpu::identity(); }
  const std::vector<BackendStage>& stages() const override { return stages_; }

  bool native(Op op, DType t) const override { return native_op(op, t); }

  std::string emit(const Kernel& k, const std::string& stage) const override {
    if (stage == "primitives") return primitives(k).str();
    Stage s = stage == "mlir"           ? Stage::Mlir
              : stage == "mlir-lowered" ? Stage::LoweredMlir
              : stage == "llvm"         ? Stage::LlvmIr
              : stage == "asm"          ? Stage::Assembly
                                        : throw Error("cpu: no stage '" + stage + "' (primitives, mlir, mlir-lowered, llvm, asm)");
    return cpu::emit(k, s);
  }

  std::string compile(const Kernel& k) const override { return compile_object(k); }

  std::shared_ptr<Buffer> allocate(int64_t numel, int64_t element_size) const override {
    return Buffer::allocate_elements(numel, element_size, kCPU);
  }

  std::unique_ptr<Executable> load(const Kernel& k, const std::string& artifact, std::string* why) const override {
    CpuKernelFn fn = load_object(k, artifact, why);
    return fn ? std::make_unique<CpuExecutable>(fn) : nullptr;
  }

  // A block's rows stay in the L2 of any core kiln targets (512 KiB on Zen 3)
  // with room for the rest.
  int64_t row_block_bytes() const override { return 192 * 1024; }

private:
  std::string name_ = "cpu";
  std::string description_ = "the host CPU: MLIR -> LLVM IR -> native code (ORC JIT)";
  std::vector<BackendStage> stages_ = {
      {"primitives", "each kernel's Kernel IR decomposed into primitives and the CPU's native ops", "//"},
      {"mlir", "each kernel as MLIR (func, scf, arith, math, llvm dialects)", "//"},
      {"mlir-lowered", "each kernel's MLIR lowered to the LLVM dialect", "//"},
      {"llvm", "each kernel as optimized LLVM IR", ";"},
      {"asm", "each kernel as host assembly", "#"}};
};

}  // namespace

Backend& backend() {
  static CpuBackend b;
  return b;
}

}  // namespace kiln::cpu
