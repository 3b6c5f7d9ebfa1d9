"""
Tests for L{fts.dialer.test_calls.TestCallPlacer}: the real L{Dialer} with
fake PBX lines, a C{Clock} and a real database.
"""

from datetime import datetime

from twisted.internet import defer
from twisted.internet.task import Clock

from fts.core.campaign import Schedule
from fts.core.phones import PhoneRules
from fts.db.calls import CallsQuery
from fts.db.campaigns import CampaignStore
from fts.dialer import line as L
from fts.dialer.pacer import Dialer
from fts.dialer.test_calls import (
    InvalidNumber, NoLine, TestCallPlacer, TestCallRefused, UnknownCampaign,
)
from tests.dialer import support as S
from tests.dialer.support import T0
from tests.lifecycle import fixtures as F
from tests.support.db import DatabaseTestCase


class TestCallPlacerTests(DatabaseTestCase):
    pool_size = 4
    timeout = 30

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = Clock()
        self.clock.advance(T0)
        self.dialing = S.CountingStore(self.pool)
        self.events = S.DirectEvents(self.pool)
        self.campaigns = CampaignStore(self.pool, self.clock)
        self.line = S.FakeLine("pbx1")
        self.dialer = Dialer(self.clock, self.dialing, self.events, [self.line], "test-1",
                             max_channels=10, cps=1000)
        self.addCleanup(self._stop)
        yield self.dialer.activate()
        yield self.settle()
        self.placer = TestCallPlacer(self.dialer, PhoneRules("1"),
                                     sample_fields=CallsQuery(self.pool).sample_fields)

    @defer.inlineCallbacks
    def _stop(self):
        self.dialer.deactivate()
        yield self.settle()

    def settle(self):
        return S.settle(self.clock, self.dialing, self.events)

    @defer.inlineCallbacks
    def test_places_a_test_call(self):
        """
        The number is normalised, originated through the line with the
        campaign's caller ID, and recorded as a test call with no contact
        and no attempt; the message's placeholders get the first contact's
        fields.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        placed = yield self.placer.place(cid, "(555) 010-0200", actor="user:alice")
        yield self.settle()
        self.assertEqual((placed.number, placed.campaign_id), ("15550100200", cid))
        [request] = self.line.requests
        self.assertEqual(request.call_id, placed.call_id)
        self.assertIn("15550000", request.caller_id)
        rows = yield self.pool.runQuery(
            "SELECT is_test_call, campaign_id, contact_id, campaign_contact_id,"
            " number_dialed FROM calls WHERE id = %s", (placed.call_id,))
        self.assertEqual(tuple(rows[0]), (True, cid, None, None, "15550100200"))
        call = self.dialer.registry.by_call(placed.call_id)
        self.assertTrue(call.is_test)
        self.assertEqual(call.fields, {"first_name": "name-15551000"})
        self.line.end(request.channel_id, reason=4, answered=True)
        yield self.settle()

    @defer.inlineCallbacks
    def test_invalid_number(self):
        """
        A number that cannot be dialed is refused with the reason; nothing
        is originated or stored.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        for text in ("<script>alert(1)</script>", "12", ""):
            error = yield self.assertFailure(self.placer.place(cid, text), InvalidNumber)
            self.assertTrue(str(error))
        self.assertEqual(self.line.requests, [])
        rows = yield self.pool.runQuery("SELECT count(*) FROM calls")
        self.assertEqual(rows[0][0], 0)

    @defer.inlineCallbacks
    def test_no_line_up(self):
        """
        With no PBX line connected the test call is refused with a clear
        error naming the lines; nothing is stored.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        self.line.set_connected(False)
        error = yield self.assertFailure(self.placer.place(cid, "5550100200"), NoLine)
        self.assertIn("No PBX line is up", str(error))
        self.assertIn("pbx1", str(error))
        rows = yield self.pool.runQuery("SELECT count(*) FROM calls")
        self.assertEqual(rows[0][0], 0)

    @defer.inlineCallbacks
    def test_standby(self):
        """
        A daemon that is not dialing (standby) refuses test calls.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        self.dialer.deactivate()
        error = yield self.assertFailure(self.placer.place(cid, "5550100200"), NoLine)
        self.assertIn("not dialing", str(error))

    @defer.inlineCallbacks
    def test_unknown_campaign(self):
        """
        A campaign that does not exist is refused as such.
        """
        yield self.assertFailure(self.placer.place(999999, "5550100200"), UnknownCampaign)
        self.assertEqual(self.line.requests, [])

    @defer.inlineCallbacks
    def test_pbx_refuses(self):
        """
        An originate the PBX refuses is reported as a refusal, with the
        PBX's reason.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        self.line.refuse_with = L.OriginateRefused("pbx1", "Extension does not exist")
        error = yield self.assertFailure(self.placer.place(cid, "5550100200"),
                                         TestCallRefused)
        self.assertIn("Extension does not exist", str(error))
        yield self.settle()

    @defer.inlineCallbacks
    def test_not_counted_in_reports(self):
        """
        A test call of a running campaign is never counted in its report.
        """
        from fts.db.reports import ReportStore

        schedule = Schedule(timezone="UTC", start=datetime(2029, 12, 1),
                            end=datetime(2030, 2, 1), windows=F.ALL_WEEK)
        cid = yield F.campaign_in(self.campaigns, self.pool, "running", schedule=schedule)
        placed = yield self.placer.place(cid, "5550100200")
        yield self.settle()
        [request] = [r for r in self.line.requests if r.call_id == placed.call_id]
        self.line.end(request.channel_id, reason=4, answered=True)
        yield self.settle()
        self.dialer.deactivate()
        yield self.settle()
        report = yield ReportStore(self.pool).live(cid)
        rows = yield self.pool.runQuery(
            "SELECT count(*) FROM calls WHERE campaign_id = %s AND is_test_call", (cid,))
        self.assertEqual(rows[0][0], 1)
        self.assertEqual(report.calls.calls + report.calls.not_counted,
                         (yield self._campaign_calls(cid)))

    @defer.inlineCallbacks
    def _campaign_calls(self, cid):
        rows = yield self.pool.runQuery(
            "SELECT count(*) FROM calls WHERE campaign_id = %s AND NOT is_test_call", (cid,))
        return rows[0][0]

    @defer.inlineCallbacks
    def test_no_caller_id(self):
        """
        A campaign with no caller ID (a draft not finished yet) can be
        test-called: the originate goes out with no caller ID and the row
        has none.
        """
        from fts.core.campaign import CallerId

        cid = yield F.campaign_in(self.campaigns, self.pool, "draft", caller_id=CallerId())
        placed = yield self.placer.place(cid, "5550100200")
        yield self.settle()
        [request] = self.line.requests
        self.assertEqual(request.caller_id, "")
        rows = yield self.pool.runQuery(
            "SELECT caller_id_number FROM calls WHERE id = %s", (placed.call_id,))
        self.assertIsNone(rows[0][0])
        self.line.end(request.channel_id, reason=4, answered=True)
        yield self.settle()

    @defer.inlineCallbacks
    def test_pbx_recorded(self):
        """
        The calls row of a test call names the PBX it was sent to, like
        the campaign's own calls (the calls table and CSV show it).
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        placed = yield self.placer.place(cid, "5550100200")
        yield self.settle()
        [request] = self.line.requests
        self.line.end(request.channel_id, reason=4, answered=True)
        yield self.settle()
        rows = yield self.pool.runQuery(
            "SELECT pbx_name FROM calls WHERE id = %s", (placed.call_id,))
        self.assertEqual(rows[0][0], "pbx1")
        [row] = (yield CallsQuery(self.pool).page(cid)).items
        self.assertEqual(row.pbx, "pbx1")

    @defer.inlineCallbacks
    def test_dialer_without_caller_id_settings(self):
        """
        L{Dialer.test_call} places the call when the campaign's settings
        have no caller ID at all (C{caller_id} L{None}): no caller ID is
        sent or recorded.
        """
        import attr

        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        read = self.dialing.campaigns

        @defer.inlineCallbacks
        def without_caller_id(*args, **kwargs):
            records = yield read(*args, **kwargs)
            return [attr.evolve(r, settings=attr.evolve(r.settings, caller_id=None))
                    for r in records]

        self.dialing.campaigns = without_caller_id
        call_id = yield self.dialer.test_call(cid, "15550100200")
        yield self.settle()
        [request] = self.line.requests
        self.assertEqual((request.call_id, request.caller_id), (call_id, ""))
        rows = yield self.pool.runQuery(
            "SELECT caller_id_number, is_test_call FROM calls WHERE id = %s", (call_id,))
        self.assertEqual(tuple(rows[0]), (None, True))
        self.line.end(request.channel_id, reason=4, answered=True)
        yield self.settle()
