#!/usr/bin/python3
"""Real, unmodified servers from Debian's packages, run under accept4shim.

    e2e.py SCENARIO --wrapper PATH --enosys-exec PATH

Each scenario starts a server on a free loopback port, with its own
temporary configuration and directories, in a session of its own, through
the accept4shim command with --mode=emulate (or auto) and a JSON trace per
process; drives it with a real client (curl, or a Python socket that holds a
connection open); then checks:
  - the requests were served;
  - the trace has one record per accepted connection, with the flags the
    server asked for and the "how" SPEC defines;
  - the accepted socket, read from /proc/PID/fdinfo while the connection is
    held, really has the flags (octal "flags:"; O_NONBLOCK 04000, O_CLOEXEC
    02000000);
  - no process of the server is left behind, whatever happened.
Every wait is bounded; the whole scenario is under an alarm.
"""
import argparse
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

O_NONBLOCK = 0o4000
O_CLOEXEC = 0o2000000
SCENARIO_SECONDS = 50


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def wait_for(what, predicate, timeout=5.0, interval=0.05):
    """Returns predicate()'s first true value, or fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for " + what)
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_table():
    """(local port, remote port, state, inode) of every IPv4 TCP socket."""
    rows = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            rows.append((int(local.split(":")[1], 16), int(remote.split(":")[1], 16),
                         state, int(inode)))
    return rows


def listening(port):
    return any(l == port and state == "0A" for l, _, state, _ in tcp_table())


def die_with_parent():
    """If this script is killed outright (SIGKILL, as a test runner's
    timeout may do), the server's first process gets SIGKILL too."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Server:
    """A server in a session of its own, so that it and every process it
    starts can be found (by session id) and stopped together."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.workdir = workdir
        self.out = open(os.path.join(workdir, name + ".out"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, env=env, cwd=workdir,
                                     start_new_session=True, preexec_fn=die_with_parent)
        self.sid = self.proc.pid

    def output(self):
        with open(os.path.join(self.workdir, self.name + ".out"), "rb") as f:
            return f.read().decode(errors="replace")

    def pids(self):
        """Every live process of the server's session."""
        found = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    text = f.read()
            except OSError:
                continue
            # pid (comm) state ppid pgrp session ...; comm may hold spaces.
            rest = text[text.rindex(")") + 2:].split()
            if rest[0] != "Z" and int(rest[3]) == self.sid:
                found.append(int(text.split()[0]))
        return found

    def wait_listening(self, port):
        def ready():
            if self.proc.poll() is not None:
                raise Failure("%s exited with %s before listening:\n%s"
                              % (self.name, self.proc.returncode, self.output()))
            return listening(port)
        wait_for("%s to listen on %d" % (self.name, port), ready, timeout=10)

    def stop(self):
        """SIGTERM to the whole session, SIGKILL to what is left after 5 s;
        fails if anything is still there."""
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if self.proc.poll() is None:
                    try:
                        self.proc.wait(0.05)
                    except subprocess.TimeoutExpired:
                        pass
                if self.proc.poll() is not None and not self.pids():
                    break
                time.sleep(0.05)
            if self.proc.poll() is not None and not self.pids():
                break
        self.out.close()
        check(self.proc.poll() is not None and not self.pids(),
              "%s left processes behind: %s" % (self.name, self.pids()))


