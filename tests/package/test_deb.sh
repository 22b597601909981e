#!/usr/bin/env bash
# SPEC "Build and install", the Debian package: `cpack -G DEB` in the build
# tree makes accept4shim_<version>_<arch>.deb; installed with dpkg -i on
# this machine it puts everything under /usr, with the library in
# /usr/lib/<multiarch>/accept4shim/, and Depends on libc6 (and python3 for
# accept4shim-report when the package has it) only. Then, as a user would:
# /usr/bin/accept4shim runs python3's http.server, curl fetches a page, and
# the JSON trace holds that accept (and /usr/bin/accept4shim-report reads
# it); man, pkg-config and find_package find
# the installed files without being told where; the man page's --dry-run
# example is what the installed command prints. dpkg -r then removes every
# file it installed.
#
# Needs root (dpkg -i): fails, not passes, without it. Other checkouts may
# run this at the same time on one machine: a lock makes them take turns,
# and the package is never left installed (removed on any exit).
# Usage: test_deb.sh BUILD_DIR SOURCE_DIR VERSION
set -euo pipefail
build=$1 src=$2 version=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i installs the package into this machine)"
unset DESTDIR LD_PRELOAD
for v in $(env | sed -n 's/^\(ACCEPT4SHIM_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

tmp=$(mktemp -d /tmp/a4s-deb.XXXXXX)
installed=
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  # As dpkg -i below: another checkout's dpkg may hold the database; a
  # removal given up at once left the package installed for every later
  # run ("already installed here: not touching it").
  if [ -n "$installed" ]; then
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
      dpkg -r accept4shim >/dev/null 2>&1 && break
      sleep 5
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb=$tmp/pkg/accept4shim_${version}_${arch}.deb
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; fail "cpack -G DEB"; }
[ -f "$deb" ] || fail "no $deb: $(ls "$tmp/pkg")"

# What the package says of itself.
depends=$(dpkg-deb -f "$deb" Depends)
has_report=no
dpkg-deb -c "$deb" >"$tmp/contents"
grep -q ' \./usr/bin/accept4shim-report$' "$tmp/contents" && has_report=yes
for dep in ${depends//,/ }; do
  case $dep in
    libc6|python3|"("*|*")"|">="*) ;;
    *) fail "Depends has '$dep': $depends" ;;
  esac
done
echo "$depends" | grep -qE '(^|, )libc6 \(>= [0-9.]+\)' || fail "Depends lacks a versioned libc6: $depends"
if [ $has_report = yes ]; then
  echo "$depends" | grep -qE '(^|, )python3' || fail "the report is packaged, python3 not depended on"
else
  echo "$depends" | grep -qE '(^|, )python3' && fail "python3 depended on, no accept4shim-report packaged"
fi
[ "$(dpkg-deb -f "$deb" Package)" = accept4shim ] || fail "Package"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "Architecture"

# One checkout at a time installs it, and only onto a machine without it.
exec 9>/tmp/accept4shim-deb-test.lock
flock -w 600 9 || fail "another run held /tmp/accept4shim-deb-test.lock for 10 minutes"
if dpkg-query -W -f='${Status}' accept4shim 2>/dev/null | grep -q 'ok installed'; then
  fail "accept4shim is already installed here: not touching it"
fi
for try in $(seq 60); do
  if dpkg -i "$deb" >"$tmp/dpkg-i.log" 2>&1; then installed=yes; break; fi
  grep -q 'lock' "$tmp/dpkg-i.log" || { cat "$tmp/dpkg-i.log" >&2; fail "dpkg -i"; }
  sleep 5 # apt or dpkg of another checkout holds the database
done
[ -n "$installed" ] || fail "dpkg -i: the dpkg database stayed locked"
dpkg -L accept4shim | sort >"$tmp/files"

lib=/usr/lib/$multiarch/accept4shim/libaccept4shim.so
for f in /usr/bin/accept4shim "$lib" "/usr/lib/$multiarch/accept4shim/libaccept4shim.a" \
  /usr/include/accept4shim.h /usr/share/man/man1/accept4shim.1 \
  /usr/share/man/man3/libaccept4shim.3 /usr/share/man/man5/accept4shim-trace.5 \
  /usr/share/man/man1/accept4shim-collector.1 "/usr/lib/$multiarch/pkgconfig/accept4shim.pc" \
  "/usr/lib/$multiarch/cmake/accept4shim/accept4shim-config.cmake"; do
  grep -qx "$f" "$tmp/files" || fail "the package does not hold $f"
  [ -f "$f" ] || fail "$f is not installed"
done

