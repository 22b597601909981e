#!/usr/bin/python3
"""What one accept costs, counted rather than timed, and the budgets it must
stay within (issue 12). The one place these figures are computed: the perf
ctest (tests/perf) runs this with --check, scripts/bench imports it.

    scripts/perf_budgets.py [--build DIR] [--check] [--json FILE]

Instructions: valgrind --tool=callgrind counts the user-space instructions
executed inside bench_accept_one, the accept call of build/bench/accept_bench
(the library, libc's accept4 wrapper and whatever they call; not the
kernel), over a fixed number of accepts made after a warm-up that is not
counted (its accepts go through bench_accept_warmup), with LD_BIND_NOW=1 so
that no first-call binding lands in the count. "+N" rows subtract the row
named in "over": "+900 over native" is the cost of the JSON record alone.
System calls: strace of the server process alone (the forked client is not
traced), cut to the counted accepts by accept_bench's marker calls; per
accept, the calls made inside the accept call (the loop's own close is not
counted: the reference row without the library shows what the loop makes).

Pinned so that the figures repeat, run after run, on machines of one kind
(the same Debian, the same CPU features for libc's ifuncs): the same binary,
an environment of nothing but PATH and the row's variables, fixed counts,
start-up excluded. Records that a trace row writes are checked (one per
accept, none dropped): a row cannot pass by writing less.

Every row with a budget is asserted (issue 12's table, plus the fork
window's blocking-listener row, budgeted apart); reference rows are shown.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ASSERTED = "asserted"
REFERENCE = "reference"

# accept_bench's run for every row: counted accepts, warm-up, batch.
COUNTED = 300
WARMUP = 30
BATCH = 100
BOTH_FLAGS = ["-c", "accept4", "-f", "both"]

MARK_BEGIN = "close(-4701)"
MARK_END = "close(-4702)"
CALLGRIND_FUNCTION = "bench_accept_one"


def row(name, what, metric, env=None, lib=True, trace=None, over=None, budget=None,
        state=ASSERTED, args=BOTH_FLAGS):
    return dict(name=name, what=what, metric=metric, env=env or {}, lib=lib, trace=trace,
                over=over, budget=budget, state=state, args=args)


NATIVE = {"ACCEPT4SHIM_MODE": "native"}
# Not issue 12's: what an emulated accept4 from a blocking listener costs
# with the fork window's ppoll and claim (docs/performance.md), measured
# +303 when it was set.
EMULATE_BLOCKING_BUDGET = 320

# Configuration -> environment -> budget. Every budget row is asserted by
# the perf ctest; a reference row is only shown.
ASYNC = ["-l", "async"]
ROWS = [
    row("bare", "no library: the loop's accept4, libc's wrapper alone",
        "instructions", lib=False, state=REFERENCE),
    row("native", "MODE=native, accept4 with both flags", "instructions",
        env=NATIVE, over="bare", budget=40),
    row("auto", "MODE=auto (accept4 works), both flags", "instructions",
        env={"ACCEPT4SHIM_MODE": "auto"}, over="bare", budget=60),
    # accept() under the default MODE=auto, the call of legacy servers
    # (ADD_FLAGS is for them): the same budgets as accept4's native and
    # auto rows (not in the table; added with the fast path).
    row("bare-accept", "no library: the loop's accept()", "instructions", lib=False,
        state=REFERENCE, args=["-c", "accept"]),
    row("accept", "MODE=auto, accept() with nothing to add", "instructions",
        over="bare-accept", budget=40, args=["-c", "accept"]),
    row("accept-added", "MODE=auto, accept() with ADD_FLAGS=SOCK_CLOEXEC", "instructions",
        env={"ACCEPT4SHIM_ADD_FLAGS": "SOCK_CLOEXEC"}, over="bare-accept", budget=60,
        args=["-c", "accept"]),
    # The emulation the issue budgets: the accept and one system call per
    # flag, which is what it is on a non-blocking listener (every
    # event-driven server's).
    row("bare-async", "no library, non-blocking listener", "instructions", lib=False,
        state=REFERENCE, args=BOTH_FLAGS + ASYNC),
    row("emulate", "MODE=emulate, both flags, non-blocking listener", "instructions",
        env={"ACCEPT4SHIM_MODE": "emulate"}, over="bare-async", budget=150,
        args=BOTH_FLAGS + ASYNC),
    # From a blocking listener the fork window first asks whether a
    # connection is there (a ppoll) and lets one thread at a time accept
    # (docs/fork-window.md, issue 15): that price is budgeted apart, at
    # what it measures, so that it cannot grow unnoticed.
    row("emulate-blocking", "MODE=emulate, both flags, blocking listener: the fork window's "
        "ppoll and claim on top", "instructions", env={"ACCEPT4SHIM_MODE": "emulate"},
        over="bare", budget=EMULATE_BLOCKING_BUDGET),
    row("json-file", "one JSON record to a file, on top of native", "instructions",
        env=dict(NATIVE, ACCEPT4SHIM_LOG_FORMAT="json"), trace="json", over="native",
        budget=900),
    row("text-file", "one text record to a file, on top of native", "instructions",
        env=dict(NATIVE, ACCEPT4SHIM_LOG_FORMAT="text"), trace="text", over="native",
        budget=900),
    # Issue 14: the record goes into the process's ring, which a collector
    # (started by the row, writing JSON to a file) drains; checked like the
    # file rows: one record per accept reached the collector's file.
    row("collector", "one record to the collector's ring, on top of native", "instructions",
        env=dict(NATIVE, ACCEPT4SHIM_LOG_FORMAT="json"), trace="collector", over="native",
        budget=300),
    row("calls-bare", "no library: system calls in the accept call", "syscalls",
        lib=False, state=REFERENCE),
    row("calls-native", "MODE=native, both flags: the accept alone", "syscalls",
        env=NATIVE, budget=1),
    row("calls-emulate", "MODE=emulate, both flags, non-blocking listener: the accept "
        "and one per flag", "syscalls", env={"ACCEPT4SHIM_MODE": "emulate"}, budget=3,
        args=BOTH_FLAGS + ASYNC),
    # SOCK_CLOEXEC emulated from a blocking listener first asks whether a
    # connection is there, so that its accept never waits inside the fork
    # window (docs/fork-window.md): one call more than the SPEC's budget.
    row("calls-blocking", "MODE=emulate, both flags, blocking listener: a ppoll, "
        "the accept and one per flag", "syscalls", env={"ACCEPT4SHIM_MODE": "emulate"},
        budget=4),
    # The listener's address is kept (shim/listeners.h): the accept,
    # getpeername, the trace's identity check (statx) and its write.
    row("calls-traced", "JSON record to a file: system calls per traced accept",
        "syscalls", env=dict(NATIVE, ACCEPT4SHIM_LOG_FORMAT="json"), trace="json",
        budget=4),
    row("calls-collector", "record to the collector's ring: the accept and getpeername",
        "syscalls", env=dict(NATIVE, ACCEPT4SHIM_LOG_FORMAT="json"), trace="collector",
        budget=2),
]


class MeasureError(Exception):
    pass


def bench_env(lib_path, lib, env):
    """Nothing from the caller's environment but PATH: the same variables,
    so the same work, wherever and by whomever it runs."""
    out = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if lib:
        out["LD_PRELOAD"] = lib_path
        out.update(env)
    return out


def run(cmd, env, timeout=600):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise MeasureError("%s exited %d: %s" % (" ".join(cmd), p.returncode,
                                                 p.stderr.strip()[-600:]))
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise MeasureError("no result from accept_bench: %r" % p.stdout[-300:])


def bench_command(bench, args, n, warmup):
    return [bench, "-n", str(n), "-W", str(warmup), "-b", str(BATCH)] + list(args)


def accepts_counted(res):
    """Every call of bench_accept_one: the counted accepts, and those that
    found a non-blocking listener's queue empty."""
    return res["n"] + res["empty_queue"]


