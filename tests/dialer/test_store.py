"""
Tests for L{fts.db.dialing}: the claim, the calls rows, releasing claims,
reading campaigns, and the leadership lock.
"""

from datetime import time

from twisted.internet import defer, reactor

from fts.core.campaign import RetryRule, Window
from fts.db.dialing import DialingStore, LeaderLock
from tests.dialer import support as S
from tests.dialer.support import T0
from tests.support.db import DatabaseTestCase

NOW = S.at(T0)


class ClaimTests(DatabaseTestCase):
    pool_size = 3

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.dialing = DialingStore(self.pool)

    @defer.inlineCallbacks
    def test_due_contacts_in_order(self):
        """
        A claim takes due contacts only, oldest due first, puts them in
        flight with distinct call ids reserved, and says who claimed them.
        """
        cid, list_id = yield S.campaign(self.pool, contacts=3)
        yield S.add_contacts(self.pool, cid, list_id, 2, due=T0 - 3600, start=10)
        yield S.add_contacts(self.pool, cid, list_id, 1, due=T0 + 60, start=20)
        rows = yield self.dialing.claim(cid, 10, "me", NOW)
        self.assertEqual([r.phone for r in rows],
                         ["15550000010", "15550000011", "15550000001", "15550000002",
                          "15550000003"])
        self.assertEqual(len({r.call_id for r in rows}), 5)
        self.assertEqual({r.status for r in rows}, {"in_flight"})
        states = yield self.pool.runQuery(
            "SELECT DISTINCT claimed_by FROM campaign_contacts WHERE status = 'in_flight'")
        self.assertEqual(states[0][0], "me")
        again = yield self.dialing.claim(cid, 10, "me", NOW)
        self.assertEqual(again, [])

    @defer.inlineCallbacks
    def test_concurrent_claims_never_overlap(self):
        """
        Claims running at once (two dialers) never take the same contact.
        """
        cid, _ = yield S.campaign(self.pool, contacts=50)
        results = yield defer.gatherResults(
            [self.dialing.claim(cid, 30, name, NOW) for name in ("a", "b", "c")])
        ids = [r.id for rows in results for r in rows]
        self.assertEqual(len(ids), 50)
        self.assertEqual(len(set(ids)), 50)

    @defer.inlineCallbacks
    def test_not_running(self):
        """
        Nothing is claimed from a campaign that is not running.
        """
        cid, _ = yield S.campaign(self.pool, contacts=3, state="paused")
        rows = yield self.dialing.claim(cid, 10, "me", NOW)
        self.assertEqual(rows, [])

    @defer.inlineCallbacks
    def test_dnc(self):
        """
        A number on the opt-outs list (checked first) or on a list the
        campaign honours is done as dnc_skipped with that list, and gets no
        call id.
        """
        cid, _ = yield S.campaign(self.pool, contacts=2)
        builtin = yield S.dnc(self.pool, "15550000001")
        yield S.dnc(self.pool, "15550000001", builtin=False, name="mine", campaign_id=cid)
        rows = yield self.dialing.claim(cid, 10, "me", NOW)
        skipped = [r for r in rows if r.status == "done"]
        self.assertEqual([(r.phone, r.dnc_list_id, r.call_id) for r in skipped],
                         [("15550000001", builtin, None)])

    @defer.inlineCallbacks
    def test_dnc_lists_honoured_only(self):
        """
        A list the campaign honours skips its numbers (the lowest list id
        first when two match); a list of another campaign does not.
        """
        cid, _ = yield S.campaign(self.pool, contacts=3)
        other, _ = yield S.campaign(self.pool, contacts=1)
        first = yield S.dnc(self.pool, "15550000002", builtin=False, name="a", campaign_id=cid)
        yield S.dnc(self.pool, "15550000002", builtin=False, name="b", campaign_id=cid)
        yield S.dnc(self.pool, "15550000003", builtin=False, name="c", campaign_id=other)
        rows = yield self.dialing.claim(cid, 10, "me", NOW)
        self.assertEqual(sorted((r.phone, r.status, r.dnc_list_id) for r in rows), [
            ("15550000001", "in_flight", None),
            ("15550000002", "done", first),
            ("15550000003", "in_flight", None)])

    @defer.inlineCallbacks
    def test_prepare_and_release(self):
        """
        The calls rows of claimed contacts are written in one statement with
        the contacts to put back at a later instant; releasing claims never
        dialed restores them and removes their unused calls rows.
        """
        cid, _ = yield S.campaign(self.pool, contacts=3)
        rows = yield self.dialing.claim(cid, 10, "me", NOW)
        a, b, c = rows
        written = yield self.dialing.prepare(
            cid, [(r.call_id, r.contact_id, r.id, r.phone) for r in (a, b)],
            [(c.id, c.call_id, S.at(T0 + 600))], "5550100", NOW)
        self.assertEqual(written, (2, 1))
        calls = yield self.pool.runQuery(
            "SELECT id, channel_id, number_dialed, caller_id_number FROM calls ORDER BY id")
        self.assertEqual([tuple(r) for r in calls], [
            (a.call_id, "fts-%d" % a.call_id, a.phone, "5550100"),
            (b.call_id, "fts-%d" % b.call_id, b.phone, "5550100")])
        released = yield self.dialing.release([(a.id, a.call_id)])
        self.assertEqual(released, (1, 1))
        contacts = yield S.contacts(self.pool, cid)
        self.assertEqual([(r[2], r[6]) for r in contacts],
                         [("pending", T0 - 60), ("in_flight", T0 - 60),
                          ("pending", T0 + 600)])
        earliest = yield self.dialing.earliest_pending([cid])
        self.assertEqual(earliest[cid].timestamp(), T0 - 60)


