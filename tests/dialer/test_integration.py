"""
Integration: the dialer with the real AMI client against the real PBX
simulator over loopback, the real event writer and a real database.
Everything is asserted from the database afterwards.
"""

from twisted.internet import defer

from fts.pbxsim.callee import AnswerBehaviour, CalleeModel, Override, transcript_model
from tests.dialer import stack
from tests.dialer import support as S
from tests.support.db import DatabaseTestCase


def _epoch(column):
    return "extract(epoch FROM %s)::float8" % column


@defer.inlineCallbacks
def call_spans(pool, campaign_id):
    """
    C{(sent, ended)} of every call of a campaign: from its originate_sent
    event to its end.
    """
    rows = yield pool.runQuery(
        "SELECT " + _epoch("e.occurred_at") + ", " + _epoch("k.ended_at") +
        " FROM calls k JOIN call_events e ON e.call_id = k.id AND e.kind = 'originate_sent'"
        " WHERE k.campaign_id = %s ORDER BY e.occurred_at", (campaign_id,))
    return [tuple(r) for r in rows]


def peak(spans):
    """
    The most calls in flight at once.
    """
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans if e is not None],
                    key=lambda p: (p[0], p[1]))
    level = best = 0
    for _, delta in points:
        level += delta
        best = max(best, level)
    return best


def max_in_window(times, window):
    times = sorted(times)
    best = j = 0
    for i, t in enumerate(times):
        while times[j] < t - window + 1e-9:
            j += 1
        best = max(best, i - j + 1)
    return best


class IntegrationTestCase(DatabaseTestCase):
    pool_size = 6
    timeout = 60

    @defer.inlineCallbacks
    def build(self, callee, scale=0.01, capacity=100, cps=1000.0, **dialer_kwargs):
        # Runs last: let the FastAGI connections the simulator closed go.
        self.addCleanup(stack.sleep, 0.2)
        self.agi_port = agi_port = yield stack.agi_server(self)
        self.sim = yield stack.simulator(self, callee, agi_port, scale=scale)
        self.line, self.client = yield stack.ami_line(self, self.sim, capacity=capacity,
                                                      cps=cps)
        self.writer = yield stack.event_writer(self, self.pool)
        self.dialer = stack.dialer(self.pool, self.writer, [self.line], **dialer_kwargs)
        self.addCleanup(self._drain)
        yield self.dialer.activate()

    @defer.inlineCallbacks
    def _drain(self):
        yield self.dialer.drain(5.0)
        self.dialer.deactivate()
        yield self.writer.flush()

    def campaign(self, **kwargs):
        kwargs.setdefault("due", 0)
        kwargs.setdefault("starts_at", S.at(1e9))
        kwargs.setdefault("ends_at", S.at(4e9))
        return S.campaign(self.pool, **kwargs)

    @defer.inlineCallbacks
    def finished(self, campaign_id, pending_ok=False):
        """
        Wait until no contact of the campaign is in flight (and none pending
        unless C{pending_ok}) and every event is written.
        """
        def done():
            if self.dialer.registry.total:
                return False
            d = self.pool.runQuery(
                "SELECT count(*) FILTER (WHERE status = 'in_flight'),"
                " count(*) FILTER (WHERE status = 'pending')"
                " FROM campaign_contacts WHERE campaign_id = %s", (campaign_id,))
            return d.addCallback(lambda r: r[0][0] == 0 and (pending_ok or r[0][1] == 0))

        yield stack.wait_until(done, timeout=40)
        yield self.writer.flush()


