#!/usr/bin/python3
"""The trace as operators run it, on Debian's own programs.

    servers.py SCENARIO --library LIB --tracecheck TRACECHECK

nginx_nobody        issue 11.2: nginx's workers, dropped to nobody, cannot
                    open a trace in a root-owned directory: each says so on
                    stderr, once, in the documented words; every call is
                    counted as dropped in its exit summary, which goes to
                    stderr; the master creates nothing either.
logrotate_create    issue 11.3: Debian's logrotate rotates a live nginx's
                    trace (`create`) while clients keep connecting: no
                    record is lost (the accepts recorded across every
                    rotated file equal the requests in nginx's own access
                    log), and the old files are let go.
logrotate_copytruncate
                    the same with `copytruncate`, rotated between bursts of
                    clients: logrotate's own caveat is that what is written
                    between its copy and its truncate is lost, so the trace
                    must not be written then; the library needs nothing
                    for this mode but O_APPEND.

Each scenario runs nginx with the library preloaded by LD_PRELOAD in a
directory of its own, on a free loopback port, and stops it with SIGQUIT
(a graceful stop: workers end through exit(), so the library's exit summary
is written). Exit status 0 when every check holds.
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
import threading
import time

SCENARIO_SECONDS = 100


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for " + what)
        time.sleep(0.05)


def request(port):
    """One HTTP/1.0 GET on a connection of its own: one accept."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: a4s\r\n\r\n")
        while s.recv(4096):
            pass


NGINX_CONF = """
{user}
worker_processes {workers};
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log {access};
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  server {{ listen 127.0.0.1:{port}; root {dir}/www; }}
}}
"""


