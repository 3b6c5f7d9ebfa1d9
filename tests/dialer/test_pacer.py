"""
Tests for L{fts.dialer.pacer.Dialer} with fake PBX lines, a C{Clock} and a
real database: limits, fairness, refills, controls, refused originates,
DNC, windows and retries.
"""

from twisted.internet import defer
from twisted.internet.task import Clock

from fts.db.campaigns import CampaignStore
from fts.dialer import line as L
from fts.dialer.pacer import Dialer
from fts.events import model as M
from tests.dialer import support as S
from tests.dialer.support import T0
from tests.support.db import DatabaseTestCase


class DialerTestCase(DatabaseTestCase):
    """
    A dialer on a C{Clock} at L{T0}, a fresh database, direct events.
    """

    pool_size = 4
    timeout = 30

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = Clock()
        self.clock.advance(T0)
        self.dialing = S.CountingStore(self.pool)
        self.events = S.DirectEvents(self.pool)
        self.dialers = []
        self.addCleanup(self._stop_dialers)

    @defer.inlineCallbacks
    def _stop_dialers(self):
        for dialer in self.dialers:
            dialer.deactivate()
        yield self.settle()

    def make(self, lines, **kwargs):
        kwargs.setdefault("max_channels", 200)
        kwargs.setdefault("cps", 10000)
        kwargs.setdefault("transition", self.dialing.counting(
            CampaignStore(self.pool, self.clock).transition))
        dialer = Dialer(self.clock, self.dialing, self.events, lines, "test-1", **kwargs)
        self.dialers.append(dialer)
        return dialer

    @defer.inlineCallbacks
    def started(self, lines, **kwargs):
        dialer = self.make(lines, **kwargs)
        yield dialer.activate()
        yield self.settle()
        return dialer

    def settle(self):
        return S.settle(self.clock, self.dialing, self.events)

    def advance(self, seconds, step=None):
        return S.advance(self.clock, self.dialing, self.events, seconds, step)

    def campaign(self, **kwargs):
        return S.campaign(self.pool, **kwargs)

    def phones(self, line):
        return [r.exten for r in line.requests]


