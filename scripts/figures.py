#!/usr/bin/env python3
"""Turns criterion's latest results into PNG bar charts (ours against each peer) in
docs/figures/ and writes docs/figures.md: the charts, their numbers, and the CPU model,
core count, kernel and compiler they were measured with.

Usage: python3 scripts/figures.py [--since FILE] [--note TEXT]
  --since FILE  only results written after FILE was (scripts/figures.sh passes a file it
                touches before the run, so results left from older runs stay out)
  --note TEXT   a line for docs/figures.md about the conditions (e.g. "a shared, busy machine")

Reads $CARGO_TARGET_DIR/criterion (default target/criterion): every new/benchmark.json and
the new/estimates.json beside it. Generic by naming convention, so new benchmark groups
appear without changes here:
  - group "<figure>/<case>" -> one PNG per <figure> (docs/figures/<figure>.png), one panel
    per <case> (a group id without "/" is a figure of one panel); a BenchmarkId parameter
    (e.g. "16 pages") makes a panel of its own, "<case>, <parameter>";
  - a function id starting with "vmallocator" is ours (drawn in colour), any other is a
    peer (grey), its id the bar's label.
Each bar is criterion's median with its 95% confidence interval. Groups with a byte
throughput are drawn in GiB/s (higher is better), groups with an element throughput in
time per element, the others in time per iteration (lower is better).

Needs matplotlib; when python3 lacks it, installs it with pip into a virtual environment
under the target directory and runs itself there.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
DOCS = REPO / "docs"
FIGURES = DOCS / "figures"
# Charts in docs/figures/ that other scripts make, kept as they are.
OTHER_CHARTS = {"scaling.png"}
OURS = "vmallocator"
OURS_COLOUR = "#d95f02"
PEER_COLOUR = "#9e9e9e"


def ensure_matplotlib():
    """Imports matplotlib, or re-runs this script in a venv that has it."""
    try:
        import matplotlib  # noqa: F401

        return
    except ImportError:
        pass
    if os.environ.get("VMALLOCATOR_FIGURES_VENV"):
        sys.exit("figures.py: matplotlib is still missing inside the virtual environment")
    venv = TARGET / "figures-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"figures.py: installing matplotlib into {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(python), "-c", "import matplotlib"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "matplotlib"], check=True)
    env = dict(os.environ, VMALLOCATOR_FIGURES_VENV="1")
    os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)


def natural(s):
    """Sort key that orders "2 pages" before "16 pages", case aside."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def slug(s):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", s).strip("-") or "figure"


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def time_unit(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return unit, scale
    return "ns", 1.0


class Result:
    """One benchmark function's latest median, in the unit its panel is drawn in."""

    def __init__(self, meta, est, mtime):
        self.mtime = mtime  # criterion writes results in the order the benchmarks run
        self.function = meta.get("function_id") or meta["group_id"]
        self.ours = self.function.startswith(OURS)
        med = est["median"]
        self.ns = med["point_estimate"]
        self.lo_ns = med["confidence_interval"]["lower_bound"]
        self.hi_ns = med["confidence_interval"]["upper_bound"]
        self.kind, self.amount = None, None
        if meta.get("throughput"):
            self.kind, self.amount = next(iter(meta["throughput"].items()))

    def rate(self, ns):
        """Throughput at `ns` per iteration: GiB/s for bytes, Gbit/s for bits."""
        per_s = self.amount / (ns / 1e9)
        return per_s / 1e9 if self.kind == "Bits" else per_s / 2**30


def load(since):
    """{figure: {case: [Result]}} from target/criterion."""
    root = TARGET / "criterion"
    figures = defaultdict(lambda: defaultdict(list))
    for bench in sorted(root.glob("**/new/benchmark.json")):
        est_path = bench.parent / "estimates.json"
        if not est_path.exists() or (since and est_path.stat().st_mtime < since):
            continue
        meta = json.loads(bench.read_text())
        est = json.loads(est_path.read_text())
        group = meta["group_id"]
        figure, _, case = group.partition("/")
        case = case or group
        if meta.get("value_str"):
            case = f"{case}, {meta['value_str']}"
        figures[figure][case].append(Result(meta, est, est_path.stat().st_mtime))
    return figures


def panel_values(results):
    """(values, lows, highs, axis label, formatter) for one panel."""
    kind = results[0].kind
    if kind in ("Bytes", "BytesDecimal", "Bits") and all(r.kind == kind for r in results):
        unit = "Gbit/s" if kind == "Bits" else "GiB/s"
        vals = [r.rate(r.ns) for r in results]
        # A longer time is a lower rate: the interval flips.
        lows = [r.rate(r.hi_ns) for r in results]
        highs = [r.rate(r.lo_ns) for r in results]
        return vals, lows, highs, f"{unit}, higher is better", lambda v: f"{v:.3g} {unit}"
    per, what = 1, "time per iteration"
    if kind == "Elements" and all(r.kind == kind and r.amount == results[0].amount for r in results):
        per, what = results[0].amount, "time per element"
    unit, scale = time_unit(max(r.ns for r in results) / per)
    conv = lambda ns: ns / per / scale  # noqa: E731
    vals = [conv(r.ns) for r in results]
    lows = [conv(r.lo_ns) for r in results]
    highs = [conv(r.hi_ns) for r in results]
    return vals, lows, highs, f"{what} ({unit}), lower is better", lambda v: f"{v:.3g} {unit}"


def ordered(results):
    """Ours first, then the peers, each in the order they ran."""
    return sorted(results, key=lambda r: (not r.ours, r.mtime, natural(r.function)))


def cases_in_order(cases):
    """Panels in the order their benchmarks ran."""
    return sorted(cases, key=lambda k: (min(r.mtime for r in cases[k]), natural(k)))


def draw(name, cases, footer, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = cases_in_order(cases)
    heights = [len(cases[k]) + 1.2 for k in keys]
    footer = textwrap.fill(footer, 165)
    footer_in = 0.13 * (footer.count("\n") + 1) + 0.05
    fig_height = 0.42 * sum(heights) + 0.8 + footer_in
    fig, axes = plt.subplots(
        len(keys), 1, figsize=(9, fig_height),
        gridspec_kw={"height_ratios": heights}, squeeze=False,
    )
    for ax, key in zip(axes[:, 0], keys):
        results = ordered(cases[key])
        vals, lows, highs, xlabel, fmt = panel_values(results)
        ys = range(len(results))
        err = [[v - lo for v, lo in zip(vals, lows)], [hi - v for v, hi in zip(vals, highs)]]
        colours = [OURS_COLOUR if r.ours else PEER_COLOUR for r in results]
        ax.barh(ys, vals, xerr=err, color=colours, ecolor="#444444", capsize=2, height=0.7)
        ax.set_yticks(list(ys), [r.function for r in results], fontsize=9)
        ax.invert_yaxis()
        top = max(max(highs), max(vals))
        ax.set_xlim(0, top * 1.28)
        for y, v, hi in zip(ys, vals, highs):
            ax.text(max(v, hi) + top * 0.01, y, fmt(v), va="center", fontsize=8)
        ax.set_title(f"{name}: {key}", fontsize=10, loc="left", fontweight="bold")
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    fig.text(0.01, 0.005, footer, fontsize=7, color="#555555", ha="left", va="bottom")
    fig.tight_layout(rect=(0, footer_in / fig_height, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def command(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(newest):
    """The machine and compiler (as they are now) and the time of the newest result."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "kernel": f"{platform.system()} {platform.release()}",
        "rustc": command("rustc", "-V"),
        "date": datetime.datetime.fromtimestamp(newest, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
    }


def write_markdown(figures, written, info, note):
    lines = [
        "# Benchmark figures",
        "",
        "Ours (`vmallocator…`, in colour) against each peer (grey): criterion medians with",
        "their 95% confidence intervals. Regenerate everything with `bash scripts/figures.sh`",
        "(runs `cargo bench -p vmallocator-bench`, then `scripts/figures.py`); the benchmarks",
        "live in `bench/benches/`.",
        "",
        f"- CPU: {info['cpu']} ({info['cores']} logical cores)",
        f"- Kernel: {info['kernel']}",
        f"- Compiler: {info['rustc']}",
        f"- Measured: {info['date']}",
    ]
    if note:
        lines.append(f"- Conditions: {note}")
    for name in sorted(figures, key=natural):
        cases = figures[name]
        lines += ["", f"## {name}", "", f"![{name}](figures/{written[name]})", ""]
        lines += ["| case | function | median | throughput |", "|---|---|---|---|"]
        for key in cases_in_order(cases):
            for r in ordered(cases[key]):
                rate = ""
                if r.kind in ("Bytes", "BytesDecimal"):
                    rate = f"{r.rate(r.ns):.3g} GiB/s"
                elif r.kind == "Bits":
                    rate = f"{r.rate(r.ns):.3g} Gbit/s"
                elif r.kind == "Elements":
                    rate = f"{fmt_time(r.ns / r.amount)} per element"
                who = f"**{r.function}**" if r.ours else r.function
                lines.append(f"| {key} | {who} | {fmt_time(r.ns)} | {rate} |")
    (DOCS / "figures.md").write_text("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--since", type=Path)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    ensure_matplotlib()
    since = args.since.stat().st_mtime if args.since else None
    figures = load(since)
    if not figures:
        sys.exit(f"figures.py: no criterion results under {TARGET / 'criterion'}")
    info = machine(max(r.mtime for f in figures.values() for rs in f.values() for r in rs))
    footer = f"{info['cpu']}, {info['kernel']}, {info['rustc']}, {info['date']}"
    if args.note:
        footer += f" ({args.note})"
    FIGURES.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, cases in figures.items():
        written[name] = f"{slug(name)}.png"
        draw(name, cases, footer, FIGURES / written[name])
        print(f"docs/figures/{written[name]}")
    # Charts of benchmarks that no longer exist would mislead: remove them. The scaling
    # plot is not criterion's: scripts/scaling.sh and scripts/scaling_plot.py make it.
    for old in FIGURES.glob("*.png"):
        if old.name not in written.values() and old.name not in OTHER_CHARTS:
            old.unlink()
            print(f"removed stale docs/figures/{old.name}")
    write_markdown(figures, written, info, args.note)
    print("docs/figures.md")


if __name__ == "__main__":
    main()
