#pragma once
// Typed op attributes. Each op's entry in ops.def names the struct its nodes
// carry; Node's constructor checks that a node holds its op's struct. Each
// struct lists its fields (name and member) once, in fields(), and the text
// printer and parser read attribute names and types from there:
//
//   %1 = slice(%0) {dim = 1, start = 2, length = 3, step = 1} : f32[4, 3]
//
// Field types: int64_t (an integer), Shape (a list [1, 2]), bool
// (true/false), Scalar (a number).
#include <bit>
#include <cstdint>
#include <variant>

#include "graph/layout.h"
#include "kiln/scalar.h"
#include "kiln/shape.h"

namespace kiln {

struct NoAttrs {
  bool operator==(const NoAttrs&) const = default;
  template <class Self, class F> static void fields(Self&, F&&) {}
};

/// full: every element is `value`.
struct FullAttrs {
  Scalar value;
  /// The same kind and bits (NaNs alike, -0 apart from 0).
  bool operator==(const FullAttrs& o) const {
    if (value.kind() != o.value.kind()) return false;
    if (!value.is_floating()) return value.to_int() == o.value.to_int();
    double a = value.to_double(), b = o.value.to_double();
    return (a != a && b != b) || std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
  }
  template <class Self, class F> static void fields(Self& s, F&& f) { f("value", s.value); }
};

/// rand, randn: the generator's key and the first counter (4-word Philox
/// blocks consumed before this draw; element p uses block offset + p). Both
/// are 64-bit words held as int64.
struct RandomAttrs {
  bool operator==(const RandomAttrs&) const = default;
  int64_t seed = 0, offset = 0;
  template <class Self, class F> static void fields(Self& s, F&& f) {
    f("seed", s.seed);
    f("offset", s.offset);
  }
};

/// sum, prod, amax, amin, argmax, argmin: the reduced dims (sorted); the
/// result keeps them with size 1.
struct ReduceAttrs {
  bool operator==(const ReduceAttrs&) const = default;
  Shape dims;
  template <class Self, class F> static void fields(Self& s, F&& f) { f("dims", s.dims); }
};

/// cumsum: the running dim (0 for a 0-dim value).
struct ScanAttrs {
  bool operator==(const ScanAttrs&) const = default;
  int64_t dim = 0;
  template <class Self, class F> static void fields(Self& s, F&& f) { f("dim", s.dim); }
};

/// cat: the dim its inputs are placed side by side along.
struct CatAttrs {
  bool operator==(const CatAttrs&) const = default;
  int64_t dim = 0;
  template <class Self, class F> static void fields(Self& s, F&& f) { f("dim", s.dim); }
};

/// reshape, expand: the result's shape.
struct ShapeAttrs {
  bool operator==(const ShapeAttrs&) const = default;
  Shape shape;
  template <class Self, class F> static void fields(Self& s, F&& f) { f("shape", s.shape); }
};

/// permute: result dim i is input dim dims[i].
struct PermuteAttrs {
  bool operator==(const PermuteAttrs&) const = default;
  Shape dims;
  template <class Self, class F> static void fields(Self& s, F&& f) { f("dims", s.dims); }
};

/// slice: elements start, start + step, ... (length of them) of dim.
struct SliceAttrs {
  bool operator==(const SliceAttrs&) const = default;
  int64_t dim = 0, start = 0, length = 0, step = 1;
  template <class Self, class F> static void fields(Self& s, F&& f) {
    f("dim", s.dim);
    f("start", s.start);
    f("length", s.length);
    f("step", s.step);
  }
};

/// as_strided, view_scatter: a view over the input's contiguous order.
struct StridedAttrs {
  bool operator==(const StridedAttrs&) const = default;
  Shape shape, strides;
  int64_t offset = 0;
  Layout layout() const { return Layout{shape, strides, offset}; }
  static StridedAttrs of(const Layout& l) { return {l.shape, l.strides, l.offset}; }
  template <class Self, class F> static void fields(Self& s, F&& f) {
    f("shape", s.shape);
    f("strides", s.strides);
    f("offset", s.offset);
  }
};

/// index (gather) and index_put (scatter): for each output (iteration) dim
/// the source dim it walks, or -1 (map); for each index input the source
/// dim it selects (sel). Index inputs have the iteration shape.
struct IndexAttrs {
  bool operator==(const IndexAttrs&) const = default;
  Shape map, sel;
  template <class Self, class F> static void fields(Self& s, F&& f) {
    f("map", s.map);
    f("sel", s.sel);
  }
};

/// index_put: as index, and whether the values are added (+=) or written.
struct IndexPutAttrs {
  bool operator==(const IndexPutAttrs&) const = default;
  Shape map, sel;
  bool accumulate = false;
  template <class Self, class F> static void fields(Self& s, F&& f) {
    f("map", s.map);
    f("sel", s.sel);
    f("accumulate", s.accumulate);
  }
};

using Attrs = std::variant<NoAttrs, FullAttrs, RandomAttrs, ReduceAttrs, ScanAttrs, CatAttrs, ShapeAttrs, PermuteAttrs,
                           SliceAttrs, StridedAttrs, IndexAttrs, IndexPutAttrs>;

/// Calls f(name, value) for every field of `a` (const or not).
template <class A, class F> void for_each_field(A& a, F&& f) {
  std::visit([&](auto& x) { std::remove_cvref_t<decltype(x)>::fields(x, f); }, a);
}

}  // namespace kiln
