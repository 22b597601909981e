#!/usr/bin/env bash
# Installs the build into a temporary prefix and checks, from another
# working directory, that:
#  - the files are where SPEC says (P/bin, P/lib.../accept4shim, P/include,
#    P/share/man/man1 and man3, the pkg-config file);
#  - accept4shim.pc's libpath is the installed library's absolute path;
#  - the installed command preloads the installed library: a Python program
#    run through it accepts a connection and the trace shows the call;
#  - the installed accept4shim-report reads that trace and draws it;
#  - every man page renders with man -l and groff without a warning, and
#    man finds each by name.
# Usage: test_install.sh BUILD_DIR VERSION
set -euo pipefail
build=$1
version=$2
python=/usr/bin/python3

tmp=$(mktemp -d /tmp/a4s-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

unset DESTDIR LD_PRELOAD
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || {
  cat "$tmp/install.log" >&2; fail "cmake --install"; }

# Files, where SPEC puts them.
cmd=$prefix/bin/accept4shim
[ -x "$cmd" ] || fail "no $cmd"
[ -f "$prefix/include/accept4shim.h" ] || fail "no header"
libs=("$prefix"/lib*/accept4shim/libaccept4shim.so "$prefix"/lib*/*/accept4shim/libaccept4shim.so)
lib=
for l in "${libs[@]}"; do [ -f "$l" ] && lib=$l; done
[ -n "$lib" ] || fail "no library under $prefix/lib.../accept4shim/"
# The stand-in proof (tests/standin) puts its library that does nothing in
# place of the installed one: every check of the library's work must then
# fail.
if [ -n "${A4S_LIBRARY:-}" ]; then cp "$A4S_LIBRARY" "$lib"; fi
pages=(man1/accept4shim.1 man1/accept4shim-collector.1 man3/libaccept4shim.3
       man5/accept4shim-trace.5)
for page in "${pages[@]}"; do
  [ -f "$prefix/share/man/$page" ] || fail "no $page"
done
pcs=("$prefix"/lib*/pkgconfig/accept4shim.pc "$prefix"/lib*/*/pkgconfig/accept4shim.pc)
pc=
for p in "${pcs[@]}"; do [ -f "$p" ] && pc=$p; done
[ -n "$pc" ] || fail "no accept4shim.pc"

# Used from elsewhere: nothing may depend on the build tree or the cwd.
mkdir "$tmp/elsewhere"
cd "$tmp/elsewhere"

# pkg-config names the installed library by its absolute path.
export PKG_CONFIG_PATH=$(dirname "$pc")
libpath=$(pkg-config --variable=libpath accept4shim)
case $libpath in /*) ;; *) fail "libpath '$libpath' is not absolute" ;; esac
[ -f "$libpath" ] || fail "libpath '$libpath' does not exist"
[ "$(realpath "$libpath")" = "$(realpath "$lib")" ] || fail "libpath '$libpath' is not $lib"
[ "$(pkg-config --modversion accept4shim)" = "$version" ] || fail "pkg-config version"
pkg-config --cflags accept4shim | grep -q -- "-I$prefix/include" || fail "pkg-config cflags"
[ "$(pkg-config --variable=wrapper accept4shim)" = "$cmd" ] || fail "pkg-config wrapper"

# The installed command finds the installed library, relative to itself.
"$cmd" --version >"$tmp/version"
grep -qx "accept4shim $version" "$tmp/version" || fail "--version: $(cat "$tmp/version")"
grep -qx "library: $(realpath "$lib")" "$tmp/version" || fail "--version: $(cat "$tmp/version")"

# A program run through the installed command has the installed library:
# its accept4 call is traced, emulated as asked.
cat >"$tmp/accept_once.py" <<'PY'
import os, socket
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
cli = socket.create_connection(srv.getsockname())
conn, peer = srv.accept()
print("LD_PRELOAD=" + os.environ.get("LD_PRELOAD", ""))
print("accepted", peer[0])
PY
"$cmd" --mode=emulate --log-format=json --log="$tmp/trace.%p.json" -- \
  $python "$tmp/accept_once.py" >"$tmp/run.out" 2>"$tmp/run.err" ||
  fail "run through the installed command: $(cat "$tmp/run.err")"
[ ! -s "$tmp/run.err" ] || fail "stderr: $(cat "$tmp/run.err")"
grep -qx "LD_PRELOAD=$(realpath "$lib")" "$tmp/run.out" || fail "LD_PRELOAD: $(cat "$tmp/run.out")"
grep -qx "accepted 127.0.0.1" "$tmp/run.out" || fail "not accepted: $(cat "$tmp/run.out")"
$python - "$tmp" <<'PY' || fail "trace"
import glob, json, sys
records = [json.loads(line) for f in glob.glob(sys.argv[1] + "/trace.*.json")
           for line in open(f)]
assert len(records) == 1, records
r = records[0]
assert (r["call"], r["flags"], r["how"], r["errno"]) == \
    ("accept4", "SOCK_CLOEXEC", "emulated", None), r
assert r["fd"] >= 0 and r["peer"].startswith("127.0.0.1:"), r
PY

# The report is installed next to the command and runs from there, on that
# trace, with nothing from the source or build tree.
report=$prefix/bin/accept4shim-report
[ -x "$report" ] || fail "no $report"
env -i PATH=/usr/bin:/bin "$report" --svg "$tmp/trace.svg" "$tmp"/trace.*.json \
  >"$tmp/report.out" 2>"$tmp/report.err" || fail "accept4shim-report: $(cat "$tmp/report.err")"
[ ! -s "$tmp/report.err" ] || fail "accept4shim-report stderr: $(cat "$tmp/report.err")"
grep -q "^accept4shim-report: 1 file, 1 record, " "$tmp/report.out" ||
  fail "report: $(cat "$tmp/report.out")"
grep -q "^listener 127.0.0.1:" "$tmp/report.out" || fail "report: $(cat "$tmp/report.out")"
$python -c 'import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag' "$tmp/trace.svg" ||
  fail "the report drew no SVG"
"$report" --help >/dev/null || fail "accept4shim-report --help"

# Both pages render, and neither man nor groff has anything to say. The
# pages name the installed files, and this temporary prefix makes those
# paths long: an example line holding one cannot fit 80 columns, so the
# pages are rendered wider here (tests/package renders the packaged pages,
# under /usr, at 80).
for page in "${pages[@]/#/$prefix/share/man/}"; do
  LC_ALL=C.UTF-8 MANWIDTH=160 man --warnings -E UTF-8 -l "$page" >"$tmp/page" 2>"$tmp/page.err" ||
    fail "man -l $page: $(cat "$tmp/page.err")"
  [ ! -s "$tmp/page.err" ] || fail "man -l $page warns: $(cat "$tmp/page.err")"
  grep -q '^NAME' "$tmp/page" || fail "$page has no NAME"
  [ "$(wc -l <"$tmp/page")" -gt 60 ] || fail "$page is too short"
  # No placeholder of the unrendered source is left.
  ! grep -q 'MAJOR.MINOR.PATCH\|PREFIX/' "$tmp/page" || fail "$page keeps a placeholder"
  groff -man -ww -z -Tutf8 "$page" 2>"$tmp/groff.err" || fail "groff $page"
  [ ! -s "$tmp/groff.err" ] || fail "groff warns on $page: $(cat "$tmp/groff.err")"
done
# man finds them by name in the installed tree, the functions' names too.
export MANPATH=$prefix/share/man
for name in accept4shim-trace accept4shim-collector accept4shim libaccept4shim \
            accept4shim_get_stats accept4shim_config; do
  LC_ALL=C.UTF-8 MANWIDTH=80 man "$name" >"$tmp/page" 2>"$tmp/page.err" || fail "man $name"
  grep -q '^NAME' "$tmp/page" || fail "man $name: nothing rendered"
done
grep -q 'accept4shim_get_stats' "$tmp/page" || fail "man accept4shim_get_stats: wrong page"

echo "install: every check passed"
