// The differential fusion fuzzer: seeded random programs (elementwise ops
// with broadcasting, views, reductions, matmul, indexing, cat, in-place ops
// on views and their bases, lazy random draws, backward) evaluated three ways:
//   lazy     one schedule for every output and gradient (odd seeds: its
//            row-local launches in blocks of a few rows)
//   eager    realized after every op
//   unfused  one schedule with fusion off (a kernel per op)
// Values and gradients must agree: bitwise for programs without reductions,
// within a reassociation tolerance otherwise. The lazy program then runs
// again (its schedules replayed from the schedule cache) and must give the
// same bits. A failure prints the seed, the
// program and writes its graph as a .kiln file that `kilnc --run` replays.
//
//   KILN_FUZZ_ITERS=N   programs to run (default: a fast CI mode)
//   KILN_FUZZ_SEED=S    first seed (default 1)
//   KILN_FUZZ_SECONDS=T stop after T seconds (a long run: ITERS large, T set)
//   KILN_FUZZ_TRACE=1   print each op as it is built, and write the lazy
//                       graph to fuzz-trace.kiln before it is computed
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "launches.h"
#include "tensor/tensor_impl.h"
#include "text/printer.h"

using namespace kiln;
using kiln::indexing::Slice;

namespace {

enum class Mode { Lazy, Eager, Unfused };
const char* mode_name(Mode m) { return m == Mode::Lazy ? "lazy" : m == Mode::Eager ? "eager" : "unfused"; }

struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed) : g(seed) {}
  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); }
  bool coin(double p = 0.5) { return std::uniform_real_distribution<double>(0, 1)(g) < p; }
  template <typename T> const T& pick(const std::vector<T>& v) { return v[size_t(uniform(0, int64_t(v.size()) - 1))]; }
};

struct Result {
  std::vector<std::string> log;  // the program, one op a line
  std::vector<Tensor> values;    // outputs, then gradients
  std::string graph;             // the lazy graph as .kiln text
  bool reassociates = false;     // has reductions/matmuls (order may differ)
  int64_t launched = 0;          // kernels the whole run launched
  size_t outputs = 0;            // values[0, outputs) are outputs, the rest gradients
  bool single = false;           // some value is float32 (float64 results carry its rounding)
  bool ill_conditioned = false;  // layer_norm: 1/std amplifies rounding up to ~300x
  // sqrt(abs(x)) of a reordered sum: where the sum is 0 in one order and a
  // rounding residue in the other, the gradient is NaN (inf * 0) on one
  // side only. (Summing a transposed tensor reorders its sum, as in PyTorch.)
  bool singular = false;
};

std::string shape_of(const Tensor& t) { return shape_str(t.shape()); }

class Program {
public:
  Program(uint64_t seed, Mode mode) : r_(seed), mode_(mode), seed_(seed) {}

  Result run() {
    int64_t launched = runtime_stats().kernels_launched;
    manual_seed(seed_);
    set_fusion_enabled(mode_ != Mode::Unfused);
    // Lazy programs of odd seeds run consecutive row-local launches in
    // blocks of a few rows however small their buffers (lib/launches.h).
    set_row_block_bytes(mode_ == Mode::Lazy && seed_ % 2 ? 16 : -1);
    int n_inputs = int(r_.uniform(1, 3));
    for (int i = 0; i < n_inputs; ++i) add_input();
    int n_ops = int(r_.uniform(2, 9));
    for (int i = 0; i < n_ops; ++i) {
      try {
        step();
      } catch (const Error& e) {
        res_.log.push_back(std::string("  (rejected: ") + e.what() + ")");
      }
    }
    finish();
    set_fusion_enabled(true);
    set_row_block_bytes(-1);
    res_.launched = runtime_stats().kernels_launched - launched;
    return std::move(res_);
  }

private:
  void record(const Tensor& t, const std::string& what) {
    if (mode_ == Mode::Eager) t.realize();
    if (t.dtype() == kFloat32) res_.single = true;
    pool_.push_back(t);
    res_.log.push_back(fmt("v{} = {}  : {} {}", pool_.size() - 1, what, name(t.dtype()), shape_of(t)));
    if (std::getenv("KILN_FUZZ_TRACE")) std::fprintf(stderr, "[%s] %s\n", mode_name(mode_), res_.log.back().c_str());
  }
  template <typename... A> static std::string fmt(const char* f, A... a) {
    std::ostringstream os;
    format(os, f, a...);
    return os.str();
  }
  static void format(std::ostringstream& os, const char* f) { os << f; }
  template <typename T, typename... A> static void format(std::ostringstream& os, const char* f, T v, A... a) {
    const char* p = std::strstr(f, "{}");
    if (!p) {
      os << f;
      return;
    }
    os.write(f, p - f);
    os << v;
    format(os, p + 2, a...);
  }
  std::string v(const Tensor& t) const {
    for (size_t i = pool_.size(); i-- > 0;)
      if (pool_[i].impl() == t.impl()) return "v" + std::to_string(i);
    return "?";
  }

