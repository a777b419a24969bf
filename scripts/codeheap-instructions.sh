#!/usr/bin/env bash
# User-space instructions per function of benches/codeheap.rs: emit 64 bytes, publish, and
# call, for a dual-mapped arena (`dual`) and jit-allocator (`jit`), counted by callgrind
# only inside each kernel function. Each kernel runs two rounds of 1,000 functions (the
# first warms the memory), both counted: the total is divided by 2,000.
#
# Usage: scripts/codeheap-instructions.sh   (honours CARGO_TARGET_DIR; x86_64 Linux)
set -euo pipefail

cd "$(dirname "$0")/.."

for tool in valgrind jq; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done

bin=$(cargo bench -p vmallocator-bench --bench codeheap --no-run --message-format=json \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "codeheap"
                    and .executable != null) | .executable' | tail -n 1)
[ -x "$bin" ] || { echo "$0: no codeheap bench binary built" >&2; exit 1; }

functions=2000 # two rounds of linux::N
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

per_function() {
    local kernel=$1 symbol=$2
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect="*::linux::$symbol" \
        --callgrind-out-file="$out/$kernel.out" "$bin" --kernel "$kernel" >"$out/$kernel.log" 2>&1 \
        || { cat "$out/$kernel.log" >&2; exit 1; }
    local total
    total=$(sed -n 's/^totals: *//p' "$out/$kernel.out")
    [ -n "$total" ] && [ "$total" -gt 0 ] || { echo "$0: nothing counted in $kernel" >&2; exit 1; }
    awk -v t="$total" -v n="$functions" 'BEGIN { printf "%.1f", t / n }'
}

echo "callgrind: user-space instructions per function (write 64 bytes, publish, call once)"
echo "$(valgrind --version), $(rustc --version)"
printf 'vmallocator, dual mapping: %s\n' "$(per_function dual dual)"
printf 'jit-allocator 0.2:         %s\n' "$(per_function jit_allocator jit)"
