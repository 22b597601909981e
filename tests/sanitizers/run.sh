#!/bin/sh
# Configures a sanitizer build of the whole tree (library and tests), builds
# the test programs the chosen suites need, and runs those suites there.
#
#   run.sh KIND SRC BUILD INCLUDE [EXCLUDE]
#     KIND     address (ASan + UBSan) or thread (TSan)
#     INCLUDE  ctest -R regular expression of the suites to run
#
# Called by ctest (tests/sanitizers/CMakeLists.txt), which names the suites
# and says why others are left out. Any sanitizer finding ends the program
# with an error, so it fails its test, and this one.
set -eu
kind=$1 src=$2 build=$3 include=$4 exclude=${5:-^$}
cmake -S "$src" -B "$build" -DACCEPT4SHIM_SANITIZE="$kind" -DACCEPT4SHIM_WERROR=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
tests=$(cd "$build" && ctest -N -R "$include" -E "$exclude" -LE valgrind |
	sed -n 's/^ *Test *#[0-9]*: \([^ ]*\)$/\1/p')
[ -n "$tests" ] || { echo "run.sh: no test matches $include" >&2; exit 1; }
targets=$(echo "$tests" | sed 's/\..*//' | sort -u | tr '\n' ' ')
echo "run.sh: $kind build of: $targets"
# shellcheck disable=SC2086 # a list of targets
cmake --build "$build" -j2 --target accept4shim $targets >/dev/null

# The documented preload order for a program that is not instrumented:
# the ASan runtime first, then the library. The other order is refused by
# ASan at start. A4S_PLAIN_PROBE is a program built without sanitizers.
if [ "$kind" = address ] && [ -n "${A4S_PLAIN_PROBE:-}" ]; then
	asan=$(${CC:-cc} -print-file-name=libasan.so)
	want="accept4 SOCK_CLOEXEC: ok nonblock=0 cloexec=1"
	got=$(LD_PRELOAD="$asan:$build/libaccept4shim.so" ACCEPT4SHIM_MODE=emulate \
		"$A4S_PLAIN_PROBE" accept4 SOCK_CLOEXEC)
	[ "$got" = "$want" ] || { echo "run.sh: ASan first in LD_PRELOAD: got '$got'" >&2; exit 1; }
	if LD_PRELOAD="$build/libaccept4shim.so" "$A4S_PLAIN_PROBE" >/dev/null 2>&1; then
		echo "run.sh: the ASan library alone in LD_PRELOAD was expected to be refused" >&2
		exit 1
	fi
	echo "run.sh: LD_PRELOAD=$asan:<library> works in a plain program"
fi

# The programs are instrumented, so the runtime is loaded before the
# preloaded library; verify_asan_link_order=0 lets ASan accept that the
# library comes first in LD_PRELOAD (it is preloaded, the runtime a
# dependency of the program). Leaks count as findings.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:verify_asan_link_order=0:detect_stack_use_after_return=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=1
# The stress workload, cut for the slower instrumented build.
export A4S_STRESS_CONNS=${A4S_SANITIZER_STRESS_CONNS:-20000}
cd "$build"
exec ctest --output-on-failure -j1 -R "$include" -E "$exclude" -LE valgrind