  Shape random_shape(int max_rank = 3) {
    int rank = int(r_.uniform(0, max_rank));
    Shape s;
    // Small dims, sometimes one long enough for vector loops and their tails.
    for (int i = 0; i < rank; ++i)
      s.push_back(r_.coin(0.05) ? 0 : r_.coin(0.15) ? r_.pick(std::vector<int64_t>{8, 17, 40}) : r_.pick(std::vector<int64_t>{1, 2, 3, 4, 5, 7}));
    return s;
  }

  Tensor fresh(const Shape& s, DType t) {
    Tensor x = t == kInt64 ? (randn(s) * 5).to(kInt64) : randn(s, TensorOptions().dtype(t));
    return x.realize();
  }

  void add_input() {
    DType t = r_.coin(0.15) ? kInt64 : r_.coin(0.15) ? kFloat64 : kFloat32;
    Shape s = random_shape();
    Tensor x;
    std::string how;
    if (t != kInt64 && r_.coin(0.15)) {  // a lazy draw: computed in the kernels that read it
      bool normal = r_.coin();
      x = normal ? randn(s, t) : rand(s, t);
      how = normal ? "lazy randn " : "lazy rand ";
    } else if (s.size() >= 2 && r_.coin(0.3)) {  // a transposed view of a realized buffer
      Shape big = s;
      std::swap(big[0], big[1]);
      x = fresh(big, t).transpose(0, 1);
      how = "transposed ";
    } else if (!s.empty() && r_.coin(0.3)) {  // every other element
      Shape big = s;
      big[0] = big[0] * 2;
      x = fresh(big, t).slice(0, 0, std::nullopt, 2);
      how = "strided ";
    } else {
      x = fresh(s, t);
    }
    if (is_floating(t) && r_.coin(0.6)) {
      x.requires_grad_();
      grad_inputs_.push_back(x);
      how += "requires_grad ";
    }
    record(x, how + "input");
  }

  const Tensor& operand() {
    // Recent values more often: programs grow chains, not only fans.
    size_t n = pool_.size();
    size_t back = size_t(r_.uniform(0, std::min<int64_t>(int64_t(n) - 1, r_.coin(0.7) ? 2 : 100)));
    return pool_[n - 1 - back];
  }

  // A shape that broadcasts against s (some dims 1, maybe fewer dims).
  Shape broadcastable(const Shape& s) {
    Shape b(s.begin() + r_.uniform(0, int64_t(s.size())), s.end());
    for (auto& d : b)
      if (r_.coin(0.4)) d = 1;
    return b;
  }

  void step() {
    const Tensor a = operand();
    bool fl = is_floating(a.dtype());
    switch (r_.uniform(0, 11)) {
      case 0: case 1: unary(a, fl); break;
      case 2: case 3: binary(a, fl); break;
      case 4: case 5: view(a); break;
      case 6: reduce(a, fl); break;
      case 7: matmul(a, fl); break;
      case 8: indexing(a); break;
      case 9: cat_(a, fl); break;
      case 10: inplace(a, fl); break;
      case 11: nn_op(a, fl); break;
    }
  }

  void unary(const Tensor& a, bool fl) {
    if (!fl) {
      bool neg = r_.coin();
      record(neg ? a.neg() : a.abs(), fmt("{}({})", neg ? "neg" : "abs", v(a)));
      return;
    }
    switch (r_.uniform(0, 8)) {
      case 0: record(a.neg(), fmt("neg({})", v(a))); break;
      case 1: record(a.abs(), fmt("abs({})", v(a))); break;
      case 2: record(a.tanh().exp(), fmt("exp(tanh({}))", v(a))); break;
      case 3: record(a.sin(), fmt("sin({})", v(a))); break;
      case 4: record(a.tanh(), fmt("tanh({})", v(a))); break;
      case 5: record(a.sigmoid(), fmt("sigmoid({})", v(a))); break;
      case 6: record(a.relu(), fmt("relu({})", v(a))); break;
      case 7:
        res_.singular |= res_.reassociates;
        record(a.abs().sqrt(), fmt("sqrt(abs({}))", v(a)));
        break;
      case 8: record((a.abs() + 1).log(), fmt("log(abs({}) + 1)", v(a))); break;
    }
  }