class LimitTests(DialerTestCase):
    @defer.inlineCallbacks
    def test_campaign_channels(self):
        """
        A campaign never has more calls in flight than its max channels,
        and a freed channel is refilled at once, without the clock moving.
        """
        cid, _ = yield self.campaign(contacts=10, max_channels=3)
        line = S.FakeLine()
        dialer = yield self.started([line])
        self.assertEqual(len(line.requests), 3)
        self.assertEqual(dialer.registry.campaign_count(cid), 3)
        line.end(line.live[0], reason=3, cause=19)
        yield self.settle()
        self.assertEqual(len(line.requests), 4)
        self.assertEqual(len(line.live), 3)

    @defer.inlineCallbacks
    def test_pbx_channels_and_spread(self):
        """
        Each PBX gets at most its capacity, and calls go to the PBX with the
        most free capacity.
        """
        yield self.campaign(contacts=20, max_channels=50)
        a, b = S.FakeLine("a", capacity=2), S.FakeLine("b", capacity=3)
        yield self.started([a, b])
        self.assertEqual((len(a.live), len(b.live)), (2, 3))

    @defer.inlineCallbacks
    def test_global_channels(self):
        """
        All campaigns together never exceed the global channel limit.
        """
        yield self.campaign(name="a", contacts=10, max_channels=10)
        yield self.campaign(name="b", contacts=10, max_channels=10, phone_base=16660000000)
        line = S.FakeLine()
        dialer = yield self.started([line], max_channels=4)
        self.assertEqual(len(line.live), 4)
        for channel_id in list(line.live):
            line.end(channel_id, reason=5, cause=17)
            yield self.settle()
            self.assertLessEqual(dialer.registry.total, 4)
        self.assertEqual(len(line.live), 4)
        self.assertEqual(len(line.requests), 8)

    @defer.inlineCallbacks
    def test_campaign_cps(self):
        """
        A campaign's calls per second hold over any interval: at most one
        call (the burst) plus cps times the interval, evenly spaced.
        """
        yield self.campaign(contacts=40, max_channels=100, cps=5)
        line = S.FakeLine()
        times = []
        original = line.originate

        def stamped(request):
            times.append(self.clock.seconds())
            return original(request)

        line.originate = stamped
        yield self.started([line])
        yield self.advance(4.0)
        self.assertLessEqual(len(times), 1 + 5 * 4)
        self.assertGreaterEqual(len(times), 5 * 4)
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(min(gaps), 0.2 - 1e-6)

    @defer.inlineCallbacks
    def test_global_cps(self):
        """
        The global calls-per-second limit binds every campaign together.
        """
        yield self.campaign(name="a", contacts=30, cps=100)
        yield self.campaign(name="b", contacts=30, cps=100, phone_base=16660000000)
        line = S.FakeLine()
        yield self.started([line], cps=4)
        yield self.advance(2.0)
        self.assertLessEqual(len(line.requests), 1 + 4 * 2)
        self.assertGreaterEqual(len(line.requests), 4 * 2)

    @defer.inlineCallbacks
    def test_pbx_cps(self):
        """
        A PBX's calls-per-second limit holds; a second PBX takes the rest.
        """
        yield self.campaign(contacts=30, cps=100, max_channels=100)
        slow, fast = S.FakeLine("slow", cps=2), S.FakeLine("fast", cps=1000)
        yield self.started([slow, fast], cps=10)
        yield self.advance(2.0)
        self.assertLessEqual(len(slow.requests), 1 + 2 * 2)
        self.assertGreater(len(fast.requests), len(slow.requests))

    @defer.inlineCallbacks
    def test_refill_keeps_cps(self):
        """
        Refilling a freed channel at once never outruns the calls-per-second
        limit, even when every call ends as soon as it is placed.
        """
        yield self.campaign(contacts=40, max_channels=100, cps=2)
        line = S.FakeLine()
        original = line.originate

        def ends_at_once(request):
            d = original(request)
            self.clock.callLater(0, line.end, request.channel_id, 5, 17)
            return d

        line.originate = ends_at_once
        yield self.started([line])
        yield self.advance(3.0)
        self.assertLessEqual(len(line.requests), 1 + 2 * 3)
        self.assertGreaterEqual(len(line.requests), 2 * 3)

    @defer.inlineCallbacks
    def test_unanswered_originates_window(self):
        """
        A PBX gets at most C{max_originating} Originates it has not answered
        yet; more go as it answers.
        """
        yield self.campaign(contacts=10, max_channels=10)
        line = S.FakeLine(auto_accept=False)
        yield self.started([line], max_originating=3)
        self.assertEqual(len(line.requests), 3)
        line.pending.pop(line.requests[0].channel_id).callback(None)
        yield self.settle()
        self.assertEqual(len(line.requests), 4)


class FairnessTests(DialerTestCase):
    @defer.inlineCallbacks
    def test_priority_share(self):
        """
        Competing campaigns hold channels in proportion to their priorities.
        """
        low, _ = yield self.campaign(name="low", contacts=20, max_channels=20, priority=1)
        high, _ = yield self.campaign(name="high", contacts=20, max_channels=20, priority=3,
                                      phone_base=16660000000)
        line = S.FakeLine()
        dialer = yield self.started([line], max_channels=8)
        self.assertEqual(dialer.registry.campaign_count(low), 2)
        self.assertEqual(dialer.registry.campaign_count(high), 6)
        # Refills keep the proportion.
        for channel_id in list(line.live)[:4]:
            line.end(channel_id, reason=3, cause=19)
        yield self.settle()
        self.assertEqual(dialer.registry.campaign_count(low), 2)
        self.assertEqual(dialer.registry.campaign_count(high), 6)

    @defer.inlineCallbacks
    def test_no_starvation(self):
        """
        A campaign of priority 1 next to one of priority 100 still gets
        calls.
        """
        low, _ = yield self.campaign(name="low", contacts=10, priority=1)
        yield self.campaign(name="high", contacts=50, priority=100, phone_base=16660000000)
        line = S.FakeLine()
        dialer = yield self.started([line], max_channels=4)
        self.assertGreaterEqual(dialer.registry.campaign_count(low), 1)


