#!/usr/bin/env bash
# Tests of the C ABI (capi/) and its bindings, run by .ci/run:
#
#   1. the checked-in header capi/include/vmallocator.h is what cbindgen generates now (when
#      cbindgen is installed or cached; otherwise the symbol diff of stage 2 stands in)
#   2. the C test program (gcc, C99, -Werror) against the shared library (also under
#      valgrind) and the static one; the header also compiles as C++
#   3. the Python bindings (bindings/python) under pytest
#   4. the C# class (bindings/csharp) under Mono: its test program and the original README
#   5. Windows: the DLL built with mingw-w64 (-Zbuild-std, as scripts/cross-test.sh does) and
#      the C test run under Wine
#
# Tools a fresh Debian machine lacks are installed (apt-get: mono-mcs mono-runtime, the
# cross packages; pip: pytest; cargo install: cbindgen only with CAPI_INSTALL_CBINDGEN=1),
# or the stage is skipped with a printed reason.
#
# Options (environment):
#   CAPI_SKIP_WINDOWS=1   skip stage 5
#   CAPI_SKIP_CSHARP=1    skip stage 4
#   CAPI_SKIP_HEADER=1    skip stage 1
#   CAPI_INSTALL_CBINDGEN=1  build cbindgen into ~/.cache/vmallocator when it is missing
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
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- 1. header
if [ "${CAPI_SKIP_HEADER:-0}" != 1 ]; then
  step "header is current (cbindgen)"
  # Pinned, and installed once into the cache (about a minute to build on a quiet machine).
  CBINDGEN_VERSION=0.29.4
  CBINDGEN_ROOT=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/vmallocator/cbindgen-$CBINDGEN_VERSION
  CBINDGEN=$CBINDGEN_ROOT/bin/cbindgen
  if command -v cbindgen >/dev/null && cbindgen --version | grep -qF "$CBINDGEN_VERSION"; then
    CBINDGEN=$(command -v cbindgen)
  elif [ ! -x "$CBINDGEN" ] && [ "${CAPI_INSTALL_CBINDGEN:-0}" = 1 ]; then
    echo "installing cbindgen $CBINDGEN_VERSION into $CBINDGEN_ROOT"
    t0=$SECONDS
    cargo install cbindgen --locked --version "$CBINDGEN_VERSION" --root "$CBINDGEN_ROOT" --quiet
    echo "cbindgen built in $((SECONDS - t0))s"
  fi
  if [ -x "$CBINDGEN" ]; then
    (cd capi && "$CBINDGEN" --quiet --config cbindgen.toml --output "$TMP/vmallocator.h")
    if ! diff -u capi/include/vmallocator.h "$TMP/vmallocator.h"; then
      echo "error: capi/include/vmallocator.h is stale; regenerate it with:" >&2
      echo "  (cd capi && cbindgen --config cbindgen.toml --output include/vmallocator.h)" >&2
      exit 1
    fi
    echo "capi/include/vmallocator.h is current"
  else
    # Building cbindgen cold takes minutes (16 on a loaded 2-core machine), too much
    # of the CI budget for one check: without a cached cbindgen, the symbol diff below
    # (every exported function declared, and back) and the C test compiled against the
    # header stand in for it.
    echo "skipped: cbindgen $CBINDGEN_VERSION is not installed (not on PATH, not in"
    echo "  $CBINDGEN_ROOT);"
    echo "  the symbol diff below checks the header's functions instead."
    echo "  CAPI_INSTALL_CBINDGEN=1 builds it into the cache (minutes, once)."
  fi
fi

# ---------------------------------------------------------------- 2. C
step "build the library (release)"
cargo build --release -p vmallocator-capi
LIB=$ROOT/target/release
CFLAGS=(-std=c99 -O1 -g -Wall -Wextra -Wpedantic -Werror -Icapi/include)

step "every function the library exports is declared in the header, and back"
nm -D --defined-only "$LIB/libvmallocator_c.so" | awk '$2 == "T" && $3 ~ /^vma_/ { print $3 }' | sort >"$TMP/exported"
grep -oE '\bvma_[a-z0-9_]+\(' capi/include/vmallocator.h | tr -d '(' | sort -u >"$TMP/declared"
diff -u "$TMP/declared" "$TMP/exported"
echo "$(wc -l <"$TMP/exported") functions"

