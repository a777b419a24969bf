#!/usr/bin/env bash
# Tests of the C ABI (capi/) and its bindings, run by .ci/run:
#
#   1. the checked-in header capi/include/vmallocator.h is what cbindgen generates now
#   2. the C test program (gcc, C99, -Werror) against the shared and the static library;
#      the header also compiles as C++
#   3. the Python bindings (bindings/python) under pytest
#   4. the C# class (bindings/csharp) under Mono: its test program and the original README
#   5. Windows: the DLL built with mingw-w64 (-Zbuild-std, as scripts/cross-test.sh does) and
#      the C test run under Wine
#
# Tools a fresh Debian machine lacks are installed (apt-get: mono-mcs mono-runtime, the
# cross packages; pip: pytest; cargo install: cbindgen), or the stage is skipped with a
# printed reason when that is impossible.
#
# Options (environment):
#   CAPI_SKIP_WINDOWS=1   skip stage 5
#   CAPI_SKIP_CSHARP=1    skip stage 4
#   CAPI_SKIP_HEADER=1    skip stage 1
#   CROSS_WORK=dir        the cross builds' scratch dir, shared with scripts/cross-test.sh
#                         (default: target/cross)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SECONDS=0
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
step() { echo; echo "=== capi: $* (+${SECONDS}s)"; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" = 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install ${missing[*]}"; return 1; }
    sudo=(sudo)
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- 1. header
if [ "${CAPI_SKIP_HEADER:-0}" != 1 ]; then
  step "header is current (cbindgen)"
  CBINDGEN_VERSION=0.29.2
  if ! command -v cbindgen >/dev/null || ! cbindgen --version | grep -q "$CBINDGEN_VERSION"; then
    echo "installing cbindgen $CBINDGEN_VERSION"
    cargo install cbindgen --locked --version "$CBINDGEN_VERSION" --quiet
  fi
  (cd capi && cbindgen --quiet --config cbindgen.toml --output "$TMP/vmallocator.h")
  if ! diff -u capi/include/vmallocator.h "$TMP/vmallocator.h"; then
    echo "error: capi/include/vmallocator.h is stale; regenerate it with:" >&2
    echo "  (cd capi && cbindgen --config cbindgen.toml --output include/vmallocator.h)" >&2
    exit 1
  fi
  echo "capi/include/vmallocator.h is current"
fi

# ---------------------------------------------------------------- 2. C
step "build the library (release)"
cargo build --release -p vmallocator-capi
LIB=$ROOT/target/release
CFLAGS=(-std=c99 -O1 -g -Wall -Wextra -Wpedantic -Werror -Icapi/include)

step "C test against the shared library"
gcc "${CFLAGS[@]}" capi/tests/test.c -L"$LIB" -lvmallocator_c -o "$TMP/test-shared"
LD_LIBRARY_PATH=$LIB "$TMP/test-shared"

step "C test against the static library"
gcc "${CFLAGS[@]}" capi/tests/test.c "$LIB/libvmallocator_c.a" -lpthread -ldl -lm -o "$TMP/test-static"
"$TMP/test-static"

step "the header compiles as C++"
echo '#include "vmallocator.h"
int main() { vma_mallocator *m = nullptr; return vma_create(&m) == VMA_OK ? vma_free(m) : 1; }' >"$TMP/cpp.cpp"
g++ -std=c++11 -Wall -Wextra -Werror -Icapi/include "$TMP/cpp.cpp" -L"$LIB" -lvmallocator_c -o "$TMP/cpp"
LD_LIBRARY_PATH=$LIB "$TMP/cpp"

export VMALLOCATOR_LIB=$LIB/libvmallocator_c.so

# ---------------------------------------------------------------- 3. Python
step "Python bindings (pytest)"
PY=${PYTHON:-python3}
if ! "$PY" -c 'import pytest' 2>/dev/null; then
  "$PY" -m pip install --quiet pytest
fi
# Exit code 5 (no tests collected) is a failure too, as every non-zero code is.
"$PY" -m pytest -q bindings/python

# ---------------------------------------------------------------- 4. C#
if [ "${CAPI_SKIP_CSHARP:-0}" != 1 ]; then
  step "C# class under Mono"
  if apt_install mono-mcs mono-runtime; then
    bash bindings/csharp/run-tests.sh "$LIB"
  else
    echo "error: cannot install Mono; set CAPI_SKIP_CSHARP=1 to skip" >&2
    exit 1
  fi
fi

# ---------------------------------------------------------------- 5. Windows
if [ "${CAPI_SKIP_WINDOWS:-0}" != 1 ]; then
  step "Windows: DLL with mingw-w64 (-Zbuild-std), C test under Wine"
  apt_install rustc-web rust-web-src gcc-mingw-w64-x86-64 wine64
  WORK=${CROSS_WORK:-$ROOT/target/cross}
  mkdir -p "$WORK/capi"
  export WINEPREFIX=$WORK/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"
  WINE=/usr/lib/wine/wine64
  # The same settings as scripts/cross-test.sh, so the std build there is reused here.
  (
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_DIR=$WORK/target CARGO_PROFILE_DEV_DEBUG=line-tables-only
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$WINE
    cargo build -p vmallocator-capi --release -Zbuild-std=std,panic_abort \
      --target x86_64-pc-windows-gnu
  )
  DLLDIR=$WORK/target/x86_64-pc-windows-gnu/release
  x86_64-w64-mingw32-gcc "${CFLAGS[@]}" capi/tests/test.c "$DLLDIR/vmallocator_c.dll" \
    -o "$WORK/capi/test.exe"
  cp "$DLLDIR/vmallocator_c.dll" "$WORK/capi/"
  # The prefix and the bcryptprimitives shim come from scripts/cross-test.sh (Rust's std
  # imports ProcessPrng, which Wine 8 lacks); create them if that script has not run yet.
  if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
    CROSS_WORK=$WORK CROSS_SKIP_AARCH64=1 CROSS_SKIP_CHECK=1 CROSS_TEST_ARGS="--skip ." \
      bash scripts/cross-test.sh >"$WORK/capi/cross-setup.log" 2>&1 ||
      { tail -n 30 "$WORK/capi/cross-setup.log"; exit 1; }
  fi
  (cd "$WORK/capi" && "$WINE" test.exe </dev/null)
  /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true
fi

echo
echo "=== capi: ALL OK in ${SECONDS}s"
