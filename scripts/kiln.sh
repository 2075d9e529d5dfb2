#!/usr/bin/env bash
# kiln's one entry point for a fresh Debian 12 machine (run as root):
#   scripts/kiln.sh demo    install what is missing, build, run the demo
#   scripts/kiln.sh test    install what is missing, build, run every test
#   scripts/kiln.sh bench   install what is missing, build, run the benchmarks
#   scripts/kiln.sh sanitize  the test suite under ASan+UBSan (build-asan), and
#                           the thread tests under TSan (build-tsan)
# Every step is idempotent; BUILD_DIR (default: build) is reused if present.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-test}
build_dir=${BUILD_DIR:-build}
packages=(cmake ninja-build g++ lld python3 llvm-16-dev libmlir-16-dev mlir-16-tools llvm-16-tools
          libzstd-dev libfmt-dev googletest libgtest-dev libbenchmark-dev nlohmann-json3-dev)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "kiln: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
}

# The benchmarks also measure LibTorch eager, a baseline only (never a
# dependency), with an optimized BLAS (without it Debian's LibTorch falls back
# to the reference BLAS and its matmul is 10x slower: an unfair baseline).
[ "$mode" = bench ] && packages+=(libtorch-dev libopenblas0-pthread python3-matplotlib)
install_packages
case "$mode" in
  demo)
    build
    "$build_dir/tools/kiln_demo"
    ;;
  test)
    build
    ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
    ;;
  bench)
    build
    # Debian's OpenBLAS 0.3.21 misdetects recent CPUs and runs a generic
    # kernel: name its kernel from the CPU flags (here only, never in tests).
    if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
      if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
      elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
    fi
    # LibTorch's OpenMP threads otherwise spin between ops against OpenBLAS's
    # own threads (its 2-thread training step runs 3x slower than 1 thread).
    export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
    # A readable table on stdout per family, the same results as JSON next
    # to the build.
    for family in elementwise nn linalg; do
      "$build_dir/bench/kiln_bench_$family" --benchmark_min_time=0.5 \
        --benchmark_out="$build_dir/bench-$family.json" --benchmark_out_format=json
    done
    # The roofline chart (Debian's matplotlib, for Debian's python; without
    # it the tables stand alone).
    "$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)" scripts/bench_chart.py "$build_dir"/bench-{elementwise,nn,linalg}.json \
      -o "$build_dir/bench-roofline.png" || true
    ;;
  sanitize)
    # ASan+UBSan over the whole suite; LLVM's JIT-compiled kernels are not
    # instrumented, kiln's own code (runtime, passes, codegen) is.
    asan=${ASAN_BUILD_DIR:-build-asan}
    cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=address,undefined \
      -DKILN_BUILD_BENCH=OFF >/dev/null
    cmake --build "$asan" -j "$(nproc)"
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "$asan" --output-on-failure -j "$(nproc)" -E '^install_and_consume$'
    # TSan over the tests that share kiln between threads.
    tsan=${TSAN_BUILD_DIR:-build-tsan}
    cmake -S . -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=thread \
      -DKILN_BUILD_BENCH=OFF -DKILN_BUILD_TOOLS=OFF >/dev/null
    cmake --build "$tsan" -j "$(nproc)" --target kiln_tests
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 KILN_CACHE_DIR="$tsan/kernel-cache" \
      "$tsan/test/kiln_tests" --gtest_filter='Threads.*'
    ;;
  *)
    echo "usage: $0 demo|test|bench|sanitize" >&2
    exit 2
    ;;
esac
