#!/usr/bin/env bash
# Instructions per allocation, counted by valgrind's callgrind: ours against bumpalo (the
# default `Bump`, as the issue that set the targets measured it) and bump-scope
# (`Bump<Global, BumpSettings<8, false>>`: 8-aligned, bumping downward), and for reference
# bumpalo as `Bump<8>` (8-aligned too).
#
# Builds bench/benches/instructions.rs with the bench profile (release + debug info), runs each
# kernel under callgrind with counting switched on only inside that kernel
# (--collect-atstart=no --toggle-collect), and prints instructions per allocation.
# The counts include each kernel's loop (see the loop_only row) and the black_box store.
# Like for like: per shape every contender runs the same loop over the same input and only
# allocates (see the header of bench/benches/instructions.rs); writing a value is counted
# in the typed table.
#
# Usage: scripts/instructions.sh [--asm] [--time]
#   --asm   also disassemble the u64 kernels (ours, bumpalo, bump-scope) with objdump.
#   --time  also time the same kernels natively: round-robin in one process, 30 rounds; the
#           minimum time of each, and the fastest peer's time over ours as the median over
#           the rounds of that round's ratio.
# Honours CARGO_TARGET_DIR (e.g. CARGO_TARGET_DIR=/work/target-bench).
set -euo pipefail

cd "$(dirname "$0")/.."

asm=0
timing=0
for arg in "$@"; do
    case "$arg" in
        --asm) asm=1 ;;
        --time) timing=1 ;;
        *) echo "usage: $0 [--asm] [--time]" >&2; exit 2 ;;
    esac
done

for tool in valgrind jq objdump nm; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done

bin=$(cargo bench -p vmallocator-bench --bench instructions --no-run --message-format=json \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "instructions"
                    and .executable != null) | .executable' | tail -n 1)
[ -x "$bin" ] || { echo "$0: no instructions binary built" >&2; exit 1; }

n=$("$bin" --list | sed -n 's/^N=//p')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Instructions counted inside kernel $1 (in function $2, if it is not named $1: one
# generic function serves bumpalo's two configurations), divided by N, two decimals.
per_alloc() {
    local k=$1 f=${2:-$1}
    # The second pattern matches a generic kernel's name under the v0 mangling that nightly
    # compilers use (`…::bumpalo_u64::<1>`).
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect="*::$f" \
        --toggle-collect="*::$f::<*" \
        --callgrind-out-file="$out/$k.out" "$bin" "$k" >"$out/$k.log" 2>&1 \
        || { cat "$out/$k.log" >&2; exit 1; }
    local total
    total=$(sed -n 's/^totals: *//p' "$out/$k.out")
    [ -n "$total" ] && [ "$total" -gt 0 ] || { echo "$0: nothing counted in $k" >&2; exit 1; }
    awk -v t="$total" -v n="$n" 'BEGIN { printf "%.2f", t / n }'
}

echo "callgrind: instructions per allocation (N = $n per kernel, loop included)"
echo "$(valgrind --version), $(rustc --version)"
echo
printf '%-14s %12s %12s %9s %11s  %-30s %11s\n' shape "ours/layout" "ours/alloc" bumpalo bump-scope \
    verdict "bumpalo<8>"
printf '%-14s %12s %12s %9s %11s  %-30s %11s\n' ----- ----------- ---------- ------- ---------- \
    ------- ----------
# name:kernel:target (the issue's: at most 10, 10 and 14 instructions, both calls; none for
# the Layout table, which is held to the fewest of the two peers).
for shape in u64:u64:10 16@16:16:10 "sizes 1-64@8:sizes:14" "Layouts 1-64@8:mixed:-"; do
    IFS=: read -r name k target <<<"$shape"
    ours_l=$(per_alloc "ours_${k}_layout")
    ours_a=$(per_alloc "ours_${k}_alloc")
    bump=$(per_alloc "bumpalo_${k}")
    scope=$(per_alloc "bumpscope_${k}")
    bump8=$(per_alloc "bumpalo8_${k}" "bumpalo_${k}")
    verdict=$(awk -v o="$ours_l" -v a="$ours_a" -v b="$bump" -v s="$scope" -v t="$target" 'BEGIN {
        m = (o > a) ? o : a
        if (t == "-") { t = (b < s) ? b : s; what = "fewest peer" } else what = "target"
        if (m <= t) printf "ok (<= %s %g)\n", what, t
        else printf "OVER the %s %g by %.2f\n", what, t, m - t }')
    printf '%-14s %12s %12s %9s %11s  %-30s %11s\n' "$name" "$ours_l" "$ours_a" "$bump" "$scope" \
        "$verdict" "$bump8"
done
printf '%-14s %12s\n' "loop_only" "$(per_alloc loop_only)"
echo
echo "ours/layout = Mallocator::alloc_layout, ours/alloc = Mallocator::alloc(size, align);"
echo "bumpalo = Bump::alloc_layout (the default MIN_ALIGN 1, as the targets' issue measured it);"
echo "bump-scope = allocate_sized::<T>() (u64, 16@16) / allocate_layout (sizes, Layouts);"
echo "the verdict compares with those two. bumpalo<8> = Bump<8>::alloc_layout (MIN_ALIGN 8),"
echo "for reference. sizes: a &[usize] table, alignment 8 a constant;"
echo "Layouts: a &[Layout] table of the same sizes, the alignment known only at run time."

# Typed single values, written into their blocks: Mallocator::alloc_value(v) against
# bumpalo's and bump-scope's alloc(v); and one u64 push onto a Vec (allocator_api2's with
# the arena, bumpalo's collections Vec, bump-scope's BumpVec).
echo
printf '%-14s %14s %10s %11s\n' "typed value" ours bumpalo bump-scope
printf '%-14s %14s %10s %11s\n' ----------- ----------- ------- ----------
for shape in u64:u64_value "24-byte:rec24_value" "Vec push:vec_push"; do
    IFS=: read -r name k <<<"$shape"
    printf '%-14s %14s %10s %11s\n' "$name" "$(per_alloc "ours_$k")" \
        "$(per_alloc "bumpalo_$k")" "$(per_alloc "bumpscope_$k")"
done

if [ "$asm" = 1 ]; then
    for k in ours_u64_layout ours_u64_alloc bumpalo_u64 bumpscope_u64; do
        sym=$(nm "$bin" | awk -v k="$k" '$3 ~ ("instructions[0-9]+" k "17h") { print $3 }' | head -n 1)
        [ -n "$sym" ] || { echo "$0: no symbol for $k" >&2; exit 1; }
        echo
        echo "== $k ($sym)"
        objdump -d --no-show-raw-insn -M intel --disassemble="$sym" "$bin" \
            | sed -n '/^[0-9a-f]* <.*>:$/,/^$/p'
    done
fi

if [ "$timing" = 1 ]; then
    echo
    grep -m1 'model name' /proc/cpuinfo || true
    "$bin" --time 30
fi
