#!/usr/bin/env bash
# User-space instructions of one make_writable + publish pair on one page, beyond the two
# system calls: callgrind counts benches/publish.rs's `pair_ours` kernel and the raw
# `mprotect` pair `pair_raw` (counting switched on only inside each kernel), and prints
# both per pair and their difference. Target: at most 100 instructions.
#
# Usage: scripts/publish-instructions.sh   (honours CARGO_TARGET_DIR)
set -euo pipefail

cd "$(dirname "$0")/.."

for tool in valgrind jq; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done

bin=$(cargo bench --bench publish --no-run --message-format=json \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "publish"
                    and .executable != null) | .executable' | tail -n 1)
[ -x "$bin" ] || { echo "$0: no publish bench binary built" >&2; exit 1; }

pairs=10000 # linux::PAIRS in benches/publish.rs
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

per_pair() {
    local k=$1
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect="*::$k" \
        --callgrind-out-file="$out/$k.out" "$bin" --kernel "$k" >"$out/$k.log" 2>&1 \
        || { cat "$out/$k.log" >&2; exit 1; }
    local total
    total=$(sed -n 's/^totals: *//p' "$out/$k.out")
    [ -n "$total" ] && [ "$total" -gt 0 ] || { echo "$0: nothing counted in $k" >&2; exit 1; }
    awk -v t="$total" -v n="$pairs" 'BEGIN { printf "%.1f", t / n }'
}

ours=$(per_pair pair_ours)
raw=$(per_pair pair_raw)
echo "callgrind: user-space instructions per make_writable + publish pair (one page, $pairs pairs)"
echo "$(valgrind --version), $(rustc --version)"
printf 'vmallocator pair: %s\nraw mprotect pair: %s\n' "$ours" "$raw"
awk -v o="$ours" -v r="$raw" 'BEGIN {
    d = o - r
    printf "overhead beyond the system calls: %.1f (%s)\n", d, (d <= 100) ? "ok, <= 100" : "over 100" }'