step "C test against the shared library"
gcc "${CFLAGS[@]}" -pthread capi/tests/*.c -L"$LIB" -lvmallocator_c -o "$TMP/test-shared"
LD_LIBRARY_PATH=$LIB "$TMP/test-shared"

step "C test under valgrind memcheck (no leak, no invalid access, error paths included)"
if command -v valgrind >/dev/null; then
  # --smc-check=all: dual-mapped code is patched through the other view of a file mapping
  # (memfd), which valgrind only watches for code changes when told to. --fair-sched=yes:
  # valgrind runs one thread at a time, and a spinning thread must not starve the others.
  LD_LIBRARY_PATH=$LIB VMALLOCATOR_VALGRIND=1 timeout 600 valgrind -q --leak-check=full \
    --errors-for-leak-kinds=definite --smc-check=all --fair-sched=yes --error-exitcode=9 \
    "$TMP/test-shared"
else
  echo "skipped: valgrind is not installed"
fi

step "C test against the static library"
gcc "${CFLAGS[@]}" capi/tests/*.c "$LIB/libvmallocator_c.a" -lpthread -ldl -lm -o "$TMP/test-static"
"$TMP/test-static"

step "the header compiles as C++"
if command -v g++ >/dev/null; then
  echo '#include "vmallocator.h"
  int main() { vma_mallocator *m = nullptr; return vma_create(&m) == VMA_OK ? vma_free(m) : 1; }' >"$TMP/cpp.cpp"
  g++ -std=c++11 -Wall -Wextra -Werror -Icapi/include "$TMP/cpp.cpp" -L"$LIB" -lvmallocator_c -o "$TMP/cpp"
  LD_LIBRARY_PATH=$LIB "$TMP/cpp"
else
  echo "skipped: g++ is not installed"
fi

export VMALLOCATOR_LIB=$LIB/libvmallocator_c.so

# ---------------------------------------------------------------- 3. Python
step "Python bindings (pytest)"
PY=${PYTHON:-python3}
if ! "$PY" -c 'import pytest' 2>/dev/null; then
  # Debian's own python3 refuses pip installs (PEP 668); its package serves it instead.
  "$PY" -m pip install --quiet pytest || apt_install python3-pytest
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
  step "Windows: the DLL with mingw-w64 (-Zbuild-std), the C test under Wine"
  apt_install rustc-web rust-web-src gcc-mingw-w64-x86-64 wine64
  WORK=${CROSS_WORK:-$ROOT/target/cross}
  mkdir -p "$WORK/capi" "$WORK/shim"
  # The settings of scripts/cross-test.sh, exactly: its std build (dev profile) is reused.
  export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_DIR=$WORK/target CARGO_PROFILE_DEV_DEBUG=line-tables-only
  export WINEPREFIX=$WORK/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"
  WINE=/usr/lib/wine/wine64
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$WINE
  cargo build -p vmallocator-capi -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu
  DLL=$WORK/target/x86_64-pc-windows-gnu/debug/vmallocator_c.dll
  cp "$DLL" "$WORK/capi/"
  x86_64-w64-mingw32-gcc "${CFLAGS[@]}" capi/tests/*.c "$WORK/capi/vmallocator_c.dll" \
    -o "$WORK/capi/test.exe"
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    "$WINE" wineboot --init </dev/null 2>&1 | grep -v -e syswow64 -e rundll32 || true
    /usr/lib/wine/wineserver -w
  fi
  # Rust's std imports ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks; the same
  # shim as scripts/cross-test.sh builds (which it reuses when that script made it).
  SHIM_DLL=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
  if [ ! -f "$SHIM_DLL" ]; then
    printf '%s\n' '#include <windows.h>' '#include <ntsecapi.h>' \
      'BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {' \
      '    while (len) {' \
      '        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;' \
      '        if (!RtlGenRandom(data, n)) return FALSE;' \
      '        data += n; len -= n;' \
      '    }' \
      '    return TRUE;' '}' >"$WORK/capi/bcryptprimitives.c"
    printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\n    ProcessPrng\n' >"$WORK/capi/bcryptprimitives.def"
    x86_64-w64-mingw32-gcc -O2 -shared -s -o "$SHIM_DLL" "$WORK/capi/bcryptprimitives.c" \
      "$WORK/capi/bcryptprimitives.def" -ladvapi32
  fi
  status=0
  (cd "$WORK/capi" && "$WINE" test.exe </dev/null) || status=$?
  /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true
  [ "$status" = 0 ] || { echo "error: the C test failed under Wine (exit $status)" >&2; exit 1; }
fi

echo
echo "=== capi: ALL OK in ${SECONDS}s"
