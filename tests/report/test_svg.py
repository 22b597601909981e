#!/usr/bin/python3
"""scripts/accept4shim-report --svg, read back with xml.etree.

The fixture (timeline.3001.json, timeline.3002.json) was made by hand:
  pid 3001: records only, and an exit summary;
  pid 3002: a server killed after two interval summaries of 2 s (at
  10:00:02 and 10:00:04), its EAGAIN records skipped (4 per interval),
  its accepted calls recorded.
In 1 s buckets from 10:00:00 (all at 127.0.0.1:8080):
  bucket      accepted  failed            retries  dur_ns (sorted)
  10:00:00    3         0                 0        1000 3000 5000
  10:00:01    5         EMFILE 1          0        500 1000 2000 3000 4000 6000
  10:00:02    2         0                 0        7000 7000
  10:00:03    3         ECONNABORTED 1    130      7000 7000 10000 250000
  10:00:04    4         0                 0        2000 2000 2000 8000
so p50 (nearest rank) 3000 2000 7000 7000 2000 and p99 5000 6000 7000
250000 8000. The interval summaries, spread over the 2 s each covers: 1
accepted/s and 2 failed/s (EAGAIN) over 10:00:00-02, 2 and 2 over
10:00:02-04, nothing in the last bucket.

Each plotted value is read back from the drawing itself: a bar's top, a
line's level, a point's centre, through the axis ticks' positions and
labels (linear, or logarithmic for time in accept), and compared with the
numbers above.
"""
import math
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "..", "..", "scripts", "accept4shim-report")
NS = {"s": "http://www.w3.org/2000/svg"}
T0 = 1795255200  # 2026-11-21T10:00:00Z

ACCEPTED = [3, 5, 2, 3, 4]
P50 = [3000, 2000, 7000, 7000, 2000]
P99 = [5000, 6000, 7000, 250000, 8000]
SUM_ACCEPTED = [1, 1, 2, 2, None]


