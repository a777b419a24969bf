#!/usr/bin/env bash
# Instructions per allocation of the thread-safe arena (SharedArena through a Local handle
# and through &self) beside Mallocator::alloc_layout, counted by valgrind's callgrind in
# the kernels of bench/benches/instructions.rs (only inside each kernel: --toggle-collect).
# Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind jq; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done
bin=$(cargo bench -p vmallocator-bench --bench instructions --no-run --message-format=json \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "instructions"
                    and .executable != null) | .executable' | tail -n 1)
n=$("$bin" --list | sed -n 's/^N=//p')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
per_alloc() {
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect="*::$1" \
        --callgrind-out-file="$out/$1.out" "$bin" "$1" >"$out/$1.log" 2>&1 \
        || { cat "$out/$1.log" >&2; exit 1; }
    awk -v t="$(sed -n 's/^totals: *//p' "$out/$1.out")" -v n="$n" 'BEGIN { printf "%.2f", t / n }'
}
echo "callgrind: instructions per allocation (N = $n, loop included); $(rustc --version)"
printf '%-8s %12s %16s %16s %12s\n' shape Mallocator "Local (ratio)" "&self (ratio)" bumpalo
for shape in u64 mixed; do
    m=$(per_alloc "ours_${shape}_layout")
    l=$(per_alloc "sync_local_${shape}")
    s=$(per_alloc "sync_shared_${shape}")
    b=$(per_alloc "bumpalo_${shape}")
    printf '%-8s %12s %16s %16s %12s\n' "$shape" "$m" \
        "$l ($(awk -v a="$l" -v b="$m" 'BEGIN { printf "%.2fx", a / b }'))" \
        "$s ($(awk -v a="$s" -v b="$m" 'BEGIN { printf "%.2fx", a / b }'))" "$b"
done