  Tensor partner(const Tensor& a, bool same_kind) {
    // A pool value that broadcasts with a, or a fresh input that does.
    for (int tries = 0; tries < 4 && pool_.size() > 1; ++tries) {
      const Tensor& b = operand();
      if (same_kind && is_floating(b.dtype()) != is_floating(a.dtype())) continue;
      try {
        (void)graph::broadcast(a.shape(), b.shape(), "fuzz");
        return b;
      } catch (const Error&) {
      }
    }
    Tensor b = fresh(broadcastable(a.shape()), a.dtype());
    record(b, "input");
    return b;
  }

  void binary(const Tensor& a, bool fl) {
    if (r_.coin(0.2)) {
      double s = double(r_.uniform(-3, 3));
      record(a * s + 1, fmt("{} * {} + 1", v(a), s));
      return;
    }
    Tensor b = partner(a, !fl);
    bool bf = is_floating(b.dtype());
    int op = int(r_.uniform(0, fl || bf ? 6 : 4));
    switch (op) {
      case 0: record(a + b, fmt("{} + {}", v(a), v(b))); break;
      case 1: record(a - b, fmt("{} - {}", v(a), v(b))); break;
      case 2: record(a * b, fmt("{} * {}", v(a), v(b))); break;
      case 3: record(a.maximum(b), fmt("maximum({}, {})", v(a), v(b))); break;
      case 4: record(a / (b.abs() + 1), fmt("{} / (abs({}) + 1)", v(a), v(b))); break;
      case 5: record(where(a > b, a, b * 2), fmt("where({} > {}, {}, {} * 2)", v(a), v(b), v(a), v(b))); break;
      case 6: record(a.minimum(b), fmt("minimum({}, {})", v(a), v(b))); break;
    }
  }

  void view(const Tensor& a) {
    int64_t n = a.dim();
    switch (r_.uniform(0, 6)) {
      case 0:
        if (n >= 2) {
          int64_t d0 = r_.uniform(0, n - 1), d1 = r_.uniform(0, n - 1);
          record(a.transpose(d0, d1), fmt("{}.transpose({}, {})", v(a), d0, d1));
          return;
        }
        break;
      case 1:
        if (n >= 1) {
          int64_t d = r_.uniform(0, n - 1), size = a.size(d);
          int64_t start = r_.uniform(0, std::max<int64_t>(size - 1, 0)), step = r_.uniform(1, 3);
          record(a.slice(d, start, std::nullopt, step), fmt("{}.slice({}, {}, None, {})", v(a), d, start, step));
          return;
        }
        break;
      case 2: {
        int64_t d = r_.uniform(0, n);
        Shape s = a.unsqueeze(d).shape();
        s[size_t(d)] = r_.uniform(2, 4);
        record(a.unsqueeze(d).expand(s), fmt("{}.unsqueeze({}).expand({})", v(a), d, shape_str(s)));
        return;
      }
      case 3:
        record(a.reshape({-1}), fmt("{}.reshape(-1)", v(a)));
        return;
      case 4:
        if (n >= 1) {  // split a dim into two factors
          int64_t d = r_.uniform(0, n - 1), size = a.size(d);
          for (int64_t f : {2, 3})
            if (size % f == 0 && size > 0) {
              Shape s = a.shape();
              s[size_t(d)] = size / f;
              s.insert(s.begin() + d + 1, f);
              record(a.reshape(s), fmt("{}.reshape({})", v(a), shape_str(s)));
              return;
            }
        }
        break;
      case 5: {
        Shape p;
        for (int64_t i = 0; i < n; ++i) p.push_back(i);
        std::shuffle(p.begin(), p.end(), r_.g);
        record(a.permute(p), fmt("{}.permute({})", v(a), shape_str(p)));
        return;
      }
      case 6:
        if (n >= 1) {
          int64_t d = r_.uniform(0, n - 1);
          record(a.flip({d}), fmt("{}.flip({})", v(a), d));
          return;
        }
        break;
    }
    record(a.unsqueeze(0), fmt("{}.unsqueeze(0)", v(a)));
  }