class ControlTests(DialerTestCase):
    @defer.inlineCallbacks
    def test_pause_stops_new_calls(self):
        """
        After pause no call is placed, even when channels free up; calls in
        flight end normally; claimed contacts go back to pending.
        """
        cid, _ = yield self.campaign(contacts=10, max_channels=2)
        line = S.FakeLine()
        dialer = yield self.started([line])
        yield dialer.pause(cid, actor="user:alice")
        yield self.settle()
        line.end(line.live[0], reason=3, cause=19)
        yield self.settle()
        self.assertEqual(len(line.requests), 2)
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(sum(1 for r in rows if r[2] == "in_flight"), 1)
        states = yield self.pool.runQuery(
            "SELECT state FROM campaigns WHERE id = %s", (cid,))
        self.assertEqual(states[0][0], "paused")
        audit = yield self.pool.runQuery(
            "SELECT from_state, to_state, trigger, actor_kind, actor_name"
            " FROM campaign_transitions WHERE campaign_id = %s", (cid,))
        self.assertEqual([tuple(a) for a in audit],
                         [("running", "paused", "pause", "user", "alice")])
        yield dialer.resume(cid)
        yield self.settle()
        self.assertEqual(len(line.live), 2)

    @defer.inlineCallbacks
    def test_pause_committed_elsewhere(self):
        """
        A campaign paused in the database by someone else is not claimed from
        (the claim checks the state), and a reload stops it.
        """
        cid, _ = yield self.campaign(contacts=5, max_channels=1)
        line = S.FakeLine()
        dialer = yield self.started([line])
        yield self.pool.runOperation("UPDATE campaigns SET state = 'paused' WHERE id = %s",
                                     (cid,))
        yield dialer.campaign_changed(cid)
        line.end(line.live[0], reason=3, cause=19)
        yield self.settle()
        self.assertEqual(len(line.requests), 1)

    @defer.inlineCallbacks
    def test_cancel(self):
        """
        Cancel finishes the campaign (reason cancelled) and places no more
        calls.
        """
        cid, _ = yield self.campaign(contacts=5, max_channels=1)
        line = S.FakeLine()
        dialer = yield self.started([line])
        yield dialer.cancel(cid, actor="api:token-1")
        line.end(line.live[0], reason=3, cause=19)
        yield self.settle()
        self.assertEqual(len(line.requests), 1)
        rows = yield self.pool.runQuery(
            "SELECT state, finish_reason FROM campaigns WHERE id = %s", (cid,))
        self.assertEqual(tuple(rows[0]), ("finished", "cancelled"))

    @defer.inlineCallbacks
    def test_scheduled_start(self):
        """
        A scheduled campaign starts by itself at its start time.
        """
        cid, _ = yield self.campaign(contacts=3, state="scheduled",
                                     starts_at=S.at(T0 + 10))
        line = S.FakeLine()
        yield self.started([line])
        self.assertEqual(line.requests, [])
        yield self.advance(9.9)
        self.assertEqual(line.requests, [])
        yield self.advance(0.2)
        self.assertEqual(len(line.requests), 3)
        rows = yield self.pool.runQuery(
            "SELECT to_state, actor_name FROM campaign_transitions WHERE campaign_id = %s",
            (cid,))
        self.assertEqual([tuple(r) for r in rows], [("running", "system:dialer-schedule")])

    @defer.inlineCallbacks
    def test_events_not_durable(self):
        """
        No call is placed while events cannot be made durable; calls resume
        when they can.
        """
        yield self.campaign(contacts=3)
        line = S.FakeLine()
        self.events.accepting_calls = False
        yield self.started([line])
        self.assertEqual(line.requests, [])
        self.events.set_accepting(True)
        yield self.settle()
        self.assertEqual(len(line.requests), 3)

    @defer.inlineCallbacks
    def test_test_call(self):
        """
        A test call dials one number outside the list with the campaign's
        settings; it is recorded as a test call with its outcome.
        """
        cid, _ = yield self.campaign(contacts=0, state="paused")
        line = S.FakeLine()
        dialer = yield self.started([line])
        call_id = yield dialer.test_call(cid, "15559990000", actor="user:bob")
        self.assertEqual(self.phones(line), ["15559990000"])
        line.end(line.live[0], reason=5, cause=17)
        yield self.settle()
        rows = yield self.pool.runQuery(
            "SELECT is_test_call, outcome, attempt, campaign_contact_id FROM calls"
            " WHERE id = %s", (call_id,))
        self.assertEqual(tuple(rows[0]), (True, "busy", None, None))