class OutcomeTests(IntegrationTestCase):
    @defer.inlineCallbacks
    def test_outcomes_from_the_pbx(self):
        """
        Every outcome the PBX produces is classified from OriginateResponse
        and the Hangup cause and recorded with its attempt, and busy and
        congested lines are retried per the policy.
        """
        settings = {"retry": {"busy": {"retry": True, "delay": 0},
                              "failed": {"retry": False}, "no_answer": {"retry": False}}}
        cid, list_id = yield self.campaign(settings=settings, max_attempts=2)
        phones = ["1001", "2001", "3001", "4001", "5001", "8001"]
        yield self.pool.runOperation(
            "INSERT INTO contacts (list_id, row_number, phone, phone_original)"
            " SELECT %s, n, p, p FROM unnest(%s::int[], %s::text[]) AS u(n, p)",
            (list_id, list(range(1, 7)), phones))
        yield self.pool.runOperation(
            "INSERT INTO campaign_contacts (campaign_id, contact_id, next_attempt_at)"
            " SELECT %s, id, to_timestamp(0) FROM contacts WHERE list_id = %s",
            (cid, list_id))
        yield self.pool.runOperation(
            "UPDATE campaigns SET ring_timeout_s = 5 WHERE id = %s", (cid,))
        yield self.build(transcript_model(seed=1))
        yield self.finished(cid)
        rows = yield self.pool.runQuery(
            "SELECT c.phone, k.attempt, k.outcome, k.originate_reason, k.hangup_cause"
            " FROM calls k JOIN contacts c ON c.id = k.contact_id"
            " WHERE k.campaign_id = %s ORDER BY c.phone, k.id", (cid,))
        self.assertEqual([tuple(r) for r in rows], [
            ("1001", 1, "answered", 4, 16),
            ("2001", 1, "busy", 5, 17),
            ("2001", 2, "busy", 5, 17),
            ("3001", 1, "congestion", 8, 34),
            ("4001", 1, "no_answer", 3, 19),
            ("5001", 1, "answered", 4, 16),
            ("8001", 1, "failed", 0, 21),
        ])
        finals = yield self.pool.runQuery(
            "SELECT c.phone, cc.final_outcome, cc.attempts FROM campaign_contacts cc"
            " JOIN contacts c ON c.id = cc.contact_id WHERE cc.campaign_id = %s"
            " ORDER BY c.phone", (cid,))
        self.assertEqual([tuple(r) for r in finals], [
            ("1001", "reached", 1), ("2001", "exhausted", 2), ("3001", "failed", 1),
            ("4001", "no_answer", 1), ("5001", "reached", 1), ("8001", "failed", 1)])


