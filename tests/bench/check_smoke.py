"""Smoke test of the benchmark: it runs, and what it prints is valid JSON.

usage: check_smoke.py SCRIPTS_BENCH BUILD_DIR WORK_DIR
"""
import json
import os
import shutil
import subprocess
import sys

bench_script, build, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
accept_bench = os.path.join(build, "bench", "accept_bench")
# The library under test: the stand-in proof (tests/standin) names its own.
lib = os.environ.get("A4S_LIBRARY", os.path.join(build, "libaccept4shim.so"))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def run_bench(env_extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ACCEPT4SHIM_") and k != "LD_PRELOAD"}
    env.update(env_extra)
    p = subprocess.run([accept_bench, "-n", "200", "-W", "20", "-b", "50", "-f", "both"],
                       env=env, capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "accept_bench exited %d: %s" % (p.returncode, p.stderr))
    lines = p.stdout.splitlines()
    check(len(lines) == 1, "accept_bench printed %d lines" % len(lines))
    r = json.loads(lines[0])
    check(r["n"] == 200 and r["accepts_per_s"] > 0 and r["seconds"] > 0,
          "accept_bench result: %s" % r)
    return r


# The program alone, then under the library with a JSON trace: one record
# per accept (warm-up included) and the exit summary.
run_bench({})
trace = os.path.join(work, "trace.json")
run_bench({"LD_PRELOAD": lib, "ACCEPT4SHIM_LOG": trace, "ACCEPT4SHIM_LOG_FORMAT": "json",
           "ACCEPT4SHIM_STATS": "1"})
with open(trace) as f:
    records = [json.loads(line) for line in f]
check(len(records) == 221, "%d trace lines for 220 accepts and a summary" % len(records))
check(records[-1].get("summary") == "exit" and records[-1].get("dropped") == 0,
      "last line is not a summary without drops: %s" % records[-1])

# The runner: every configuration once, its JSON file complete.
out = os.path.join(work, "smoke.json")
p = subprocess.run([sys.executable, bench_script, "--smoke", "--build", build, "--json", out],
                   capture_output=True, text=True, timeout=50)
check(p.returncode == 0, "scripts/bench --smoke exited %d: %s" % (p.returncode, p.stderr[-2000:]))
with open(out) as f:
    res = json.load(f)
rows = {c["name"]: c for c in res["configs"]}
for name in ("no-library", "native", "emulate-cloexec", "emulate-both", "bsd-accept",
             "add-cloexec", "trace-json-file", "trace-text-file", "trace-json-syslog",
             "strace"):
    check(name in rows, "no row for " + name)
    row = rows.get(name, {})
    if "skipped" in row:
        # Root, unshare(1) and strace are all there in CI and under
        # scripts/check (scripts/deps): a configuration that could not run
        # is a failure, not a quiet pass.
        check(False, "%s skipped: %s" % (name, row["skipped"]))
        continue
    check(row.get("accepts_per_s", {}).get("median", 0) > 0, name + ": no accepts/s")
    check(row["accepts_per_s"].get("ratio", 0) > 0, name + ": no ratio")
    check("syscalls_per_accept" in row, name + ": system calls not counted")
# What the SPEC promises, as the runner counted it.
check(rows["native"].get("extra_syscalls_per_accept") == {},
      "native makes extra system calls: %s" % rows["native"].get("extra_syscalls_per_accept"))
# The bench's listener blocks: an emulated SOCK_CLOEXEC first asks it
# whether a connection is there (ppoll), so that its accept never waits
# inside the fork window (docs/fork-window.md).
check(rows["emulate-both"].get("extra_syscalls_per_accept") == {"fcntl": 2, "ppoll": 1},
      "emulate with both flags: %s" % rows["emulate-both"].get("extra_syscalls_per_accept"))
check(rows["trace-json-file"].get("extra_syscalls_per_accept", {}).get("write") == 1,
      "JSON trace: %s" % rows["trace-json-file"].get("extra_syscalls_per_accept"))
check(isinstance(res.get("targets"), list) and res["targets"], "no targets in the JSON")

shutil.rmtree(work, ignore_errors=True)
if failures:
    sys.exit(1)
print("bench smoke: ok (%s s)" % res.get("seconds"))