class OutcomeTests(DialerTestCase):
    @defer.inlineCallbacks
    def test_busy_retried_after_delay(self):
        """
        A busy call counts an attempt; the contact is retried after the
        policy's delay, and not before.
        """
        settings = {"retry": {"busy": {"retry": True, "delay": 300}}}
        cid, _ = yield self.campaign(contacts=1, settings=settings)
        line = S.FakeLine()
        yield self.started([line])
        line.end(line.live[0], reason=5, cause=17)
        yield self.settle()
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(rows[0][2:7], ("pending", 1, None, "busy", T0 + 300))
        yield self.advance(299)
        self.assertEqual(len(line.requests), 1)
        yield self.advance(1.5)
        self.assertEqual(len(line.requests), 2)
        line.end(line.live[0], reason=3, cause=19)
        yield self.settle()
        calls = yield S.calls(self.pool, cid)
        self.assertEqual([c[2:4] for c in calls], [(1, "busy"), (2, "no_answer")])

    @defer.inlineCallbacks
    def test_attempts_exhausted(self):
        """
        After max attempts a contact is done as exhausted.
        """
        settings = {"retry": {"no_answer": {"retry": True, "delay": 0}}}
        cid, _ = yield self.campaign(contacts=1, settings=settings, max_attempts=2)
        line = S.FakeLine()
        yield self.started([line])
        for _ in range(2):
            line.end(line.live[0], reason=3, cause=19)
            yield self.advance(0.1)
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(rows[0][2:5], ("done", 2, "exhausted"))
        self.assertEqual(len(line.requests), 2)

    @defer.inlineCallbacks
    def test_answered_with_key_reached(self):
        """
        An answered call where the callee pressed a key ends the contact as
        reached; what the call flow noted on the call decides.
        """
        cid, _ = yield self.campaign(contacts=1)
        line = S.FakeLine()
        dialer = yield self.started([line])
        channel_id = line.live[0]
        line.answer(channel_id)
        dialer.registry.by_channel(channel_id).note_key("1")
        line.end(channel_id, reason=4, cause=16)
        yield self.settle()
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(rows[0][2:6], ("done", 1, "reached", "answered"))
        self.assertEqual(self.events.kinds(), [
            M.ORIGINATE_SENT, M.ORIGINATE_ACCEPTED, M.ANSWERED, M.HANGUP])

    @defer.inlineCallbacks
    def test_refused_originate_burns_no_attempt(self):
        """
        An originate the PBX refuses counts no attempt, puts the contact
        back in the queue, and backs the campaign off exponentially, as
        /health shows.
        """
        cid, _ = yield self.campaign(contacts=1)
        line = S.FakeLine()
        line.refuse_with = L.OriginateRefused("pbx1", "Extension does not exist.")
        dialer = yield self.started([line])
        self.assertEqual(len(line.requests), 1)
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(rows[0][2:4], ("pending", 0))
        backoff = dialer.health_details()["campaigns"][str(cid)]["backoff"]
        self.assertEqual(backoff["failures"], 1)
        self.assertEqual(backoff["until"], T0 + 1.0)
        self.assertIn("Extension does not exist", backoff["last_error"])
        yield self.advance(0.9)
        self.assertEqual(len(line.requests), 1)
        yield self.advance(0.2)
        self.assertEqual(len(line.requests), 2)
        backoff = dialer.health_details()["campaigns"][str(cid)]["backoff"]
        self.assertEqual(backoff["failures"], 2)
        line.refuse_with = None
        yield self.advance(2.1)
        self.assertEqual(len(line.requests), 3)
        yield self.settle()
        calls = yield S.calls(self.pool, cid)
        self.assertEqual([(c[2], c[3]) for c in calls], [(None, "failed"), (None, "failed"),
                                                         (1, None)])

    @defer.inlineCallbacks
    def test_unavailable_pbx_backs_off_the_pbx(self):
        """
        A PBX that cannot take the originate is backed off and the calls go
        to the other PBX.
        """
        yield self.campaign(contacts=4, max_channels=4)
        bad, good = S.FakeLine("bad", capacity=10), S.FakeLine("good", capacity=2)
        bad.refuse_with = L.PBXUnavailable("bad", "connection lost")
        dialer = yield self.started([bad, good])
        self.assertEqual(len(bad.requests), 1)
        self.assertEqual(len(good.live), 2)
        self.assertEqual(dialer.health_details()["pbx"]["bad"]["backoff"]["failures"], 1)

    @defer.inlineCallbacks
    def test_dnc_skipped(self):
        """
        Numbers on the opt-outs list or on a DNC list the campaign honours
        are never dialed and are recorded with their list; other lists do
        not matter.
        """
        cid, _ = yield self.campaign(contacts=4)
        phones = [str(15550000000 + n) for n in range(1, 5)]
        builtin = yield S.dnc(self.pool, phones[0])
        honoured = yield S.dnc(self.pool, phones[1], builtin=False, name="mine",
                               campaign_id=cid)
        yield S.dnc(self.pool, phones[2], builtin=False, name="other")
        line = S.FakeLine()
        yield self.started([line])
        self.assertEqual(sorted(self.phones(line)), sorted(phones[2:]))
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual([(r[2], r[4], r[7]) for r in rows[:2]],
                         [("done", "dnc_skipped", builtin), ("done", "dnc_skipped", honoured)])


