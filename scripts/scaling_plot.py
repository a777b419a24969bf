#!/usr/bin/env python3
"""Plots the CSV of the scaling benchmark (benches/scaling.rs --csv): speedup over one
thread against threads, one line per row, with the ideal diagonal. Needs matplotlib.

Usage: python3 scripts/scaling_plot.py scaling.csv scaling.png [title]
"""
import csv
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("scaling_plot.py: matplotlib is not installed (pip install matplotlib); no plot")
    sys.exit(0)

src, dst = sys.argv[1], sys.argv[2]
title = sys.argv[3] if len(sys.argv) > 3 else "Scaling of mixed allocations"
rows = {}
with open(src) as f:
    for r in csv.DictReader(f):
        rows.setdefault(r["row"], []).append((int(r["threads"]), float(r["speedup"])))

fig, ax = plt.subplots(figsize=(7, 4.5))
top = max(t for pts in rows.values() for t, _ in pts)
ax.plot([1, top], [1, top], color="lightgray", linestyle="--", label="linear")
for name, pts in rows.items():
    pts.sort()
    ax.plot([t for t, _ in pts], [s for _, s in pts], marker="o", label=name)
ax.set_xlabel("threads")
ax.set_ylabel("throughput / one thread's")
ax.set_xscale("log", base=2)
ax.set_xticks(sorted({t for pts in rows.values() for t, _ in pts}))
ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
ax.set_title(title)
ax.grid(True, alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(dst, dpi=120)
print(f"wrote {dst}")