class LimitTests(IntegrationTestCase):
    @defer.inlineCallbacks
    def test_limits_held_over_the_wire(self):
        """
        Over the real AMI stack: peak concurrency never exceeds the
        campaign's channels, the originates per second never exceed the
        campaign's cps, attempts stay within max attempts, and a DNC number
        is never dialed.
        """
        callee = CalleeModel(
            outcomes={"answered": 50, "busy": 25, "no_answer": 25},
            ring_seconds=(0.5, 3.0), seed=7,
            behaviours=(AnswerBehaviour("short", 1, hangup_after=(2.0, 10.0)),))
        settings = {"retry": {"busy": {"retry": True, "delay": 0},
                              "no_answer": {"retry": True, "delay": 0}}}
        cid, _ = yield self.campaign(contacts=60, max_channels=8, cps=40,
                                     settings=settings, max_attempts=2)
        yield S.dnc(self.pool, "15550000007")
        yield self.pool.runOperation("UPDATE campaigns SET ring_timeout_s = 5 WHERE id = %s",
                                     (cid,))
        yield self.build(callee, scale=0.05)
        yield self.finished(cid)
        spans = yield call_spans(self.pool, cid)
        self.assertGreater(len(spans), 60)
        self.assertLessEqual(peak(spans), 8)
        self.assertEqual(peak(spans), 8)
        starts = [s for s, _ in spans]
        self.assertLessEqual(max_in_window(starts, 1.0), 40 + 1)
        rows = yield self.pool.runQuery(
            "SELECT max(attempts), count(*) FILTER (WHERE status <> 'done')"
            " FROM campaign_contacts WHERE campaign_id = %s", (cid,))
        self.assertEqual(tuple(rows[0]), (2, 0))
        dialed = yield self.pool.runQuery(
            "SELECT count(*) FROM calls WHERE number_dialed = '15550000007'")
        self.assertEqual(dialed[0][0], 0)
        self.assertEqual(self.sim.tally.snapshot()["calls_placed"], len(spans))

    @defer.inlineCallbacks
    def test_pause_latency(self):
        """
        After pause, no Originate reaches the PBX later than one second
        (here: none at all after the pause returns), and the calls in flight
        end normally.
        """
        callee = CalleeModel(outcomes={"answered": 1}, ring_seconds=(0.5, 1.0), seed=3)
        cid, _ = yield self.campaign(contacts=200, max_channels=10, cps=100)
        yield self.build(callee)
        yield stack.sleep(0.5)
        yield self.dialer.pause(cid, actor="user:test")
        paused_at = self.dialer.clock.seconds()
        yield self.finished(cid, pending_ok=True)
        spans = yield call_spans(self.pool, cid)
        self.assertTrue(spans)
        self.assertLess(max(s for s, _ in spans), paused_at)
        self.assertTrue(all(e is not None for _, e in spans))
        placed = self.sim.tally.snapshot()["calls_placed"]
        self.assertEqual(placed, len(spans))

    @defer.inlineCallbacks
    def test_retry_delay_honoured(self):
        """
        A busy contact is dialed again no sooner than the policy's delay.
        """
        callee = CalleeModel(outcomes={"busy": 1}, ring_seconds=0.0, seed=1,
                             overrides=(Override("1555", outcome="busy"),))
        settings = {"retry": {"busy": {"retry": True, "delay": 1}}}
        cid, _ = yield self.campaign(contacts=3, settings=settings, max_attempts=3)
        yield self.build(callee)
        yield self.finished(cid)
        rows = yield self.pool.runQuery(
            "SELECT k.contact_id, " + _epoch("e.occurred_at") + ", " + _epoch("k.ended_at") +
            " FROM calls k JOIN call_events e ON e.call_id = k.id"
            " AND e.kind = 'originate_sent' WHERE k.campaign_id = %s ORDER BY 1, 2", (cid,))
        by_contact = {}
        for contact_id, sent, ended in rows:
            by_contact.setdefault(contact_id, []).append((sent, ended))
        self.assertEqual(sorted(len(v) for v in by_contact.values()), [3, 3, 3])
        for attempts in by_contact.values():
            for (_, ended), (sent, _) in zip(attempts, attempts[1:]):
                self.assertGreaterEqual(sent - ended, 1.0 - 0.01)


class ReconnectTests(IntegrationTestCase):
    @defer.inlineCallbacks
    def test_pbx_restart(self):
        """
        When the PBX connection drops, its calls keep their channels; when it
        comes back they are reconciled (gone: lost and retried, or, for an
        Originate never answered, a failed originate with no attempt) and
        dialing goes on; every contact ends up done and no attempt is
        counted twice.
        """
        callee = CalleeModel(outcomes={"answered": 1}, ring_seconds=(0.2, 0.5), seed=5,
                             behaviours=CalleeModel().behaviours)
        settings = {"retry": {"no_answer": {"retry": True, "delay": 0}}}
        cid, _ = yield self.campaign(contacts=30, max_channels=5, cps=50, settings=settings,
                                     max_attempts=3)
        yield self.build(callee)
        yield stack.wait_until(lambda: self.dialer.registry.total == 5)
        port = self.sim.port.getHost().port
        yield self.sim.stopService()
        yield stack.wait_until(lambda: not self.line.connected)
        held = self.dialer.registry.total
        self.assertGreater(held, 0)
        yield stack.sleep(0.3)
        self.assertEqual(self.dialer.registry.total, held)
        self.sim = yield stack.simulator(self, callee, self.agi_port, scale=0.01,
                                         endpoint="tcp:%d:interface=127.0.0.1" % port)
        yield stack.wait_until(lambda: self.line.connected)
        yield self.finished(cid)
        lost = yield self.pool.runQuery(
            "SELECT count(*) FROM call_events WHERE kind IN ('lost', 'originate_failed')"
            " AND campaign_id = %s",
            (cid,))
        self.assertEqual(lost[0][0], held)
        rows = yield self.pool.runQuery(
            "SELECT count(*), count(DISTINCT (campaign_contact_id, attempt))"
            " FROM calls WHERE campaign_id = %s AND attempt IS NOT NULL", (cid,))
        self.assertEqual(rows[0][0], rows[0][1])