class WindowTests(DialerTestCase):
    @defer.inlineCallbacks
    def test_recipient_hours(self):
        """
        A contact outside its own local hours is not dialed; it goes back to
        pending at its next allowed instant, and is dialed then.
        """
        # T0 is 00:00 UTC, 19:00 the day before in New York.
        cid, _ = yield self.campaign(
            contacts=2, local_hours=("09:00", "17:00"),
            tz_of=lambda n: "America/New_York" if n == 1 else None)
        line = S.FakeLine()
        yield self.started([line])
        self.assertEqual(self.phones(line), ["15550000002"])
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(rows[0][2], "pending")
        self.assertEqual(rows[0][6], T0 + 14 * 3600)
        yield self.advance(14 * 3600 + 1, step=3600)
        self.assertEqual(self.phones(line), ["15550000002", "15550000001"])

    @defer.inlineCallbacks
    def test_campaign_window(self):
        """
        Nothing is dialed outside the campaign's window; dialing starts when
        it opens, without polling.
        """
        # T0 is a Tuesday 00:00 UTC: open Tuesday 08:00-10:00.
        yield self.campaign(contacts=2, windows=[(1, "08:00", "10:00")])
        line = S.FakeLine()
        yield self.started([line])
        self.assertEqual(line.requests, [])
        timers = [c.getTime() for c in self.clock.getDelayedCalls()]
        self.assertIn(T0 + 8 * 3600, timers)
        yield self.advance(8 * 3600 + 0.01)
        self.assertEqual(len(line.requests), 2)

    @defer.inlineCallbacks
    def test_retry_pushed_into_window(self):
        """
        A retry due outside the window is scheduled at the window's next
        opening.
        """
        settings = {"retry": {"busy": {"retry": True, "delay": 60}}}
        # Open Tuesday 00:00-00:01 and Wednesday 00:00-01:00.
        cid, _ = yield self.campaign(contacts=1, settings=settings,
                                     windows=[(1, "00:00", "00:01"), (2, "00:00", "01:00")])
        line = S.FakeLine()
        yield self.started([line])
        line.end(line.live[0], reason=5, cause=17)
        yield self.settle()
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(rows[0][6], T0 + 86400)