  void reduce(const Tensor& a, bool fl) {
    res_.reassociates = true;
    Shape dims;
    for (int64_t d = 0; d < a.dim(); ++d)
      if (r_.coin()) dims.push_back(d);
    bool keep = r_.coin();
    bool empty = a.numel() == 0;
    int op = int(r_.uniform(0, 3));
    if (empty || (!fl && op == 1)) op = 0;  // sum is defined everywhere; mean needs floats
    if (op == 2 && dims.empty() && a.dim() > 0) dims.push_back(0);
    switch (op) {
      case 0: record(a.sum(dims, keep), fmt("{}.sum({}, keepdim={})", v(a), shape_str(dims), keep)); break;
      case 1: record(a.mean(dims, keep), fmt("{}.mean({}, keepdim={})", v(a), shape_str(dims), keep)); break;
      case 2: record(a.amax(dims, keep), fmt("{}.amax({}, keepdim={})", v(a), shape_str(dims), keep)); break;
      case 3:
        if (a.dim() >= 1) {
          int64_t d = r_.uniform(0, a.dim() - 1);
          record(a.cumsum(d), fmt("{}.cumsum({})", v(a), d));
        } else {
          record(a.sum(), fmt("{}.sum()", v(a)));
        }
        break;
    }
  }

  void matmul(const Tensor& a, bool fl) {
    if (!fl || a.dim() == 0) return unary(a, fl);
    res_.reassociates = true;
    int64_t k = a.size(-1);
    // A partner [k, n] from the pool when one fits, else a fresh one.
    Tensor b;
    for (const Tensor& c : pool_)
      if (c.dim() == 2 && c.size(0) == k && c.dtype() == a.dtype() && r_.coin(0.5)) b = c;
    if (!b.defined()) {
      b = fresh({k, r_.pick(std::vector<int64_t>{1, 3, 4, 6})}, a.dtype());
      if (r_.coin(0.5)) b = b.t().contiguous().t();  // a transposed operand
      record(b, "input");
    }
    record(a.matmul(b), fmt("matmul({}, {})", v(a), v(b)));
  }

  void indexing(const Tensor& a) {
    if (a.dim() == 0) return view(a);
    int64_t d = r_.uniform(0, a.dim() - 1), size = a.size(d);
    if (size > 0 && r_.coin(0.6)) {
      int64_t m = r_.uniform(1, 5);
      Tensor it = (rand({m}) * double(size)).to(kInt64).clamp(0, size - 1).realize();
      record(a.index_select(d, it), fmt("{}.index_select({}, {} random indices)", v(a), d, m));
    } else {
      int64_t start = r_.uniform(0, std::max<int64_t>(size - 1, 0)), step = r_.uniform(1, 2);
      std::vector<TensorIndex> ix(size_t(d), TensorIndex(Slice{}));
      ix.push_back(Slice(start, std::nullopt, step));
      record(a.index(ix), fmt("{}.index(dim {}: {}::{})", v(a), d, start, step));
    }
  }

  void cat_(const Tensor& a, bool fl) {
    if (a.dim() == 0) return unary(a, fl);
    int64_t d = r_.uniform(0, a.dim() - 1);
    Tensor b = fl ? a.sin() : a * 2;
    record(cat({a, b, a}, d), fmt("cat({}, f({}), {}; dim {})", v(a), v(a), v(a), d));
  }

  // In place on a view and on its base: b = a.clone(); b.view.op_(); b.op_().
  void inplace(const Tensor& a, bool fl) {
    Tensor b = a.clone();
    record(b, fmt("{}.clone()", v(a)));
    Tensor w = b;
    std::string wv = "";
    if (b.dim() >= 1 && r_.coin(0.7)) {
      int64_t d = r_.uniform(0, b.dim() - 1);
      if (r_.coin()) {
        w = b.slice(d, 0, std::nullopt, 2);
        wv = fmt(".slice({}, 0, None, 2)", d);
      } else if (b.dim() >= 2) {
        w = b.transpose(0, b.dim() - 1);
        wv = ".transpose(0, -1)";
      }
    }
    switch (r_.uniform(0, 2)) {
      case 0: w.mul_(2); record(w, fmt("{}{}.mul_(2)", v(b), wv)); break;
      case 1: w.add_(fl ? 0.5 : 1); record(w, fmt("{}{}.add_(1)", v(b), wv)); break;
      case 2: {
        Tensor src = w.neg() * 3;
        w.copy_(src);
        record(w, fmt("{}{}.copy_(neg(.) * 3)", v(b), wv));
        break;
      }
    }
    if (r_.coin(0.5)) {
      b.sub_(1);
      record(b, fmt("{}.sub_(1)  (the base, after its view was written)", v(b)));
    }
  }

