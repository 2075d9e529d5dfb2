#!/usr/bin/env python3
"""Checks that kiln's layers only look down: no file includes a header of a
layer above its own. Prints every upward include and exits 1 if there is one.

    python3 scripts/check_layers.py [-v] [--sources build/layers/sources.txt]

    -v         the include counts between layers
    --sources  also check the build's layer libraries (the file CMake writes,
               one "layer path" a line): every .cpp of a layer is compiled
               exactly once, in its own layer's library

The layers and the paths each owns are listed in cmake/layers.txt, which the
build reads too: each layer is an object library that sees only its own and
lower layers' headers, so an upward include already fails to compile. This
script also catches what the build cannot: an include found beside the
including file (a "../kernel/kernel.h", or lib/dtype.cpp, which sits in lib/
above every lib/ layer, including "graph/node.h"), and the build's source
lists drifting from cmake/layers.txt. The layers, lowest first (a file may
include its own layer and any below):
  vocab     include/kiln/{error,dtype,scalar,device,shape}.h, lib/dtype.cpp
  runtime   runtime/      buffers, the allocator, the thread pool, the disk cache
  graph     lib/graph/    nodes, layouts, the op table, shape and dtype rules,
                          graph values (formulas over nodes)
  kernel    lib/kernel/   Kernel IR, its primitives builder and float32 math
  ops       lib/ops/      every op's definition: gradient rule and numerics
  autodiff  lib/autodiff/ the backward walk: graph to graph, never computing
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


def strip_root(path):
    """A path as it is included: less its include/ or lib/ root."""
    p = path.replace(os.sep, "/")
    for prefix in ("include/", "lib/"):
        if p.startswith(prefix):
            return p[len(prefix):]
    return p


def read_layers():
    """cmake/layers.txt: the layers, lowest first, and (include name, layer)
    for every path a layer owns."""
    layers, entries = [], []
    with open(os.path.join(ROOT, "cmake", "layers.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            layers.append(fields[0])
            entries += [(strip_root(p), fields[0]) for p in fields[1:]]
    return layers, entries


LAYERS, ENTRIES = read_layers()


def layer_of(path):
    """The layer of a repository path (or of an include as written): that of
    its longest matching entry in cmake/layers.txt."""
    p = strip_root(path)
    best, best_len = None, 0
    for entry, layer in ENTRIES:
        hit = p.startswith(entry) if entry.endswith("/") else p == entry
        if hit and len(entry) > best_len:
            best, best_len = layer, len(entry)
    return best  # None: generated headers (codegen_id.h) and the like


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
                # Quoted includes look beside the file first: resolve those
                # (a "../kernel/kernel.h" is as upward as "kernel/kernel.h").
                beside = os.path.normpath(os.path.join(os.path.dirname(full), m.group(1)))
                dst = layer_of(os.path.relpath(beside, ROOT) if os.path.isfile(beside) else m.group(1))
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
    bad = 0
    if "--sources" in sys.argv[1:]:
        bad = check_built_sources(sys.argv[sys.argv.index("--sources") + 1])
    return 1 if upward or bad else 0


def check_built_sources(listing):
    """Every .cpp of a layer in exactly one layer library, its own."""
    built = {}
    with open(listing, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                layer, rel = line.split()
                built.setdefault(rel, []).append(layer)
    problems = []
    for rel, _ in sources():
        rel = rel.replace(os.sep, "/")
        if rel.endswith(".cpp") and layer_of(rel) and rel not in built:
            problems.append(f"{rel}: in no layer library ({layer_of(rel)} in cmake/layers.txt)")
    for rel, layers in sorted(built.items()):
        if len(layers) > 1:
            problems.append(f"{rel}: in {len(layers)} layer libraries ({', '.join(layers)})")
        elif layers[0] != layer_of(rel):
            problems.append(f"{rel}: in the {layers[0]} library, but cmake/layers.txt says {layer_of(rel)}")
    for p in problems:
        print(p)
    print(f"check_layers: {len(built)} sources in the layer libraries, {len(problems)} problem(s)")
    return len(problems)


if __name__ == "__main__":
    sys.exit(main())
