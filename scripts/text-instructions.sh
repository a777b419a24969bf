#!/usr/bin/env bash
# Instructions per call and per input byte for hex decoding and UTF-8 to UTF-16/UTF-32,
# ours against the peers, counted by valgrind's callgrind inside one kernel of
# bench/benches/text_kernels.rs (--collect-atstart=no --toggle-collect); one call each.
#
# Usage: scripts/text-instructions.sh [--time [ROUNDS]] [CASE...]
#   CASE     run only these cases (names as `text_kernels --list` prints them)
#   --time   also time every case natively: round-robin in one process, ROUNDS (default
#            15) rounds of batches of at least 2 ms (each after one untimed call, so every
#            batch starts warm); the rate at the shortest batch, and peer time / ours as the
#            median over the rounds of that round's ratio (the ratio of the shortest batches
#            beside it).
# Honours CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."

timing=0
rounds=15
only=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) timing=1; if [[ "${2:-}" =~ ^[0-9]+$ ]]; then rounds=$2; shift; fi ;;
        -*) echo "usage: $0 [--time [ROUNDS]] [CASE...]" >&2; exit 2 ;;
        *) only+=("$1") ;;
    esac
    shift
done

for tool in valgrind jq; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done

bin=$(cargo bench -p vmallocator-bench --bench text_kernels --no-run --message-format=json \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "text_kernels"
                    and .executable != null) | .executable' | tail -n 1)
[ -x "$bin" ] || { echo "$0: no text_kernels binary built" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Instructions counted inside the kernel function $1 while running case $2.
count() {
    local fn=$1 arg=$2 tag=${2//:/_}
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect="text_kernels::$fn" \
        --callgrind-out-file="$out/$tag.out" "$bin" "$arg" >"$out/$tag.log" 2>&1 \
        || { cat "$out/$tag.log" >&2; exit 1; }
    sed -n 's/^totals: *//p' "$out/$tag.out"
}

kernel_of() {
    case "$1" in
        hex_*:peer) echo hex_const_hex ;;
        hex_append_*) echo hex_append ;;
        hex_off16_*) echo hex_ours_off16 ;;
        hex_*) echo hex_ours ;;
        utf16_*:peer) echo utf16_encoding_rs ;;
        utf16_*) echo utf16_ours ;;
        utf32_*:peer) echo utf32_chars ;;
        utf32_*) echo utf32_ours ;;
    esac
}

echo "callgrind: instructions per call (one call, input bytes in brackets)"
echo "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -r), $(valgrind --version), $(rustc --version)"
printf '%-16s %9s %14s %8s   %-18s %14s %8s\n' case bytes ours "per byte" peer "peer" "per byte"
list=$("$bin" --list)
while read -r name len who; do
    if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx "$name"; then continue; fi
    if [ "$who" = ours ]; then
        n=$(count "$(kernel_of "$name")" "$name")
        line=$(printf '%-16s %9s %14s %8.2f' "$name" "$len" "$n" "$(awk -v n="$n" -v l="$len" 'BEGIN{print n/l}')")
        echo "$line" >"$out/line"
        # A case without a peer is printed at once; one with a peer after it.
        if ! grep -q "^$name $len [^o]" <<<"$list"; then echo "$line"; fi
    else
        n=$(count "$(kernel_of "$name:peer")" "$name:peer")
        printf '%s   %-18s %14s %8.2f\n' "$(cat "$out/line")" "$who" "$n" "$(awk -v n="$n" -v l="$len" 'BEGIN{print n/l}')"
    fi
done <<<"$list"

if [ "$timing" = 1 ]; then
    echo
    echo "time: minimum over $rounds interleaved rounds (GB/s = 10^9 input bytes per second)"
    "$bin" --time "$rounds"
fi
