#!/usr/bin/env python3
"""The roofline chart of a bench run: every row of the JSON files that
`scripts/kiln.sh bench` writes, as the fraction of its roofline it reached
(`roofline`: of the bandwidth the same program measured; `of_peak`: of the FMA
peak it measured), one panel per family and thread count.

    scripts/bench_chart.py build/bench-*.json -o build/bench-roofline.png

Needs matplotlib (Debian: python3-matplotlib); without it, says so and exits 1.
"""
import argparse
import json
import os
import re
import sys


def rows(path):
    """(family, threads, name, fraction) for every aggregate (or single) row with a roofline."""
    with open(path) as f:
        data = json.load(f)
    family = re.sub(r"^bench-|\.json$", "", os.path.basename(path))
    seen = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        frac = b.get("roofline", b.get("of_peak"))
        if frac is None:
            continue
        name = b.get("run_name", b["name"])
        m = re.search(r"/(\d+)/real_time", name)
        threads = int(m.group(1)) if m else 1
        label = re.sub(r"/real_time.*$", "", name)
        label = re.sub(r"^BM_", "", label)
        seen[(threads, label)] = float(frac)  # the median where there are repetitions
    return [(family, t, label, frac) for (t, label), frac in seen.items()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("-o", "--output", default="bench-roofline.png")
    args = ap.parse_args()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench_chart: matplotlib is not installed (apt-get install python3-matplotlib): no chart",
              file=sys.stderr)
        return 1
    panels = {}
    for path in args.json:
        for family, threads, label, frac in rows(path):
            panels.setdefault((family, threads), []).append((label, frac))
    if not panels:
        print("bench_chart: no rows with a roofline in " + ", ".join(args.json), file=sys.stderr)
        return 1
    keys = sorted(panels)
    height = sum(max(2.0, 0.28 * len(panels[k]) + 1.0) for k in keys)
    fig, axes = plt.subplots(len(keys), 1, figsize=(11, height), squeeze=False,
                             gridspec_kw={"height_ratios": [len(panels[k]) + 3 for k in keys]})
    for ax, key in zip(axes[:, 0], keys):
        items = sorted(panels[key])
        labels = [l for l, _ in items]
        fracs = [f for _, f in items]
        colors = ["#c0392b" if l.startswith("Kiln") else "#7f8c8d" for l in labels]
        ax.barh(range(len(items)), fracs, color=colors)
        ax.set_yticks(range(len(items)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, max(1.0, max(fracs) * 1.05))
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title("%s, %d thread%s: fraction of the roofline (kiln in red)" %
                     (key[0], key[1], "" if key[1] == 1 else "s"), fontsize=9)
        for i, f in enumerate(fracs):
            ax.text(f, i, " %.2f" % f, va="center", fontsize=6)
    fig.tight_layout()
    fig.savefig(args.output, dpi=80)
    print("bench_chart: wrote " + args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