def instructions_per_accept(bench, env, args, n=COUNTED, warmup=WARMUP, wrap=None):
    """User-space instructions per counted accept call, and accept_bench's
    result. wrap: a function that wraps the whole command (scripts/bench's
    syslog namespace)."""
    d = tempfile.mkdtemp(prefix="a4s-cg-")
    try:
        cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=" + CALLGRIND_FUNCTION,
               "--callgrind-out-file=%s/cg.%%p" % d] + bench_command(bench, args, n, warmup)
        env = dict(env, LD_BIND_NOW="1")
        res = run(wrap(cmd) if wrap else cmd, env)
        total = 0
        for name in os.listdir(d):
            with open(os.path.join(d, name)) as f:
                for line in f:
                    if line.startswith(("totals:", "summary:")):
                        # the server's file; the client's counts nothing
                        total = max(total, int(line.split()[1]))
        return total / accepts_counted(res), res
    finally:
        shutil.rmtree(d, ignore_errors=True)


def syscalls_per_accept(bench, env, args, n=COUNTED, warmup=WARMUP, wrap=None):
    """System calls per counted accept in the server's loop, by name (the
    loop's own close included), and accept_bench's result."""
    fd, out = tempfile.mkstemp(prefix="a4s-strace-")
    os.close(fd)
    try:
        cmd = ["strace", "-qq", "-o", out] + bench_command(bench, args, n, warmup)
        res = run(wrap(cmd) if wrap else cmd, env)
        counts, inside = {}, False
        with open(out) as f:
            for line in f:
                if line.startswith(MARK_BEGIN):
                    inside = True
                elif line.startswith(MARK_END):
                    inside = False
                elif inside:
                    m = re.match(r"([a-z_0-9]+)\(", line)
                    if m:
                        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        if not counts:
            raise MeasureError("no system calls between the markers")
        return {k: v / n for k, v in sorted(counts.items())}, res
    finally:
        os.unlink(out)


