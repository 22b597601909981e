#!/usr/bin/python3
"""One hostile case: a program run without the library and with it, compared
as a user would see it.

    hostile.py --name NAME --library LIB --observer OBS --base DIR
               [--var NAME=VALUE]... [--stderr REGEX]... [--trace-fd]
               [--no-preload] [--config WORD]... [--timeout S]
               [--check PROGRAM [ARG]... --end-check]
               -- PROGRAM [ARG]...

Both runs get a fresh directory (DIR/NAME/plain and DIR/NAME/library), each
with work/ (the program's working directory), trace/ (for the library's
trace), report/ (the observer's reports) and facts (a file a case may write
for --check), and the same small environment: PATH, LC_ALL=C,
A4S_HOSTILE_REPORT, A4S_HOSTILE_TRACE, A4S_HOSTILE_FACTS. The library run
adds the --var variables and LD_PRELOAD="LIB:OBS" (the plain run:
LD_PRELOAD=OBS); with --no-preload it gets only A4S_HOSTILE_LIBRARY=LIB and
the variables, for a program that loads the library itself (or runs
something that does: then --config proves some process of the run had it,
so configured, at its exit). In --var values
and in the arguments, @TRACE@, @WORK@, @RUN@ and @LIBRARY@ become the run's
own paths.

The runs must agree on:
  - how the program ended: exit status, or the signal that killed it;
  - its standard output, byte for byte;
  - its standard error, once the library run's lines matched by a --stderr
    pattern are taken out (each pattern must match at least one line, and
    no other "accept4shim: " line may remain);
  - the files it left in work/ (names, types, contents);
  - the descriptors open when it exited (the observer's report; with
    --trace-fd the library run may also hold descriptors on files in
    trace/, its trace);
  - time: neither run may hang (killed after --timeout seconds), and the
    library run may take at most 3 times as long as the plain one plus 3 s,
    a bound that only a hang or a stall of seconds can cross.
The library run must also prove the library was in the process: the
observer of some process of the run (the first one, or one it started:
a sandboxed process may be unable to write its report) saw
accept4shim_config() at exit, each --config WORD (e.g. "mode=emulate") in
what it answered; and if the first process left a report, the library was
in it. No process of the plain run may have it.
Then --check, if given, runs in the library run's directory (the run's
paths in the same variables) and must exit 0: for what only the library
run has, a trace to check.
A plain run that exits 99 (case.h's MUST: a step the case needs failed)
fails the case: it could not test what it is named for.
Exit status 0 when everything agrees, 1 with a report of each difference.
"""
import argparse
import difflib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

SIDES = ("plain", "library")