class ReconciliationTests(DialerTestCase):
    @defer.inlineCallbacks
    def in_flight_left_behind(self, cid, list_id, phone, call_row=True, accepted=True,
                              pbx="pbx1"):
        rows = yield self.pool.runQuery(
            "SELECT cc.id, cc.contact_id FROM campaign_contacts cc JOIN contacts c"
            " ON c.id = cc.contact_id WHERE c.phone = %s", (phone,))
        cc_id, contact_id = rows[0]
        rows = yield self.pool.runQuery(
            "SELECT nextval(pg_get_serial_sequence('calls', 'id'))")
        call_id = rows[0][0]
        yield self.pool.runOperation(
            "UPDATE campaign_contacts SET status = 'in_flight', in_flight_call_id = %s,"
            " claimed_by = 'dead-1', claimed_at = %s, attempts = %s WHERE id = %s",
            (call_id, S.at(T0 - 5), 1 if accepted else 0, cc_id))
        if call_row:
            yield self.pool.runOperation(
                "INSERT INTO calls (id, campaign_id, contact_id, campaign_contact_id,"
                " channel_id, number_dialed, pbx_name, attempt, accepted_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (call_id, cid, contact_id, cc_id, "fts-%d" % call_id, phone, pbx,
                 1 if accepted else None, S.at(T0 - 4) if accepted else None))
        return call_id, cc_id

    @defer.inlineCallbacks
    def test_restart_adopts_and_settles(self):
        """
        After a restart, a call still up on its PBX is adopted (its end is
        recorded normally), a call gone from the PBX is settled as lost and
        retried per the policy without counting its attempt twice, and a
        contact claimed without a call goes back to pending.
        """
        cid, list_id = yield self.campaign(contacts=3, max_channels=3)
        up, up_cc = yield self.in_flight_left_behind(cid, list_id, "15550000001")
        gone, gone_cc = yield self.in_flight_left_behind(cid, list_id, "15550000002")
        _, never_cc = yield self.in_flight_left_behind(cid, list_id, "15550000003",
                                                       call_row=False)
        line = S.FakeLine()
        line.channels["fts-%d" % up] = L.ChannelInfo("fts-%d" % up, "Local/x;1", "Up")
        dialer = yield self.started([line])
        self.assertIn("fts-%d" % up, line.tracked)
        self.assertEqual(dialer.registry.by_call(up).pbx, "pbx1")
        rows = dict((r[0], r) for r in (yield S.contacts(self.pool, cid)))
        self.assertEqual(rows[gone_cc][2:6], ("pending", 1, None, "unknown"))
        # The never-dialed contact was released and dialed again now.
        self.assertEqual(self.phones(line), ["15550000003"])
        line.end("fts-%d" % up, reason=4, cause=16, answered=True)
        yield self.settle()
        rows = dict((r[0], r) for r in (yield S.contacts(self.pool, cid)))
        self.assertEqual(rows[up_cc][2:6], ("done", 1, "reached", "answered"))
        calls = yield self.pool.runQuery(
            "SELECT id, attempt, outcome FROM calls WHERE id IN (%s, %s) ORDER BY id",
            (up, gone))
        self.assertEqual([tuple(c) for c in calls], [(up, 1, "answered"), (gone, 1, "unknown")])
        self.assertEqual(dialer.registry.total, 1)

    @defer.inlineCallbacks
    def test_restart_gives_back_claims_never_dialed(self):
        """
        After a restart, a contact claimed ahead with its calls row written
        but no Originate recorded, and on no PBX, goes back without an
        attempt and is dialed again at once.
        """
        cid, list_id = yield self.campaign(contacts=1)
        call_id, cc_id = yield self.in_flight_left_behind(cid, list_id, "15550000001",
                                                          accepted=False, pbx=None)
        line = S.FakeLine()
        yield self.started([line])
        self.assertEqual(self.phones(line), ["15550000001"])
        self.assertEqual(self.events.kinds(call_id), [M.ORIGINATE_FAILED])
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(rows[0][2:4], ("in_flight", 1))

    @defer.inlineCallbacks
    def test_disconnect_keeps_channels_until_reconciled(self):
        """
        Calls on a PBX that disconnects keep counting against the limits;
        when it returns, those still up are followed and the others are
        settled as lost.
        """
        cid, _ = yield self.campaign(contacts=6, max_channels=2)
        a, b = S.FakeLine("a", capacity=5), S.FakeLine("b", capacity=5)
        dialer = yield self.started([a, b])
        self.assertEqual((len(a.live), len(b.live)), (1, 1))
        a.set_connected(False)
        a.channels.clear()
        b.end(b.live[0], reason=3, cause=19)
        yield self.settle()
        # The call on "a" still holds one of the campaign's two channels.
        self.assertEqual(len(b.live), 1)
        self.assertEqual(dialer.registry.campaign_count(cid), 2)
        a.set_connected(True)
        yield self.settle()
        self.assertEqual(dialer.registry.campaign_count(cid), 2)
        self.assertIn(M.LOST, self.events.kinds())

    @defer.inlineCallbacks
    def test_uncertain_originate(self):
        """
        An Originate whose answer never came keeps its contact until the PBX
        is asked; absent there, it counts no attempt and the contact goes
        back to the queue.
        """
        cid, _ = yield self.campaign(contacts=1)
        line = S.FakeLine()
        line.refuse_with = L.OriginateUncertain("pbx1", "no answer to Originate in 10 s")
        dialer = yield self.started([line])
        self.assertEqual(dialer.registry.total, 1)
        line.refuse_with = None
        yield self.advance(1.05)
        calls = yield S.calls(self.pool, cid)
        self.assertEqual([c[2:4] for c in calls], [(None, "failed"), (1, None)])
        self.assertEqual(self.events.kinds(calls[0][0]),
                         [M.ORIGINATE_SENT, M.ORIGINATE_FAILED])

    @defer.inlineCallbacks
    def test_foreign_channels_counted(self):
        """
        FTS channels on a PBX that no call here knows of count against its
        capacity until they are gone.
        """
        yield self.campaign(contacts=5, max_channels=5)
        line = S.FakeLine(capacity=3)
        line.channels["fts-999999"] = L.ChannelInfo("fts-999999", "x", "Up")
        line.channels["fts-999999-2"] = L.ChannelInfo("fts-999999-2", "x", "Up")
        dialer = yield self.started([line])
        self.assertEqual(len(line.requests), 2)
        self.assertEqual(dialer.health_details()["pbx"]["pbx1"]["foreign"], 1)


