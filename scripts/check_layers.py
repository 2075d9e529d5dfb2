#!/usr/bin/env python3
"""Checks that kiln's layers only look down: no file includes a header of a
layer above its own. Prints every upward include and exits 1 if there is one.

    python3 scripts/check_layers.py [-v]    (-v: the include counts between layers)

The layers, lowest first (a file may include its own layer and any below):
  vocab     include/kiln/{error,dtype,scalar,device,shape}.h, lib/dtype.cpp
  runtime   runtime/      buffers, the allocator, the thread pool, the disk cache
  graph     lib/graph/    nodes, layouts, the op table, shape and dtype rules,
                          graph values (formulas over nodes)
  autodiff  lib/autodiff/ gradient rules: graph to graph, never computing
  kernel    lib/kernel/   Kernel IR
  passes    lib/passes/   graph rewrites
  schedule  lib/schedule/ fusion decisions, lowering to Kernel IR
  backend   lib/backend/  the Backend interface and the kernel cache
  codegen   codegen/      concrete backends
  registry  lib/backend/registry.cpp, the one file naming concrete backends
  frontend  the public API and what implements it: include/kiln/*.h,
            lib/tensor/ (autograd's public API too), lib/text/, lib/realize.cpp
tools/, test/ and bench/ sit above everything and are not checked.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LAYERS = ["vocab", "runtime", "graph", "autodiff", "kernel", "passes", "schedule", "backend", "codegen", "registry", "frontend"]
VOCAB = {"error.h", "dtype.h", "scalar.h", "device.h", "shape.h"}


def layer_of(path):
    """The layer of a repository path (or of an include as written)."""
    p = path.replace(os.sep, "/")
    for prefix in ("include/", "lib/"):
        if p.startswith(prefix):
            p = p[len(prefix):]
    if p.startswith("kiln/"):
        return "vocab" if p[len("kiln/"):] in VOCAB else "frontend"
    if p == "dtype.cpp":
        return "vocab"
    if p == "backend/registry.cpp":
        return "registry"
    if p.startswith("codegen/"):
        return "codegen"
    top = p.split("/")[0]
    if top in ("runtime", "graph", "autodiff", "kernel", "passes", "schedule", "backend"):
        return top
    if top in ("tensor", "text") or p == "realize.cpp":
        return "frontend"
    return None  # generated headers (codegen_id.h) and the like


def sources():
    for top in ("include", "lib", "runtime", "codegen"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".h", ".cpp", ".def")):
                    full = os.path.join(dirpath, f)
                    yield os.path.relpath(full, ROOT), full


def main():
    verbose = "-v" in sys.argv[1:]
    upward, counts = [], {}
    include = re.compile(r'\s*#\s*include\s+"([^"]+)"')
    for rel, full in sources():
        src = layer_of(rel)
        with open(full, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = include.match(line)
                if not m:
                    continue
                dst = layer_of(m.group(1))
                if src is None or dst is None or src == dst:
                    continue
                counts[(src, dst)] = counts.get((src, dst), 0) + 1
                if LAYERS.index(dst) > LAYERS.index(src):
                    upward.append(f"{rel}:{lineno}: {src} includes {m.group(1)} ({dst}, a layer above)")
    if verbose:
        for (s, d), n in sorted(counts.items(), key=lambda kv: (LAYERS.index(kv[0][0]), LAYERS.index(kv[0][1]))):
            print(f"{s:>9} -> {d:<9} {n}")
    for u in upward:
        print(u)
    print(f"check_layers: {len(upward)} upward include(s) across {len(LAYERS)} layers")
    return 1 if upward else 0


if __name__ == "__main__":
    sys.exit(main())
