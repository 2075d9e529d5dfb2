#pragma once
// Kernel IR: one fused kernel as a target-neutral, printable value.
//
// A kernel iterates over an n-d shape (its "iteration space"); every argument
// is a buffer read or written through strides over that space. The body is a
// list of scalar instructions in SSA form, evaluated once per element:
//
//   kernel E_sin_mul_add rank=1 {
//     arg0: in f32 inner=contig
//     arg1: in f32 inner=bcast
//     arg2: out f32 inner=contig
//     %0 = load arg0 : f32
//     %1 = sin %0 : f32
//     %2 = load arg1 : f32
//     %3 = mul %1, %2 : f32
//     %4 = const 1 : f32
//     %5 = add %3, %4 : f32
//     store arg2, %5
//   }
//
// Reductions. A kernel with reduce_rank = k > 0 reduces over the LAST k dims
// of its iteration space: for every element of the first rank-k dims (the
// "output space") the instructions of stage 0 run once per element of the
// reduced dims, each Reduce folds its stage-0 operand into an accumulator,
// and the stage-1 instructions (post_reduce = true) run once per output
// element after the reduction, seeing the accumulated values:
//
//   kernel R_sum rank=2 reduce=1 {
//     arg0: in f32 inner=contig
//     arg1: out f32 inner=bcast
//     %0 = load arg0 : f32
//     %1 = mul %0, %0 : f32
//     %2 = reduce.sum %1 : f32        (a stage-1 value)
//     %3 = const 0.5 : f32   [post]
//     %4 = mul %2, %3 : f32  [post]
//     store arg1, %4         [post]
//   }
//
// Stage-1 loads and stores see only the output dims (their strides along
// reduced dims are 0). The reduction order is fixed (row-major over the
// reduced dims, split over threads only along output dims), so results do
// not depend on the thread count. A Scan is the running (inclusive) value of
// a reduction, a stage-0 value, stored by a stage-0 store (cumsum).
//
// Indexed access. A Load or Store with index operands (int64 values) reads
// or writes at  offset + sum_d i_d * stride_d + sum_j index_j * index_stride_j
// (gather, index_select, advanced indexing; scatter_add with accumulate).
// Kernels with an accumulating store run serially (a deterministic order).
//
// Sizes, strides and offsets are launch parameters, not part of the kernel,
// so one compiled kernel serves every size. So are floating-point scalars
// (a learning rate, an epsilon, 1/N of a mean): a Const with a `param` slot
// prints as `%4 = param 0 : f32` and takes its value at launch, so a value
// that changes every step compiles nothing new; so are the int64 seed and
// offset of random values (rand, randn). Only the innermost stride's class
// (contiguous, broadcast or general) is structural, because it decides how
// the loop vectorizes. The printed text is the cache key.
#include <cstdint>
#include <string>
#include <vector>

#include "graph/node.h"

namespace kiln {

enum class InnerStride : uint8_t { Contig, Bcast, General };
/// The printed names: "contig", "bcast", "strided".
const char* inner_stride_name(InnerStride s);
/// The printed dtype names: i1 (bool), i8, u8, i16, i32, i64, f16, bf16, f32, f64.
const char* short_dtype_name(DType t);

struct KernelArg {
  bool is_output = false;
  /// No memory: a load gives the element's position, offset + sum_d i_d *
  /// stride_d, as int64 (printed `pos`): where a random value reads its
  /// counter.
  bool position = false;
  DType dtype = kFloat32;
  InnerStride inner = InnerStride::Contig;
  int num_index = 0;  // index operands of this arg's indexed loads/stores
};

/// How a Reduce/Scan combines values. Max/Min propagate NaN; ArgMax/ArgMin
/// give the int64 position (row-major over the reduced dims) of the first
/// max/min, a NaN counting as the max and the min.
enum class ReduceOp : uint8_t { Sum, Prod, Max, Min, ArgMax, ArgMin };
const char* reduce_op_name(ReduceOp op);

struct Instr {
  enum class Kind : uint8_t { Load, Const, Compute, Store, Reduce, Scan };
  Kind kind = Kind::Compute;
  Op op = Op::Add;           // Compute: the elementwise graph op
  DType dtype = kFloat32;    // type of the result (Store: of the stored value)
  std::vector<int> operands; // SSA ids of earlier instructions
  int arg = -1;              // Load/Store: argument index
  Scalar value;              // Const (the launch value when it is a param)
  int param = -1;            // Const: its launch parameter slot, or -1 for a literal
  ReduceOp reduce = ReduceOp::Sum;  // Reduce/Scan
  bool post_reduce = false;  // stage 1: runs once per output element
  bool accumulate = false;   // Store: *p += value instead of *p = value
  // Load/Store: operands[0] is the stored value (Store), then index operands.
  // Compute ops with a dtype attribute (Cast) take it from `dtype`.
  // Reduce/Scan: operands[0] is the folded value; `dtype` the accumulator's
  // and result's type (int64 for ArgMax/ArgMin).
};

struct Kernel {
  std::string name;
  int rank = 1;
  int reduce_rank = 0;  // trailing dims of the iteration space that are reduced
  bool serial = false;  // run on one thread (accumulating stores)
  /// A contraction: sum_k a[.., k] * b[.., k], stage 0 nothing but two
  /// loads and their product (matmul, linear and their gradients, as the
  /// scheduler lays them out). Set by the scheduler (is_contraction) so a
  /// backend tiles it (cache blocks, register tiles, shared memory) instead
  /// of looping it as a plain reduction; printed `contraction` in the
  /// header. Epilogues (bias, activation) are stage-1 instructions.
  bool contraction = false;
  std::vector<KernelArg> args;
  std::vector<Instr> body;  // SSA id = index in body

  /// Canonical text (above); equal texts mean interchangeable kernels.
  std::string str() const;
};

/// Whether `k` has the contraction form (see Kernel::contraction): one
/// reduced dim, one Sum whose operand is the product of two plain
/// (unindexed) loads of input args, and no other stage-0 computation.
bool is_contraction(const Kernel& k);

/// Launch parameter layout shared by every backend: for a kernel of rank R
/// with A args, `params` holds sizes[R], then per arg strides[R], offset and
/// one stride per index operand (num_index of them), then the param consts
/// by slot (param_bits of each):
///   params = [size_0..size_{R-1}, (stride_0..stride_{R-1}, offset, istride...) x A, scalar...]
/// The output space is the first O = R - reduce_rank dims; O is at least 1
/// (the scheduler gives a full reduction a leading dim of size 1). How a
/// backend splits it (CPU rows and columns, CUDA blocks) is its own.
/// Where the param consts start in `params`.
int64_t first_scalar_param(const Kernel& k);
/// A param const's launch value: the bits of its register value (float16 and
/// bfloat16 rounded to the dtype and held as float32, as literals are;
/// integers as they are).
int64_t param_bits(DType t, const Scalar& v);
/// Whether a scalar of dtype t becomes a launch parameter: floating values
/// other than 0, +-1, +-inf and NaN, which code generation folds.
bool is_param_scalar(DType t, const Scalar& v);

/// The dtype of a register holding values of `t` in a decomposed kernel
/// (ops/decompose.h): float16/bfloat16 are held in float32.
inline DType register_dtype(DType t) { return t == kFloat16 || t == kBFloat16 ? kFloat32 : t; }

}  // namespace kiln
