#!/usr/bin/env bash
# User-space instructions of one make_writable + publish pair on one page, beyond the two
# system calls: callgrind counts benches/publish.rs's `pair_ours` kernel and the raw
# `mprotect` pair `pair_raw` (counting switched on only inside each kernel), and prints
# both per pair and their difference. Target: at most 100 instructions.
# Then the same per call for `publish`/`make_writable` on N alternating pages
# (`ranges_ours` against `ranges_raw`), N = 10, 100, 1,000, 10,000.
#
# Usage: scripts/publish-instructions.sh   (honours CARGO_TARGET_DIR)
set -euo pipefail

cd "$(dirname "$0")/.."

for tool in valgrind jq; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done

bin=$(cargo bench -p vmallocator-bench --bench publish --no-run --message-format=json \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "publish"
                    and .executable != null) | .executable' | tail -n 1)
[ -x "$bin" ] || { echo "$0: no publish bench binary built" >&2; exit 1; }

pairs=10000 # linux::PAIRS in benches/publish.rs
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

per_pair() {
    local k=$1 n=${2:-$pairs}
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect="*::$k" \
        --callgrind-out-file="$out/$k.out" "$bin" --kernel "$k" >"$out/$k.log" 2>&1 \
        || { cat "$out/$k.log" >&2; exit 1; }
    local total
    total=$(sed -n 's/^totals: *//p' "$out/$k.out")
    [ -n "$total" ] && [ "$total" -gt 0 ] || { echo "$0: nothing counted in $k" >&2; exit 1; }
    awk -v t="$total" -v n="$n" 'BEGIN { printf "%.1f", t / n }'
}

ours=$(per_pair pair_ours)
raw=$(per_pair pair_raw)
echo "callgrind: user-space instructions per make_writable + publish pair (one page, $pairs pairs)"
echo "$(valgrind --version), $(rustc --version)"
printf 'vmallocator pair: %s\nraw mprotect pair: %s\n' "$ours" "$raw"
awk -v o="$ours" -v r="$raw" 'BEGIN {
    d = o - r
    printf "overhead beyond the system calls: %.1f (%s)\n", d, (d <= 100) ? "ok, <= 100" : "over 100" }'

echo
echo "per call, publish then make_writable on N alternating pages (user space only):"
for n in 10 100 1000 10000; do
    ours=$(PUBLISH_RANGES=$n per_pair ranges_ours $((2 * n)))
    raw=$(PUBLISH_RANGES=$n per_pair ranges_raw $((2 * n)))
    printf 'N=%-6s vmallocator %8s   raw mprotect %6s\n' "$n" "$ours" "$raw"
done
