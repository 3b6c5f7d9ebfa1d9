"""
Tests for L{fts.web.campaign_feed}: the progress kept by
L{ProgressCache} and the live report rebuilt less often when it costs
more (deterministic: a C{Clock}; the reads are Deferreds the test fires).
"""

import attr
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial import unittest

from fts.web import campaign_feed
from fts.web.campaign_feed import CampaignFeeds, ProgressCache


class Reads:
    """
    A read the test answers: C{calls} lists the campaigns asked for, each
    answer a Deferred fired by L{answer}, which first moves the clock on
    by C{cost} seconds (what the read took).
    """

    def __init__(self, clock):
        self.clock = clock
        self.calls = []
        self.pending = []

    def __call__(self, campaign_id):
        self.calls.append(campaign_id)
        d = defer.Deferred()
        self.pending.append(d)
        return d

    def answer(self, value, cost=0.0):
        self.clock.advance(cost)
        self.pending.pop(0).callback(value)

    def fail(self, error):
        self.pending.pop(0).errback(error)


class ProgressCacheTests(unittest.TestCase):

    def setUp(self):
        self.clock = Clock()
        self.reads = Reads(self.clock)
        self.cache = ProgressCache(self.clock, self.reads, min_age=1.0, cost_factor=20.0)

    def test_one_read_for_all_waiting(self):
        """
        Callers asking while a read is under way wait for that read: one
        read, everybody gets its result.
        """
        first, second = self.cache.get(7), self.cache.get(7)
        self.assertEqual(self.reads.calls, [7])
        self.reads.answer("p1")
        self.assertEqual((self.successResultOf(first), self.successResultOf(second)),
                         ("p1", "p1"))

    def test_kept_at_least_min_age(self):
        """
        A cheap read is reused for C{min_age} seconds, then read again;
        campaigns are kept apart.
        """
        self.cache.get(7)
        self.reads.answer("p1", cost=0.001)
        self.clock.advance(0.9)
        self.assertEqual(self.successResultOf(self.cache.get(7)), "p1")
        self.cache.get(8)
        self.assertEqual(self.reads.calls, [7, 8])
        self.clock.advance(0.2)
        self.cache.get(7)
        self.assertEqual(self.reads.calls, [7, 8, 7])
        self.reads.answer("p8")
        self.reads.answer("p2")
        self.assertEqual(self.successResultOf(self.cache.get(7)), "p2")

    def test_stale_served_while_reading(self):
        """
        Once stale, the kept reading is still served at once while one new
        read runs behind it; the next callers get the new one.  Older than
        C{max_stale}, it is not served: callers wait for the read.
        """
        self.cache.get(7)
        self.reads.answer("p1", cost=0.001)
        self.clock.advance(2)
        self.assertEqual(self.successResultOf(self.cache.get(7)), "p1")
        self.assertEqual(self.successResultOf(self.cache.get(7)), "p1")
        self.assertEqual(self.reads.calls, [7, 7])
        self.reads.answer("p2", cost=0.001)
        self.assertEqual(self.successResultOf(self.cache.get(7)), "p2")
        self.clock.advance(self.cache.max_stale + 1)
        waiting = self.cache.get(7)
        self.assertNoResult(waiting)
        self.reads.answer("p3")
        self.assertEqual(self.successResultOf(waiting), "p3")

    def test_background_failure_logged(self):
        """
        A read nobody waits for that fails is logged, and the kept reading
        is served until a read succeeds.
        """
        self.cache.get(7)
        self.reads.answer("p1", cost=0.001)
        self.clock.advance(2)
        self.cache.get(7)
        self.reads.fail(RuntimeError("database away"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(self.successResultOf(self.cache.get(7)), "p1")
        self.assertEqual(self.reads.calls, [7, 7, 7])

    def test_kept_longer_when_costly(self):
        """
        A read that took 0.5 s is reused for 20 times that (10 s): the
        database time stays a twentieth of the wall time, whatever the
        campaign's size.
        """
        self.cache.get(7)
        self.reads.answer("p1", cost=0.5)
        self.clock.advance(9.9)
        self.assertEqual(self.successResultOf(self.cache.get(7)), "p1")
        self.assertEqual(self.reads.calls, [7])
        self.clock.advance(0.2)
        self.cache.get(7)
        self.assertEqual(self.reads.calls, [7, 7])

    def test_failure_not_kept(self):
        """
        A failed read fails every waiting caller and is not kept: the next
        caller reads again.
        """
        first, second = self.cache.get(7), self.cache.get(7)
        self.reads.fail(RuntimeError("database away"))
        self.failureResultOf(first, RuntimeError)
        self.failureResultOf(second, RuntimeError)
        self.cache.get(7)
        self.assertEqual(self.reads.calls, [7, 7])

    def test_forget_and_bounded(self):
        """
        L{ProgressCache.forget} makes the next call read again; no more
        than C{max_entries} campaigns are kept.
        """
        self.cache.max_entries = 2
        for campaign in (1, 2, 3):
            self.cache.get(campaign)
            self.reads.answer(f"p{campaign}")
        self.assertEqual(sorted(self.cache._entries), [2, 3])
        self.cache.forget(3)
        self.cache.get(3)
        self.assertEqual(self.reads.calls, [1, 2, 3, 3])


@attr.s
class _Web:
    clock = attr.ib()
    store = attr.ib()


@attr.s
class _Store:
    reports = attr.ib()


class ReportIntervalTests(unittest.TestCase):
    """
    The live report is rebuilt every C{report_interval} seconds, or every
    C{report_cost_factor} times its build time when that is longer.
    """

    def setUp(self):
        self.clock = Clock()
        self.builds = Reads(self.clock)
        self.feeds = CampaignFeeds(_Web(self.clock, _Store(self)), build=None,
                                   report_interval=10.0, report_cost_factor=20.0)
        self.patch(campaign_feed, "report_part", lambda report: report)

    def current(self, campaign_id):
        return self.builds(campaign_id)

    def report(self, cost):
        d = defer.ensureDeferred(self.feeds.report(7))
        if self.builds.pending:
            self.builds.answer(f"built at {self.clock.seconds()}", cost=cost)
        return self.successResultOf(d)

    def test_cheap_report_every_interval(self):
        self.report(cost=0.1)
        self.clock.advance(9.8)
        self.report(cost=0.1)
        self.assertEqual(len(self.builds.calls), 1)
        self.clock.advance(0.2)
        self.report(cost=0.1)
        self.assertEqual(len(self.builds.calls), 2)

    def test_costly_report_less_often(self):
        """
        A build of 2 s is reused for 40 s after it ends.
        """
        self.report(cost=2.0)
        self.clock.advance(39.9)
        self.report(cost=2.0)
        self.assertEqual(len(self.builds.calls), 1)
        self.clock.advance(0.2)
        self.report(cost=2.0)
        self.assertEqual(len(self.builds.calls), 2)

    def test_stats_share_the_feed_report(self):
        """
        L{CampaignFeeds.current_report} (the API's stats) and the feeds'
        report part come from one build while it is fresh.
        """
        self.report(cost=0.1)
        d = defer.ensureDeferred(self.feeds.current_report(7))
        self.assertEqual(self.successResultOf(d), "built at 0.0")
        self.assertEqual(len(self.builds.calls), 1)
