#!/usr/bin/env bash
# Regenerates the benchmark charts: runs every criterion benchmark of the bench crate,
# then scripts/figures.py turns the results into docs/figures/*.png and docs/figures.md
# (with the CPU model, kernel and compiler they were measured with).
#
# Usage: bash scripts/figures.sh [criterion options...]
#   e.g. bash scripts/figures.sh --quick   (criterion's quick mode: a rough, faster run;
#   the groups set their own warm-up and measurement times, which take precedence over
#   --warm-up-time and --measurement-time)
# Set FIGURES_NOTE to record the conditions, e.g. FIGURES_NOTE="a quiet 16-core machine".
# Honours CARGO_TARGET_DIR. Needs python3; matplotlib is installed into a virtual
# environment under the target directory if python3 lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
stamp="$target/figures.stamp"
touch "$stamp"
# Results older than the stamp (benchmarks since renamed or removed) stay out of the charts.
sleep 1

# Every benchmark but `instructions`, whose kernels are counted by scripts/instructions.sh
# and which reads its arguments as kernel names. The criterion options go to the criterion
# benchmarks only: `scaling` and `text_kernels` are programs with options of their own.
cargo bench -p vmallocator-bench --no-run
for file in bench/benches/*.rs; do
    name=$(basename "$file" .rs)
    case "$name" in
        instructions) continue ;;
        scaling | text_kernels) cargo bench -p vmallocator-bench --bench "$name" ;;
        *) cargo bench -p vmallocator-bench --bench "$name" -- "$@" ;;
    esac
done
python3 scripts/figures.py --since "$stamp" --note "${FIGURES_NOTE:-}"
