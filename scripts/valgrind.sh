#!/usr/bin/env bash
# Runs the debug test binaries (unit and integration tests) under valgrind memcheck: reads of
# uninitialised memory, invalid reads and writes fail the run. The 1 TiB reservation and the
# tests at the process's mapping limit skip themselves under valgrind (VMALLOCATOR_VALGRIND),
# each printing why; heavy tests run at VMALLOCATOR_TEST_SCALE (default here 0.02).
# Doctests are not run under valgrind (rustdoc builds them on the fly).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "valgrind missing: installing it with apt-get"
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
  else
    echo "skipped valgrind: valgrind is not installed and cannot be installed here"
    exit 0
  fi
fi
valgrind --version

export VMALLOCATOR_VALGRIND=1
export VMALLOCATOR_TEST_SCALE=${VMALLOCATOR_TEST_SCALE:-0.02}
# The test binaries of the library, its integration tests and examples, as cargo names them
# (the C ABI crate has its own valgrind run in scripts/capi-test.sh).
mapfile -t bins < <(cargo test -p vmallocator --no-run --message-format=json 2>/dev/null |
  grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
[ ${#bins[@]} -gt 0 ] || { echo "no test binaries found"; exit 1; }

status=0
for bin in "${bins[@]}"; do
  echo "--- valgrind $(basename "$bin")"
  # Children that prove faults run natively (no --trace-children): valgrind would report
  # their intended SIGSEGV as an error. Only this process is checked.
  # --smc-check=all: dual-mapped code lives in a file mapping (memfd), where valgrind does
  # not look for code patched through the other view unless told to.
  # --fair-sched=yes: valgrind runs one thread at a time; without a fair lock a thread
  # that spins (a caller looping on patched code) can starve the others for many minutes.
  # Each binary gets $VALGRIND_LIMIT seconds, so a hang fails here with its name.
  rc=0 t0=$SECONDS
  timeout "${VALGRIND_LIMIT:-600}" valgrind -q --error-exitcode=99 --leak-check=no \
      --track-origins=yes --smc-check=all --fair-sched=yes \
      "$bin" --test-threads=2 -q || rc=$?
  if [ "$rc" -eq 124 ]; then
    echo "FAILED under valgrind: $bin ran past ${VALGRIND_LIMIT:-600} s"
    status=1
  elif [ "$rc" -ne 0 ]; then
    echo "FAILED under valgrind: $bin (exit $rc)"
    status=1
  fi
  echo "    $(basename "$bin"): $((SECONDS - t0)) s"
done
echo "valgrind: $((SECONDS)) s in all"
exit $status
