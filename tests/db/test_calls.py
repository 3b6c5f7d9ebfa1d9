"""
Tests for L{fts.db.calls.CallsQuery} (the calls table, its CSV pages and a
campaign's progress) and L{fts.db.campaign_actions.CampaignActions}
(moving the start, cancelling pending calls), on a real database.
"""

from datetime import UTC, datetime, timedelta

from twisted.internet import defer, task

from fts.core.lifecycle import State
from fts.db.audit import Actor
from fts.db.calls import CallFilter, CallsQuery
from fts.db.campaign_actions import ActionRefused, CampaignActions
from fts.db.campaigns import CampaignNotFound, CampaignStore
from tests.lifecycle import fixtures as F
from tests.support.db import DatabaseTestCase

ALICE = Actor("user", "alice")
PHONES = ("15551000", "15551001", "15552002", "15553003")


class CallsQueryTests(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = task.Clock()
        self.clock.advance(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
        self.campaigns = CampaignStore(self.pool, self.clock)
        self.query = CallsQuery(self.pool)
        self.cid = yield F.campaign_in(self.campaigns, self.pool, "running", phones=PHONES)
        self.rows = yield F.contact_rows(self.pool, self.cid)
        # Calls, oldest first: one per contact a day apart, outcomes varied,
        # then a call still in progress and a test call.
        self.calls = []
        outcomes = ("answered", "busy", "no_answer", "answered")
        for n, (phone, outcome) in enumerate(zip(PHONES, outcomes)):
            call_id, _ = yield F.add_call(self.pool, self.cid, self.rows[phone], 1,
                                          outcome=outcome, answered=outcome == "answered",
                                          at=F.T0 + timedelta(days=n))
            self.calls.append(call_id)
        call_id, _ = yield F.add_call(self.pool, self.cid, self.rows[PHONES[1]], 2,
                                      ended=False, at=F.T0 + timedelta(days=5))
        self.calls.append(call_id)
        rows = yield self.pool.runQuery(
            "INSERT INTO calls (campaign_id, channel_id, number_dialed, originated_at,"
            " is_test_call, outcome, ended_at) VALUES (%s, 'fts-test-1', '15559999', %s, true,"
            " 'answered', %s) RETURNING id",
            (self.cid, F.T0 + timedelta(days=6), F.T0 + timedelta(days=6)))
        self.calls.append(rows[0][0])

    @defer.inlineCallbacks
    def test_pages_newest_first(self):
        """
        Pages go from the newest call to the oldest by keyset, each page's
        C{next_before} leading to the next, the last page having none.
        """
        seen, before = [], None
        while True:
            page = yield self.query.page(self.cid, before=before, limit=2)
            seen += [c.id for c in page.items]
            if page.next_before is None:
                break
            before = page.next_before
        self.assertEqual(seen, sorted(self.calls, reverse=True))

    @defer.inlineCallbacks
    def test_filters(self):
        """
        Calls are filtered by outcome (in progress included), digits of the
        number, a time range and test calls.
        """
        def ids(page):
            return [c.id for c in page.items]

        busy = yield self.query.page(self.cid, CallFilter(outcome="busy"))
        self.assertEqual(ids(busy), [self.calls[1]])
        ongoing = yield self.query.page(self.cid, CallFilter(outcome="in_progress"))
        self.assertEqual(ids(ongoing), [self.calls[4]])
        self.assertIsNone(ongoing.items[0].outcome)
        self.assertEqual(ongoing.items[0].status, "in_progress")
        # Claimed, its Originate not accepted yet: queued, not in progress.
        queued_id, _ = yield F.add_call(self.pool, self.cid, self.rows[PHONES[2]], None,
                                        ended=False, at=F.T0 + timedelta(days=7))
        queued = yield self.query.page(self.cid, CallFilter(outcome="queued"))
        self.assertEqual([(c.id, c.status) for c in queued.items], [(queued_id, "queued")])
        ongoing = yield self.query.page(self.cid, CallFilter(outcome="in_progress"))
        self.assertEqual(ids(ongoing), [self.calls[4]])
        yield self.pool.runOperation("DELETE FROM calls WHERE id = %s", (queued_id,))
        number = yield self.query.page(self.cid, CallFilter(phone="2002"))
        self.assertEqual(ids(number), [self.calls[2]])
        window = yield self.query.page(self.cid, CallFilter(
            since=F.T0 + timedelta(days=1), until=F.T0 + timedelta(days=3)))
        self.assertEqual(ids(window), [self.calls[2], self.calls[1]])
        tests = yield self.query.page(self.cid, CallFilter(tests=True))
        self.assertEqual(ids(tests), [self.calls[5]])
        self.assertTrue(tests.items[0].is_test)
        real = yield self.query.page(self.cid, CallFilter(tests=False))
        self.assertNotIn(self.calls[5], ids(real))
        other = yield F.campaign_in(self.campaigns, self.pool, "running", phones=("1999",))
        self.assertEqual(ids((yield self.query.page(other))), [])

    def test_filter_refuses_bad_values(self):
        """
        A filter refuses an unknown outcome and a number that is not digits
        (nothing of it can reach the SQL as a pattern).
        """
        self.assertRaises(ValueError, CallFilter, outcome="'; DROP TABLE calls; --")
        self.assertRaises(ValueError, CallFilter, phone="1%")
        self.assertRaises(ValueError, CallFilter, phone="<b>1</b>")

    @defer.inlineCallbacks
    def test_count_capped(self):
        """
        Counts match the filter and stop at the cap.
        """
        self.assertEqual((yield self.query.count(self.cid)), 6)
        self.assertEqual((yield self.query.count(self.cid, CallFilter(outcome="answered"))), 3)
        self.assertEqual((yield self.query.count(self.cid, cap=4)), 4)

    @defer.inlineCallbacks
    def test_csv_pages(self):
        """
        The CSV pages give every matching call once, oldest first, with the
        values in the header's order.
        """
        seen, after = [], 0
        while True:
            rows = yield self.query.oldest_after(self.cid, CallFilter(tests=False), after, 2)
            if not rows:
                break
            seen += rows
            after = rows[-1].id
        self.assertEqual([r.id for r in seen], self.calls[:5])
        values = seen[1].csv_values()
        self.assertEqual(values[:5], (str(self.calls[1]), "15551001", "no", "1", "busy"))
        self.assertEqual(seen[4].csv_values()[4], "in_progress")

    @defer.inlineCallbacks
    def test_progress(self):
        """
        Progress counts done, pending and in-flight contacts of the working
        rows; a draft has none.
        """
        yield F.set_contact(self.pool, self.rows[PHONES[0]], status="done",
                            final_outcome="reached")
        yield F.set_contact(self.pool, self.rows[PHONES[1]], status="in_flight")
        progress = yield self.query.progress(self.cid)
        self.assertEqual((progress.total, progress.done, progress.pending, progress.in_flight),
                         (4, 1, 2, 1))
        self.assertEqual(progress.percent_done, 25.0)
        draft = yield F.campaign_in(self.campaigns, self.pool, "draft")
        self.assertEqual((yield self.query.progress(draft)).total, 0)


class CampaignActionsTests(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = task.Clock()
        self.clock.advance(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
        self.campaigns = CampaignStore(self.pool, self.clock)
        self.actions = CampaignActions(self.pool)

    @defer.inlineCallbacks
    def audit_actions(self):
        rows = yield self.pool.runQuery("SELECT action, actor_name FROM audit_log ORDER BY id")
        return [tuple(r) for r in rows]

    @defer.inlineCallbacks
    def test_reschedule_scheduled(self):
        """
        Moving the start of a scheduled campaign sets the instant and the
        wall-clock start of its settings, and is audited.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "scheduled")
        at = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
        yield self.actions.reschedule(cid, at, ALICE)
        campaign = yield self.campaigns.get(cid)
        self.assertEqual(campaign.starts_at, at)
        self.assertEqual(campaign.settings.schedule.start, datetime(2026, 7, 1, 9, 30))
        self.assertEqual(campaign.state, State.SCHEDULED)
        self.assertEqual((yield self.audit_actions()), [("campaign.schedule", "alice")])

    @defer.inlineCallbacks
    def test_reschedule_refused(self):
        """
        A start after the end, or a campaign already running, is refused and
        nothing changes.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "scheduled")
        before = yield self.campaigns.get(cid)
        yield self.assertFailure(
            self.actions.reschedule(cid, datetime(2028, 1, 1, tzinfo=UTC), ALICE),
            ActionRefused)
        running = yield F.campaign_in(self.campaigns, self.pool, "running")
        yield self.assertFailure(
            self.actions.reschedule(running, datetime(2026, 7, 1, tzinfo=UTC), ALICE),
            ActionRefused)
        yield self.assertFailure(
            self.actions.reschedule(999999, datetime(2026, 7, 1, tzinfo=UTC), ALICE),
            CampaignNotFound)
        self.assertEqual((yield self.campaigns.get(cid)).starts_at, before.starts_at)
        self.assertEqual((yield self.audit_actions()), [])

    @defer.inlineCallbacks
    def test_cancel_pending(self):
        """
        Pending contacts are closed: not dialed ones as C{not_dialed}, those
        waiting for a retry as C{exhausted}; contacts in flight and done are
        left alone; the campaign keeps its state.
        """
        phones = ("15551000", "15551001", "15551002", "15551003")
        cid = yield F.campaign_in(self.campaigns, self.pool, "running", phones=phones)
        rows = yield F.contact_rows(self.pool, cid)
        yield F.set_contact(self.pool, rows[phones[1]], attempts=1, last_outcome="busy")
        yield F.set_contact(self.pool, rows[phones[2]], status="in_flight")
        yield F.set_contact(self.pool, rows[phones[3]], status="done",
                            final_outcome="reached")
        closed = yield self.actions.cancel_pending(cid, ALICE)
        self.assertEqual((closed.not_dialed, closed.exhausted, closed.total), (1, 1, 2))
        found = yield self.pool.runQuery(
            "SELECT c.phone, cc.status, cc.final_outcome FROM campaign_contacts cc"
            " JOIN contacts c ON c.id = cc.contact_id WHERE cc.campaign_id = %s"
            " ORDER BY c.phone", (cid,))
        self.assertEqual([tuple(r) for r in found], [
            ("15551000", "done", "not_dialed"), ("15551001", "done", "exhausted"),
            ("15551002", "in_flight", None), ("15551003", "done", "reached")])
        self.assertEqual((yield self.campaigns.get(cid)).state, State.RUNNING)
        self.assertEqual((yield self.audit_actions()), [("campaign.cancel_pending", "alice")])

    @defer.inlineCallbacks
    def test_cancel_pending_refused(self):
        """
        A draft has no pending calls to cancel: refused, nothing audited.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        yield self.assertFailure(self.actions.cancel_pending(cid, ALICE), ActionRefused)
        self.assertEqual((yield self.audit_actions()), [])
