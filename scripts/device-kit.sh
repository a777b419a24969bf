#!/usr/bin/env bash
# A kit for a machine that this one is not (more cores, another CPU, AVX-512): every test
# binary, the timing benches and a script that runs them, built here and copied stripped
# into device-kit/ (ignored by git). The other machine needs no Rust: x86_64 Linux with
# glibc >= 2.34.
#
# Usage: scripts/device-kit.sh [--fuzz]
#   --fuzz  also build the `strings` fuzz target (cargo-fuzz on nightly, no sanitizer) and
#           copy it with its local corpus, for `run.sh` to run when FUZZ_SECS is set.
# Then, on the other machine, from a copy of this repository with device-kit/ in it:
#   bash device-kit/run.sh OUT_DIR
# which writes there, each step under a time limit:
#   cpu.txt         the CPU model, cores and vector extensions
#   tests.txt       every test binary's summary (the string encoders at every level the CPU
#                   runs, AVX-512 included where it has it), and the failures in full
#   text.txt        bench text_kernels --time 15 at the best level, then at AVX2 (forced)
#   text-simdutf.txt  the same against simdutf, where that build was made here (C++)
#   bump.txt        bench instructions --time 30 (issue 14's shapes, single thread)
#   scaling.txt     bench scaling (the thread-safe arena, 1 to 16 threads)
#   fuzz.txt        with FUZZ_SECS=N (and a kit built with --fuzz): the strings fuzz target
#                   for N seconds in one process per CPU, its executions and any crash
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || { echo "$0: needs jq" >&2; exit 1; }
fuzz=0
for arg in "$@"; do
    case "$arg" in
        --fuzz) fuzz=1 ;;
        *) echo "usage: $0 [--fuzz]" >&2; exit 2 ;;
    esac
done

kit=device-kit
rm -rf "$kit"
mkdir -p "$kit/tests"

# Every test binary of the workspace, in the dev profile (debug assertions on).
cargo test --workspace --no-run --message-format=json 2>/dev/null \
    | jq -r 'select(.reason == "compiler-artifact" and .executable != null
                    and .profile.test == true) | "\(.target.name) \(.executable)"' \
    | while read -r name exe; do
        cp "$exe" "$kit/tests/$name"
    done

bench() { # bench name [cargo args...]: the path of the bench binary
    local name=$1
    shift
    cargo bench -p vmallocator-bench --bench "$name" --no-run --message-format=json "$@" \
        | jq -r --arg n "$name" 'select(.reason == "compiler-artifact" and .target.name == $n
                                        and .executable != null) | .executable' | tail -n 1
}
for b in text_kernels instructions scaling; do
    cp "$(bench "$b")" "$kit/$b"
done
# simdutf needs a C++ compiler here and libstdc++ there; the kit goes on without it.
if exe=$(bench text_kernels --features simdutf 2>/dev/null) && [ -x "$exe" ]; then
    cp "$exe" "$kit/text_kernels_simdutf"
fi
# The plain build again, so that target/ holds the binary the other scripts expect.
bench text_kernels >/dev/null

if [ "$fuzz" = 1 ]; then
    cargo +nightly fuzz build strings -s none --release
    cp fuzz/target/x86_64-unknown-linux-gnu/release/strings "$kit/fuzz-strings"
    mkdir -p "$kit/corpus"
    [ -d fuzz/corpus/strings ] && cp -r fuzz/corpus/strings/. "$kit/corpus/"
    strip "$kit/fuzz-strings" 2>/dev/null || true
fi

strip "$kit"/tests/* "$kit"/text_kernels* "$kit"/instructions "$kit"/scaling 2>/dev/null \
    || echo "$0: strip not found; copied unstripped"

cat >"$kit/run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the kit (see scripts/device-kit.sh) and writes its reports into $1.
set -uo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run.sh OUT_DIR}
mkdir -p "$out"
cd "$kit/.."
# Timings on one CPU, the last (not the first, where interrupts tend to go).
pin="taskset -c $(($(nproc) - 1))"

{
    grep -m1 'model name' /proc/cpuinfo
    echo "cores: $(nproc)"
    echo "vector: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' \
        | grep -E '^(avx2|bmi2|avx512(f|bw|vl|vbmi|_vbmi2)|sha_ni)$' | tr '\n' ' ')"
    uname -r
    ldd --version | head -n 1
} >"$out/cpu.txt" 2>&1

# The string encoders' levels: which one is in use, which this CPU lacks.
"$kit/tests/vmallocator" text::tests::wide_encoders_match_std_at_every_level \
    text::tests::forced_level_comes_from_the_environment --nocapture 2>&1 \
    | grep -E '^(skipped|level in use)' >"$out/tests.txt"
for t in "$kit"/tests/*; do
    name=$(basename "$t")
    log=$(timeout 300 "$t" --test-threads="$(nproc)" 2>&1)
    rc=$?
    {
        echo "== $name: exit $rc"
        grep -E '^test result|^skipped|^level in use' <<<"$log"
        [ "$rc" = 0 ] || tail -n 60 <<<"$log"
    } >>"$out/tests.txt"
done

{
    echo "== best level"
    timeout 120 $pin "$kit/text_kernels" --time 15
    echo "== VMALLOCATOR_FORCE_ISA=avx2"
    VMALLOCATOR_FORCE_ISA=avx2 timeout 120 $pin "$kit/text_kernels" --time 15
} >"$out/text.txt" 2>&1
if [ -x "$kit/text_kernels_simdutf" ]; then
    timeout 120 $pin "$kit/text_kernels_simdutf" --time 15 >"$out/text-simdutf.txt" 2>&1
fi

for r in 1 2 3; do
    timeout 60 $pin "$kit/instructions" --time 30
done >"$out/bump.txt" 2>&1

timeout 180 "$kit/scaling" >"$out/scaling.txt" 2>&1

if [ -n "${FUZZ_SECS:-}" ] && [ -x "$kit/fuzz-strings" ]; then
    for i in $(seq 1 "$(nproc)"); do
        "$kit/fuzz-strings" "$kit/corpus" -max_total_time="$FUZZ_SECS" -max_len=4096 \
            -print_final_stats=1 -artifact_prefix="$out/crash-" >"$out/fuzz-$i.log" 2>&1 &
    done
    wait
    {
        awk '/number_of_executed_units/ { s += $2 } END { print "executions:", s }' "$out"/fuzz-*.log
        grep -h 'ERROR\|SUMMARY' "$out"/fuzz-*.log
        ls "$out" | grep '^crash-' || echo "no crash"
    } >"$out/fuzz.txt"
    rm -f "$out"/fuzz-*.log
fi
echo "done" >>"$out/cpu.txt"
EOF
chmod +x "$kit/run.sh"
du -sh "$kit"
