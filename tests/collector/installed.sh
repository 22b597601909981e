#!/usr/bin/env bash
# SPEC "Build and install": the collector is installed with the wrapper,
# as P/bin/accept4shim-collector, and works from there: a test host's
# records come out of the installed program.
# Usage: installed.sh BUILD_DIR VERSION FAKEHOST
set -euo pipefail
build=$1 version=$2 host=$3
tmp=$(mktemp -d /tmp/a4s-install-collector.XXXXXX)
trap 'kill $cp 2>/dev/null || true; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" || { cat "$tmp/install.log" >&2; fail "cmake --install"; }
collector=$tmp/prefix/bin/accept4shim-collector
[ -x "$collector" ] || fail "no $collector"
[ -x "$tmp/prefix/bin/accept4shim" ] || fail "the wrapper is not next to it"
[ "$("$collector" --version)" = "accept4shim-collector $version" ] || fail "--version: $("$collector" --version)"
mkdir -m 700 "$tmp/run"
cd /
"$collector" --socket="$tmp/run/sock" --log="$tmp/run/out.log" 2>"$tmp/run/err" &
cp=$!
for _ in $(seq 500); do [ -S "$tmp/run/sock" ] && break; sleep 0.01; done
"$host" --socket="$tmp/run/sock" --expect="$tmp/run/expect" connect write:50 >"$tmp/run/host.out"
grep -qx "reply 0" "$tmp/run/host.out" || fail "host: $(cat "$tmp/run/host.out")"
kill $cp; wait $cp
cmp "$tmp/run/out.log" "$tmp/run/expect" || fail "records differ"
[ ! -s "$tmp/run/err" ] || fail "stderr: $(cat "$tmp/run/err")"
echo "installed collector: ok"