def parse():
    argv = sys.argv[1:]
    check = []
    if "--check" in argv:
        i = argv.index("--check")
        j = argv.index("--end-check")
        check, argv = argv[i + 1:j], argv[:i] + argv[j + 1:]
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--library", required=True)
    p.add_argument("--observer", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--var", action="append", default=[])
    p.add_argument("--stderr", action="append", default=[])
    p.add_argument("--config", action="append", default=[])
    p.add_argument("--trace-fd", action="store_true")
    p.add_argument("--no-preload", action="store_true")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("command", nargs="+")
    args = p.parse_args(argv)
    args.check = check
    # The runs happen in their own directories: paths given relative to
    # here are made absolute first.
    args.library, args.observer = os.path.abspath(args.library), os.path.abspath(args.observer)
    if "/" in args.command[0]:
        args.command[0] = os.path.abspath(args.command[0])
    return args


def paths(args, side):
    run = os.path.join(args.base, args.name, side)
    return {
        "@RUN@": run,
        "@WORK@": os.path.join(run, "work"),
        "@TRACE@": os.path.join(run, "trace"),
        "@LIBRARY@": args.library,
    }


def fill(text, where):
    for k, v in where.items():
        text = text.replace(k, v)
    return text


def environment(args, side, where):
    run = where["@RUN@"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "A4S_HOSTILE_REPORT": os.path.join(run, "report"),
        "A4S_HOSTILE_TRACE": where["@TRACE@"],
        "A4S_HOSTILE_FACTS": os.path.join(run, "facts"),
        "LD_PRELOAD": args.observer,
    }
    if side == "library":
        for v in args.var:
            name, _, value = v.partition("=")
            env[name] = fill(value, where)
        if args.no_preload:
            env["A4S_HOSTILE_LIBRARY"] = args.library
        else:
            env["LD_PRELOAD"] = args.library + ":" + args.observer
    return env


def run(args, side):
    where = paths(args, side)
    run_dir = where["@RUN@"]
    shutil.rmtree(run_dir, ignore_errors=True)
    for sub in ("work", "trace", "report"):
        os.makedirs(os.path.join(run_dir, sub))
    argv = [fill(a, where) for a in args.command]
    out_path, err_path = os.path.join(run_dir, "stdout"), os.path.join(run_dir, "stderr")
    started = time.monotonic()
    # stdout and stderr are pipes, as under a shell's $(...) or a log
    # collector: a process left holding them (a daemon the library kept
    # from letting go) shows as a hang, as it would to the user.
    proc = subprocess.Popen(argv, cwd=where["@WORK@"], env=environment(args, side, where),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    hung = False
    try:
        out, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        hung = True
        kill_session(proc.pid)
        out, err = proc.communicate()
    elapsed = time.monotonic() - started
    kill_session(proc.pid)  # whatever it left behind
    with open(out_path, "wb") as f:
        f.write(out)
    with open(err_path, "wb") as f:
        f.write(err)
    return {
        "where": where,
        "pid": proc.pid,
        "status": proc.returncode,
        "hung": hung,
        "elapsed": elapsed,
        "stdout": out,
        "stderr": err,
        "files": files(where["@WORK@"]),
        "report": report(where, proc.pid),
        "configs": [r["library"] for r in all_reports(where)],
    }


def kill_session(sid):
    try:
        os.killpg(sid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def files(top):
    """Every file under top: relative path -> (type, content)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ("dir", "")
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    found[rel] = ("file", f.read())
            else:
                found[rel] = ("other", "")
    return found


def report(where, pid):
    """The observer's report of the first process, its run paths made
    neutral and kernel object numbers dropped; None without one."""
    path = os.path.join(where["@RUN@"], "report", str(pid))
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    library, fds = None, {}
    for line in text.splitlines():
        if line.startswith("library: "):
            library = line[len("library: "):]
        elif line.startswith("fd "):
            num, _, target = line[3:].partition(" -> ")
            target = target.replace(where["@RUN@"], "@RUN@")
            target = re.sub(r"^(pipe|socket|anon_inode):\[\d+\]$", r"\1", target)
            # An unnamed file (tmpfile(), O_TMPFILE) is named by its inode
            # number, which differs from run to run whenever other
            # processes make files in between (ctest -j).
            target = re.sub(r"/#\d+ \(deleted\)$", "/#INODE (deleted)", target)
            fds[int(num)] = target
    return {"library": library, "fds": fds}


def all_reports(where):
    """The reports of every process of the run that wrote one."""
    found = []
    for name in os.listdir(os.path.join(where["@RUN@"], "report")):
        r = report(where, int(name))
        if r:
            found.append(r)
    return found


def describe_status(s):
    return "killed by signal %d" % -s if s < 0 else "exit %d" % s


def compare(args, plain, lib):
    problems = []

    def differ(what, a, b):
        if isinstance(a, str) and isinstance(b, str) and ("\n" in a or "\n" in b):
            diff = difflib.unified_diff(a.splitlines(), b.splitlines(), "without the library",
                                        "with the library", lineterm="", n=2)
            problems.append("%s differs:\n    %s" % (what, "\n    ".join(diff)))
            return
        problems.append("%s differs:\n  without the library: %r\n  with the library:    %r"
                        % (what, a, b))

    if plain["status"] == 99:
        problems.append("the case could not set itself up (exit 99, without the library): "
                        "%s" % plain["stderr"].decode(errors="replace").strip())
    for side in (plain, lib):
        if side["hung"]:
            problems.append("the %s run did not finish in %g s (killed)"
                            % ("plain" if side is plain else "library", args.timeout))
    if plain["status"] != lib["status"]:
        differ("how it ended", describe_status(plain["status"]),
               describe_status(lib["status"]))
    if plain["stdout"] != lib["stdout"]:
        differ("stdout", plain["stdout"].decode(errors="replace"),
               lib["stdout"].decode(errors="replace"))

    lib_err = lib["stderr"].decode(errors="replace").splitlines(keepends=True)
    for pattern in args.stderr:
        matched = [line for line in lib_err if re.search(pattern, line)]
        if not matched:
            problems.append("no stderr line of the library run matches %r" % pattern)
        lib_err = [line for line in lib_err if line not in matched]
    stray = [line for line in lib_err if line.startswith("accept4shim: ")]
    if stray:
        problems.append("unexpected lines from the library on stderr: %r" % stray)
    plain_err = plain["stderr"].decode(errors="replace")
    if plain_err != "".join(lib_err):
        differ("stderr (expected accept4shim: lines taken out)", plain_err, "".join(lib_err))

    if plain["files"] != lib["files"]:
        for name in sorted(set(plain["files"]) | set(lib["files"])):
            a, b = plain["files"].get(name), lib["files"].get(name)
            if a != b:
                differ("file work/" + name, a, b)

    pr, lr = plain["report"], lib["report"]
    if (pr is None) != (lr is None):
        differ("the exit report (none: killed by a signal or _exit)",
               "present" if pr else "none", "present" if lr else "none")
    if pr and pr["library"] != "none":
        problems.append("the plain run has the library: %s" % pr["library"])
    if pr and lr:
        trace_dir = "@RUN@/trace/"
        extra = {n: t for n, t in lr["fds"].items()
                 if not (args.trace_fd and t.startswith(trace_dir))}
        if pr["fds"] != extra:
            differ("descriptors open at exit", pr["fds"], lr["fds"])
    def has_library(c):
        return c not in (None, "none", "(null)")

    if not args.no_preload and lr and not has_library(lr["library"]):
        problems.append("the library was not in the library run's first process "
                        "(accept4shim_config() not found): %s" % lr["library"])
    if not args.no_preload or args.config:
        # The library run must prove the library was there: some process
        # of it (the first, or one it started: a sandboxed process may not
        # be able to write its report) named its configuration at exit,
        # with every --config word.
        found = [c for c in lib["configs"] if has_library(c)]
        if not found:
            problems.append("no process of the library run had the library at its exit "
                            "(accept4shim_config() not found): %s" % lib["configs"])
        for word in args.config:
            if found and not any(word in c.split() for c in found):
                problems.append("the library's configuration %r lacks %r" % (found, word))
    if any(c not in (None, "none") for c in plain["configs"]):
        problems.append("a process of the plain run had the library: %s" % plain["configs"])

    bound = 3 * plain["elapsed"] + 3
    if not lib["hung"] and lib["elapsed"] > bound:
        problems.append("the library run took %.2f s, the plain one %.2f s (bound %.2f s)"
                        % (lib["elapsed"], plain["elapsed"], bound))

    if args.check:
        where = lib["where"]
        env = dict(os.environ)
        env.update({"A4S_HOSTILE_RUN": where["@RUN@"], "A4S_HOSTILE_TRACE": where["@TRACE@"],
                    "A4S_HOSTILE_FACTS": os.path.join(where["@RUN@"], "facts"),
                    "A4S_HOSTILE_PID": str(lib["pid"])})
        c = subprocess.run([fill(a, where) for a in args.check], cwd=where["@RUN@"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if c.returncode != 0:
            problems.append("the check %s failed:\n%s"
                            % (" ".join(args.check), c.stdout.decode(errors="replace")))
    return problems


def main():
    args = parse()
    lib = run(args, "library")
    if (not args.no_preload or args.config) and \
            not any(c not in (None, "none", "(null)") for c in lib["configs"]):
        # Nothing to compare: the library was not there at all (a library
        # that does nothing in its place, say). Said at once.
        print("%s: FAILED: no process of the library run had the library (reports: %s)"
              % (args.name, lib["configs"]))
        return 1
    plain = run(args, "plain")
    problems = compare(args, plain, lib)
    print("%s: plain %s in %.2f s, library %s in %.2f s"
          % (args.name, describe_status(plain["status"]), plain["elapsed"],
             describe_status(lib["status"]), lib["elapsed"]))
    if problems:
        print("FAILED: %d difference(s) a user would see:" % len(problems))
        for p in problems:
            print(" - " + p)
        print("(both runs are kept in %s)" % os.path.join(args.base, args.name))
        return 1
    print("the same as without the library")
    return 0


if __name__ == "__main__":
    sys.exit(main())