class CampaignReadingTests(DatabaseTestCase):
    @defer.inlineCallbacks
    def test_settings_from_columns_and_json(self):
        """
        A campaign is read with the columns the dialer uses (pacing,
        schedule, recipient hours, attempts) and its retry rules from the
        JSON settings; a window from = to (not midnight) lasts 24 hours.
        """
        settings = {"retry": {"busy": {"retry": True, "delay": 120}}}
        cid, _ = yield S.campaign(self.pool, settings=settings, max_channels=7, cps=2.5,
                                  priority=3, max_attempts=4, timezone="Europe/Paris",
                                  local_hours=("09:00", "20:00"),
                                  windows=[(0, "08:00", "08:00"), (2, "09:00", "17:30")])
        [record] = yield DialingStore(self.pool).campaigns()
        s = record.settings
        self.assertEqual((s.pacing.max_channels, s.pacing.cps, s.pacing.priority),
                         (7, 2.5, 3))
        self.assertEqual(s.retry.max_attempts, 4)
        self.assertEqual(s.retry.busy, RetryRule(True, 120))
        self.assertEqual(s.schedule.timezone, "Europe/Paris")
        self.assertEqual((s.schedule.recipient_hours.start, s.schedule.recipient_hours.end),
                         (time(9), time(20)))
        self.assertEqual(s.schedule.windows, (
            Window(0, time(8), time(0)), Window(1, time(0), time(8)),
            Window(2, time(9), time(17, 30))))
        self.assertEqual(record.state, "running")


class LeaderLockTests(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.store = DialingStore(self.pool)
        for name in ("one", "two"):
            yield self.store.register_instance(name, NOW)
        self.one = LeaderLock(reactor, self.pool.dsn, "one")
        self.two = LeaderLock(reactor, self.pool.dsn, "two")
        self.addCleanup(self.one.drop)
        self.addCleanup(self.two.drop)

    @defer.inlineCallbacks
    def test_one_holder(self):
        """
        Only one instance holds the dialer lock; it is free again as soon as
        the holder's session ends.
        """
        store, one, two = self.store, self.one, self.two
        self.assertTrue((yield one.try_acquire(NOW)))
        self.assertFalse((yield two.try_acquire(NOW)))
        yield one.heartbeat(NOW, {"calls": 3})
        one.drop()
        yield S.real_turn(0.05)
        self.assertTrue((yield two.try_acquire(NOW)))
        rows = yield store.instances()
        self.assertEqual(sorted((r[0], r[1]) for r in rows), [("one", False), ("two", True)])

    @defer.inlineCallbacks
    def test_session_ended_by_the_server(self):
        """
        When the server ends the lock's session while it is idle, the lock
        knows at once that it is no longer held (nothing logged as an
        unhandled error), and its next heartbeat fails, so the dialer steps
        down; another instance can take the lock.
        """
        one, two = self.one, self.two
        self.assertTrue((yield one.try_acquire(NOW)))
        pid = (yield one.connection.runQuery("SELECT pg_backend_pid()"))[0][0]
        yield self.pool.runQuery("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):
            if not one.held:
                break
            yield S.real_turn(0.02)
        self.assertEqual((one.held, one.connection), (False, None))
        yield self.assertFailure(one.heartbeat(NOW, {}), RuntimeError)
        self.assertTrue((yield two.try_acquire(NOW)))
