#!/usr/bin/python3
"""Real servers killed without running their exit handlers still leave their
counts: SPEC ACCEPT4SHIM_STATS_INTERVAL, "so a server killed without exiting
still leaves its counts".

    killed.py SCENARIO --wrapper PATH

python_http_server_sigterm
    python3 -m http.server has no SIGTERM handler: `systemctl stop` or
    `docker stop` kill it, and no exit handler runs. Under --stats alone it
    leaves no summary at all (checked first, so the case shows what it
    fixes); with --stats-interval=1 it leaves interval summaries whose
    totals are exactly the calls recorded before each of them.
nginx_sigkill_with_log_skip
    nginx, one worker with multi_accept on: it drains its queue until
    accept4 says EAGAIN. Killed with SIGKILL (as the OOM killer does).
    Without --log-skip the trace has EAGAIN records (the premise); with
    --log-skip=EAGAIN it has none, while the interval summaries count every
    EAGAIN, and their totals match the records before them.

The helpers (a server in its own session, stopped with nothing left
behind; curl; reading the traces) are tests/servers/e2e.py's.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
import e2e  # noqa: E402
from e2e import Failure, check  # noqa: E402

SECOND = 10 ** 9


def kill_and_wait(server, sig):
    """sig to every process of the server's session; then each must have
    died of it, not exited."""
    for pid in server.pids():
        os.kill(pid, sig)
    try:
        server.proc.wait(10)
    except Exception:
        raise Failure("%s did not die of signal %d" % (server.name, sig))
    check(server.proc.returncode == -sig,
          "%s: status %s, not killed by signal %d (a handler ran?)"
          % (server.name, server.proc.returncode, sig))
    e2e.wait_for("the rest of %s to die" % server.name, lambda: not server.pids())
    server.out.close()


def lines_of(trace_dir):
    return e2e.read_traces(trace_dir)


def check_intervals(lines, skipped=()):
    """What interval summaries promise, against the records around them:
    each interval at least a period long; its counts add up to its totals;
    and (one accepting thread) its totals are the calls recorded before
    it, plus the skipped ones it counted. Returns the summaries."""
    sums = [r for r in lines if r.get("summary") == "interval"]
    running = {}
    for i, r in enumerate(lines):
        if r.get("summary") != "interval":
            continue
        check(r["interval_ns"] >= SECOND, "an interval shorter than the period: %s" % r)
        for k in ("calls", "accepted", "failed", "emulated", "retried_calls", "retries"):
            running[k] = running.get(k, 0) + r[k]
            check(r["total_" + k] == running[k],
                  "total_%s %s, the intervals add up to %s: %s" % (k, r["total_" + k],
                                                                  running[k], r))
        before = [x for x in lines[:i] if "call" in x]
        skipped_count = sum(r["total_errors"].get(e, 0) for e in skipped)
        check(r["total_calls"] == len(before) + skipped_count,
              "total_calls %d, but %d records before it and %d skipped calls: %s"
              % (r["total_calls"], len(before), skipped_count, r))
        check(r["total_accepted"] == len([x for x in before if x["errno"] is None]),
              "total_accepted %d against the records before it: %s" % (r["total_accepted"], r))
    return sums


def requests(port, n):
    for _ in range(n):
        check(e2e.curl(port, "/a.txt") == "alpha\n", "wrong body")


def scenario_python_http_server_sigterm(t):
    www = t.mkdir("www")
    t.write("www/a.txt", "alpha\n")
    argv = ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", www]

    # Without intervals: a SIGTERM leaves no summary at all.
    port, traces = e2e.free_port(), t.mkdir("traces-exit-only", mode=0o1777)
    s = t.start("python-exit-only", t.under_wrapper(traces, ["--stats"], argv + [str(port)]))
    s.wait_listening(port)
    e2e.check_exec(s, "python3")
    requests(port, 3)
    kill_and_wait(s, signal.SIGTERM)
    t.servers.remove(s)
    lines = lines_of(traces)
    check(len([r for r in lines if "call" in r]) == 3, "records: %s" % lines)
    check(not [r for r in lines if "summary" in r],
          "a summary from a server killed by SIGTERM without intervals: %s" % lines)

    # With intervals of 1 s: pauses of 1.1 s between bursts, so that at
    # least one interval has passed before each burst's first call.
    port, traces = e2e.free_port(), t.mkdir("traces", mode=0o1777)
    s = t.start("python", t.under_wrapper(traces, ["--stats", "--stats-interval=1"],
                                          argv + [str(port)]))
    s.wait_listening(port)
    bursts = (3, 2, 2)
    for i, n in enumerate(bursts):
        if i:
            time.sleep(1.1)
        requests(port, n)
    kill_and_wait(s, signal.SIGTERM)
    t.servers.remove(s)
    lines = lines_of(traces)
    records = [r for r in lines if "call" in r]
    check(len(records) == sum(bursts) and all(r["errno"] is None for r in records),
          "records: %s" % records)
    check(not [r for r in lines if r.get("summary") == "exit"], "an exit summary after SIGTERM")
    sums = check_intervals(lines)
    check(len(sums) >= len(bursts) - 1,
          "%d interval summaries for %d pauses of 1.1 s" % (len(sums), len(bursts) - 1))
    print("python3 -m http.server, SIGTERM: %d records, %d interval summaries, the last "
          "counting %d calls" % (len(records), len(sums), sums[-1]["total_calls"]))


NGINX_CONF = e2e.NGINX_CONF.replace("worker_connections 64;",
                                    "worker_connections 64; multi_accept on;")


def start_nginx(t, name, port, options, traces):
    t.mkdir("tmp", mode=0o1777)
    conf = t.write(name + ".conf", NGINX_CONF.format(dir=t.dir, port=port))
    s = t.start(name, t.under_wrapper(traces, options, [
        "/usr/sbin/nginx", "-e", t.path("error.log"), "-p", t.dir, "-c", conf,
        "-g", "daemon off; master_process on;"]))
    s.wait_listening(port)
    return s


def scenario_nginx_sigkill_with_log_skip(t):
    check("multi_accept on;" in NGINX_CONF, "the nginx configuration changed under us")
    www = t.mkdir("www")
    t.write("www/a.txt", "alpha\n")
    bursts = (3, 3, 2)

    def run(label, options):
        port, traces = e2e.free_port(), t.mkdir("traces-" + label, mode=0o1777)
        s = start_nginx(t, "nginx-" + label, port, options, traces)
        for i, n in enumerate(bursts):
            if i:
                time.sleep(1.1)
            requests(port, n)
        kill_and_wait(s, signal.SIGKILL)
        t.servers.remove(s)
        return lines_of(traces)

    # The premise: nginx drains its queue to EAGAIN, and the trace says so.
    lines = run("all", ["--stats"])
    eagain = [r for r in lines if "call" in r and r["errno"] == "EAGAIN"]
    check(eagain, "nginx with multi_accept made no call that failed with EAGAIN: %s" % lines)

    lines = run("skip", ["--stats", "--stats-interval=1", "--log-skip=EAGAIN"])
    records = [r for r in lines if "call" in r]
    check(len(records) == sum(bursts) and all(r["errno"] is None for r in records),
          "with --log-skip=EAGAIN, records: %s" % records)
    sums = check_intervals(lines, skipped=("EAGAIN",))
    check(len(sums) >= len(bursts) - 1, "%d interval summaries" % len(sums))
    last = sums[-1]
    check(last["total_errors"].get("EAGAIN", 0) > 0,
          "the skipped EAGAIN calls are not counted: %s" % last)
    check(last["total_calls"] == last["total_accepted"] + last["total_errors"]["EAGAIN"],
          "calls other than accepted and EAGAIN: %s" % last)
    print("nginx, SIGKILL, --log-skip=EAGAIN: %d records, none EAGAIN; the last interval "
          "summary counts %d calls, %d of them EAGAIN"
          % (len(records), last["total_calls"], last["total_errors"]["EAGAIN"]))


SCENARIOS = {
    "python_http_server_sigterm": scenario_python_http_server_sigterm,
    "nginx_sigkill_with_log_skip": scenario_nginx_sigkill_with_log_skip,
}


def main():
    return e2e.run(SCENARIOS)


if __name__ == "__main__":
    sys.exit(main())
