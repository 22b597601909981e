#!/usr/bin/env bash
# What the collector costs per record: N typical records (IPv4, accept4,
# both flags) from one test host through one ring, the host waiting
# whenever the ring is full so that none is dropped (its pace is then the
# collector's), and the collector's CPU time (user + system) from
# /proc/PID/stat before and after. One line per destination.
#
# usage: tests/collector/cost.sh BUILD_DIR [N]
set -euo pipefail
build=$1
n=${2:-1000000}
collector=$build/accept4shim-collector
host=$build/tests/collector/a4s_fakehost
tick=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

run() { # label, format, destination (a file name in the run's directory, or /dev/null)
  local label=$1 format=$2 dest=$3
  local dir; dir=$(mktemp -d /tmp/a4s-cost.XXXXXX)
  case $dest in /*) ;; *) dest=$dir/$dest ;; esac
  "$collector" --socket="$dir/sock" --log="$dest" --log-format="$format" 2>"$dir/err" &
  local cp=$!
  while [ ! -S "$dir/sock" ]; do sleep 0.01; done
  local before t0 after t1
  before=$(cpu $cp)
  t0=$(date +%s.%N)
  "$host" --socket="$dir/sock" --slots=65536 connect "typical:$n" >/dev/null
  # The host has gone; the collector writes the last of its ring.
  if [ -f "$dest" ]; then
    while [ "$(wc -l <"$dest")" -lt "$n" ]; do sleep 0.01; done
  else
    sleep 0.5
  fi
  t1=$(date +%s.%N)
  after=$(cpu $cp)
  kill $cp
  wait $cp || true
  [ ! -s "$dir/err" ] || { cat "$dir/err" >&2; exit 1; }
  awk -v l="$label" -v n="$n" -v c=$((after - before)) -v hz="$tick" -v t0="$t0" -v t1="$t1" 'BEGIN {
    s = c / hz
    printf "%-16s %8d records %6.2f s CPU %6.3f us/record %8.0f records/CPU-s %8.0f records/s\n",
      l, n, s, s * 1e6 / n, n / s, n / (t1 - t0) }'
  rm -rf "$dir"
}

run "json, file" json out.log
run "text, file" text out.log
run "json, /dev/null" json /dev/null
