#!/bin/sh
# Builds the musl side of tests/reach, as a musl user would: the library,
# wrapper and archive configured with musl-gcc and ACCEPT4SHIM_TESTS=OFF (the
# SPEC's command, warnings as errors), then reach.c twice with musl-gcc:
# dynamically linked (for LD_PRELOAD) and static with the musl archive; and
# the fork-window workload static with the musl archive.
# Usage: build_musl.sh SRC OUT "WRAP_LINK_OPTIONS" "WARNING_FLAGS"
set -eu
src=$1 out=$2 wrap=$3 warnings=$4
command -v musl-gcc >/dev/null || {
	echo "musl-gcc not found: install musl-tools (scripts/deps/reach.txt)" >&2
	exit 1
}
mkdir -p "$out"
cmake -S "$src" -B "$out/build-musl" -DCMAKE_C_COMPILER=musl-gcc \
	-DACCEPT4SHIM_TESTS=OFF -DACCEPT4SHIM_WERROR=ON >"$out/configure.log" ||
	{ cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out/build-musl" -j2 >"$out/build.log" 2>&1 ||
	{ cat "$out/build.log" >&2; exit 1; }
for f in libaccept4shim.so libaccept4shim.a accept4shim; do
	[ -f "$out/build-musl/$f" ] || { echo "build-musl made no $f" >&2; exit 1; }
done
# shellcheck disable=SC2086 # the flag lists are lists
musl-gcc -std=gnu11 -D_GNU_SOURCE -O2 $warnings -Werror -I"$out/build-musl/include" \
	-o "$out/reach_musl_preload" "$src/tests/reach/reach.c"
# shellcheck disable=SC2086
musl-gcc -std=gnu11 -D_GNU_SOURCE -DA4S_REACH_STATIC -O2 -static $warnings -Werror \
	-I"$out/build-musl/include" -o "$out/reach_musl_static" "$src/tests/reach/reach.c" \
	"$out/build-musl/libaccept4shim.a" $wrap
# The fork-window workload, static with the musl archive (reach's
# forkwindow entries).
# shellcheck disable=SC2086
musl-gcc -std=gnu11 -D_GNU_SOURCE -DA4S_WORKLOAD_STANDALONE -O2 -static $warnings -Werror \
	-I"$out/build-musl/include" -I"$src/tests/forkwindow" -o "$out/forkwindow_musl_static" \
	"$src/tests/forkwindow/forkwindow_static.c" "$src/tests/forkwindow/workload.c" \
	"$out/build-musl/libaccept4shim.a" $wrap
# What was made is what it should be: a musl program (musl's dynamic linker
# as its interpreter) and a static one.
readelf -l "$out/reach_musl_preload" | grep -q 'interpreter: /lib/ld-musl-' ||
	{ echo "reach_musl_preload is not a musl program" >&2; exit 1; }
if readelf -l "$out/reach_musl_static" | grep -q 'INTERP'; then
	echo "reach_musl_static is not static" >&2
	exit 1
fi
echo "musl library, archive and test programs built in $out"
