#!/usr/bin/env bash
# SPEC "Build and install": "-DACCEPT4SHIM_TESTS=OFF builds the library, the
# wrapper and the archive without the test dependencies (Check, libffi,
# valgrind)". Proved on a machine that has them, by hiding them: in a
# private mount namespace, Check's and libffi's headers and pkg-config
# files and the valgrind command are bind-mounted over with /dev/null. There
# a TESTS=ON configure must fail (or the hiding hid nothing), and a
# TESTS=OFF one must configure and build the library, the wrapper and the
# archive, never looking for any of them.
# Needs root (unshare --mount, mount --bind): fails, not passes, without it.
# Usage: test_tests_off.sh SOURCE_DIR
set -euo pipefail
src=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (a private mount namespace hides the test dependencies)"

if [ "${A4S_HIDDEN:-}" != 1 ]; then
  exec unshare --mount --propagation private env A4S_HIDDEN=1 bash "$0" "$@"
fi

hidden=()
for f in /usr/include/check.h /usr/include/*/ffi.h /usr/include/ffi.h \
  /usr/lib/*/pkgconfig/check.pc /usr/lib/*/pkgconfig/libffi.pc /usr/share/pkgconfig/check.pc \
  /usr/bin/valgrind; do
  [ -e "$f" ] || continue
  mount --bind /dev/null "$f"
  hidden+=("$f")
done
[ ${#hidden[@]} -ge 3 ] || fail "found too little to hide: ${hidden[*]}"
echo "hidden: ${hidden[*]}"
command -v valgrind >/dev/null && valgrind --version >/dev/null 2>&1 && fail "valgrind still runs"

tmp=$(mktemp -d /tmp/a4s-tests-off.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The control: with the tests, Check is required, and is gone.
if cmake -S "$src" -B "$tmp/on" -DACCEPT4SHIM_TESTS=ON >"$tmp/on.log" 2>&1; then
  fail "TESTS=ON configured with Check hidden: the hiding proves nothing"
fi
grep -q 'check' "$tmp/on.log" || fail "TESTS=ON failed for another reason: $(cat "$tmp/on.log")"

cmake -S "$src" -B "$tmp/off" -DACCEPT4SHIM_TESTS=OFF -DACCEPT4SHIM_WERROR=ON >"$tmp/off.log" 2>&1 ||
  { cat "$tmp/off.log" >&2; fail "TESTS=OFF does not configure without the test dependencies"; }
cmake --build "$tmp/off" -j2 >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; fail "TESTS=OFF does not build without the test dependencies"; }
for f in libaccept4shim.so libaccept4shim.a accept4shim; do
  [ -f "$tmp/off/$f" ] || fail "TESTS=OFF built no $f"
done
# Never even looked: nothing about them in the cache.
if grep -iE '^(CHECK|FFI|A4S_VALGRIND|PKG_CONFIG_EXECUTABLE)[A-Z_]*[:=]' "$tmp/off/CMakeCache.txt"; then
  fail "TESTS=OFF looked for a test dependency (above, from CMakeCache.txt)"
fi
[ ! -e "$tmp/off/tests" ] || fail "TESTS=OFF made a tests directory"
echo "TESTS=OFF: library, wrapper and archive built with Check, libffi and valgrind hidden"