class Nginx:
    def __init__(self, t, env, user="", workers=1, master=True, access="off"):
        self.t = t
        self.port = free_port()
        os.makedirs(t.path("tmp"), exist_ok=True)
        os.chmod(t.path("tmp"), 0o1777)
        os.makedirs(t.path("www"), exist_ok=True)
        with open(t.path("www", "index.html"), "w") as f:
            f.write("accept4shim\n")
        conf = t.path("nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(user=user, workers=workers, dir=t.dir, port=self.port,
                                      access=access))
        self.out_path = t.path("nginx.out")
        self.out = open(self.out_path, "wb")
        # error_log to stderr (-e stderr, and no error_log in the
        # configuration): nginx then leaves fd 2 as it was started, the
        # stderr the library's complaints and summaries go to.
        self.proc = subprocess.Popen(
            ["/usr/sbin/nginx", "-e", "stderr", "-p", t.dir, "-c", conf, "-g",
             "daemon off; master_process %s;" % ("on" if master else "off")],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT, env=env,
            cwd=t.dir, start_new_session=True)
        t.servers.append(self)
        wait_for("nginx on port %d" % self.port, self.listening)

    def listening(self):
        """From /proc/net/tcp: a connection to find out would be an accept
        more than the requests."""
        if self.proc.poll() is not None:
            raise Failure("nginx exited with %s:\n%s" % (self.proc.returncode, self.output()))
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == self.port and fields[3] == "0A":
                    return True
        return False

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def pids(self):
        found = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    text = f.read()
            except OSError:
                continue
            rest = text[text.rindex(")") + 2:].split()
            if rest[0] != "Z" and int(rest[3]) == self.proc.pid:
                found.append(int(text.split()[0]))
        return found

    def fd_targets(self):
        """Every descriptor target of every live nginx process."""
        targets = []
        for pid in self.pids():
            for fd in glob.glob("/proc/%d/fd/*" % pid):
                try:
                    targets.append(os.readlink(fd))
                except OSError:
                    pass
        return targets

    def stop(self):
        """SIGQUIT, nginx's graceful stop; SIGKILL after 20 s."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                for pid in self.pids():
                    os.kill(pid, signal.SIGKILL)
                self.proc.wait(5)
                raise Failure("nginx did not stop on SIGQUIT")
        wait_for("nginx's workers to end", lambda: not self.pids())
        self.out.close()
        if self in self.t.servers:
            self.t.servers.remove(self)


class Session:
    def __init__(self, args):
        self.args = args
        self.servers = []
        self.dir = tempfile.mkdtemp(prefix="a4s-trace-servers-")
        os.chmod(self.dir, 0o755)  # nginx's workers run as nobody

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def env(self, **variables):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("ACCEPT4SHIM_") and k != "LD_PRELOAD"}
        env["LD_PRELOAD"] = os.path.abspath(self.args.library)
        env.update(variables)
        return env

    def cleanup(self):
        for s in list(self.servers):
            try:
                s.stop()
            except Failure:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def records(paths, tracecheck):
    """The records of the trace files, checked by tracecheck.py (strict:
    every line whole and valid), as dicts of their fields."""
    out = []
    for p in paths:
        r = subprocess.run([sys.executable, tracecheck, p], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        check(r.returncode == 0, "tracecheck %s: %s" % (p, r.stderr))
        for line in r.stdout.splitlines():
            kind, _, rest = line.partition(" ")
            fields = dict(kv.split("=", 1) for kv in rest.split(" "))
            fields["kind"] = kind
            out.append(fields)
    return out


def scenario_nginx_nobody(t):
    rootonly = t.path("rootonly")
    os.mkdir(rootonly, 0o755)
    trace = os.path.join(rootonly, "trace.json")
    n = 20
    nginx = Nginx(t, t.env(ACCEPT4SHIM_LOG=trace, ACCEPT4SHIM_STATS="1"),
                  user="user nobody nogroup;", workers=2)
    for _ in range(n):
        request(nginx.port)
    nginx.stop()
    out = nginx.output()
    ours = [l for l in out.splitlines() if l.startswith("accept4shim: ")]
    said = ("accept4shim: trace %s: cannot open: permission denied (EACCES); "
            "records are dropped and counted" % trace)
    complaints = [l for l in ours if l == said]
    summaries = [dict(kv.split("=", 1) for kv in l.split(" ")[1:])
                 for l in ours if " summary=exit " in l]
    check(len(complaints) + len(summaries) == len(ours),
          "other accept4shim lines on stderr:\n" + "\n".join(ours))
    check(complaints, "no worker said why it could not trace:\n" + out)
    # One line per process and cause: as many as processes that called.
    check(len(complaints) == len(summaries),
          "%d complaints for %d workers that made calls:\n%s"
          % (len(complaints), len(summaries), "\n".join(ours)))
    check(len({s["pid"] for s in summaries}) == len(summaries), "a summary per worker")
    accepted = sum(int(s["accepted"]) for s in summaries)
    check(accepted == n, "%d accepts counted for %d requests" % (accepted, n))
    for s in summaries:
        check(s["dropped"] == s["calls"], "every call dropped and counted: %s" % s)
    check(not os.listdir(rootonly), "something was made in %s: %s"
          % (rootonly, os.listdir(rootonly)))


def run_load(port, stop, counter):
    while not stop.is_set():
        request(port)
        counter[0] += 1


def rotate(t, conf):
    r = subprocess.run(["/usr/sbin/logrotate", "-f", "-s", t.path("logrotate.state"), conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0, "logrotate: %s" % r.stdout)


def scenario_logrotate(t, mode):
    logs = t.path("logs")
    os.mkdir(logs, 0o700)
    trace = os.path.join(logs, "trace.json")
    access = t.path("access.log")
    # One process (master_process off) as root: the trace's owner.
    nginx = Nginx(t, t.env(ACCEPT4SHIM_LOG=trace, ACCEPT4SHIM_LOG_FORMAT="json"),
                  master=False, access=access)
    conf = t.path("logrotate.conf")
    with open(conf, "w") as f:
        f.write("%s {\n    %s\n    rotate 100\n    nocompress\n    missingok\n}\n"
                % (trace, "create 0600 root root" if mode == "create" else "copytruncate"))
    stop = threading.Event()
    counter = [0]
    rotations = 6
    for i in range(rotations):
        if mode == "create":
            # Rotated under load: records land in whichever file the
            # library holds, the renamed one until it looks again.
            if i == 0:
                loader = threading.Thread(target=run_load, args=(nginx.port, stop, counter))
                loader.start()
            time.sleep(0.4)
            rotate(t, conf)
        else:
            for _ in range(30):
                request(nginx.port)
            rotate(t, conf)
    if mode == "create":
        time.sleep(0.4)
        stop.set()
        loader.join()
    # A second later, a few more: the last rotation is followed too.
    time.sleep(1.2)
    for _ in range(5):
        request(nginx.port)
    held = [p for p in nginx.fd_targets() if p.startswith(trace)]
    check(held == [trace], "nginx holds %s, want only %s" % (held, trace))
    nginx.stop()
    files = sorted(glob.glob(trace + "*"))
    check(len(files) == rotations + 1, "rotated files: %s" % files)
    recs = [r for r in records(files, t.args.tracecheck) if r["kind"] == "rec"]
    accepted = sum(1 for r in recs if r["fd"] != "-1")
    with open(access) as f:
        served = sum(1 for _ in f)
    check(served >= 100, "only %d requests served" % served)
    check(accepted == served, "%d accepts recorded across %d files, nginx served %d requests"
          % (accepted, len(files), served))
    print("%s: %d requests, %d rotations, %d accepts recorded across %d files"
          % (mode, served, rotations, accepted, len(files)))


SCENARIOS = {
    "nginx_nobody": scenario_nginx_nobody,
    "logrotate_create": lambda t: scenario_logrotate(t, "create"),
    "logrotate_copytruncate": lambda t: scenario_logrotate(t, "copytruncate"),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--library", required=True)
    parser.add_argument("--tracecheck", required=True)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("FAIL: %s needs root (nginx's workers as nobody, a root-owned trace)"
              % args.scenario, file=sys.stderr)
        return 1
    for tool in ("/usr/sbin/nginx", "/usr/sbin/logrotate"):
        if not os.access(tool, os.X_OK):
            print("FAIL: %s is missing (scripts/deps/trace.txt lists it)" % tool,
                  file=sys.stderr)
            return 1

    def on_alarm(signo, frame):
        raise Failure("scenario took more than %d s" % SCENARIO_SECONDS)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(SCENARIO_SECONDS)
    t = Session(args)
    ok = True
    try:
        SCENARIOS[args.scenario](t)
    except Exception as e:
        ok = False
        for s in t.servers:
            print("--- nginx output:\n%s" % s.output(), file=sys.stderr)
        print("FAIL: %s: %s: %s" % (args.scenario, type(e).__name__, e), file=sys.stderr)
    finally:
        signal.alarm(0)
        t.cleanup()
    if ok:
        print("%s: passed" % args.scenario)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
