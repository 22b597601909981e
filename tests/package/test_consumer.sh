#!/usr/bin/env bash
# SPEC "Build and install", the CMake package and pkg-config: installs the
# build into a temporary prefix and, as another project would:
#  - pkg-config: compiles a static program with --cflags and
#    --variable=wrap_libs, which runs with the library, no LD_PRELOAD;
#  - moves the prefix elsewhere (the package must not care), then configures
#    and builds tests/package/consumer with find_package(accept4shim CONFIG):
#    its static program (accept4shim::wrap) runs with the library from the
#    variables alone; its dynamic program runs with accept4shim_PRELOAD_LIBRARY
#    preloaded, and through accept4shim_WRAPPER; without either it says the
#    library is not loaded;
#  - find_package refuses a version it does not provide.
# Usage: test_consumer.sh BUILD_DIR SOURCE_DIR VERSION
set -euo pipefail
build=$1 src=$2 version=$3
tmp=$(mktemp -d /tmp/a4s-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
unset DESTDIR LD_PRELOAD PKG_CONFIG_PATH
for v in $(env | sed -n 's/^\(ACCEPT4SHIM_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

# The consumer's program prints what the library did with accept4(CLOEXEC)
# under MODE=emulate and ADD_FLAGS=SOCK_NONBLOCK.
expect_library() { # output-file what
  grep -qx "library: $version" "$1" || fail "$2: $(cat "$1")"
  grep -qx "accepted: yes cloexec=1 nonblock=1" "$1" || fail "$2: $(cat "$1")"
  grep -qx "calls=1 emulated=1" "$1" || fail "$2: $(cat "$1")"
}
run_with() { # output-file command...
  local out=$1; shift
  env ACCEPT4SHIM_MODE=emulate ACCEPT4SHIM_ADD_FLAGS=SOCK_NONBLOCK \
    ACCEPT4SHIM_LOG="$tmp/trace.%p.log" "$@" >"$out" 2>&1 || fail "$*: $(cat "$out")"
}

cmake --install "$build" --prefix "$tmp/installed" >"$tmp/install.log" ||
  { cat "$tmp/install.log" >&2; fail "cmake --install"; }

# pkg-config, as installed.
pcs=("$tmp"/installed/lib*/pkgconfig/accept4shim.pc "$tmp"/installed/lib/*/pkgconfig/accept4shim.pc)
pc=
for p in "${pcs[@]}"; do [ -f "$p" ] && pc=$p; done
[ -n "$pc" ] || fail "no accept4shim.pc"
export PKG_CONFIG_PATH=${pc%/*}
wrap_libs=$(pkg-config --variable=wrap_libs accept4shim)
archive=$(pkg-config --variable=archive accept4shim)
[ -f "$archive" ] || fail "pkg-config archive '$archive' does not exist"
case $wrap_libs in "$archive -Wl,--wrap=accept -Wl,--wrap=accept4"*) ;;
  *) fail "wrap_libs: $wrap_libs" ;; esac
# shellcheck disable=SC2046,SC2086 # pkg-config prints lists of flags
cc -DCONSUMER_STATIC -static $(pkg-config --cflags accept4shim) \
  -o "$tmp/pc_static" "$src/tests/package/consumer/consumer.c" $wrap_libs ||
  fail "cc with pkg-config's wrap_libs"
# (grep reads all of readelf's output: an early exit would SIGPIPE it and
# pipefail would then hide the match.)
[ "$(readelf -l "$tmp/pc_static" | grep -c INTERP)" = 0 ] || fail "pc_static is not static"
run_with "$tmp/pc.out" "$tmp/pc_static"
expect_library "$tmp/pc.out" "static program linked with pkg-config's wrap_libs"
grep -q ' call=accept4 .* flags=SOCK_CLOEXEC .* how=emulated ' "$tmp"/trace.*.log ||
  fail "no trace record from the static program: $(cat "$tmp"/trace.*.log)"
rm -f "$tmp"/trace.*.log
unset PKG_CONFIG_PATH

# The prefix moved: the CMake package finds everything relative to itself.
mv "$tmp/installed" "$tmp/moved"
major_minor=${version%.*}
cmake -S "$src/tests/package/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/moved" \
  -DCONSUMER_WANTS="$major_minor" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log" >&2; fail "configuring the consumer"; }
cmake --build "$tmp/consumer" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; fail "building the consumer"; }
grep -q -- '--wrap=accept4' "$tmp/consumer/CMakeFiles/consumer_static.dir/link.txt" ||
  fail "accept4shim::wrap did not carry its --wrap options"

[ "$(readelf -l "$tmp/consumer/consumer_static" | grep -c INTERP)" = 0 ] ||
  fail "consumer_static is not static"
run_with "$tmp/static.out" "$tmp/consumer/consumer_static"
expect_library "$tmp/static.out" "consumer_static (accept4shim::wrap)"

mapfile -t paths < <("$tmp/consumer/consumer_preload" --paths)
libs=("$tmp"/moved/lib*/accept4shim/libaccept4shim.so "$tmp"/moved/lib/*/accept4shim/libaccept4shim.so)
lib=
for l in "${libs[@]}"; do [ -f "$l" ] && lib=$l; done
[ "${paths[0]}" = "$lib" ] || fail "accept4shim_PRELOAD_LIBRARY is '${paths[0]}', not $lib"
[ "${paths[1]}" = "$tmp/moved/bin/accept4shim" ] || fail "accept4shim_WRAPPER is '${paths[1]}'"
"$tmp/consumer/consumer_preload" >"$tmp/none.out" 2>&1 &&
  fail "consumer_preload ran as if loaded without the library: $(cat "$tmp/none.out")"
grep -qx "library: not loaded" "$tmp/none.out" || fail "without the library: $(cat "$tmp/none.out")"
run_with "$tmp/preload.out" env LD_PRELOAD="${paths[0]}" "$tmp/consumer/consumer_preload"
expect_library "$tmp/preload.out" "consumer_preload with accept4shim_PRELOAD_LIBRARY"
run_with "$tmp/wrapper.out" "${paths[1]}" -- "$tmp/consumer/consumer_preload"
expect_library "$tmp/wrapper.out" "consumer_preload through accept4shim_WRAPPER"

# A version the package does not provide is refused.
minor=${major_minor#*.}
if cmake -S "$src/tests/package/consumer" -B "$tmp/refused" -DCMAKE_PREFIX_PATH="$tmp/moved" \
  -DCONSUMER_WANTS="${major_minor%.*}.$((minor + 1))" >"$tmp/refused.log" 2>&1; then
  fail "find_package accepted version ${major_minor%.*}.$((minor + 1))"
fi
grep -q 'compatible with requested version' "$tmp/refused.log" ||
  fail "refused for another reason: $(cat "$tmp/refused.log")"

echo "package: pkg-config and the CMake package work from an installed, moved prefix"