class Session:
    """Holds what a scenario started, and undoes it on every way out."""

    def __init__(self, args):
        self.args = args
        self.servers = []
        self.sockets = []
        self.dir = tempfile.mkdtemp(prefix="a4s-e2e-")
        # Servers that drop privileges (nginx's and mini_httpd's workers run
        # as nobody) must reach their files and write their traces.
        os.chmod(self.dir, 0o755)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def mkdir(self, *parts, mode=0o755):
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        return p

    def write(self, name, text, mode=0o644):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def start(self, name, argv, env=None):
        server = Server(name, argv, self.dir, env)
        self.servers.append(server)
        return server

    def under_wrapper(self, trace_dir, options, argv):
        return [self.args.wrapper] + options + [
            "--log-format=json", "--log=" + os.path.join(trace_dir, "trace.%p.json"),
            "--"] + argv

    def hold(self, port):
        """A client connection kept open; returns its local port."""
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sockets.append(s)
        return s.getsockname()[1]

    def stop(self, server):
        self.servers.remove(server)
        server.stop()

    def stop_all(self):
        """Closes the clients and stops every server; fails if any left a
        process behind."""
        errors = []
        for s in self.sockets:
            s.close()
        self.sockets = []
        while self.servers:
            try:
                self.stop(self.servers[0])
            except Failure as e:
                errors.append(str(e))
        if errors:
            raise Failure("; ".join(errors))

    def cleanup(self):
        try:
            self.stop_all()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def curl(port, path="/", expect_status=200):
    out = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "5", "-o", "-",
                          "-w", "\n%{http_code}", "http://127.0.0.1:%d%s" % (port, path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    check(out.returncode == 0, "curl %s: %s" % (path, out.stderr.decode(errors="replace")))
    body, _, status = out.stdout.decode(errors="replace").rpartition("\n")
    check(int(status) == expect_status, "GET %s: status %s, body %r" % (path, status, body))
    return body


def accepted_socket_flags(server, server_port, client_port):
    """[(pid, fd, flags)] for the server's descriptors of the connection
    from client_port, from /proc/PID/fdinfo."""
    def find():
        inodes = {inode for l, r, state, inode in tcp_table()
                  if l == server_port and r == client_port and state == "01" and inode}
        if not inodes:
            return None
        found = []
        for pid in server.pids():
            for fd_path in glob.glob("/proc/%d/fd/*" % pid):
                try:
                    target = os.readlink(fd_path)
                except OSError:
                    continue
                m = re.fullmatch(r"socket:\[(\d+)\]", target)
                if m and int(m.group(1)) in inodes:
                    fd = int(os.path.basename(fd_path))
                    try:
                        with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
                            flags = int(re.search(r"^flags:\s*([0-7]+)", f.read(), re.M)
                                        .group(1), 8)
                    except OSError:
                        continue
                    found.append((pid, fd, flags))
        return found
    return wait_for("the server to hold the connection from port %d" % client_port, find)


def read_traces(trace_dir):
    records = []
    for name in sorted(glob.glob(os.path.join(trace_dir, "trace.*.json"))):
        with open(name) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    raise Failure("%s: not a JSON line: %r" % (name, line))
    return records


def check_trace(records, port, connections, call, flags, how):
    """One record per accepted connection, each as the server asked; failed
    calls only where a non-blocking listener had nothing queued."""
    local = "127.0.0.1:%d" % port
    calls = [r for r in records if "call" in r]
    accepted = [r for r in calls if r["fd"] >= 0]
    check(len(accepted) == connections,
          "%d accepted records for %d connections: %s" % (len(accepted), connections, calls))
    for r in calls:
        check((r["call"], r["flags"], r["local"]) == (call, flags, local),
              "record %s: want call %s flags %s local %s" % (r, call, flags, local))
        if r["fd"] >= 0:
            check(r["errno"] is None and r["peer"].startswith("127.0.0.1:"), "record %s" % r)
            check(r["how"] == how, "record %s: want how %s" % (r, how))
        else:
            check(r["errno"] == "EAGAIN", "failed call %s" % r)
    return accepted


def check_flags(found, must_set, must_clear, what):
    check(found, "no descriptor of the connection in the server (%s)" % what)
    for pid, fd, flags in found:
        check(flags & must_set == must_set and flags & must_clear == 0,
              "%s: pid %d fd %d flags %o: want %o set and %o clear"
              % (what, pid, fd, flags, must_set, must_clear))


def check_exec(server, comm):
    """The wrapper exec'd: the server has the pid the wrapper was given."""
    with open("/proc/%d/comm" % server.proc.pid) as f:
        name = f.read().strip()
    check(name == comm, "pid %d is %r, not %r: the wrapper did not exec"
          % (server.proc.pid, name, comm))


# --- Scenarios -------------------------------------------------------------

def drive_http(t, port, files):
    """A held connection, then a GET per file; returns the held
    connection's port and how many connections were made."""
    client = t.hold(port)
    for name, text in files.items():
        check(curl(port, "/" + name) == text, "wrong body for " + name)
    return client, len(files) + 1


def scenario_python_http_server(t):
    """python3 -m http.server: accept4(SOCK_CLOEXEC) on a blocking
    listener; emulated as asked, O_CLOEXEC set, O_NONBLOCK not."""
    port, traces, www = free_port(), t.mkdir("traces", mode=0o1777), t.mkdir("www")
    files = {"a.txt": "alpha\n", "b.txt": "beta\n", "c.txt": "gamma\n"}
    for name, text in files.items():
        t.write("www/" + name, text)
    s = t.start("python", t.under_wrapper(traces, ["--mode=emulate"], [
        "/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1",
        "--directory", www, str(port)]))
    s.wait_listening(port)
    check_exec(s, "python3")
    client, connections = drive_http(t, port, files)
    check_flags(accepted_socket_flags(s, port, client), O_CLOEXEC, O_NONBLOCK, "python3")
    t.stop_all()
    check_trace(read_traces(traces), port, connections, "accept4", "SOCK_CLOEXEC", "emulated")


def scenario_socat(t):
    """socat TCP-LISTEN,fork: plain accept() with no flags, so nothing to
    emulate: "native". socat then sets FD_CLOEXEC itself; the socket stays
    blocking."""
    port, traces = free_port(), t.mkdir("traces", mode=0o1777)
    s = t.start("socat", t.under_wrapper(traces, ["--mode=emulate"], [
        "socat", "TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr" % port, "EXEC:cat"]))
    s.wait_listening(port)
    check_exec(s, "socat")
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    t.sockets.append(held)
    held.sendall(b"ping\n")
    check(held.recv(100) == b"ping\n", "socat did not echo")
    for i in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"hello %d\n" % i)
            c.shutdown(socket.SHUT_WR)
            data = b""
            while not data.endswith(b"\n"):
                chunk = c.recv(100)
                if not chunk:
                    break
                data += chunk
            check(data == b"hello %d\n" % i, "socat echoed %r" % data)
    check_flags(accepted_socket_flags(s, port, held.getsockname()[1]), O_CLOEXEC, O_NONBLOCK,
                "socat")
    t.stop_all()
    check_trace(read_traces(traces), port, 4, "accept", "0", "native")


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  server {{ listen 127.0.0.1:{port}; root {dir}/www; }}
}}
"""


def start_nginx(t, name, port, wrap_options=None, traces=None, launcher=()):
    t.mkdir("tmp", mode=0o1777)
    conf = t.write(name + ".conf", NGINX_CONF.format(dir=t.dir, port=port))
    argv = list(launcher) + ["/usr/sbin/nginx", "-e", t.path("error.log"), "-p", t.dir,
                             "-c", conf, "-g", "daemon off; master_process on;"]
    if wrap_options is not None:
        argv = t.under_wrapper(traces, wrap_options, argv)
    s = t.start(name, argv)
    s.wait_listening(port)
    return s


def scenario_nginx(t):
    """nginx (master + 1 worker, running as nobody when started as root):
    accept4(SOCK_NONBLOCK) in the worker; emulated, O_NONBLOCK set."""
    port, traces, www = free_port(), t.mkdir("traces", mode=0o1777), t.mkdir("www")
    files = {"index.html": "<p>nginx under accept4shim</p>\n", "x.txt": "x\n"}
    for name, text in files.items():
        t.write("www/" + name, text)
    s = start_nginx(t, "nginx", port, ["--mode=emulate"], traces)
    check_exec(s, "nginx")
    client, connections = drive_http(t, port, files)
    check_flags(accepted_socket_flags(s, port, client), O_NONBLOCK, O_CLOEXEC, "nginx")
    t.stop_all()
    check_trace(read_traces(traces), port, connections, "accept4", "SOCK_NONBLOCK", "emulated")


def scenario_busybox_httpd(t):
    """busybox httpd -f: plain accept() with no flags ("native"), then a
    forked child per connection with the socket moved to fds 0 and 1."""
    port, traces, www = free_port(), t.mkdir("traces", mode=0o1777), t.mkdir("www")
    files = {"index.html": "busybox\n", "y.txt": "why\n"}
    for name, text in files.items():
        t.write("www/" + name, text)
    s = t.start("busybox", t.under_wrapper(traces, ["--mode=emulate"], [
        "busybox", "httpd", "-f", "-p", "127.0.0.1:%d" % port, "-h", www]))
    s.wait_listening(port)
    check_exec(s, "busybox")
    client, connections = drive_http(t, port, files)
    check_flags(accepted_socket_flags(s, port, client), 0, O_NONBLOCK | O_CLOEXEC, "busybox")
    t.stop_all()
    check_trace(read_traces(traces), port, connections, "accept", "0", "native")


CGI_FDS = """#!/bin/sh
echo "Content-Type: text/plain"
echo
for f in /proc/$$/fd/*; do
  echo "${f##*/} $(readlink "$f")"
