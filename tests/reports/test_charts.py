"""
Tests for L{fts.reports.charts}: valid, escaped, proportional SVG.
"""

import xml.etree.ElementTree as ET

from twisted.trial import unittest

from fts.reports.charts import bar_chart, report_charts, stacked_bar_chart
from tests.reports.test_model import small_report

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg):
    return ET.fromstring(svg)


class BarChartTests(unittest.SynchronousTestCase):

    def test_escaped_labels(self):
        """Labels with markup characters are escaped, and the SVG parses."""
        svg = bar_chart('Options <"&">', [("<script>alert(1)</script>", 3), ("a & b", 1)],
                        unit="contacts")
        self.assertNotIn("<script>", svg)
        root = parse(svg)
        self.assertEqual(root.find(SVG + "title").text, 'Options <"&">')
        self.assertEqual(root.get("aria-label"), 'Options <"&">')
        texts = [t.text for t in root.iter(SVG + "text")]
        self.assertIn("<script>alert(1)</script>", texts)
        self.assertIn("3 contacts", texts)

    def test_proportional_bars(self):
        """The largest value fills the plot; the others are in proportion; zero is empty."""
        root = parse(bar_chart("t", [("a", 10), ("b", 5), ("c", 0)], width=640,
                               label_width=220))
        widths = [float(r.get("width")) for r in root.iter(SVG + "rect")]
        self.assertEqual(widths, [330.0, 165.0, 0.0])

    def test_all_zero(self):
        """A chart of zeros draws empty bars (no division by zero)."""
        root = parse(bar_chart("t", [("a", 0)]))
        self.assertEqual([r.get("width") for r in root.iter(SVG + "rect")], ["0"])

    def test_readable_source(self):
        """The source has one element per line."""
        svg = bar_chart("t", [("a", 1), ("b", 2)])
        self.assertTrue(all(line.count("<g") + line.count("<rect") + line.count("<text") <= 1
                            for line in svg.splitlines()))


class StackedChartTests(unittest.SynchronousTestCase):

    def test_segments_and_legend(self):
        """Each column stacks its series in order; heights add up to the total."""
        svg = stacked_bar_chart("Calls", [("A1", [("busy", 2), ("answered", 6)]),
                                          ("A2", [("answered", 4)])],
                                [("answered", "Answered"), ("busy", "Busy <b>")],
                                width=400, height=260)
        root = parse(svg)
        columns = [g for g in root.iter(SVG + "g")]
        first = [float(r.get("height")) for r in columns[0].iter(SVG + "rect")]
        second = [float(r.get("height")) for r in columns[1].iter(SVG + "rect")]
        self.assertAlmostEqual(sum(first), second[0] * 2, places=0)
        self.assertEqual(len(first), 2)
        self.assertIn("Busy <b>", [t.text for t in root.iter(SVG + "text")])
        self.assertNotIn("<b>", svg)

    def test_empty(self):
        """No calls at all still renders."""
        parse(stacked_bar_chart("Calls", [("00", [])], [("answered", "Answered")]))


class ReportChartsTests(unittest.SynchronousTestCase):

    def test_report_charts(self):
        """Every chart of a report parses, and labels come from the report."""
        charts = report_charts(small_report())
        self.assertEqual(sorted(charts),
                         ["attempts", "failure_reasons", "final_outcomes", "hours", "options"])
        for svg in charts.values():
            parse(svg)
        self.assertIn("1: Yes", charts["options"])
        self.assertIn("Calls per hour of day (Europe/Paris)", charts["hours"])