# The wrapper from /usr/bin on a real server, traced.
mkdir "$tmp/www"
echo "hello from accept4shim" >"$tmp/www/index.html"
cd "$tmp/www"
/usr/bin/accept4shim --log-format=json --log="$tmp/trace.%p.json" -- \
  python3 -u -m http.server --bind 127.0.0.1 0 >"$tmp/server.out" 2>"$tmp/server.err" &
server=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.* port \([0-9][0-9]*\) .*/\1/p' "$tmp/server.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "http.server did not start: $(cat "$tmp/server.out" "$tmp/server.err")"
page=$(curl -sS --max-time 10 "http://127.0.0.1:$port/index.html") || fail "curl"
[ "$page" = "hello from accept4shim" ] || fail "page: $page"
kill "$server"
wait "$server" 2>/dev/null || true
server=
cd /
python3 "$src/tests/trace/tracecheck.py" "$tmp"/trace.*.json >"$tmp/records" ||
  fail "the trace is not valid JSON lines"
grep -qE "^rec .* call=accept4? .* fd=[0-9]+ errno=~ peer=127\.0\.0\.1:[0-9]+ " "$tmp/records" ||
  fail "no accept of curl's connection in the trace: $(cat "$tmp/records")"
echo "traced: $(head -1 "$tmp/records")"
if [ $has_report = yes ]; then
  env -i PATH=/usr/bin:/bin /usr/bin/accept4shim-report "$tmp"/trace.*.json >"$tmp/report" 2>&1 ||
    fail "/usr/bin/accept4shim-report: $(cat "$tmp/report")"
  grep -q '^listener 127\.0\.0\.1:' "$tmp/report" || fail "report: $(cat "$tmp/report")"
fi

# Found where Debian looks, without being told.
[ "$(pkg-config --variable=libpath accept4shim)" = "$lib" ] || fail "pkg-config libpath"
[ "$(man -w accept4shim)" = /usr/share/man/man1/accept4shim.1 ] || fail "man -w: $(man -w accept4shim)"
for page in accept4shim libaccept4shim accept4shim_get_stats accept4shim-trace accept4shim-collector; do
  LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 "$page" >"$tmp/page" 2>"$tmp/page.err" ||
    fail "man $page"
  [ ! -s "$tmp/page.err" ] || fail "man $page warns at 80 columns: $(cat "$tmp/page.err")"
done
# The page names the files as installed, and its example is what runs.
LC_ALL=C.UTF-8 MANWIDTH=80 man accept4shim >"$tmp/page" 2>/dev/null
grep -q "^ *$lib\$" "$tmp/page" || fail "accept4shim(1) FILES does not name $lib"
sed -n '/accept4shim --dry-run --mode=emulate python3 -m http.server$/,/python3 -m http.server$/p' \
  "$tmp/page" | sed '1d; s/^ *//' >"$tmp/example"
[ -s "$tmp/example" ] || fail "no --dry-run example in accept4shim(1)"
/usr/bin/accept4shim --dry-run --mode=emulate python3 -m http.server >"$tmp/dry-run"
diff -u "$tmp/example" "$tmp/dry-run" || fail "accept4shim(1)'s --dry-run example is not what runs"
cmake -S "$src/tests/package/consumer" -B "$tmp/consumer" -DCONSUMER_WANTS="${version%.*}" \
  >"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "find_package from /usr"; }
grep -qx "accept4shim_DIR:PATH=/usr/lib/$multiarch/cmake/accept4shim" "$tmp/consumer/CMakeCache.txt" ||
  fail "find_package found another accept4shim: $(grep accept4shim_DIR "$tmp/consumer/CMakeCache.txt")"
grep -q "PRELOAD_LIBRARY=.*$lib" "$tmp/consumer/CMakeFiles/consumer_preload.dir/flags.make" ||
  fail "accept4shim_PRELOAD_LIBRARY is not $lib"

# Removed: every file it put there is gone, and its directories.
dpkg -r accept4shim >"$tmp/dpkg-r.log" 2>&1 || { cat "$tmp/dpkg-r.log" >&2; fail "dpkg -r"; }
installed=
status=$(dpkg-query -W -f='${Status}' accept4shim 2>/dev/null || true)
case $status in ""|*not-installed) ;; *) fail "after dpkg -r the status is '$status'" ;; esac
while read -r f; do
  if [ -d "$f" ]; then
    case $f in *accept4shim*) fail "directory $f is left" ;; esac
  elif [ -e "$f" ] || [ -L "$f" ]; then
    fail "$f is left"
  fi
done <"$tmp/files"
echo "deb: $(basename "$deb") installed, used from /usr and removed; Depends: $depends"
