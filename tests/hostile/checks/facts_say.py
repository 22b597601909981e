#!/usr/bin/python3
"""facts_say.py WORD...: some line of the case's facts ($A4S_HOSTILE_FACTS)
holds every WORD as a word, e.g. what accept4shim_config() answered in a
program that loaded the library itself (NO_PRELOAD)."""
import os
import sys

words = sys.argv[1:]
try:
    lines = open(os.environ["A4S_HOSTILE_FACTS"]).read().splitlines()
except OSError as e:
    print("no facts: %s" % e)
    sys.exit(1)
if not any(all(w in line.split() for w in words) for line in lines):
    print("no fact says %s; the facts: %s" % (" ".join(words), lines))
    sys.exit(1)
