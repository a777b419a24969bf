#!/usr/bin/env python3
"""Prints criterion's latest results as a Markdown table: median time, and throughput where
the benchmark set one. Reads target/criterion (or $CARGO_TARGET_DIR/criterion).

Usage: python3 scripts/bench-table.py [filter]
"""
import json
import os
import sys
from pathlib import Path

root = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
needle = sys.argv[1] if len(sys.argv) > 1 else ""


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(per_s, kind):
    if kind == "Bytes":
        return f"{per_s / 2**30:.2f} GiB/s"
    return f"{per_s / 1e6:.0f} M/s"


print("| benchmark | median | throughput |")
print("|---|---|---|")
for bench in sorted(root.glob("**/new/benchmark.json")):
    meta = json.loads(bench.read_text())
    name = meta["full_id"]
    if needle not in name:
        continue
    est = json.loads((bench.parent / "estimates.json").read_text())
    median = est["median"]["point_estimate"]
    rate = ""
    tp = meta.get("throughput")
    if tp:
        kind, amount = next(iter(tp.items()))
        rate = fmt_rate(amount / (median / 1e9), kind)
    print(f"| {name} | {fmt_time(median)} | {rate} |")
