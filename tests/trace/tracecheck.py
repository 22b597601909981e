#!/usr/bin/python3
"""Strict reader of accept4shim JSON traces, for the trace tests.

Every line must end in a newline, be pure ASCII, and parse on its own as one
JSON object (Python's json module, with duplicate keys, NaN and Infinity
refused) holding exactly the keys of a call record or of the exit summary,
each of the right type, and agreeing with each other (fd -1 exactly when
errno is set, no peer on failure, calls = accepted + failed, ...).

Prints one line per record for the C test to compare, fields as key=value
in record order: numbers in decimal, null as "~", strings percent-encoded
byte by byte (each code point must be a byte: the library writes AF_UNIX
names that way), summary errors as NAME:count joined by commas:

    rec ts=2026-11-21T10:00:00.123456Z pid=12 ... local=unix:@a%22b ...
    summary ts=... pid=12 calls=3 ... errors=EAGAIN:2

Exits 1 at the first bad line, naming it, unless --skip-bad is given: then
each bad line is reported as "bad LINENO REASON" and the rest checked.
"""
import json
import re
import sys

CALL_KEYS = ["ts", "pid", "tid", "call", "listen_fd", "local", "flags", "fd",
             "errno", "peer", "how", "retries", "dur_ns"]
SUMMARY_KEYS = ["ts", "pid", "summary", "calls", "accepted", "failed", "emulated",
                "retried_calls", "retries", "dropped", "errors"]
TS = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z")
ADDR = re.compile(r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}"
                  r"|\[[0-9a-f:.]+(%\d+)?\]:\d{1,5}"
                  r"|unix:.*|family:\d+|\?)", re.S)
FLAGS = re.compile(r"0|((SOCK_NONBLOCK|SOCK_CLOEXEC|SOCK_NONBLOCK\|SOCK_CLOEXEC)(\|0x[0-9a-f]+)?)|0x[0-9a-f]+")
ERRNO = re.compile(r"E[A-Z0-9]+|\d+")
SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/@[]|-")


class Bad(Exception):
    pass


def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Bad("duplicate key " + k)
        seen[k] = v
    return seen


def no_constants(name):
    raise Bad("not JSON: " + name)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def pct(s):
    try:
        raw = s.encode("latin-1")
    except UnicodeEncodeError:
        raise Bad("a code point above U+00FF: not one byte per character")
    return "".join(chr(b) if b in SAFE else "%%%02X" % b for b in raw)


def value(v):
    if v is None:
        return "~"
    if is_int(v):
        return str(v)
    return pct(v)


def need(cond, why):
    if not cond:
        raise Bad(why)


def check_call(o):
    need(list(o) == CALL_KEYS, "keys %s" % list(o))
    need(isinstance(o["ts"], str) and TS.fullmatch(o["ts"]), "ts %r" % o["ts"])
    for k in ("pid", "tid"):
        need(is_int(o[k]) and o[k] > 0, "%s %r" % (k, o[k]))
    need(o["call"] in ("accept", "accept4"), "call %r" % o["call"])
    need(is_int(o["listen_fd"]), "listen_fd")
    for k in ("local", "peer"):
        need(o[k] is None or (isinstance(o[k], str) and ADDR.fullmatch(o[k])), "%s %r" % (k, o[k]))
    need(isinstance(o["flags"], str) and FLAGS.fullmatch(o["flags"]), "flags %r" % o["flags"])
    need(is_int(o["fd"]) and o["fd"] >= -1, "fd")
    need(o["errno"] is None or (isinstance(o["errno"], str) and ERRNO.fullmatch(o["errno"])), "errno")
    need((o["fd"] == -1) == (o["errno"] is not None), "fd and errno disagree")
    need(o["errno"] is None or o["peer"] is None, "a peer on a failure")
    need(o["how"] in ("native", "emulated"), "how %r" % o["how"])
    need(is_int(o["retries"]) and o["retries"] >= 0, "retries")
    need(is_int(o["dur_ns"]) and o["dur_ns"] > 0, "dur_ns %r" % o["dur_ns"])
    return "rec " + " ".join("%s=%s" % (k, value(o[k])) for k in CALL_KEYS)


def check_summary(o):
    need(list(o) == SUMMARY_KEYS, "keys %s" % list(o))
    need(isinstance(o["ts"], str) and TS.fullmatch(o["ts"]), "ts")
    need(o["summary"] == "exit", "summary")
    for k in SUMMARY_KEYS[3:10] + ["pid"]:
        need(is_int(o[k]) and o[k] >= 0, k)
    errors = o["errors"]
    need(isinstance(errors, dict), "errors")
    for k, v in errors.items():
        need((ERRNO.fullmatch(k) or k == "other") and is_int(v) and v > 0, "errors %r" % k)
    need(o["calls"] == o["accepted"] + o["failed"], "calls != accepted + failed")
    need(sum(errors.values()) == o["failed"], "errors do not add up to failed")
    fields = ["%s=%s" % (k, value(o[k])) for k in SUMMARY_KEYS[:-1]]
    fields.append("errors=" + ",".join("%s:%d" % kv for kv in errors.items()))
    return "summary " + " ".join(fields)


def check_line(raw):
    need(raw.endswith(b"\n"), "no newline at the end (torn)")
    body = raw[:-1]
    need(b"\n" not in body and b"\r" not in body, "a line break inside")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise Bad("not ASCII")
    try:
        o = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except ValueError as e:
        raise Bad("not JSON: %s" % e)
    need(isinstance(o, dict), "not an object")
    return check_summary(o) if "summary" in o else check_call(o)


def main():
    args = sys.argv[1:]
    skip_bad = "--skip-bad" in args
    files = [a for a in args if not a.startswith("--")]
    out = []
    for name in files:
        with open(name, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        tail = lines.pop()  # after the last newline: empty unless torn
        lines = [l + b"\n" for l in lines]
        if tail:
            lines.append(tail)
        for n, raw in enumerate(lines, 1):
            try:
                out.append(check_line(raw))
            except Bad as e:
                if not skip_bad:
                    sys.stderr.write("%s:%d: %s: %r\n" % (name, n, e, raw[:300]))
                    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
                    return 1
                out.append("bad %d %s" % (n, str(e).replace(" ", "_")))
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