done
"""


def cgi_leaks(listing):
    """The descriptors above 2 of the CGI's that are its connection (the
    socket it also has as stdin): the accepted socket, leaked."""
    fds = dict(line.split(" ", 1) for line in listing.strip().splitlines())
    conn = fds.get("0")
    check(conn and conn.startswith("socket:"), "CGI stdin is not the connection: %s" % fds)
    return sorted(int(fd) for fd, target in fds.items() if int(fd) > 2 and target == conn)


def scenario_mini_httpd_cloexec(t):
    """mini_httpd, a legacy server: accept() with no flags, a forked child
    per connection, and the CGI exec'd from it keeps the accepted socket at
    its original descriptor (besides stdin). --add-flags=SOCK_CLOEXEC
    closes it at exec; the trace then says "emulated"."""
    www = t.mkdir("www")
    t.mkdir("www", "cgi-bin")
    t.write("www/cgi-bin/fds", CGI_FDS, mode=0o755)
    t.write("www/index.html", "mini\n")
    results = {}
    for label, options in (("plain", []), ("cloexec", ["--add-flags=SOCK_CLOEXEC"])):
        port, traces = free_port(), t.mkdir("traces-" + label, mode=0o1777)
        s = t.start("mini_httpd-" + label, t.under_wrapper(traces, ["--mode=emulate"] + options, [
            "/usr/sbin/mini_httpd", "-D", "-h", "127.0.0.1", "-p", str(port), "-d", www,
            "-c", "cgi-bin/*", "-l", t.path("mini_httpd-%s.log" % label),
            "-i", t.path("mini_httpd-%s.pid" % label)]))
        s.wait_listening(port)
        check_exec(s, "mini_httpd")
        client = t.hold(port)
        check(curl(port, "/index.html") == "mini\n", "mini_httpd index")
        leaked = cgi_leaks(curl(port, "/cgi-bin/fds"))
        found = accepted_socket_flags(s, port, client)
        if label == "plain":
            check_flags(found, 0, O_CLOEXEC | O_NONBLOCK, "mini_httpd")
        else:
            check_flags(found, O_CLOEXEC, O_NONBLOCK, "mini_httpd --add-flags=SOCK_CLOEXEC")
        t.stop_all()
        accepted = check_trace(read_traces(traces), port, 3, "accept", "0",
                               "native" if label == "plain" else "emulated")
        results[label] = (leaked, accepted)
    check(results["plain"][0], "without --add-flags the CGI should have inherited the "
          "accepted socket; it has none: the scenario no longer shows the leak")
    check(results["cloexec"][0] == [], "with --add-flags=SOCK_CLOEXEC the CGI still has "
          "the accepted socket at %s" % results["cloexec"][0])
    print("mini_httpd CGI: accepted socket leaked at fd %s without the library's flag, "
          "none with it" % results["plain"][0])


def scenario_nginx_without_accept4(t):
    """The kernel refuses accept4 (seccomp: ENOSYS). Without the library
    nginx logs an alert and falls back on accept() by itself; under
    --mode=auto the library switches to emulation at the first ENOSYS: no
    alert, the trace says "emulated", and the socket is non-blocking."""
    files = {"index.html": "no accept4 here\n"}
    t.mkdir("www")
    for name, text in files.items():
        t.write("www/" + name, text)
    alert = "accept4() failed (38: Function not implemented)"

    port = free_port()
    s = start_nginx(t, "nginx-alone", port, launcher=[t.args.enosys_exec])
    for _ in range(2):
        check(curl(port, "/index.html") == files["index.html"], "served without the library")
    t.stop_all()
    with open(t.path("error.log")) as f:
        log = f.read()
    check(alert in log, "without the library nginx should have met ENOSYS:\n" + log)
    os.unlink(t.path("error.log"))

    port, traces = free_port(), t.mkdir("traces", mode=0o1777)
    s = start_nginx(t, "nginx-auto", port, ["--mode=auto"], traces,
                    launcher=[t.args.enosys_exec])
    client = t.hold(port)
    for _ in range(2):
        check(curl(port, "/index.html") == files["index.html"], "served under --mode=auto")
    check_flags(accepted_socket_flags(s, port, client), O_NONBLOCK, O_CLOEXEC, "nginx auto")
    t.stop_all()
    with open(t.path("error.log")) as f:
        log = f.read()
    check(alert not in log, "under the library nginx still saw ENOSYS:\n" + log)
    check_trace(read_traces(traces), port, 3, "accept4", "SOCK_NONBLOCK", "emulated")


SCENARIOS = {
    "python_http_server": scenario_python_http_server,
    "socat": scenario_socat,
    "nginx": scenario_nginx,
    "busybox_httpd": scenario_busybox_httpd,
    "mini_httpd_cloexec": scenario_mini_httpd_cloexec,
    "nginx_without_accept4": scenario_nginx_without_accept4,
}


def prove_library(wrapper):
    """Before any server: a program run through the wrapper has the library,
    configured as the wrapper says (accept4shim_config() answers), so that a
    wrapper whose library does nothing fails here at once."""
    ask = ("import ctypes\n"
           "f = ctypes.CDLL(None).accept4shim_config\n"
           "f.restype = ctypes.c_char_p\n"
           "print(f().decode())\n")
    p = subprocess.run([wrapper, "--mode=emulate", "--", "/usr/bin/python3", "-c", ask],
                       capture_output=True, text=True, timeout=20)
    words = p.stdout.split()
    if p.returncode != 0 or "mode=emulate" not in words:
        raise Failure("the wrapper's library is not libaccept4shim configured as asked "
                      "(exit %d): %s%s" % (p.returncode, p.stdout, p.stderr))


def run(scenarios, extra_options=()):
    """Parses SCENARIO --wrapper PATH [extra options], runs the scenario
    under an alarm, and stops what it started on every way out; the exit
    status. tests/interval/killed.py runs its own scenarios through it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(scenarios))
    parser.add_argument("--wrapper", required=True)
    for option in extra_options:
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    for var in list(os.environ):
        if var.startswith("ACCEPT4SHIM_") or var == "LD_PRELOAD":
            del os.environ[var]

    def on_alarm(signo, frame):
        raise Failure("scenario took more than %d s" % SCENARIO_SECONDS)

    def on_term(signo, frame):
        raise Failure("stopped by signal %d" % signo)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.alarm(SCENARIO_SECONDS)

    try:
        prove_library(args.wrapper)
    except Failure as e:
        print("FAIL: %s: not run: %s" % (args.scenario, e), file=sys.stderr)
        return 1
    t = Session(args)
    ok = True
    try:
        scenarios[args.scenario](t)
    except Exception as e:  # every way out stops the servers below
        ok = False
        for server in t.servers:
            print("--- %s output:\n%s" % (server.name, server.output()), file=sys.stderr)
        print("FAIL: %s: %s: %s" % (args.scenario, type(e).__name__, e), file=sys.stderr)
    finally:
        signal.alarm(0)  # stopping is bounded by itself
        try:
            t.cleanup()
        except Failure as e:
            ok = False
            print("FAIL: " + str(e), file=sys.stderr)
    if ok:
        print("%s: passed" % args.scenario)
    return 0 if ok else 1


def main():
    return run(SCENARIOS, ["--enosys-exec"])


if __name__ == "__main__":
    sys.exit(main())
