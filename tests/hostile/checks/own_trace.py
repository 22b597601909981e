#!/usr/bin/python3
"""Each process of a hostile case traced as itself.

    own_trace.py [--idle-child]

Reads the facts the case wrote ($A4S_HOSTILE_FACTS: "pid tid calls" per
process) and the JSON trace in $A4S_HOSTILE_TRACE (ACCEPT4SHIM_LOG=
@TRACE@/t-%p.jsonl with ACCEPT4SHIM_STATS=1). Each process of the facts
must have its own file t-PID.jsonl whose every record carries its pid, whose
call records carry its tid, with exactly `calls` call records and one exit
summary counting `calls`. No other trace file may exist: with --idle-child,
a child that made no call (so not in the facts) left none.
"""
import glob
import json
import os
import sys


def main():
    trace = os.environ["A4S_HOSTILE_TRACE"]
    with open(os.environ["A4S_HOSTILE_FACTS"]) as f:
        facts = [tuple(int(x) for x in line.split()) for line in f if line.strip()]
    problems = []
    wanted = {os.path.join(trace, "t-%d.jsonl" % pid) for pid, _, _ in facts}
    present = set(glob.glob(os.path.join(trace, "*")))
    for extra in sorted(present - wanted):
        problems.append("a trace file of no process that made a call: %s" % extra)
    for pid, tid, calls in facts:
        path = os.path.join(trace, "t-%d.jsonl" % pid)
        if not os.path.exists(path):
            problems.append("process %d has no trace file of its own" % pid)
            continue
        records = [json.loads(line) for line in open(path)]
        call_records = [r for r in records if "call" in r]
        summaries = [r for r in records if r.get("summary") == "exit"]
        for r in records:
            if r.get("pid") != pid:
                problems.append("%s: a record with pid %s: %s" % (path, r.get("pid"), r))
        for r in call_records:
            if r.get("tid") != tid:
                problems.append("%s: a record with tid %s, not %d: %s" % (path, r.get("tid"), tid, r))
        if len(call_records) != calls:
            problems.append("%s: %d call records, the process made %d"
                            % (path, len(call_records), calls))
        if len(summaries) != 1 or summaries[0].get("calls") != calls:
            problems.append("%s: the exit summary should count %d calls: %s"
                            % (path, calls, summaries))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
