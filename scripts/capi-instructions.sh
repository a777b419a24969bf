#!/usr/bin/env bash
# Instructions per `alloc` through the C ABI from C, against a non-inlined Rust call of
# `Mallocator::alloc` with run-time arguments, counted with callgrind (exact, noise-free).
# Each program runs twice (N and 2N calls); the difference divided by N is the cost of one
# call plus its loop (the same loop on both sides). Needs valgrind and gcc.
#
# Then the time per call of the same loops (CPU time of 10^8 calls; on a busy machine this is
# only a rough figure, the instruction counts are the measure).
#
# Usage: bash scripts/capi-instructions.sh [N]   (default 100000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${1:-100000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cargo build --release -q -p vmallocator-capi --example alloc_loop
gcc -O2 -Icapi/include capi/bench/alloc_loop.c -Ltarget/release -lvmallocator_c -o "$TMP/alloc_loop_c"
ir() { # total instructions of a command under callgrind
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$@" >/dev/null 2>"$TMP/cg.log"
  grep -E '^(summary|totals):' "$TMP/cg.out" | head -1 | awk '{print $2}'
}
per_call() { # shape: size align
  local rust1 rust2 c1 c2
  rust1=$(ir target/release/examples/alloc_loop "$N" "$1" "$2")
  rust2=$(ir target/release/examples/alloc_loop "$((2 * N))" "$1" "$2")
  c1=$(LD_LIBRARY_PATH=target/release ir "$TMP/alloc_loop_c" "$N" "$1" "$2")
  c2=$(LD_LIBRARY_PATH=target/release ir "$TMP/alloc_loop_c" "$((2 * N))" "$1" "$2")
  awk -v r1="$rust1" -v r2="$rust2" -v c1="$c1" -v c2="$c2" -v n="$N" -v s="$1" -v a="$2" \
    'BEGIN { r = (r2 - r1) / n; c = (c2 - c1) / n;
             printf "alloc(%s, %s): Rust (not inlined) %.2f, C ABI from C %.2f instructions per call: %.2fx\n", s, a, r, c, c / r }'
}
per_call 8 8
per_call 16 16
per_call 3 1

cpu_ns() { # user+sys CPU nanoseconds per call over 10^8 calls
  local t
  t=$( { TIMEFORMAT='%U %S'; time "$@" 100000000 8 8 >/dev/null; } 2>&1 | tail -1)
  awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.2f", (a[1] + a[2]) * 1e9 / 1e8 }'
}
echo "time per alloc(8, 8), CPU: Rust (not inlined) $(cpu_ns target/release/examples/alloc_loop) ns," \
  "C ABI from C $(LD_LIBRARY_PATH=target/release cpu_ns "$TMP/alloc_loop_c") ns"
