#!/usr/bin/env bash
# Cross-target tests for vmallocator, run on a Debian 12 (bookworm) x86_64 host.
#
#   x86_64-pc-windows-gnu      cargo test (lib, integration tests, doctests) under Wine
#   aarch64-unknown-linux-gnu  cargo test (lib, integration tests, doctests) under qemu-user
#   aarch64-apple-darwin, x86_64-apple-darwin, x86_64-unknown-freebsd
#                              cargo check --lib --tests --examples (type-check, no link)
#
# No rustup targets are needed: std is built from source (-Zbuild-std) with Debian's
# rustc-web (/usr/bin/rustc) and its library sources (rust-web-src), which match that
# compiler exactly. Any cargo works (rustup's stable is fine); RUSTC_BOOTSTRAP=1 unlocks -Z.
#
# Usage (from anywhere; it works in the repository root):  bash scripts/cross-test.sh
# Needs root (or sudo) only when Debian packages are missing, and crates.io access on the
# first run (build-std fetches std's own dependencies).
#
# Options (environment):
#   CROSS_SKIP_WINDOWS=1    skip the Windows tests
#   CROSS_SKIP_AARCH64=1    skip the aarch64 Linux tests
#   CROSS_SKIP_CHECK=1      skip the type-check of the other targets
#   CROSS_CHECK_TARGETS="…" targets to type-check (default: the three above)
#   CROSS_WORK=dir          scratch dir (default: target/cross): target dir, wine prefix, logs
#   CROSS_TEST_ARGS="…"     extra arguments for the test binaries (after `--`), e.g. a filter
#
# Everything expensive is cached under $CROSS_WORK and reused by later runs: the std builds
# (one CARGO_TARGET_DIR for all targets), the Wine prefix and the bcryptprimitives.dll shim.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SKIP_WINDOWS=${CROSS_SKIP_WINDOWS:-0}
SKIP_AARCH64=${CROSS_SKIP_AARCH64:-0}
SKIP_CHECK=${CROSS_SKIP_CHECK:-0}
CHECK_TARGETS=${CROSS_CHECK_TARGETS:-"aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-freebsd"}
WORK=${CROSS_WORK:-$ROOT/target/cross}
# --show-output: the tests print what a platform cannot do (a skip, a huge-page fallback);
# those lines are collected into the summary.
read -r -a TEST_ARGS <<<"${CROSS_TEST_ARGS:---show-output}"
# Emulated runs do the heavy tests (VMALLOCATOR_TEST_SCALE) at a fifth of their size.
export VMALLOCATOR_TEST_SCALE=${VMALLOCATOR_TEST_SCALE:-0.2}
WIN=x86_64-pc-windows-gnu
ARM=aarch64-unknown-linux-gnu

# ---------------------------------------------------------------- stage bookkeeping
SECONDS=0
SUMMARY=()          # "name|seconds|result" per stage, printed at exit
NOTES=()            # what the tests said a platform cannot do, printed at exit
CUR_STAGE=""
CUR_START=0

banner() {
  printf '\n=============================================================\n'
  printf '=== %s   [%s, +%ss]\n' "$1" "$(date +%T)" "$SECONDS"
  printf '=============================================================\n'
}
stage_begin() { CUR_STAGE=$1; CUR_START=$SECONDS; banner "$1"; }
stage_end() {
  local dt=$((SECONDS - CUR_START))
  SUMMARY+=("$CUR_STAGE|$dt|${1:-ok}")
  echo "--- $CUR_STAGE: ${1:-ok} in ${dt}s"
  CUR_STAGE=""
}
on_exit() {
  local rc=$?
  if [ -n "$CUR_STAGE" ]; then SUMMARY+=("$CUR_STAGE|$((SECONDS - CUR_START))|FAILED"); fi
  # Do not leave this prefix's wineserver behind (it would hold CI's output pipe open).
  if [ -n "${WINEPREFIX:-}" ] && [ -d "$WINEPREFIX" ] && [ -x /usr/lib/wine/wineserver ]; then
    /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true
  fi
  printf '\n=== cross-test summary\n'
  local s name dt res
  for s in "${SUMMARY[@]}"; do
    IFS='|' read -r name dt res <<<"$s"
    printf '  %-58s %5ss  %s\n' "$name" "$dt" "$res"
  done
  for s in "${NOTES[@]}"; do printf '  note: %s\n' "$s"; done
  if [ -d "$WORK" ]; then printf '  %-58s %s\n' "disk used under ${WORK#"$ROOT"/}" "$(du -sh "$WORK" 2>/dev/null | cut -f1)"; fi
  if [ "$rc" = 0 ]; then echo "=== cross-test: ALL OK in ${SECONDS}s"
  else echo "=== cross-test: FAILED (exit $rc) after ${SECONDS}s"; fi
  exit "$rc"
}
trap on_exit EXIT

