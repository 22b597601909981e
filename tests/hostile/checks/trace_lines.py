#!/usr/bin/python3
"""Checks a hostile case's trace (the library run's @TRACE@ directory).

    trace_lines.py FILE [--max-bytes N] [--records N] [--first-errno NAME]

FILE is relative to the trace directory ($A4S_HOSTILE_TRACE), %p in it the
library run's first process ($A4S_HOSTILE_PID). Every line
must end in a newline and be one JSON object (no record torn, none mixed);
--max-bytes: the file is no larger; --records: it holds exactly N call
records (summaries aside); --first-errno: the first record failed with it.
"""
import argparse
import json
import os
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--max-bytes", type=int)
    p.add_argument("--records", type=int)
    p.add_argument("--first-errno")
    a = p.parse_args()
    name = a.file.replace("%p", os.environ.get("A4S_HOSTILE_PID", "%p"))
    path = os.path.join(os.environ["A4S_HOSTILE_TRACE"], name)
    with open(path, "rb") as f:
        data = f.read()
    problems = []
    if a.max_bytes is not None and len(data) > a.max_bytes:
        problems.append("%d bytes, more than %d" % (len(data), a.max_bytes))
    if data and not data.endswith(b"\n"):
        problems.append("the last record is cut: %r" % data[-80:])
    records = []
    for n, line in enumerate(data.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            problems.append("line %d is not one JSON object (%s): %r" % (n, e, line[:120]))
            continue
        if "summary" not in obj:
            records.append(obj)
    if a.records is not None and len(records) != a.records:
        problems.append("%d records, want %d" % (len(records), a.records))
    if a.first_errno and (not records or records[0].get("errno") != a.first_errno):
        problems.append("the first record is %r, want errno %s"
                        % (records[0] if records else None, a.first_errno))
    for p_ in problems:
        print(path + ": " + p_)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
