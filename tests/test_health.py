"""
Tests for L{fts.health}.
"""

from twisted.internet.task import Clock
from twisted.trial import unittest

from fts import health as H


class HealthTests(unittest.SynchronousTestCase):
    def test_since_moves_only_on_change(self):
        """
        A component's C{since} is when its state last changed.
        """
        clock = Clock()
        health = H.Health(clock)
        db = health.component("db")
        clock.advance(5)
        db.set(H.UP)
        clock.advance(5)
        db.set(H.UP)
        self.assertEqual(db.as_dict()["since"], 5)

    def test_overall(self):
        """
        ok when all are up; degraded when only non-critical ones are not;
        down when a critical one is not.
        """
        health = H.Health(Clock())
        db = health.component("db")
        pbx = health.component("pbx", critical=False)
        db.set(H.UP)
        pbx.set(H.UP)
        self.assertEqual(health.overall(), "ok")
        pbx.set(H.DOWN, error="connection refused")
        self.assertEqual(health.overall(), "degraded")
        db.set(H.DOWN, error="gone")
        self.assertEqual(health.overall(), "down")
        report = health.report()
        self.assertEqual(report["components"]["pbx"]["last_error"], "connection refused")
        self.assertEqual(list(report["components"]), ["db", "pbx"])

    def test_watched_details(self):
        """
        A watched component shows its probe's counters at report time.
        """
        health = H.Health(Clock())
        agi = health.component("agi")
        counts = {"active": 1}
        agi.watch(lambda: dict(counts))
        counts["active"] = 7
        self.assertEqual(health.report()["components"]["agi"]["details"], {"active": 7})
