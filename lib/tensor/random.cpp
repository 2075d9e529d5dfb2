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
  check_device(opts, name_of);
  check_shape(shape, name_of);
  const int64_t n = numel(shape);
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

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts) {
  if (low >= high) throw Error(fmt::format("randint: expected low < high, got low = {} and high = {}", low, high));
  if (high - low > (int64_t(1) << 53) || high - low < 0)
    throw Error(fmt::format("randint: the range [{}, {}) is wider than 2^53, not supported yet", low, high));
  DType t = opts.dtype().value_or(kInt64);
  if (t == kBool) throw Error("randint: expected an integer or floating point dtype, got bool");
  // floor(u (high - low)) with 53-bit u: exact, and below high - low.
  Tensor u = random(shape, TensorOptions().dtype(kFloat64), Op::Rand);
  Tensor r = ((u * double(high - low)).floor() + double(low)).to(t);
  if (opts.requires_grad()) r.requires_grad_(true);
  return r;
}
Tensor randint(int64_t high, const Shape& shape, TensorOptions opts) { return randint(0, high, shape, opts); }

Tensor bernoulli(const Tensor& p) {
  if (!is_floating(p.dtype()))
    throw Error(fmt::format("bernoulli: expected a floating point probability tensor, got {}", name(p.dtype())));
  return (random(p.shape(), TensorOptions().dtype(p.dtype()), Op::Rand) < p).to(p.dtype());
}
Tensor bernoulli(const Tensor& like, double p) {
  if (!(p >= 0 && p <= 1)) throw Error(fmt::format("bernoulli: expected 0 <= p <= 1, got p = {}", p));
  DType t = is_floating(like.dtype()) ? like.dtype() : kFloat32;
  return (random(like.shape(), TensorOptions().dtype(t), Op::Rand) < p).to(t);
}

namespace {
void check_fill(const Tensor& t, const char* op) {
  if (!is_floating(t.dtype()))
    throw Error(fmt::format("{}: expected a floating point tensor, got {}", op, name(t.dtype())));
}
}  // namespace

Tensor& Tensor::uniform_(double from, double to) {
  check_fill(*this, "uniform_");
  if (!(from <= to)) throw Error(fmt::format("uniform_: expected from <= to, got from = {} and to = {}", from, to));
  return copy_(random(shape(), TensorOptions().dtype(dtype()), Op::Rand) * (to - from) + from);
}
Tensor& Tensor::normal_(double mean, double std) {
  check_fill(*this, "normal_");
  if (!(std >= 0)) throw Error(fmt::format("normal_: expected std >= 0, got {}", std));
  return copy_(random(shape(), TensorOptions().dtype(dtype()), Op::Randn) * std + mean);
}
Tensor& Tensor::bernoulli_(double p) {
  check_fill(*this, "bernoulli_");
  return copy_(bernoulli(*this, p));
}

}  // namespace kiln
