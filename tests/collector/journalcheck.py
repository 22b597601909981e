#!/usr/bin/env python3
"""Checks journald's entries against the records they came from.

usage: journalcheck.py EXPECT JOURNAL
EXPECT: the records as the library writes them in JSON, one per line.
JOURNAL: `journalctl -o json` of the same records, one entry per line.
Each entry must carry every ACCEPT4SHIM_* field of its record, in the
record's order; addresses as the text format writes them (the same bytes,
escaped for a terminal), absent fields where the record has null.
"""
import json
import sys


def text_escape(s):
    """The text format's escaping of an AF_UNIX name (text.c): printable
    ASCII but space as is, backslash doubled, every other byte \\xNN.
    JSON gives the name's bytes as code points (latin-1)."""
    out = []
    for c in s.encode("latin-1"):
        if c == 0x5C:
            out.append("\\\\")
        elif 0x20 < c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def addr(v):
    if v is None:
        return None
    if v.startswith("unix:"):
        return "unix:" + text_escape(v[5:])
    return v


def main():
    want = [json.loads(l) for l in open(sys.argv[1], encoding="ascii")]
    got = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
    got = [e for e in got if "ACCEPT4SHIM_CALL" in e]
    if len(got) != len(want):
        sys.exit("journal has %d records, expected %d" % (len(got), len(want)))
    for i, (r, e) in enumerate(zip(want, got)):
        fields = {
            "ACCEPT4SHIM_PID": str(r["pid"]),
            "ACCEPT4SHIM_TID": str(r["tid"]),
            "ACCEPT4SHIM_TS": r["ts"],
            "ACCEPT4SHIM_CALL": r["call"],
            "ACCEPT4SHIM_LISTEN_FD": str(r["listen_fd"]),
            "ACCEPT4SHIM_LOCAL": addr(r["local"]),
            "ACCEPT4SHIM_FLAGS": r["flags"],
            "ACCEPT4SHIM_FD": str(r["fd"]),
            "ACCEPT4SHIM_ERRNO": r["errno"],
            "ACCEPT4SHIM_PEER": addr(r["peer"]),
            "ACCEPT4SHIM_HOW": r["how"],
            "ACCEPT4SHIM_RETRIES": str(r["retries"]),
            "ACCEPT4SHIM_DUR_NS": str(r["dur_ns"]),
            "SYSLOG_IDENTIFIER": "accept4shim",
        }
        for k, v in fields.items():
            if e.get(k) != v:
                sys.exit("record %d: %s is %r, expected %r" % (i, k, e.get(k), v))
        if not e["MESSAGE"].startswith("ts=%s pid=%d " % (r["ts"], r["pid"])):
            sys.exit("record %d: MESSAGE %r" % (i, e["MESSAGE"]))
    print("ok", len(got))


main()
