#!/bin/bash
# The collector's CPU time per record through the real library: N accepts
# of build/bench/accept_bench (MODE=native, accept4 with both flags) traced
# through a collector writing JSON to a file; its utime + stime read from
# /proc before and after (clock ticks: 10 ms). Not a ctest: a measurement
# (docs/collector.md, "What it costs").
#   tests/collector/cost_library.sh BUILD N
set -eu
build=$(cd "$1" && pwd)
n=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
$build/accept4shim-collector --socket=$d/sock --log=$d/trace.log --log-format=json & cp=$!
while [ ! -S $d/sock ]; do sleep 0.01; done
cpu() { awk '{print $14 + $15}' /proc/$cp/stat; }
t0=$(cpu)
env -i PATH=/usr/bin:/bin LD_PRELOAD=$build/libaccept4shim.so ACCEPT4SHIM_MODE=native \
    ACCEPT4SHIM_LOG=collector:$d/sock $build/bench/accept_bench -n $n -W 0 -c accept4 -f both > $d/bench.out
sleep 0.5
t1=$(cpu)
kill $cp; wait $cp
lines=$(wc -l < $d/trace.log)
hz=$(getconf CLK_TCK)
python3 -c "t=($t1-$t0)/$hz; print('%d records, collector CPU %.2f s, %.3f us/record' % ($lines, t, t*1e6/$lines))"
