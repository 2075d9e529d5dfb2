// Slicing, splitting, joining and rearranging: views where strides can
// express the result, copies (PyTorch's semantics) where they cannot.
#include <fmt/format.h>

#include "kiln/ops.h"
#include "tensor/tensor_impl.h"

namespace kiln {

namespace {
// Ops that need a dim to work on refuse a 0-dim tensor, as PyTorch does.
void require_dims(const Tensor& t, const char* what) {
  if (t.dim() == 0) throw Error(what);
}
}  // namespace

Tensor Tensor::slice(int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) const {
  require_dims(*this, "slice: cannot be applied to a 0-dim tensor");
  dim = wrap_dim(dim, this->dim(), "slice");
  if (step <= 0) throw Error(fmt::format("slice: step must be positive (got {})", step));
  int64_t n = size(dim);
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + n : *v;
    return std::min(std::max<int64_t>(x, 0), n);
  };
  int64_t b = clamp(start, 0), e = clamp(end, n);
  int64_t len = e > b ? (e - b - 1) / step + 1 : 0;  // (no overflow for a huge step)
  NodeRef v = graph::slice(node_of(*this), dim, b, len, step);
  return view_of(*this, v, Op::Slice, v->attrs);
}

Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const {
  require_dims(*this, "narrow: cannot be applied to a 0-dim tensor");
  dim = wrap_dim(dim, this->dim(), "narrow");
  int64_t n = size(dim);
  if (start < -n || start > n)
    throw Error(fmt::format("narrow: start ({}) is out of range for dimension {} of size {}", start, dim, n));
  if (start < 0) start += n;
  if (length < 0 || start + length > n)
    throw Error(fmt::format("narrow: start ({}) + length ({}) exceeds dimension size ({}) of shape {}",
                            start, length, n, shape_str(shape())));
  return slice(dim, start, start + length);
}

Tensor Tensor::select(int64_t dim, int64_t index) const {
  require_dims(*this, "select: invalid index of a 0-dim tensor; use item() to convert it to a number");
  dim = wrap_dim(dim, this->dim(), "select");
  int64_t n = size(dim);
  if (index < -n || index >= n)
    throw Error(fmt::format("select: index {} is out of bounds for dimension {} with size {}", index, dim, n));
  if (index < 0) index += n;
  Tensor s = slice(dim, index, index + 1);
  Shape to = shape();
  to.erase(to.begin() + dim);
  return s.view(to);
}

std::vector<Tensor> Tensor::split(int64_t split_size, int64_t dim) const {
  require_dims(*this, "split: expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, this->dim(), "split");
  int64_t n = size(dim);
  if (split_size < 0 || (split_size == 0 && n != 0))
    throw Error(fmt::format("split: split_size must be positive for a dimension of size {} (got {})", n, split_size));
  std::vector<Tensor> out;
  if (n == 0) return {*this};
  for (int64_t b = 0; b < n; b += split_size) out.push_back(narrow(dim, b, std::min(split_size, n - b)));
  return out;
}

std::vector<Tensor> Tensor::split(const Shape& sizes, int64_t dim) const {
  require_dims(*this, "split: expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, this->dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw Error(fmt::format("split: negative section size in {}", shape_str(sizes)));
    total += s;
  }
  if (total != size(dim))
    throw Error(fmt::format("split: split sizes {} sum to {} but dimension {} has size {} (shape {})",
                            shape_str(sizes), total, dim, size(dim), shape_str(shape())));
  std::vector<Tensor> out;
  int64_t b = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(dim, b, s));
    b += s;
  }
  return out;
}

std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t dim) const {
  if (chunks <= 0) throw Error(fmt::format("chunk: number of chunks must be positive (got {})", chunks));
  require_dims(*this, "chunk: expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, this->dim(), "chunk");
  int64_t n = size(dim);
  // ceil(n / chunks), without n + chunks - 1 overflowing for huge chunks.
  int64_t per = n / chunks + (n % chunks != 0);
  return split(std::max<int64_t>(per, n == 0 ? 0 : 1), dim);
}

Tensor Tensor::movedim(const Shape& src, const Shape& dst) const {
  int64_t n = dim();
  if (src.size() != dst.size())
    throw Error(fmt::format("movedim: source {} and destination {} must have the same number of dims",
                            shape_str(src), shape_str(dst)));
  if (n == 0) {  // dims 0 and -1 name the one "dim" of a 0-dim tensor: nothing moves
    if (src.size() > 1) throw Error("movedim: repeated dim in source or destination");
    for (size_t i = 0; i < src.size(); ++i) wrap_dim(src[i], 0, "movedim"), wrap_dim(dst[i], 0, "movedim");
    return *this;
  }
  Shape perm(static_cast<size_t>(n), -1);
  std::vector<bool> used_src(size_t(n), false), used_dst(size_t(n), false);
  for (size_t i = 0; i < src.size(); ++i) {
    int64_t s = wrap_dim(src[i], n, "movedim"), d = wrap_dim(dst[i], n, "movedim");
    if (used_src[s] || used_dst[d]) throw Error("movedim: repeated dim in source or destination");
    used_src[s] = used_dst[d] = true;
    perm[d] = s;
  }
  // The other dims keep their order in the free slots.
  int64_t next = 0;
  for (int64_t d = 0; d < n; ++d) {
    if (perm[d] >= 0) continue;
    while (used_src[next]) ++next;
    perm[d] = next++;
  }
  return permute(perm);
}

Tensor Tensor::movedim(int64_t source, int64_t destination) const {
  return movedim(Shape{source}, Shape{destination});
}

Tensor Tensor::broadcast_to(const Shape& shape) const {
  NodeRef v = graph::expand(node_of(*this), shape, "broadcast_to");
  return view_of(*this, v, Op::Expand, v->attrs);
}

Tensor Tensor::flip(const Shape& dims) const {
  if (dim() == 0) {  // PyTorch flips a 0-dim tensor into a copy of itself
    for (int64_t d : dims) wrap_dim(d, 0, "flip");
    return clone();
  }
  NodeRef v = node_of(*this);
  std::vector<bool> seen(size_t(dim()), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, dim(), "flip");
    if (seen[w]) throw Error(fmt::format("flip: dim {} appears multiple times in {}", w, shape_str(dims)));
    seen[w] = true;
    if (v->shape[w] > 1) v = graph::slice(v, w, v->shape[w] - 1, v->shape[w], -1);
  }
  return wrap(graph::copy(v));  // PyTorch's flip returns a new tensor
}

