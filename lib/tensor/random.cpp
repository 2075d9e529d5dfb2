// rand/randn: lazy random values. A draw takes the next range of the global
// Philox stream (its offset) and records a rand/randn leaf that carries the
// seed and that offset; the kernels that read it compute each element from
// the counter (lib/ops/random.cpp), in parallel and fused with what uses
// it, and element p's value depends only on (seed, offset + p)
// (kernel/philox.h). A draw that is never read costs nothing.
#include <fmt/format.h>

#include <mutex>

#include "graph/builders.h"
#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {

struct Generator {
  uint64_t seed = 67280421310721ull;
  uint64_t offset = 0;  // 4-word blocks consumed so far
};

Generator& generator() {
  static Generator g;
  return g;
}
// Guards the generator: each draw takes a range of the stream of its own,
// whichever threads draw at the same time.
std::mutex& generator_mutex() {
  static std::mutex mu;
  return mu;
}

Tensor random(const Shape& shape, TensorOptions opts, Op op) {
  const char* name_of = op_name(op);
  DType t = opts.dtype().value_or(kFloat32);
  if (!is_floating(t))
    throw Error(fmt::format("{}: expected a floating point dtype, got {}", name_of, name(t)));
  if (!opts.device().is_cpu())
    throw Error(fmt::format("{}: device {} is not supported yet (only cpu)", name_of, opts.device().str()));
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(fmt::format("{}: negative dimension {} in shape {}", name_of, d, shape_str(shape)));
    if (__builtin_mul_overflow(n, d, &n))
      throw Error(fmt::format("{}: shape {} has too many elements (overflows int64)", name_of, shape_str(shape)));
  }
  Generator g;
  {
    std::lock_guard<std::mutex> lock(generator_mutex());
    g = generator();
    generator().offset += uint64_t(n);
  }
  Tensor r = wrap(graph::random(op, t, shape, g.seed, g.offset));
  if (opts.requires_grad()) r.requires_grad_(true);
  return r;
}

}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(generator_mutex());
  generator().seed = seed;
  generator().offset = 0;
}

Tensor rand(const Shape& shape, TensorOptions opts) { return random(shape, opts, Op::Rand); }
Tensor randn(const Shape& shape, TensorOptions opts) { return random(shape, opts, Op::Randn); }
Tensor rand_like(const Tensor& t) { return rand(t.shape(), t.dtype()); }
Tensor randn_like(const Tensor& t) { return randn(t.shape(), t.dtype()); }

}  // namespace kiln
