"""
Tests for L{fts.events.writer.EventWriter} on a real PostgreSQL: batching,
order, idempotency, derived state, outages (spool, pause, replay), crash
recovery and shutdown.

The writer's own timing (batch deadline, probe backoff) runs on a
L{Clock}; the database round trips are real and the tests wait on their
Deferreds.  An outage is real too: the writer gets its own pool, whose
backends are terminated with C{pg_terminate_backend} while its DSN points
nowhere, so it cannot reconnect until the test restores the DSN.
"""

from pathlib import Path

import psycopg2
import psycopg2.errors
from twisted.internet import defer, reactor
from twisted.internet.task import Clock
from twisted.trial import unittest

from fts import health as H
from fts.db.events import EventStore
from fts.db.pool import Pool
from fts.events import model as M
from fts.events import spool as S
from fts.events import writer as W
from fts.events.model import CallEvent
from fts.events.writer import EventWriter
from tests.events import fixtures as F
from tests.events.support import T0, capture_log, events, messages, run_now
from tests.support.db import DatabaseTestCase

NOWHERE = "host=/nonexistent/fts-test port=1 dbname=none connect_timeout=1"


class WriterTestCase(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = Clock()
        self.spool_dir = Path(self.mktemp())
        self.events = EventStore(self.pool)
        self.name = "fts_events_%d" % id(self)
        self.writer_dsn = "%s application_name=%s" % (self.dsn, self.name)

    @defer.inlineCallbacks
    def writer_pool(self):
        """
        A pool of its own for the writer, so the test can take it down.
        """
        pool = Pool(reactor, self.writer_dsn, size=1, max_backoff=0.05)
        yield pool.start()
        self.addCleanup(pool.close)
        return pool

    @defer.inlineCallbacks
    def make_writer(self, store=None, start=True, **kwargs):
        kwargs.setdefault("batch_size", 500)
        kwargs.setdefault("max_delay", 0.02)
        self.health = H.Health(clock=self.clock)
        writer = EventWriter(store or self.events, self.spool_dir, self.clock, run_now,
                             health=self.health, **kwargs)
        self.changes = []
        writer.on_durability_change(self.changes.append)
        if start:
            yield writer.startService()
            self.addCleanup(self.stop, writer)
        return writer

    def stop(self, writer):
        if writer.running:
            return writer.stopService()

    @defer.inlineCallbacks
    def stored(self):
        """
        The stored events, in id order.
        """
        rows = yield self.events.events_after(0, limit=100000)
        return [event for _, event in rows]

    @defer.inlineCallbacks
    def batches(self):
        """
        How many transactions wrote the stored events (rows of one
        statement share recorded_at, the transaction's start time).
        """
        rows = yield self.pool.runQuery("SELECT count(DISTINCT recorded_at) FROM call_events")
        return rows[0][0]

    @defer.inlineCallbacks
    def take_database_down(self):
        """
        Cut the writer pool's connections and keep it from reconnecting.
        """
        self.writer_store.pool.dsn = NOWHERE
        rows = yield self.pool.runQuery(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s", (self.name,))
        self.assertTrue(rows)
        # Wait (round trips, not sleeps) until the backends are gone and the
        # reactor has seen their sockets close: txpostgres mishandles a
        # connection that dies while a query is being sent on it, leaving
        # stale file descriptors in the reactor.
        while True:
            rows = yield self.pool.runQuery(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (self.name,))
            if rows[0][0] == 0:
                break
        yield self.pool.runQuery("SELECT 1")

    def bring_database_back(self, writer):
        """
        Let the writer pool reconnect; fires when the writer accepts calls
        again.
        """
        back = defer.Deferred()

        def changed(accepting):
            if accepting and not back.called:
                back.callback(None)

        writer.on_durability_change(changed)
        self.writer_store.pool.dsn = self.writer_dsn
        return back

    def spooled(self):
        found = []
        for path in sorted(self.spool_dir.glob("spool-*.log")):
            records, problems = S.decode_events(path.read_bytes(), path.name)
            self.assertEqual(problems, [])
            found.extend(records)
        return found


class BatchingTests(WriterTestCase):
    @defer.inlineCallbacks
    def test_batch_by_size(self):
        """
        A batch is written as soon as batch_size events wait, in one
        statement, without waiting for the deadline.
        """
        writer = yield self.make_writer(batch_size=3, max_delay=10)
        first = events(3)
        durable = [writer.emit_durable(e) for e in first[:2]]
        self.assertEqual(writer.pending, 2)
        self.assertNoResult(durable[0])
        durable.append(writer.emit_durable(first[2]))
        yield defer.gatherResults(durable)
        self.assertEqual((yield self.stored()), first)
        self.assertEqual((yield self.batches()), 1)
        self.assertEqual(self.clock.seconds(), 0)

    @defer.inlineCallbacks
    def test_batch_by_time(self):
        """
        Fewer than batch_size events are written max_delay after the first
        was emitted, together.
        """
        writer = yield self.make_writer(max_delay=0.02)
        written = events(2)
        writer.emit(written[0])
        self.clock.advance(0.01)
        durable = writer.emit_durable(written[1])
        self.clock.advance(0.0099)
        self.assertEqual(writer.pending, 2)
        self.assertFalse(writer._busy)
        self.clock.advance(0.0001)
        self.assertTrue(writer._busy)
        yield durable
        self.assertEqual((yield self.stored()), written)
        self.assertEqual((yield self.batches()), 1)

    @defer.inlineCallbacks
    def test_order_across_batches(self):
        """
        Many batches keep the emission order, in the log and in the keys
        appended to the call.
        """
        campaign_id, list_id = yield F.campaign(self.pool)
        call = yield F.call_in_flight(self.pool, campaign_id, list_id, "15550001")
        writer = yield self.make_writer(batch_size=50, max_batch=50)
        written = events(1000, call_id=call.call_id, campaign_id=campaign_id)
        for event in written:
            writer.emit(event)
        yield writer.flush()
        self.assertEqual((yield self.stored()), written)
        self.assertGreaterEqual((yield self.batches()), 20)
        row = yield F.call_row(self.pool, call.call_id)
        self.assertEqual(row["keys"], "".join(e.payload["key"] for e in written))

    @defer.inlineCallbacks
    def test_same_event_twice(self):
        """
        An event emitted twice, in one batch or in two, is stored once, and
        both emissions are reported durable.
        """
        writer = yield self.make_writer()
        event = events(1)[0]
        durable = [writer.emit_durable(event), writer.emit_durable(event)]
        yield writer.flush()
        yield defer.gatherResults(durable)
        durable = writer.emit_durable(event)
        yield writer.flush()
        yield durable
        self.assertEqual((yield self.stored()), [event])
        self.assertEqual(writer.counts["duplicates"], 2)

    @defer.inlineCallbacks
    def test_derived_state(self):
        """
        The events of a call emitted through the writer leave the call row
        and the contact as the events say.
        """
        campaign_id, list_id = yield F.campaign(self.pool)
        call = yield F.call_in_flight(self.pool, campaign_id, list_id, "15550002")
        writer = yield self.make_writer()
        sequence = M.CallEventSequence(call.call_id, campaign_id, self.clock)
        self.clock.advance(T0)
        writer.emit(sequence.once(M.ORIGINATE_ACCEPTED))
        self.clock.advance(2)
        writer.emit(sequence.once(M.ANSWERED))
        writer.emit(sequence.next(M.AMD, {"verdict": "machine", "cause": "LONGGREETING"}))
        writer.emit(sequence.next(M.MESSAGE_COMPLETE))
        self.clock.advance(30)
        writer.emit(sequence.once(M.HANGUP, {"cause": 16, "outcome": "answered",
                                             "final_outcome": "reached"}))
        yield writer.flush()
        row = yield F.call_row(self.pool, call.call_id)
        self.assertEqual(
            (row["attempt"], row["answered_at"], row["amd_verdict"], row["heard_full_message"],
             row["outcome"], row["talk_seconds"]),
            (1, T0 + 2, "machine", True, "answered", 30))
        contact = yield F.contact_row(self.pool, call.campaign_contact_id)
        self.assertEqual((contact["status"], contact["final_outcome"], contact["attempts"]),
                         ("done", "reached", 1))

    @defer.inlineCallbacks
    def test_refused_event_isolated(self):
        """
        An event whose derived state PostgreSQL refuses is stored without
        it, and the other events of its batch are stored with theirs.
        """
        campaign_id, list_id = yield F.campaign(self.pool)
        good = yield F.call_in_flight(self.pool, campaign_id, list_id, "15550003")
        bad = yield F.call_in_flight(self.pool, campaign_id, list_id, "15550004")
        # Counting the bad call's attempt would give its contact attempt 1 twice.
        yield self.pool.runOperation(
            "UPDATE calls SET attempt = 1 WHERE id = %s", (good.call_id,))
        yield self.pool.runOperation(
            "UPDATE calls SET campaign_contact_id = %s WHERE id = %s",
            (good.campaign_contact_id, bad.call_id))
        seen = capture_log(self)
        writer = yield self.make_writer()
        batch = (events(3, call_id=good.call_id)
                 + [CallEvent("bad", M.ORIGINATE_ACCEPTED, campaign_id, bad.call_id, T0, {})]
                 + events(3, call_id=good.call_id, start=4))
        for event in batch:
            writer.emit(event)
        yield writer.flush()
        self.assertEqual((yield self.stored()), batch)
        self.assertEqual((yield F.call_row(self.pool, good.call_id))["keys"], "123456")
        self.assertIsNone((yield F.call_row(self.pool, bad.call_id))["attempt"])
        self.assertTrue(any("refused the derived state of event bad" in m
                            for m in messages(seen)))
        self.assertTrue(writer.accepting_calls)

    @defer.inlineCallbacks
    def test_backlog_pauses_calls(self):
        """
        More events waiting than backlog_limit pause calls until the backlog
        is halved.
        """
        writer = yield self.make_writer(batch_size=2, backlog_limit=5)
        for event in events(2):
            writer.emit(event)
        self.assertTrue(writer._busy)
        for event in events(6, start=3):
            writer.emit(event)
        self.assertFalse(writer.accepting_calls)
        yield writer.flush()
        self.assertTrue(writer.accepting_calls)
        self.assertEqual(self.changes, [True, False, True])
        self.assertEqual(len((yield self.stored())), 8)

    def test_emit_takes_events_only(self):
        """
        emit() refuses anything but a CallEvent, at once.
        """
        writer = EventWriter(self.events, self.spool_dir, self.clock, run_now)
        self.assertRaises(TypeError, writer.emit, {"kind": "key"})

    @defer.inlineCallbacks
    def test_health(self):
        """
        The writer reports its mode and counts into the health registry.
        """
        writer = yield self.make_writer()
        writer.emit(events(1)[0])
        yield writer.flush()
        report = self.health.report()["components"]["events"]
        self.assertEqual(report["state"], H.UP)
        self.assertEqual((report["details"]["written"], report["details"]["mode"],
                          report["details"]["accepting_calls"]), (1, "direct", True))


class OutageTests(WriterTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        pool = yield self.writer_pool()
        self.writer_store = EventStore(pool)

    @defer.inlineCallbacks
    def test_outage_spooled_then_replayed(self):
        """
        While PostgreSQL is unreachable events are fsync'd to the spool and
        calls are paused; when it returns, the spool is replayed in order
        before new events, none lost, none duplicated, and calls resume.
        """
        writer = yield self.make_writer(store=self.writer_store)
        self.assertTrue(writer.accepting_calls)
        before, during, later, after = events(10), events(10, 11), events(10, 21), events(10, 31)
        yield defer.gatherResults([writer.emit_durable(e) for e in before[:-1]]
                                  + [writer.emit_durable(before[-1]), writer.flush()])

        yield self.take_database_down()
        durable = [writer.emit_durable(e) for e in during]
        self.clock.advance(0.02)
        yield defer.gatherResults(durable)
        self.assertFalse(writer.accepting_calls)
        self.assertEqual(writer.mode, W.SPOOLING)
        self.assertEqual(self.changes, [True, False])
        self.assertEqual(self.health.report()["components"]["events"]["state"], H.DEGRADED)
        # Still away: the next batch goes straight to the spool.
        durable = [writer.emit_durable(e) for e in later]
        self.clock.advance(0.02)
        yield defer.gatherResults(durable)
        self.assertEqual(self.spooled(), during + later)

        yield self.bring_database_back(writer)
        self.assertEqual(writer.mode, W.DIRECT)
        for event in after:
            writer.emit(event)
        yield writer.flush()
        self.assertEqual((yield self.stored()), before + during + later + after)
        self.assertEqual(list(self.spool_dir.glob("spool-*.log")), [])
        self.assertEqual(self.changes, [True, False, True])
        self.assertEqual((writer.counts["spooled"], writer.counts["replayed"]), (20, 20))

    @defer.inlineCallbacks
    def test_probe_backoff(self):
        """
        While the database stays away it is probed with a doubling delay,
        capped, and nothing is lost meanwhile.
        """
        writer = yield self.make_writer(store=self.writer_store, retry_delay=0.25,
                                        max_retry_delay=1.0)
        yield self.take_database_down()
        writer.emit(events(1)[0])
        self.clock.advance(0.02)
        yield writer.flush()
        self.assertEqual(writer.mode, W.SPOOLING)
        delays = []
        for _ in range(4):
            (probe,) = [c for c in self.clock.getDelayedCalls() if c.active()]
            delays.append(probe.getTime() - self.clock.seconds())
            self.clock.advance(delays[-1])
            # The probe fails at once: the pool has no connection.
            self.assertEqual(writer.mode, W.SPOOLING)
        self.assertEqual(delays, [0.25, 0.5, 1.0, 1.0])
        self.assertEqual(len(self.spooled()), 1)
        yield self.bring_database_back(writer)
        self.assertEqual(len((yield self.stored())), 1)

    @defer.inlineCallbacks
    def test_stop_while_away(self):
        """
        Stopping while the database is away puts every waiting event in the
        spool; the next writer replays them when it starts.
        """
        writer = yield self.make_writer(store=self.writer_store)
        yield self.take_database_down()
        written = events(5)
        for event in written:
            writer.emit(event)
        yield writer.stopService()
        self.assertEqual(self.spooled(), written)
        self.assertEqual(writer.mode, W.STOPPED)
        yield self.make_writer()
        self.assertEqual((yield self.stored()), written)


class RestartTests(WriterTestCase):
    @defer.inlineCallbacks
    def test_crash_replayed_first(self):
        """
        A writer started on the spool of one that crashed while the database
        was away replays what it spooled before writing anything new, and
        every event reported durable is stored.
        """
        closed = Pool(reactor, self.dsn, size=1)
        yield closed.start()
        closed.close()
        crashed = yield self.make_writer(store=EventStore(closed), start=False)
        yield crashed.startService()
        durable = events(7)
        waits = [crashed.emit_durable(e) for e in durable]
        self.clock.advance(0.02)
        yield defer.gatherResults(waits)
        self.assertEqual(crashed.mode, W.SPOOLING)
        crashed.emit(events(1, start=8)[0])  # never durable: the crash comes first
        # No stopService: the process died.

        writer = yield self.make_writer(start=False)
        fresh = events(3, call_id=8)
        starting = writer.startService()
        self.addCleanup(self.stop, writer)
        for event in fresh:
            writer.emit(event)
        yield starting
        self.assertTrue(writer.accepting_calls)
        yield writer.flush()
        self.assertEqual((yield self.stored()), durable + fresh)
        self.assertEqual(list(self.spool_dir.glob("spool-*.log")), [])

    @defer.inlineCallbacks
    def test_torn_tail_on_restart(self):
        """
        A spool whose last record was torn by a crash is replayed up to it;
        the torn record is skipped with a warning naming the file, not a
        crash.
        """
        self.spool_dir.mkdir()
        good = events(3)
        torn = S.encode(events(1, start=4)[0])[:25]
        (self.spool_dir / "spool-00000001.log").write_bytes(
            b"".join(map(S.encode, good)) + torn)
        seen = capture_log(self)
        writer = yield self.make_writer()
        self.assertEqual((yield self.stored()), good)
        self.assertEqual(writer.counts["skipped"], 1)
        self.assertTrue(any("spool-00000001.log" in m and "torn" in m
                            for m in messages(seen)))
        self.assertEqual(list(self.spool_dir.glob("spool-*.log")), [])

    @defer.inlineCallbacks
    def test_replay_is_idempotent(self):
        """
        Replaying a spool whose events were in fact already stored (a batch
        committed just before the connection dropped) stores nothing twice.
        """
        written = events(4)
        yield self.events.write([e.as_json() for e in written])
        self.spool_dir.mkdir()
        (self.spool_dir / "spool-00000001.log").write_bytes(b"".join(map(S.encode, written)))
        writer = yield self.make_writer()
        self.assertEqual((yield self.stored()), written)
        self.assertEqual(writer.counts["duplicates"], 4)

    @defer.inlineCallbacks
    def test_stop_flushes(self):
        """
        Stopping writes every waiting event to the database before it fires.
        """
        writer = yield self.make_writer(max_delay=60)
        written = events(5)
        for event in written:
            writer.emit(event)
        yield writer.stopService()
        self.assertEqual((yield self.stored()), written)
        self.assertEqual(self.health.report()["components"]["events"]["state"], H.STOPPED)

    @defer.inlineCallbacks
    def test_emit_after_stop_spooled(self):
        """
        An event emitted after stop is not lost: it goes to the spool.
        """
        writer = yield self.make_writer()
        yield writer.stopService()
        yield writer.emit_durable(events(1)[0])
        self.assertEqual(self.spooled(), events(1))



class SpoolFailureTests(WriterTestCase):
    @defer.inlineCallbacks
    def test_spool_write_fails(self):
        """
        When neither PostgreSQL nor the spool can take events, they wait in
        memory, in order, health says down, and the spool write is retried
        after a pause until it succeeds.
        """
        closed = Pool(reactor, self.dsn, size=1)
        yield closed.start()
        closed.close()
        writer = yield self.make_writer(store=EventStore(closed), retry_delay=0.25)
        (self.spool_dir / "spool-00000001.log").mkdir()
        written = events(4)
        durable = [writer.emit_durable(e) for e in written[:2]]
        self.clock.advance(0.02)
        self.assertNoResult(durable[0])
        self.assertEqual(self.health.report()["components"]["events"]["state"], H.DOWN)
        durable += [writer.emit_durable(e) for e in written[2:]]
        self.assertEqual(writer.pending, 4)
        (self.spool_dir / "spool-00000001.log").rmdir()
        self.clock.advance(0.25 + 0.5)
        yield defer.gatherResults(durable)
        self.assertEqual(self.spooled(), written)
        self.assertFalse(writer.accepting_calls)


class SplitByCallTests(unittest.SynchronousTestCase):
    def test_each_call_in_one_part_in_order(self):
        """
        Every event of a call goes to the same part, each part keeps the
        order of the input, and together the parts are the input.
        """
        records = [e.as_json() for seq in range(1, 6) for call in (3, 4, 7, 10)
                   for e in events(1, call_id=call, start=seq)]
        parts = W.split_by_call(records, 2)
        self.assertEqual(sorted(parts[0] + parts[1]), sorted(records))
        for part in parts:
            self.assertEqual(part, [r for r in records if r in part])
        calls = [{M.CallEvent.from_json(r).call_id for r in part} for part in parts]
        self.assertEqual(calls, [{4, 10}, {3, 7}])

    def test_unusual_records(self):
        """
        Events of no call go to the first part; a key the fast pattern does
        not read (escapes) is parsed; text that is no event goes to the
        first part (the store refuses it there).
        """
        odd = CallEvent(key='a"b\\c:é', kind=M.KEY, campaign_id=None, call_id=43,
                        occurred_at=T0, payload={"key": "1"})
        none = CallEvent(key="x", kind=M.ANSWERED, campaign_id=5, call_id=None,
                         occurred_at=T0)
        parts = W.split_by_call([odd.as_json(), none.as_json(), "[garbage"], 2)
        self.assertEqual(parts, [[none.as_json(), "[garbage"], [odd.as_json()]])


class ProbedStore(EventStore):
    """
    The real event store, noting how many writes run at once, and failing
    the writes whose numbers (1, 2, …) are in C{fail_writes} with the
    exception given, before they reach PostgreSQL.
    """

    def __init__(self, pool, fail_writes=(), error=None):
        super().__init__(pool)
        self.writes = 0
        self.running = 0
        self.most = 0
        self.fail_writes = set(fail_writes)
        self.error = error

    def write(self, records, derive=True):
        self.writes += 1
        if self.writes in self.fail_writes:
            return defer.fail(self.error)
        self.running += 1
        self.most = max(self.most, self.running)

        def done(result):
            self.running -= 1
            return result

        return super().write(records, derive).addBoth(done)


class ParallelReplayTests(WriterTestCase):
    CALLS = 6
    PER_CALL = 12

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        campaign_id, list_id = yield F.campaign(self.pool)
        self.calls = []
        for n in range(self.CALLS):
            call = yield F.call_in_flight(self.pool, campaign_id, list_id, "1555000%04d" % n)
            self.calls.append(call)
        # Interleaved as calls emit them: one event of each call in turn.
        self.written = [e for seq in range(1, self.PER_CALL + 1) for call in self.calls
                        for e in events(1, call_id=call.call_id, campaign_id=campaign_id,
                                        start=seq)]
        self.spool_dir.mkdir()
        (self.spool_dir / "spool-00000001.log").write_bytes(
            b"".join(map(S.encode, self.written)))

    def expected_keys(self, call_id):
        return "".join(e.payload["key"] for e in self.written if e.call_id == call_id)

    @defer.inlineCallbacks
    def check_stored(self):
        """
        Every event stored once, each call's events in emission order, and
        the keys derived from them appended once, in order.
        """
        stored = yield self.stored()
        self.assertEqual(sorted(e.key for e in stored), sorted(e.key for e in self.written))
        for call in self.calls:
            mine = yield self.events.events_of_call(call.call_id)
            self.assertEqual(mine, [e for e in self.written if e.call_id == call.call_id])
            row = yield F.call_row(self.pool, call.call_id)
            self.assertEqual(row["keys"], self.expected_keys(call.call_id))

    @defer.inlineCallbacks
    def test_two_connections_keep_each_calls_order(self):
        """
        The replay runs its statements on two connections at once, split by
        call: each call's events are stored in order and its derived state
        is right, and the spool is removed.
        """
        store = ProbedStore(self.pool)
        writer = yield self.make_writer(store=store, batch_size=5, max_batch=5,
                                        replay_connections=2)
        yield self.check_stored()
        self.assertEqual(store.most, 2)
        self.assertEqual(writer.counts["replayed"], len(self.written))
        self.assertEqual(writer.counts["statements"], 2 * -(-len(self.written) // 2 // 5))
        self.assertEqual(list(self.spool_dir.glob("spool-*.log")), [])

    @defer.inlineCallbacks
    def test_replay_after_partial_commit_is_idempotent(self):
        """
        A spool whose first events were committed by an earlier replay (it
        stopped before removing the file) is replayed again on two
        connections: the committed events are skipped as duplicates, the
        others stored, and nothing derived twice.
        """
        committed = self.written[:len(self.written) * 2 // 5]
        yield self.events.write([e.as_json() for e in committed])
        writer = yield self.make_writer(batch_size=5, max_batch=5, replay_connections=2)
        yield self.check_stored()
        self.assertEqual(writer.counts["duplicates"], len(committed))
        self.assertEqual(writer.counts["replayed"], len(self.written))

    @defer.inlineCallbacks
    def test_rolled_back_part_written_again(self):
        """
        A part PostgreSQL rolls back (a deadlock between the two
        connections) is not an outage: the piece is written again on one
        connection, duplicates skipped, and the order of each call kept.
        """
        store = ProbedStore(self.pool, fail_writes={3},
                            error=psycopg2.errors.DeadlockDetected("deadlock detected"))
        seen = capture_log(self)
        writer = yield self.make_writer(store=store, batch_size=5, max_batch=5,
                                        replay_connections=2)
        yield self.check_stored()
        self.assertEqual(writer.mode, W.DIRECT)
        self.assertEqual(self.changes, [True])
        self.assertGreater(writer.counts["duplicates"], 0)
        self.assertTrue(any("deadlock detected" in m and "one connection" in m
                            for m in messages(seen)))

    @defer.inlineCallbacks
    def test_one_connection(self):
        """
        With C{replay_connections=1} the replay writes in emission order.
        """
        store = ProbedStore(self.pool)
        yield self.make_writer(store=store, batch_size=5, max_batch=5, replay_connections=1)
        self.assertEqual((yield self.stored()), self.written)
        self.assertEqual(store.most, 1)