namespace {
// repeat and tile, each raising errors under its own name.
Tensor repeated(const Tensor& self, const Shape& repeats, const char* op) {
  if (int64_t(repeats.size()) < self.dim())
    throw Error(fmt::format("{}: number of repeat dims ({}) can not be smaller than number of "
                            "tensor dims ({}), shape {}",
                            op, repeats.size(), self.dim(), shape_str(self.shape())));
  Shape padded(repeats.size() - self.shape().size(), 1);
  padded.insert(padded.end(), self.shape().begin(), self.shape().end());
  // [s0, s1] -> [1, s0, 1, s1] -> expand [r0, s0, r1, s1] -> [r0*s0, r1*s1].
  Shape interleaved, expanded, out;
  for (size_t i = 0; i < padded.size(); ++i) {
    if (repeats[i] < 0) throw Error(fmt::format("{}: negative repeat in {}", op, shape_str(repeats)));
    interleaved.insert(interleaved.end(), {1, padded[i]});
    expanded.insert(expanded.end(), {repeats[i], padded[i]});
    int64_t size = 0;
    if (__builtin_mul_overflow(repeats[i], padded[i], &size))
      throw Error(fmt::format("{}: repeats {} of shape {} overflow the size of dim {}", op, shape_str(repeats),
                              shape_str(self.shape()), i));
    out.push_back(size);
  }
  int64_t total = 1;
  for (int64_t s : out)
    if (__builtin_mul_overflow(total, s, &total))
      throw Error(fmt::format("{}: repeats {} of shape {} give a result of shape {}, too many elements",
                              op, shape_str(repeats), shape_str(self.shape()), shape_str(out)));
  NodeRef x = graph::reshape(node_of(self), interleaved);
  return wrap(graph::copy(graph::reshape(graph::expand(x, expanded), out)));
}
}  // namespace

Tensor Tensor::repeat(const Shape& repeats) const { return repeated(*this, repeats, "repeat"); }

Tensor Tensor::tile(const Shape& reps) const {
  Shape r = reps;
  if (int64_t(r.size()) < dim()) r.insert(r.begin(), size_t(dim()) - r.size(), 1);
  return repeated(*this, r, "tile");
}

Tensor cat(const std::vector<Tensor>& ts, int64_t dim) {
  std::vector<NodeRef> xs;
  for (const Tensor& t : ts) xs.push_back(node_of(t));
  return wrap(graph::cat(xs, dim));
}

Tensor stack(const std::vector<Tensor>& ts, int64_t dim) {
  if (ts.empty()) throw Error("stack: expects a non-empty list of tensors");
  for (size_t i = 1; i < ts.size(); ++i)
    if (ts[i].shape() != ts[0].shape())
      throw Error(fmt::format("stack: expects each tensor to be equal size, but got {} at entry 0 and {} "
                              "at entry {}",
                              shape_str(ts[0].shape()), shape_str(ts[i].shape()), i));
  int64_t d = wrap_dim(dim, ts[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  for (const Tensor& t : ts) us.push_back(t.unsqueeze(d));
  return cat(us, d);
}

Tensor narrow(const Tensor& x, int64_t d, int64_t s, int64_t l) { return x.narrow(d, s, l); }
Tensor select(const Tensor& x, int64_t d, int64_t i) { return x.select(d, i); }
std::vector<Tensor> split(const Tensor& x, int64_t s, int64_t d) { return x.split(s, d); }
std::vector<Tensor> split(const Tensor& x, const Shape& s, int64_t d) { return x.split(s, d); }
std::vector<Tensor> chunk(const Tensor& x, int64_t c, int64_t d) { return x.chunk(c, d); }
Tensor movedim(const Tensor& x, const Shape& s, const Shape& d) { return x.movedim(s, d); }
Tensor movedim(const Tensor& x, int64_t s, int64_t d) { return x.movedim(s, d); }
Tensor broadcast_to(const Tensor& x, const Shape& s) { return x.broadcast_to(s); }
Tensor flip(const Tensor& x, const Shape& dims) { return x.flip(dims); }
Tensor repeat(const Tensor& x, const Shape& r) { return x.repeat(r); }
Tensor tile(const Tensor& x, const Shape& r) { return x.tile(r); }
Tensor logical_not(const Tensor& x) { return x.logical_not(); }

}  // namespace kiln
