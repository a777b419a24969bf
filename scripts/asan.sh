#!/usr/bin/env bash
# Runs the unit and integration tests under AddressSanitizer (-Zsanitizer=address: on the
# stable compiler through RUSTC_BOOTSTRAP=1), in a target directory of its own. Doctests are
# left out (rustdoc would need the same flags for every doctest).
#
# ASan's own SIGSEGV handler is off (handle_segv=0) so that the fault tests' children die of
# the signal they prove; the tests at the process's mapping limit skip themselves
# (VMALLOCATOR_ASAN), since ASan maps shadow memory as it goes. Heavy tests run at
# VMALLOCATOR_TEST_SCALE (default here 0.2).
set -euo pipefail
cd "$(dirname "$0")/.."

target=$(rustc -vV | sed -n 's/^host: //p')
case "$target" in
  x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu) ;;
  *) echo "skipped ASan: not set up for host $target"; exit 0 ;;
esac

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address ${RUSTFLAGS:-}"
export CARGO_TARGET_DIR=${ASAN_TARGET_DIR:-target/asan}
export ASAN_OPTIONS="handle_segv=0:handle_sigbus=0:detect_leaks=0:${ASAN_OPTIONS:-}"
export VMALLOCATOR_ASAN=1
export VMALLOCATOR_TEST_SCALE=${VMALLOCATOR_TEST_SCALE:-0.2}
cargo test --target "$target" --lib --tests
