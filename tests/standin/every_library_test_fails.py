#!/usr/bin/python3
"""The proof that the tests test the library: every library-mode ctest
entry (label library_mode) must fail when the library is replaced by a
stand-in that does nothing (standin.c).

    every_library_test_fails.py BUILD LIBRARY WRAPPER STANDIN_DIR

Reads the entries with `ctest --show-only=json-v1` in BUILD and runs each
one's command itself, with its environment, every mention of LIBRARY (the
real library) and WRAPPER (the real accept4shim command) replaced by
STANDIN_DIR/libaccept4shim.so and STANDIN_DIR/accept4shim (a copy of the
command, which finds the stand-in next to itself), and A4S_LIBRARY and
A4S_WRAPPER naming them for the tests that run programs themselves. Each
must exit non-zero; the startup checks make most fail at once. Also fails
if an entry outside the label mentions the library or the wrapper (a suite
that forgot its label would escape the proof), except those listed in
NOT_LIBRARY_MODE with the reason.
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

# Entries that mention the library or the command without being
# library-mode, and why (a name ending in '*' covers every name it begins).
NOT_LIBRARY_MODE = {
    # They build their own library from the sources and run suites on it:
    # there is no file to put the stand-in in place of.
    "sanitizers.asan_ubsan": "builds its own instrumented library",
    "sanitizers.tsan": "builds its own instrumented library",
    # The library is linked in (DT_NEEDED) as well as preloaded: a stand-in
    # in LD_PRELOAD passes the calls on to it.
    "reach.glibc_linked.*": "the library is linked into the program",
    # The command's warning about the program it runs, not the library's work.
    "reach.wrapper.warns_*": "the wrapper's warning",
    # A static program with the archive: the shared library plays no part.
    "reach.wrapper.runs_a_glibc_static_program_*": "the archive, not the library",
}


def exempt(name):
    return any(name == k or (k.endswith("*") and name.startswith(k[:-1]))
               for k in NOT_LIBRARY_MODE)


def ctest_entries(build):
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["tests"]


def prop(test, name, default=None):
    for p in test.get("properties", []):
        if p["name"] == name:
            return p["value"]
    return default


def main():
    build, library, wrapper, standin_dir = sys.argv[1:5]
    standin = os.path.join(standin_dir, "libaccept4shim.so")
    standin_wrapper = os.path.join(standin_dir, "accept4shim")
    for f in (standin, standin_wrapper):
        if not os.path.exists(f):
            print("missing %s" % f)
            return 1

    def swap(text):
        return text.replace(library, standin).replace(wrapper, standin_wrapper)

    entries, problems = [], []
    for t in ctest_entries(build):
        labels = prop(t, "LABELS", [])
        mentions = any(library in a or wrapper in a for a in t.get("command", [])) or \
            any(library in e or wrapper in e for e in prop(t, "ENVIRONMENT", []))
        if "library_mode" in labels:
            entries.append(t)
        elif mentions and not exempt(t["name"]) and not t["name"].startswith("standin."):
            problems.append("%s uses the library but has no library_mode label" % t["name"])
    if not entries:
        problems.append("no entry has the label library_mode")

    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("ACCEPT4SHIM_", "A4S_")) and k != "LD_PRELOAD"}

    def run(t):
        env = dict(base_env)
        for e in prop(t, "ENVIRONMENT", []):
            name, _, value = e.partition("=")
            env[name] = swap(value)
        env["A4S_LIBRARY"] = standin
        env["A4S_WRAPPER"] = standin_wrapper
        command = [swap(a) for a in t["command"]]
        cwd = prop(t, "WORKING_DIRECTORY", build)
        started = time.monotonic()
        try:
            p = subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, errors="replace",
                               timeout=min(float(prop(t, "TIMEOUT", 120)), 180))
            code, output = p.returncode, (p.stderr + p.stdout).strip()
        except subprocess.TimeoutExpired:
            return t["name"], "timeout", time.monotonic() - started, "", False
        # What the check itself says, as ctest judges it (WILL_FAIL aside:
        # a known defect's case must fail with the stand-in too).
        passed = code == 0
        if prop(t, "PASS_REGULAR_EXPRESSION"):
            passed = any(re.search(r, p.stdout + p.stderr)
                         for r in prop(t, "PASS_REGULAR_EXPRESSION"))
        if prop(t, "FAIL_REGULAR_EXPRESSION") and any(
                re.search(r, p.stdout + p.stderr) for r in prop(t, "FAIL_REGULAR_EXPRESSION")):
            passed = False
        return t["name"], code, time.monotonic() - started, output, passed

    passed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for name, code, secs, output, ok in pool.map(run, entries):
            first = next((l for l in output.splitlines() if l.strip()), "")
            if ok:
                passed.append(name)
                print("PASSED WITH THE STAND-IN: %s (%.1f s)\n%s" % (name, secs, output))
            else:
                print("%-90s fails (%s, %.1f s): %s" % (name, code, secs, first[:140]))
    problems += ["%s passed with a library that does nothing" % n for n in passed]
    print("%d library-mode entries run with the stand-in, %d failed as they must"
          % (len(entries), len(entries) - len(passed)))
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