class MultiPBXTests(IntegrationTestCase):
    @defer.inlineCallbacks
    def test_spread_and_failover(self):
        """
        Calls are spread over two PBXes within each one's capacity; when one
        goes down new calls go to the other; when it returns its calls are
        reconciled and the campaign completes.
        """
        callee = CalleeModel(outcomes={"answered": 1}, ring_seconds=(0.2, 0.5), seed=9,
                             behaviours=(AnswerBehaviour("short", 1, hangup_after=(5, 20)),))
        settings = {"retry": {"no_answer": {"retry": False}}}
        cid, _ = yield self.campaign(contacts=40, max_channels=10, cps=100, settings=settings)
        self.agi_port = yield stack.agi_server(self)
        sims, lines = [], []
        for name in ("a", "b"):
            sim = yield stack.simulator(self, callee, self.agi_port)
            line, _ = yield stack.ami_line(self, sim, name=name, capacity=3)
            sims.append(sim)
            lines.append(line)
        self.sim = sims[0]
        self.writer = yield stack.event_writer(self, self.pool)
        self.dialer = stack.dialer(self.pool, self.writer, lines)
        self.addCleanup(self._drain)
        yield self.dialer.activate()
        yield stack.wait_until(lambda: self.dialer.registry.total == 6)
        self.assertEqual(self.dialer.registry.per_pbx(), {"a": 3, "b": 3})
        port = sims[1].port.getHost().port
        yield sims[1].stopService()
        yield stack.wait_until(lambda: not lines[1].connected)
        down_at = self.dialer.clock.seconds()
        held = self.dialer.registry.pbx_count("b")
        self.assertGreater(held, 0)
        yield stack.sleep(1.0)
        yield self.writer.flush()
        rows = yield self.pool.runQuery(
            "SELECT DISTINCT payload->>'pbx' FROM call_events WHERE kind = 'originate_sent'"
            " AND occurred_at > to_timestamp(%s)", (down_at,))
        self.assertEqual([r[0] for r in rows], ["a"])
        self.assertEqual(self.dialer.registry.pbx_count("b"), held)
        yield stack.simulator(self, callee, self.agi_port,
                              endpoint="tcp:%d:interface=127.0.0.1" % port)
        yield self.finished(cid)
        spans = yield self.pool.runQuery(
            "SELECT e.payload->>'pbx', " + _epoch("e.occurred_at") + ", " +
            _epoch("k.ended_at") + " FROM calls k JOIN call_events e ON e.call_id = k.id"
            " AND e.kind = 'originate_sent' WHERE k.campaign_id = %s", (cid,))
        for pbx in ("a", "b"):
            self.assertLessEqual(peak([(s, e) for p, s, e in spans if p == pbx]), 3)
        lost = yield self.pool.runQuery(
            "SELECT count(*) FROM call_events WHERE kind IN ('lost', 'originate_failed')")
        self.assertEqual(lost[0][0], held)


class ControlTests(IntegrationTestCase):
    @defer.inlineCallbacks
    def test_test_call_and_hangup(self):
        """
        A test call is placed on the PBX and recorded as a test call; the
        dialer hangs a call up on request (AMI Hangup by channel name).
        """
        callee = CalleeModel(outcomes={"answered": 1}, ring_seconds=0.1, seed=2,
                             behaviours=(AnswerBehaviour("stay", 1, hangup_after=None),))
        cid, _ = yield self.campaign(contacts=0, state="paused")
        yield self.build(callee)
        call_id = yield self.dialer.test_call(cid, "5551234", actor="user:test")
        call = self.dialer.registry.by_call(call_id)
        yield stack.wait_until(lambda: call.answered)
        yield self.dialer.hangup(call.channel_id)
        yield stack.wait_until(lambda: self.dialer.registry.total == 0)
        yield self.writer.flush()
        rows = yield self.pool.runQuery(
            "SELECT is_test_call, outcome, answered_at IS NOT NULL, hangup_cause"
            " FROM calls WHERE id = %s", (call_id,))
        self.assertEqual(tuple(rows[0]), (True, "answered", True, 16))