def check_trace(path, kind, expected):
    """The records really went out, one per accept (a dropped record is
    cheaper and would flatter the figure)."""
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    if len(lines) != expected:
        raise MeasureError("%s trace: %d records for %d accepts" % (kind, len(lines), expected))
    for ln in (lines[0], lines[-1]):
        if kind == "json":
            rec = json.loads(ln)
            if "ts" not in rec or "dur_ns" not in rec:
                raise MeasureError("not a record: %r" % ln)
        elif not ln.startswith(b"accept4shim: ts="):
            raise MeasureError("not a record: %r" % ln)


class Measurer:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.lib = os.path.join(self.build, "libaccept4shim.so")
        self.bench = os.path.join(self.build, "bench", "accept_bench")
        self.collector = os.path.join(self.build, "accept4shim-collector")
        self.tmp = tempfile.mkdtemp(prefix="a4s-budgets-")

    def missing(self):
        why = [t + " is not installed" for t in ("valgrind", "strace") if not shutil.which(t)]
        why += [f + " is missing (build first)" for f in (self.lib, self.bench, self.collector)
                if not os.path.exists(f)]
        return why

    def raw(self, r):
        """The row's own figure: instructions per accept, or system calls
        per accept by name."""
        env = bench_env(self.lib, r["lib"], r["env"])
        trace = os.path.join(self.tmp, "trace-%s" % r["name"])
        collector = None
        if r["trace"] == "collector":
            collector, sock = self.start_collector(trace)
            env["ACCEPT4SHIM_LOG"] = "collector:" + sock
        elif r["trace"]:
            env["ACCEPT4SHIM_LOG"] = trace
        fn = instructions_per_accept if r["metric"] == "instructions" else syscalls_per_accept
        try:
            value, res = fn(self.bench, env, r["args"])
        finally:
            if collector:
                # SIGTERM: it writes what the ring holds, then exits.
                collector.terminate()
                collector.wait(timeout=60)
        if r["trace"]:
            check_trace(trace, "json" if r["trace"] == "collector" else r["trace"],
                        res["n"] + WARMUP + res["empty_queue"])
            os.unlink(trace)
        return value

    def start_collector(self, trace):
        """accept4shim-collector writing JSON to trace, listening in a
        private directory of its own."""
        d = tempfile.mkdtemp(prefix="a4s-col-", dir=self.tmp)
        sock = os.path.join(d, "sock")
        p = subprocess.Popen([self.collector, "--socket=" + sock, "--log=" + trace,
                              "--log-format=json"], stdin=subprocess.DEVNULL)
        for _ in range(2000):
            if os.path.exists(sock) or p.poll() is not None:
                break
            time.sleep(0.005)
        if not os.path.exists(sock):
            p.kill()
            p.wait()
            raise MeasureError("the collector did not start")
        return p, sock

    def measure(self, rows=ROWS):
        """Every row's measured value (instructions: over its "over" row if
        it has one; system calls: those made inside the accept call)."""
        raw = {r["name"]: self.raw(r) for r in rows}
        out = []
        for r in rows:
            v = raw[r["name"]]
            if r["metric"] == "syscalls":
                base = raw["calls-bare"]
                loop_own = sum(base.values()) - base.get("accept", 0) - base.get("accept4", 0)
                by_name = v
                v = sum(v.values()) - loop_own
            else:
                by_name = None
                if r["over"]:
                    v -= raw[r["over"]]
            res = dict(r, measured=round(v, 2))
            if by_name is not None:
                res["syscalls_in_loop"] = by_name
            if r["state"] == ASSERTED:
                res["result"] = "ok" if v <= r["budget"] else "OVER BUDGET"
            else:
                res["result"] = "reference"
            out.append(res)
        return out

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def measure(build):
    m = Measurer(build)
    try:
        why = m.missing()
        if why:
            raise MeasureError("; ".join(why))
        return m.measure()
    finally:
        m.cleanup()


