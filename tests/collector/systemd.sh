#!/bin/bash
# The systemd unit for the collector and the drop-in for a traced service
# (docs/systemd/), checked by systemd-analyze verify as far as a machine
# without systemd as PID 1 allows: both parse with no warning (the drop-in
# on a stand-in nginx.service, the collector's ExecStart pointed at the
# build's program, which must exist), and a key systemd does not know,
# added to a copy of the drop-in, is reported (so the drop-in is read).
#   systemd.sh SOURCE_DIR COLLECTOR_DIR (where accept4shim-collector is)
set -u
src=$1 collector=$2/accept4shim-collector
[ -x "$collector" ] || { echo "FAIL: no $collector"; exit 1; }
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze missing (scripts/deps/collector.txt installs systemd)"; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
sed "s|/usr/bin/accept4shim-collector|$collector|" \
    "$src/docs/systemd/accept4shim-collector.service" > "$d/accept4shim-collector.service"
grep -q "ExecStart=$collector " "$d/accept4shim-collector.service" || { echo "FAIL: no ExecStart of the collector"; exit 1; }
printf '[Unit]\nDescription=a stand-in for nginx\n[Service]\nExecStart=/bin/sleep infinity\n' > "$d/nginx.service"
mkdir "$d/nginx.service.d"
cp "$src/docs/systemd/nginx.service.d/accept4shim.conf" "$d/nginx.service.d/"
verify() { SYSTEMD_UNIT_PATH="$d:" systemd-analyze verify --man=no "$@" 2>&1; }
out=$(verify "$d/accept4shim-collector.service" "$d/nginx.service"); rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify (status $rc):"; echo "$out"; exit 1
fi
echo "BogusKey=1" >> "$d/nginx.service.d/accept4shim.conf"
out=$(verify "$d/nginx.service")
case $out in
*"Unknown key 'BogusKey'"*) ;;
*) echo "FAIL: the drop-in was not read (no word about a bad key): $out"; exit 1 ;;
esac
echo "ok: the unit and the drop-in verify cleanly"