class PrepareTests(DialerTestCase):
    @defer.inlineCallbacks
    def test_dialed_once_prepared(self):
        """
        A claimed call is dialed only once its preparation (the call flow's
        playlist) is done, and the campaign's settings are at hand for the
        call flow.
        """
        cid, _ = yield self.campaign(contacts=2)
        waiting = {}

        def prepare(call, settings):
            waiting[call.phone] = d = defer.Deferred()
            return d

        line = S.FakeLine()
        dialer = yield self.started([line], prepare_call=prepare)
        self.assertEqual(line.requests, [])
        self.assertEqual(sorted(waiting), ["15550000001", "15550000002"])
        waiting["15550000002"].callback(None)
        yield self.settle()
        self.assertEqual(self.phones(line), ["15550000002"])
        self.assertEqual(dialer.campaign_settings(cid).pacing.max_channels, 10)

    @defer.inlineCallbacks
    def test_preparation_failure(self):
        """
        A call whose message cannot be made ready is not dialed: its contact
        goes back to pending with no attempt, and the campaign backs off.
        """
        cid, _ = yield self.campaign(contacts=1)

        def prepare(call, settings):
            raise ValueError("audio asset 7 has no file")

        line = S.FakeLine()
        dialer = yield self.started([line], prepare_call=prepare)
        self.assertEqual(line.requests, [])
        rows = yield S.contacts(self.pool, cid)
        self.assertEqual(rows[0][2:4], ("pending", 0))
        backoff = dialer.health_details()["campaigns"][str(cid)]["backoff"]
        self.assertIn("audio asset 7", backoff["last_error"])