def report(*args):
    with tempfile.TemporaryDirectory() as d:
        svg = os.path.join(d, "out.svg")
        run = subprocess.run(["/usr/bin/python3", REPORT, "--svg", svg] + list(args),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if run.returncode != 0:
            raise AssertionError("report: %d\n%s" % (run.returncode, run.stderr.decode()))
        return ET.parse(svg).getroot(), run.stdout.decode()


def fixture(*names):
    return [os.path.join(HERE, n) for n in names]


class Axis:
    """Maps pixels back to values from an axis group's ticks: each tick is
    a grid line and, in the same order, a label carrying its value."""

    def __init__(self, group, coord, log=False):
        lines = [l for l in group.findall("s:line", NS) if l.get("class") == "grid"]
        labels = [t for t in group.findall("s:text", NS) if t.get("class") == "tick"]
        assert len(lines) == len(labels) >= 2, (len(lines), len(labels))
        self.pairs = [(float(l.get(coord)), float(t.get("data-value")))
                      for l, t in zip(lines, labels)]
        self.log = log
        self.labels = [t.text for t in labels]

    def value(self, px):
        (p0, v0), (p1, v1) = self.pairs[0], self.pairs[-1]
        if self.log:
            v0, v1 = math.log10(v0), math.log10(v1)
        v = v0 + (px - p0) / (p1 - p0) * (v1 - v0)
        return 10 ** v if self.log else v


class Panel:
    def __init__(self, g):
        self.g = g
        y = g.find("s:g[@class='axis y']", NS)
        self.y = Axis(y, "y1", log=y.get("data-scale") == "log")
        self.x = Axis(g.find("s:g[@class='axis x']", NS), "x1")
        self.title = g.find("s:text[@class='panel-title']", NS).text
        self.legend = [t.text for t in g.find("s:g[@class='legend']", NS).findall("s:text", NS)]

    def series(self, name):
        found = [s for s in self.g.findall("s:g[@class='series']", NS)
                 if s.get("data-series") == name]
        return found[0] if found else None

    def bucket(self, px):
        """The bucket (0 = 10:00:00) that an x position falls in."""
        return math.floor(self.x.value(px) - T0)

    def bars(self, name):
        """{bucket: (bottom value, top value)}, read from the rectangles."""
        out = {}
        for r in self.series(name).findall("s:rect", NS):
            x, w = float(r.get("x")), float(r.get("width"))
            top, h = float(r.get("y")), float(r.get("height"))
            out[self.bucket(x + w / 2)] = (self.y.value(top + h), self.y.value(top))
        return out

    def steps(self, name):
        """{bucket: level}, from the horizontal runs of the drawn lines."""
        out = {}
        for line in self.series(name).findall("s:polyline", NS):
            if line.get("class") != "line":
                continue
            pts = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
            for (xa, ya), (xb, yb) in zip(pts, pts[1:]):
                if ya == yb and xb > xa:
                    out[self.bucket((xa + xb) / 2)] = self.y.value(ya)
        return out

    def points(self, name):
        return {self.bucket(float(c.get("cx"))): self.y.value(float(c.get("cy")))
                for c in self.series(name).findall("s:circle", NS)}


def panels(root):
    return {g.get("id"): Panel(g) for g in root.iter("{%s}g" % NS["s"])
            if g.get("class") == "panel"}


class TimelineSvg(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root, cls.text = report("--bucket", "1", *fixture("timeline.3001.json",
                                                              "timeline.3002.json"))
        cls.panels = panels(cls.root)

    def close(self, got, want, what):
        self.assertLess(abs(got - want), 1e-6 * max(1, abs(want)) + 1e-3,
                        "%s: drawn %r, want %r" % (what, got, want))

    def test_is_an_svg_with_one_panel_per_metric_in_order(self):
        self.assertEqual(self.root.tag, "{http://www.w3.org/2000/svg}svg")
        self.assertEqual(list(self.panels), ["panel-accepted", "panel-failed", "panel-retries",
                                             "panel-latency"])
        for p in self.panels.values():
            self.assertTrue(p.title)

    def test_axes_have_labelled_ticks_and_units(self):
        for ident, p in self.panels.items():
            self.assertEqual(p.x.labels, ["10:00:00", "10:00:01", "10:00:02", "10:00:03",
                                          "10:00:04", "10:00:05"], ident)
            unit = p.g.find("s:g[@class='axis y']/s:text[@class='unit']", NS)
            self.assertIn(unit.text, ("per second", "per second (log)", "time per call"), ident)
            self.assertGreaterEqual(len(p.y.labels), 3, ident)
        self.assertEqual(self.panels["panel-latency"].y.labels,
                         ["1 \u00b5s", "10 \u00b5s", "100 \u00b5s", "1 ms"])
        self.assertEqual(self.panels["panel-accepted"].y.labels[0], "0")
        self.assertEqual(self.panels["panel-failed"].y.labels,
                         ["0.1", "0.2", "0.5", "1", "2", "5", "10"])
        self.assertTrue(self.panels["panel-failed"].y.log)

    def test_legends_name_every_series(self):
        p = self.panels
        self.assertEqual(p["panel-accepted"].legend, ["from records", "from interval summaries"])
        self.assertEqual(p["panel-failed"].legend,
                         ["EAGAIN", "ECONNABORTED", "EMFILE", "records", "interval summaries"])
        self.assertEqual(p["panel-retries"].legend, ["from records", "from interval summaries"])
        self.assertEqual(p["panel-latency"].legend, ["p50", "p99", "max"])

    def test_accepted_bars_are_the_records_per_second(self):
        bars = self.panels["panel-accepted"].bars("records")
        self.assertEqual(sorted(bars), [0, 1, 2, 3, 4])
        for b, (bottom, top) in bars.items():
            self.close(bottom, 0, "bucket %d bottom" % b)
            self.close(top, ACCEPTED[b], "bucket %d" % b)

    def test_failed_calls_by_errno_on_a_log_scale(self):
        """From the records, EMFILE and ECONNABORTED, one each; from the
        summaries, the skipped EAGAIN, 2/s over the four buckets they
        cover; no EAGAIN from the records (all skipped), no EMFILE in the
        summaries (pid 3002 had none)."""
        p = self.panels["panel-failed"]
        for name, want in (("EMFILE", {1: 1}), ("ECONNABORTED", {3: 1}),
                           ("EAGAIN (interval summaries)", {0: 2, 1: 2, 2: 2, 3: 2})):
            got = p.steps(name)
            self.assertEqual(sorted(got), sorted(want), name)
            for b, v in got.items():
                self.assertLess(abs(math.log10(v) - math.log10(want[b])), 1e-4,
                                "%s bucket %d: drawn %r, want %r" % (name, b, v, want[b]))
        self.assertIsNone(p.series("EAGAIN"))
        self.assertIsNone(p.series("EMFILE (interval summaries)"))

    def test_retries_bar(self):
        bars = self.panels["panel-retries"].bars("records")
        self.assertEqual(list(bars), [3])
        self.close(bars[3][1], 130, "retries")

    def test_interval_summaries_are_lines_over_what_they_cover(self):
        for ident, want in (("panel-accepted", SUM_ACCEPTED),
                            ("panel-retries", [0, 0, 0, 0, None])):
            got = self.panels[ident].steps("interval summaries")
            self.assertEqual(sorted(got), [b for b, v in enumerate(want) if v is not None],
                             ident)
            for b, v in got.items():
                self.close(v, want[b], "%s bucket %d" % (ident, b))

    def test_latency_points_on_a_log_axis(self):
        p = self.panels["panel-latency"]
        for name, want in (("p50", P50), ("p99", P99)):
            got = p.points(name)
            self.assertEqual(sorted(got), [0, 1, 2, 3, 4], name)
            for b, v in got.items():
                self.assertLess(abs(math.log10(v) - math.log10(want[b])), 1e-4,
                                "%s bucket %d: drawn %r, want %r" % (name, b, v, want[b]))
        self.assertEqual(len(p.points("max")), 5)

    def test_the_text_report_says_the_same(self):
        self.assertIn("2 files, 19 records, 1 exit summary, 2 interval summaries, "
                      "0 lines skipped\n", self.text)
        self.assertIn(
            "  2026-11-21T10:00:00Z         3        0        0    3.0us    5.0us"
            "            3           2\n"
            "  2026-11-21T10:00:01Z         5        1        0    2.0us    6.0us"
            "            3           2\n"
            "  2026-11-21T10:00:02Z         2        0        0    7.0us    7.0us"
            "            4           2\n"
            "  2026-11-21T10:00:03Z         3        1      130    7.0us    250us"
            "            4           2\n"
            "  2026-11-21T10:00:04Z         4        0        0    2.0us    8.0us"
            "            -           -\n", self.text)
        self.assertIn("  pid 3002  2 summaries 2026-11-21T10:00:02.000000Z .. "
                      "2026-11-21T10:00:04.000000Z  calls 14  accepted 6  failed 8  "
                      "retried 0 (0 retries)  dropped 0  errors EAGAIN 8  "
                      "(no exit summary: killed?)\n", self.text)


class WithoutSummaries(unittest.TestCase):
    def test_no_summary_series_and_the_default_bucket(self):
        root, text = report(*fixture("trace.1001.json", "trace.1002.json"))
        p = panels(root)
        self.assertEqual(len(p), 4)
        self.assertEqual(p["panel-accepted"].legend, ["from records"])
        self.assertIsNone(p["panel-accepted"].series("interval summaries"))
        bars = p["panel-accepted"].bars("records")
        # 1 s buckets (the default for 2 s of trace): 9, 6 and 4 accepted
        self.assertEqual(sorted(bars), [0, 1, 2])
        for b, want in zip(range(3), (9, 6, 4)):
            self.assertLess(abs(bars[b][1] - want), 1e-3, (b, bars[b]))


class NothingToDraw(unittest.TestCase):
    def test_a_trace_without_times_fails_with_a_word(self):
        with tempfile.TemporaryDirectory() as d:
            empty = os.path.join(d, "empty.json")
            open(empty, "w").close()
            run = subprocess.run(["/usr/bin/python3", REPORT, "--svg",
                                  os.path.join(d, "x.svg"), empty],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(run.returncode, 1)
            self.assertIn(b"nothing to draw", run.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "x.svg")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