# Sum up the "test result:" lines of a cargo test log.
test_totals() {
  awk '/^test result:/ { for (i = 1; i <= NF; i++) {
         if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i;
         if ($(i+1) ~ /^ignored/) g += $i } n++ }
       END { printf "%d passed, %d failed, %d ignored (%d test binaries/doctest runs)", p, f, g, n }' "$1"
}

# ---------------------------------------------------------------- 1. packages
stage_begin "packages"
PKGS=(rustc-web rust-web-src clang)
[ "$SKIP_WINDOWS" = 1 ] || PKGS+=(gcc-mingw-w64-x86-64 wine64)
[ "$SKIP_AARCH64" = 1 ] || PKGS+=(qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" = 0 ]; then
  echo "all present: ${PKGS[*]}"
else
  echo "installing: ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
stage_end

# ---------------------------------------------------------------- 2. toolchain + env
stage_begin "toolchain"
# The compiler must be Debian's 1.96: -Zbuild-std needs library sources that match it.
# RUSTDOC too, or the doctests link against a mismatched std (E0514).
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=$WORK/target
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
"$RUSTC" -V
cargo -V
SRC="$("$RUSTC" --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock"
[ -f "$SRC" ] || { echo "error: std sources missing ($SRC): is rust-web-src installed?" >&2; exit 1; }
BUILD_STD=(-Zbuild-std=std,panic_abort)

# All per-target settings are exported here, once, whatever stages run: a changed linker,
# runner or CC for a target makes cargo consider that target's std "dirty" and rebuild it.
# Smaller, faster debug builds in the cross target dir only: line tables keep file:line in
# panics' backtraces, full debuginfo would roughly double the std builds on disk.
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
# Wine: no Mono/Gecko install prompts, and no winedbg on a crash (with winedbg a faulting
# child exits 0xC0000354 plus a debugger dump; without it, 0xC0000005 as on real Windows).
export WINEPREFIX=$WORK/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"
WINE=/usr/lib/wine/wine64     # the wine64 package has no /usr/bin/wine
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$WINE
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
# Under qemu-user (no binfmt_misc) a test cannot exec its own aarch64 binary directly: the
# child exits 127. Tests that re-run themselves must prefix this runner (empty elsewhere;
# Wine runs child .exe files by itself).
export VMALLOCATOR_TEST_RUNNER=""
# C code built by `cc` build scripts (mimalloc, criterion's alloca: Linux-only dev-deps).
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# Apple: host gcc rejects -arch; clang with only the compiler's own headers is enough for
# small C helpers should a dependency ever build one under `cargo check`.
export CC_aarch64_apple_darwin=clang CC_x86_64_apple_darwin=clang
export CFLAGS_aarch64_apple_darwin=-nostdlibinc CFLAGS_x86_64_apple_darwin=-nostdlibinc
stage_end

# ---------------------------------------------------------------- 3. wine prefix + shim
if [ "$SKIP_WINDOWS" != 1 ]; then
  stage_begin "wine prefix + bcryptprimitives shim"
  mkdir -p "$WORK/shim"       # wine creates the prefix only if its parent exists
  if [ -f "$WINEPREFIX/system.reg" ]; then
    echo "reusing $WINEPREFIX"
  else
    echo "creating $WINEPREFIX"
    "$WINE" wineboot --init </dev/null 2>&1 | grep -v -e syswow64 -e rundll32 || true
    /usr/lib/wine/wineserver -w
  fi
  # Rust's std (>= 1.78) imports ProcessPrng from bcryptprimitives.dll, which Wine 8 does
  # not have (the test exits with status 53). A ten-line DLL on top of RtlGenRandom fills in.
  SHIM_C=$WORK/shim/bcryptprimitives.c
  SHIM_DLL=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
  cat >"$SHIM_C.new" <<'EOF'
#include <windows.h>
#include <ntsecapi.h>  /* RtlGenRandom, i.e. advapi32!SystemFunction036 */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}
EOF
  if [ -f "$SHIM_DLL" ] && cmp -s "$SHIM_C.new" "$SHIM_C"; then
    rm "$SHIM_C.new"; echo "reusing $SHIM_DLL"
  else
    mv "$SHIM_C.new" "$SHIM_C"
    printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\n    ProcessPrng\n' >"$WORK/shim/bcryptprimitives.def"
    x86_64-w64-mingw32-gcc -O2 -shared -s -o "$SHIM_DLL" "$SHIM_C" \
      "$WORK/shim/bcryptprimitives.def" -ladvapi32
    echo "built $SHIM_DLL"
  fi
  # One wineserver for all the test binaries. Left to itself, the server exits a few
  # seconds after each binary, and a binary that starts just then loses its connection
  # ("wine client error:0: recvmsg: Connection reset by peer"). Wine's own services start
  # with the first program and live as long as the server: started here, away from the
  # test stage's output pipe, which they would otherwise hold open. on_exit kills them all.
  /usr/lib/wine/wineserver -p </dev/null >/dev/null 2>&1 || true
  "$WINE" cmd /c exit </dev/null >/dev/null 2>&1 || true
  stage_end
fi

mkdir -p "$WORK/logs"

# A failing build or test stage is recorded and the remaining targets still run; the script
# exits non-zero at the end.
FAILED=0
fail_stage() { FAILED=$((FAILED + 1)); stage_end "FAILED${1:+: $1}"; }

# cargo test for one target: build first (timed apart), then run under the runner.
cross_test() {
  local label=$1 target=$2 log=$WORK/logs/test-$2.log
  stage_begin "$label: build tests ($target)"
  if ! cargo test "${BUILD_STD[@]}" --target "$target" --no-run; then fail_stage; return; fi
  stage_end
  stage_begin "$label: run tests ($target)"
  # Doctests are compiled here (rustdoc), lib + integration tests were built above.
  # --no-fail-fast: run every test binary and the doctests even when one of them fails.
  if cargo test "${BUILD_STD[@]}" --target "$target" --no-fail-fast -- "${TEST_ARGS[@]}" \
       </dev/null 2>&1 | tee "$log"; then
    stage_end "ok: $(test_totals "$log")"
    local notes
    notes=$(grep -hE '^(skipped|explicit huge pages|transparent huge pages|resident-memory)' "$log" | sort -u || true)
    [ -z "$notes" ] || while IFS= read -r n; do NOTES+=("$label: $n"); done <<<"$notes"
  else
    fail_stage "$(test_totals "$log") (log: ${log#"$ROOT"/})"
  fi
}

# ---------------------------------------------------------------- 4. Windows under Wine
[ "$SKIP_WINDOWS" = 1 ] || cross_test "windows" "$WIN"

# ---------------------------------------------------------------- 5. aarch64 Linux under qemu
if [ "$SKIP_AARCH64" != 1 ]; then
  VMALLOCATOR_TEST_RUNNER=$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER
  cross_test "aarch64-linux" "$ARM"
  VMALLOCATOR_TEST_RUNNER=""
fi

# ---------------------------------------------------------------- 6. type-check other targets
# --lib --tests --examples, not --all-targets: the benchmarks' peers are Linux-only deps.
if [ "$SKIP_CHECK" != 1 ] && [ -n "$CHECK_TARGETS" ]; then
  stage_begin "check: $CHECK_TARGETS"
  targets=()
  for t in $CHECK_TARGETS; do targets+=(--target "$t"); done
  if cargo check --lib --tests --examples "${BUILD_STD[@]}" "${targets[@]}"; then stage_end
  else fail_stage; fi
fi

[ "$FAILED" = 0 ] || { echo "error: $FAILED stage(s) failed" >&2; exit 1; }
