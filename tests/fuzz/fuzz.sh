#!/bin/sh
# Builds and runs the libFuzzer targets (clang from Debian: packages clang
# and libclang-rt-14-dev). Called by ctest (tests/fuzz/CMakeLists.txt);
# by hand, for a longer run:
#   tests/fuzz/fuzz.sh build . build/fuzz
#   tests/fuzz/fuzz.sh run . build/fuzz record 3600
#
#   fuzz.sh build SRC OUT [INCLUDE]     the three fuzzers, into OUT; INCLUDE
#                                       holds the generated accept4shim.h
#                                       (default: OUT/../include, that is
#                                       build/include for the line above)
#   fuzz.sh run SRC OUT TARGET SECONDS  one of config, addr, record
#
# New inputs go to OUT/corpus-TARGET, the tree's seeds and regressions are
# read as well. A crash is saved in OUT/artifacts-TARGET/; copy it into
# tests/fuzz/regressions/TARGET/ and the replay suite (test_fuzz_replay)
# runs it in every scripts/check from then on.
set -eu
mode=$1 src=$2 out=$3
cc=${A4S_FUZZ_CC:-clang}

case $mode in
build)
	mkdir -p "$out"
	include=${4:-$out/../include}
	# The pure pieces: not the exported entry points (nor the other
	# functions taken over: the limits), nor loading and its handlers
	# (fork, exit summary), which need a loaded library, nor the archive's
	# binding, which needs a program linked with --wrap.
	shim=$(ls "$src"/shim/*.c | grep -v -e '/entry\.c$' -e '/rlimit\.c$' -e '/init\.c$' -e '/fork\.c$' \
		-e '/summary\.c$' -e '/bind_wrap\.c$' -e '/bind_stubs\.c$')
	for t in config addr record; do
		# The record target compares with the formatter it replaced.
		extra=
		[ "$t" = record ] && extra="$src/tests/format/reference_record.c"
		# shellcheck disable=SC2086 # $shim and $extra are lists of files
		"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			-D_GNU_SOURCE -I"$include" -I"$src/shim" -I"$src/tests/support" \
			-I"$src/tests/fuzz" -I"$src/tests/format" "$src/tests/fuzz/fuzz_$t.c" $extra \
			$shim -o "$out/fuzz_$t.new"
		mv "$out/fuzz_$t.new" "$out/fuzz_$t"
	done
	;;
run)
	t=$4 secs=$5
	mkdir -p "$out/corpus-$t" "$out/artifacts-$t"
	if ! "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/artifacts-$t/" \
		"$out/corpus-$t" "$src/tests/fuzz/corpus/$t" "$src/tests/fuzz/regressions/$t"; then
		echo "fuzz_$t found a failing input, saved in $out/artifacts-$t/:" >&2
		ls -l "$out/artifacts-$t/" >&2
		echo "copy it into tests/fuzz/regressions/$t/ to keep it as a regression test" >&2
		exit 1
	fi
	;;
*)
	echo "usage: fuzz.sh build SRC OUT | run SRC OUT TARGET SECONDS" >&2
	exit 2
	;;
esac
