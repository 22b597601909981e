#!/usr/bin/python3
"""Real servers from Debian under accept4shim --collect.

    collect_servers.py SCENARIO --wrapper PATH

nginx_workers   nginx, a master and two worker processes, run through the
                wrapper's --collect with a JSON trace per process (%p):
                the records of accepted connections, across every
                worker's file, equal the requests in nginx's own access
                log; every record is of a worker; each worker's exit
                summary (written by the collector) counts its calls.
haproxy_threads haproxy with four threads: the records of connections
                accepted on the HTTP frontend equal haproxy's own count of
                that frontend's sessions (stot, from its stats socket).

Each runs the server in the foreground under the wrapper, drives requests,
stops the server, and checks what the wrapper left once it has exited: it
leaves only when the server and every process it made have exited and the
collector has written everything. Exit status 0 when every check holds.
"""
import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REQUESTS = 300
SCENARIO_SECONDS = 100


# The trace's own server tests' helpers (tests/trace/servers.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "trace"))
from servers import Failure, check, free_port, wait_for  # noqa: E402


def listening(port):
    """A first request, counted like the others (a connection closed
    without one would be an accept the server's counters miss)."""
    try:
        request(port)
        return True
    except OSError:
        return False


def request(port):
    """One HTTP/1.0 GET on a connection of its own: one accept."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: a4s\r\n\r\n")
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
        check(b" 200 " in got.split(b"\r\n", 1)[0], "not a 200: %r" % got[:80])


def records(d):
    """Every JSON line the collector wrote, by file."""
    out = {}
    for path in glob.glob(os.path.join(d, "trace-*.log")):
        with open(path) as f:
            out[path] = [json.loads(line) for line in f]
    return out


def run_wrapped(wrapper, d, command, collect_args):
    log = open(os.path.join(d, "wrapper.out"), "w")
    return subprocess.Popen(
        [wrapper, "--collect", "--log=%s/trace-%%p.log" % d, "--log-format=json", "--stats"]
        + collect_args + ["--"] + command,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": d})


def finish(proc, d, timeout=30):
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise Failure("the wrapper did not leave after the server stopped")
    with open(os.path.join(d, "wrapper.out")) as f:
        out = f.read()
    return status, out


NGINX_CONF = """
worker_processes 2;
pid {d}/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d};
    proxy_temp_path {d};
    fastcgi_temp_path {d};
    uwsgi_temp_path {d};
    scgi_temp_path {d};
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def scenario_nginx_workers(wrapper, d):
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(d=d, port=port))
    proc = run_wrapped(wrapper, d, ["/usr/sbin/nginx", "-p", d, "-c", conf, "-g",
                                    "daemon off; master_process on;"], [])
    try:
        wait_for("nginx on port %d" % port, lambda: listening(port))
        for _ in range(REQUESTS):
            request(port)
        with open(os.path.join(d, "nginx.pid")) as f:
            master = int(f.read())
        workers = [int(p) for p in subprocess.run(
            ["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()]
        os.kill(master, signal.SIGQUIT)  # graceful: workers end through exit()
        status, out = finish(proc, d)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    check(status == 0, "the wrapper exited %d:\n%s" % (status, out))
    with open(os.path.join(d, "access.log")) as f:
        served = sum(1 for _ in f)
    recs = records(d)
    accepted = [r for rs in recs.values() for r in rs if "summary" not in r and r["fd"] >= 0]
    check(served == REQUESTS + 1, "nginx logged %d requests, %d were made (+1 probe)"
          % (served, REQUESTS))
    check(len(accepted) == served, "%d accepts recorded, nginx served %d requests"
          % (len(accepted), served))
    pids = {r["pid"] for r in accepted}
    check(pids <= set(workers), "records of pids %s, the workers are %s" % (pids, workers))
    for path, rs in recs.items():
        own = {r["pid"] for r in rs}
        check(len(own) == 1, "%s holds records of %s" % (path, own))
        calls = sum(1 for r in rs if "summary" not in r)
        exits = [r for r in rs if r.get("summary") == "exit"]
        check(len(exits) == 1, "%s: %d exit summaries" % (path, len(exits)))
        check(exits[0]["calls"] == calls + exits[0]["dropped"],
              "%s: summary counts %d calls, %d records and %d dropped"
              % (path, exits[0]["calls"], calls, exits[0]["dropped"]))
    print("nginx_workers: %d requests served by %d workers, %d accepts recorded"
          % (served, len(pids), len(accepted)))


HAPROXY_CONF = """
global
    nbthread 4
    stats socket {d}/stats.sock mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend web
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string ok
"""


def haproxy_stat(sock, frontend, column):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        s.sendall(b"show stat\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    lines = data.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        fields = line.split(",")
        if fields[0] == frontend and fields[1] == "FRONTEND":
            return int(fields[header.index(column)])
    raise Failure("no %s frontend in haproxy's stats" % frontend)


def scenario_haproxy_threads(wrapper, d):
    port = free_port()
    conf = os.path.join(d, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write(HAPROXY_CONF.format(d=d, port=port))
    proc = run_wrapped(wrapper, d, ["/usr/sbin/haproxy", "-db", "-f", conf], [])
    try:
        wait_for("haproxy on port %d" % port, lambda: listening(port))
        for _ in range(REQUESTS):
            request(port)
        sessions = haproxy_stat(os.path.join(d, "stats.sock"), "web", "stot")
        os.kill(proc.pid, signal.SIGTERM)  # the wrapper passes it on
        status, out = finish(proc, d)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    recs = [r for rs in records(d).values() for r in rs]
    local = "127.0.0.1:%d" % port
    accepted = [r for r in recs if "summary" not in r and r["fd"] >= 0 and r["local"] == local]
    tids = {r["tid"] for r in accepted}
    check(sessions == REQUESTS + 1, "haproxy counted %d sessions, %d requests were made (+1 "
          "probe)" % (sessions, REQUESTS))
    check(len(accepted) == sessions, "%d accepts on %s recorded, haproxy counted %d sessions"
          % (len(accepted), local, sessions))
    check(len({r["pid"] for r in accepted}) == 1, "haproxy is one process")
    print("haproxy_threads: %d sessions, %d accepts recorded by %d threads (exit status %d)"
          % (sessions, len(accepted), len(tids), status))


SCENARIOS = {
    "nginx_workers": (scenario_nginx_workers, "/usr/sbin/nginx"),
    "haproxy_threads": (scenario_haproxy_threads, "/usr/sbin/haproxy"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--wrapper", required=True)
    args = ap.parse_args()
    fn, program = SCENARIOS[args.scenario]
    if not os.access(program, os.X_OK):
        print("FAIL: %s is not installed (scripts/deps/collector.txt installs it)" % program)
        return 1

    def on_alarm(signo, frame):
        raise Failure("the scenario took longer than %d s" % SCENARIO_SECONDS)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(SCENARIO_SECONDS)
    d = tempfile.mkdtemp(prefix="a4s-collect-servers-")
    try:
        fn(args.wrapper, d)
    except Failure as e:
        print("FAIL: %s: %s" % (args.scenario, e))
        out = os.path.join(d, "wrapper.out")
        if os.path.exists(out):
            with open(out) as f:
                print("--- wrapper and server output:\n" + f.read()[-3000:])
        return 1
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