  void nn_op(const Tensor& a, bool fl) {
    if (!fl || a.dim() == 0 || a.numel() == 0) return binary(a, fl);
    if (r_.coin(0.3)) {  // dropout: a mask drawn inside the kernel
      record(a * (rand(a.shape(), a.dtype()) < 0.6) * (1 / 0.6), fmt("dropout({}, 0.4)", v(a)));
      return;
    }
    res_.reassociates = true;
    if (r_.coin()) {
      int64_t d = r_.uniform(0, a.dim() - 1);
      record(nn::softmax(a, d), fmt("softmax({}, {})", v(a), d));
    } else {
      Shape last = {a.size(-1)};
      res_.ill_conditioned = true;
      record(nn::layer_norm(a, last), fmt("layer_norm({}, {})", v(a), shape_str(last)));
    }
  }

  void finish() {
    // Outputs: the last values and a few others; everything else is dropped,
    // so the lazy schedule fuses what it can.
    std::vector<Tensor> outs;
    size_t n = pool_.size();
    for (size_t i = n >= 3 ? n - 3 : 0; i < n; ++i) outs.push_back(pool_[i]);
    for (int i = 0; i < 2; ++i) outs.push_back(pool_[size_t(r_.uniform(0, int64_t(n) - 1))]);
    Tensor loss;
    for (const Tensor& o : outs) {
      if (!is_floating(o.dtype())) continue;
      Tensor w = fresh(o.shape(), o.dtype());
      Tensor term = (o * w).sum().to(kFloat64);
      loss = loss.defined() ? loss + term : term;
    }
    std::vector<Tensor> grads;
    std::vector<Tensor> wrt;
    for (const Tensor& x : grad_inputs_)
      if (x.impl()->node()->grad_leaf) wrt.push_back(x);
    if (loss.defined() && loss.impl()->node()->requires_grad && !wrt.empty()) {
      auto g = kiln::grad({loss}, wrt, {}, false, true);
      for (size_t i = 0; i < g.size(); ++i) grads.push_back(g[i].defined() ? g[i] : zeros_like(wrt[i]));
    }
    res_.values = outs;
    res_.outputs = outs.size();
    res_.values.insert(res_.values.end(), grads.begin(), grads.end());
    pool_.clear();
    grad_inputs_.clear();
    loss = Tensor();
    if (mode_ == Mode::Lazy) {
      std::vector<NodeRef> nodes;
      for (const Tensor& t : res_.values) nodes.push_back(t.impl()->node());
      text::PrintOptions o;
      o.inline_limit = 1 << 20;
      res_.graph = text::print(nodes, o);
      if (std::getenv("KILN_FUZZ_TRACE")) std::ofstream("fuzz-trace.kiln") << res_.graph;
    }
    realize(res_.values);  // one schedule (eager: most are computed already)
  }

  Rng r_;
  Mode mode_;
  uint64_t seed_;
  Result res_;
  std::vector<Tensor> pool_;
  std::vector<Tensor> grad_inputs_;
};

// Equal bitwise (NaN matching NaN), or within the tolerance of a reordered sum.
std::string compare(const Tensor& a, const Tensor& b, bool exact, const Result& r) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    return "shape/dtype " + shape_of(a) + " vs " + shape_of(b);
  auto x = a.to(kFloat64).to_vector<double>(), y = b.to(kFloat64).to_vector<double>();
  double scale = 1;
  for (double v : y)
    if (std::isfinite(v)) scale = std::max(scale, std::fabs(v));
  double tol = r.single || a.dtype() != kFloat64 ? 2e-5 : 1e-10;
  // A reordered sum differs in its last bits, and later ops may amplify
  // that (sin of a large product, 1/std of a row of near-equal values): the
  // comparison allows for it. Wrong values are off by far more.
  if (r.reassociates) tol *= 50;
  if (r.ill_conditioned) tol *= 20;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (r.singular && std::isfinite(x[i]) != std::isfinite(y[i])) continue;
    bool ok = exact || !is_floating(a.dtype()) ? x[i] == y[i] : std::fabs(x[i] - y[i]) <= tol * scale;
    if (!ok) {
      std::ostringstream os;
      os.precision(17);
      os << "element " << i << ": " << x[i] << " vs " << y[i];
      return os.str();
    }
  }
  return "";
}

