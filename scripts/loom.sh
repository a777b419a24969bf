#!/usr/bin/env bash
# Model-checks the thread-safe arena's claim protocol (src/sync/claim.rs) with loom: every
# interleaving of two threads claiming, committing and giving back. Builds with
# `--cfg loom` in its own target directory, so the ordinary build is not rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3}
export CARGO_TARGET_DIR=${LOOM_TARGET_DIR:-target/loom}
SECONDS=0
cargo test -p vmallocator --release --lib sync::claim::model -- --test-threads=2
echo "loom model OK in ${SECONDS}s"
