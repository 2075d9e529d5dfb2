#pragma once
// Running a schedule's launches (recorded or replayed): in order, each on
// the backend's threads, except where consecutive launches read and write
// the same rows of buffers too large for the cache. Softmax is three such
// launches (the row maxima, the sums of exp, the quotients) over a [4096,
// 4096] input: run one after the other, each streams the 64 MB input from
// memory; run block by block (about Backend::row_block_bytes of rows, each
// block through the three launches on one thread, the blocks in parallel),
// the input comes from memory once and from the cache twice.
//
// A group is legal when no row of one launch can see another row's writes:
// every launch walks the same number of rows (dim 0 of its iteration space,
// an output dim), none gathers, accumulates into shared elements (serial) or
// is a contraction, and every buffer the group writes is reached by every
// access with one offset and one row stride, each row's elements within its
// own stride. Blocks are at least 2 rows, and a kernel computes each
// element the same way whichever rows a launch covers (as when the
// backend splits a launch among threads), so blocking changes no value.
#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace kiln {

struct LaunchSpec {
  const Executable* exe = nullptr;
  const Kernel* kernel = nullptr;
  std::vector<void*> ptrs;
  std::vector<int64_t> params;  // kernel.h's layout
  Shape sizes;
};

/// Runs `launches` in order (row-local groups in row blocks, as above).
void run_launches(const Backend& backend, const std::vector<LaunchSpec>& launches);

/// Kernels launched so far (a blocked group counts each of its kernels once).
int64_t kernels_launched_total();
/// The block size: -1 the backend's, 0 none (KILN_ROW_BLOCKS=0 starts so),
/// else that many bytes (a group is blocked where a buffer it shares has at
/// least 16 times as many); and how many groups have run in blocks. For
/// tests and comparisons.
void set_row_block_bytes(int64_t bytes);
int64_t row_block_groups();

}  // namespace kiln