int64_t env_int(const char* name, int64_t dflt) {
  const char* e = std::getenv(name);
  return e && *e ? std::atoll(e) : dflt;
}

}  // namespace

TEST(FusionFuzz, LazyEqualsEagerEqualsUnfused) {
  int64_t iters = env_int("KILN_FUZZ_ITERS", 150), first = env_int("KILN_FUZZ_SEED", 1);
  int64_t failures = 0, ran = 0, seconds = env_int("KILN_FUZZ_SECONDS", 0);
  auto start = std::chrono::steady_clock::now();
  int64_t replayed = runtime_stats().schedule_cache_hits;
  for (int64_t seed = first; seed < first + iters && failures < 3; ++seed, ++ran) {
    if (seconds > 0 && std::chrono::steady_clock::now() - start > std::chrono::seconds(seconds)) break;
    if (ran > 0 && ran % 1000 == 0) std::printf("fuzz: %lld programs, %lld failing\n", (long long)ran, (long long)failures);
    // A program that throws in one mode (an internal error, a JIT failure)
    // is a failure of its own, reported with its seed like any other.
    std::string problem;
    auto run = [&](Mode m) {
      try {
        return Program(uint64_t(seed), m).run();
      } catch (const Error& e) {
        set_fusion_enabled(true);
        if (problem.empty()) problem = std::string(mode_name(m)) + " threw: " + e.what();
        return Result{};
      }
    };
    Result lazy = run(Mode::Lazy);
    std::string counts = "lazy " + std::to_string(lazy.launched);
    for (Mode m : {Mode::Eager, Mode::Unfused}) {
      if (!problem.empty()) break;
      Result other = run(m);
      if (!problem.empty()) break;
      counts += std::string(", ") + mode_name(m) + " " + std::to_string(other.launched);
      if (other.log != lazy.log) {
        problem = std::string("the program differs in mode ") + mode_name(m);
        break;
      }
      for (size_t i = 0; i < lazy.values.size() && problem.empty(); ++i) {
        // Gradients sum over broadcast dims: a fused sum may add in another order.
        bool exact = !lazy.reassociates && i < lazy.outputs;
        std::string d = compare(lazy.values[i], other.values[i], exact, lazy);
        if (!d.empty())
          problem = std::string("lazy vs ") + mode_name(m) + ", " +
                    (i < lazy.outputs ? "output " + std::to_string(i) : "gradient " + std::to_string(i - lazy.outputs)) +
                    ": " + d;
      }
      if (!problem.empty()) break;
    }
    if (problem.empty()) {
      // The same program again: its schedules are replayed from the schedule
      // cache, over new buffers, and must give the same bits.
      Result again = run(Mode::Lazy);
      if (problem.empty() && again.launched != lazy.launched)
        problem = "run again, it launched " + std::to_string(again.launched) + " kernels, not " +
                  std::to_string(lazy.launched);
      for (size_t i = 0; i < lazy.values.size() && problem.empty(); ++i)
        if (std::string d = compare(again.values[i], lazy.values[i], true, lazy); !d.empty())
          problem = "lazy run again, value " + std::to_string(i) + ": " + d;
    }
    if (std::getenv("KILN_FUZZ_VERBOSE")) {
      std::printf("seed %lld (kernels launched: %s)%s\n", (long long)seed, counts.c_str(),
                  problem.empty() ? "" : " FAILED");
      for (auto& l : lazy.log) std::printf("  %s\n", l.c_str());
    }
    if (problem.empty()) continue;
    ++failures;
    std::string path = "fuzz-failure-" + std::to_string(seed) + ".kiln";
    std::ofstream(path) << "# fusion fuzzer, seed " << seed << ": " << problem << "\n" << lazy.graph;
    std::string prog;
    for (auto& l : lazy.log) prog += "  " + l + "\n";
    ADD_FAILURE() << "seed " << seed << ": " << problem << "\nprogram:\n" << prog
                  << "graph written to " << path << " (replay: kilnc " << path << " --run)";
  }
  std::printf("fuzz: %lld programs (seeds %lld..%lld), %lld failing, %lld schedules replayed\n", (long long)ran,
              (long long)first, (long long)(first + ran - 1), (long long)failures,
              (long long)(runtime_stats().schedule_cache_hits - replayed));
}