def fmt_value(r, v):
    if v is None:
        return "-"
    if r["metric"] == "instructions" and r["over"]:
        return "%+.1f" % v
    return "%.1f" % v if r["metric"] == "instructions" else "%.2f" % v


def table(rows):
    lines = ["%-16s %10s %7s  %-11s  %s" % ("row", "measured", "budget", "result",
                                             "configuration")]
    lines.append("-" * 120)
    for r in rows:
        budget = "-" if r["budget"] is None else (
            "+%g" % r["budget"] if r["metric"] == "instructions" and r["over"] else
            "%g" % r["budget"])
        what = r["what"] + (" (over %s)" % r["over"] if r["over"] else "")
        lines.append("%-16s %10s %7s  %-11s  %s" % (
            r["name"], fmt_value(r, r["measured"]), budget, r["result"], what))
    lines.append("calls-* rows: system calls per accept, inside the accept call (strace of the "
                 "server, between accept_bench's markers);")
    lines.append("the others: user-space instructions per accept, inside the accept call "
                 "(callgrind --toggle-collect=%s," % CALLGRIND_FUNCTION)
    lines.append("%d accepts counted after %d that are not)." % (COUNTED, WARMUP))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when an asserted row is over its budget")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args()
    try:
        rows = measure(args.build)
    except (MeasureError, subprocess.TimeoutExpired) as e:
        print("perf budgets: cannot measure: %s" % e, file=sys.stderr)
        return 1
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "counted": COUNTED, "warmup": WARMUP}, f, indent=1)
            f.write("\n")
    over = [r["name"] for r in rows if r.get("result") == "OVER BUDGET"]
    if over:
        print("over budget: %s" % ", ".join(over))
        return 1 if args.check else 0
    asserted = sum(1 for r in rows if r["state"] == ASSERTED)
    print("%d rows asserted and within budget" % asserted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
