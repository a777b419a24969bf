#!/usr/bin/env bash
# Runs each fuzz target (fuzz/: hex, ops, strings) for a bounded time with cargo-fuzz.
#
#   scripts/fuzz.sh [seconds per target, default 60] [target...]
#
# FUZZ_SANITIZER picks cargo-fuzz's sanitizer (default address; `none` runs several times
# faster). FUZZ_RUNS=<n> runs each target for n executions instead of a time. The corpora
# grow in fuzz/corpus/<target> (ignored by git); a crash stops the script with the input in
# fuzz/artifacts/<target>. Installs cargo-fuzz when missing (about 1.5 CPU-minutes; FUZZ_INSTALL=0
# skips instead), or says why it skips.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(hex ops strings)
sanitizer=${FUZZ_SANITIZER:-address}

if ! cargo fuzz --version >/dev/null 2>&1; then
  if [ "${FUZZ_INSTALL:-1}" = 0 ]; then
    echo "skipped fuzzing: cargo-fuzz is not installed (FUZZ_INSTALL=0: not installing it here)"
    exit 0
  fi
  echo "cargo-fuzz missing: installing it (cargo install cargo-fuzz --locked)"
  if ! cargo install cargo-fuzz --locked >/dev/null 2>&1; then
    echo "skipped fuzzing: cargo-fuzz is not installed and could not be installed"
    exit 0
  fi
fi
# cargo-fuzz needs nightly flags: a nightly toolchain where rustup has one, else the stable
# compiler with RUSTC_BOOTSTRAP=1.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

mkdir -p fuzz/logs
for t in "${targets[@]}"; do
  echo "--- fuzz $t ($sanitizer, ${FUZZ_RUNS:-$secs s} ${FUZZ_RUNS:+runs})"
  mkdir -p "fuzz/corpus/$t"
  limit=(-max_total_time="$secs")
  [ -z "${FUZZ_RUNS:-}" ] || limit=(-runs="$FUZZ_RUNS")
  # Call sequences: shorter inputs, more sequences per second.
  [ "$t" != ops ] || limit+=(-max_len=1024)
  log=fuzz/logs/$t.log
  if ! "${fuzz[@]}" run -s "$sanitizer" "$t" "fuzz/corpus/$t" -- "${limit[@]}" \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $t failed; the input is in fuzz/artifacts/$t"
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units)" "$log" || tail -5 "$log"
done
