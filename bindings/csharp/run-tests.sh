#!/usr/bin/env bash
# Builds bindings/csharp/Mallocator.cs with its tests (mcs, C# 7) and runs them with mono.
# Usage: bash bindings/csharp/run-tests.sh [dir holding libvmallocator_c.so]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
LIB=${1:-../../target/release}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mcs -langversion:7 -warnaserror -nologo \
  -out:"$OUT/tests.exe" Mallocator*.cs SharedMallocator.cs tests/Tests*.cs tests/ReadmeExample.cs
LD_LIBRARY_PATH=$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} mono --debug "$OUT/tests.exe" "$(uname -m)"
# P/Invoke cost per Alloc next to Marshal.AllocHGlobal (informational: timings are noisy).
mcs -langversion:7 -optimize+ -nologo -out:"$OUT/bench.exe" Mallocator*.cs SharedMallocator.cs tests/Bench.cs
LD_LIBRARY_PATH=$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} mono "$OUT/bench.exe" "${CSHARP_BENCH_N:-200000}"
