#!/usr/bin/env bash
# The scaling benchmark of the thread-safe arena (bench/benches/scaling.rs): build it, copy it
# stripped into scaling-kit/ (ignored by git) to take to a machine with many cores, and,
# unless --build-only, run it here and plot the table.
#
# Usage: scripts/scaling.sh [--build-only] [-- scaling arguments, e.g. --threads 1,2]
# On the other machine (x86_64 Linux, glibc >= 2.34; no Rust needed):
#   ./scaling-kit/scaling --csv scaling.csv
# and back here: python3 scripts/scaling_plot.py scaling.csv scaling.png (PYTHON picks the
# interpreter that has matplotlib, for this script too)
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --build-only) build_only=1 ;;
        --) shift; args=("$@"); break ;;
        *) echo "usage: $0 [--build-only] [-- scaling arguments]" >&2; exit 2 ;;
    esac
    shift
done
command -v jq >/dev/null || { echo "$0: needs jq" >&2; exit 1; }
bin=$(cargo bench -p vmallocator-bench --bench scaling --no-run --message-format=json \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "scaling"
                    and .executable != null) | .executable' | tail -n 1)
[ -x "$bin" ] || { echo "$0: no scaling binary built" >&2; exit 1; }
mkdir -p scaling-kit
cp "$bin" scaling-kit/scaling
strip scaling-kit/scaling 2>/dev/null || echo "$0: strip not found; copied unstripped"
cp scripts/scaling_plot.py scaling-kit/
echo "scaling-kit/scaling ready ($(du -h scaling-kit/scaling | cut -f1))"
[ "$build_only" = 1 ] && exit 0
./scaling-kit/scaling --csv scaling-kit/scaling.csv "${args[@]}"
"${PYTHON:-python3}" scripts/scaling_plot.py scaling-kit/scaling.csv scaling-kit/scaling.png \
    "Scaling, $(nproc) CPUs: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
