#!/bin/bash
# What a failed call costs under each configuration: 1000 accept4 calls
# that fail with EAGAIN (test_logskip's "eagain" scenario, each call in
# eagain_call()), counted by callgrind (user-space instructions inside
# eagain_call, for all 1000) and by strace (the system calls the trace and
# the clock could make, in the whole run, start-up included).
# For docs/operators.md; run by hand after a build:
#   tests/logskip/cost.sh [BUILD_DIR]
set -eu
build=$(cd "${1:-build}" && pwd)
t=$(mktemp -d /tmp/a4s-cost.XXXXXX)
trap 'rm -rf "$t"' EXIT
lib=$build/libaccept4shim.so
prog=$build/tests/logskip/test_logskip
for cfg in "" \
	"LD_PRELOAD=$lib" \
	"LD_PRELOAD=$lib ACCEPT4SHIM_LOG=$t/t.json ACCEPT4SHIM_LOG_FORMAT=json" \
	"LD_PRELOAD=$lib ACCEPT4SHIM_LOG=$t/t.json ACCEPT4SHIM_LOG_FORMAT=json ACCEPT4SHIM_LOG_SKIP=EAGAIN" \
	"LD_PRELOAD=$lib ACCEPT4SHIM_STATS=1" \
	"LD_PRELOAD=$lib ACCEPT4SHIM_STATS=1 ACCEPT4SHIM_STATS_INTERVAL=3600"; do
	# shellcheck disable=SC2086 # $cfg is a list of variables
	env -i PATH=/usr/bin:/bin LD_BIND_NOW=1 $cfg valgrind --tool=callgrind \
		--toggle-collect=eagain_call --callgrind-out-file="$t/cg.out" \
		"$prog" scenario eagain 1000 >/dev/null 2>&1
	instr=$(sed -n 's/^summary: //p' "$t/cg.out")
	# shellcheck disable=SC2086
	env -i PATH=/usr/bin:/bin $cfg strace -qq -f -o "$t/st.txt" \
		"$prog" scenario eagain 1000 >/dev/null 2>&1
	calls=$(grep -cE '^[0-9]+ +(write|writev|getsockname|getpeername|statx|fstat|clock_gettime|openat)\(' "$t/st.txt")
	echo "${cfg:-no library}" | sed "s|$lib|LIB|g; s|$t/|DIR/|g"
	echo "    $instr instructions, $calls system calls"
	rm -f "$t/cg.out" "$t/st.txt" "$t/t.json"
done
