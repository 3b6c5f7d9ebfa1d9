"""
The C{events} service: makes every call event durable, in order, without
ever losing one.

Events are emitted with L{EventWriter.emit} (fire and forget) or
L{EventWriter.emit_durable} (a Deferred firing once the event is durable).
They are written in batches -- as soon as C{batch_size} are waiting, or
C{max_delay} seconds after the oldest was emitted -- with one statement per
batch (L{fts.db.events.EventStore.write}, which also updates the calls and
contacts from the events in the same transaction).  One batch is written at
a time, so events reach the log in emission order.

Modes:

  - C{starting}: until L{startService} has opened the spool; emitted events
    wait in memory.
  - C{direct}: batches go to PostgreSQL.  The only mode in which
    L{EventWriter.accepting_calls} is true (unless the backlog of events
    not yet durable grows past C{backlog_limit}).
  - C{spooling}: PostgreSQL is unreachable; batches go to the fsync'd spool
    (L{fts.events.spool}); the database is probed with a capped exponential
    backoff, and at once when the pool gets a connection back.
  - C{replaying}: the database is back; the spool is written to it file by
    file, oldest first, while new events keep being appended to the spool
    behind them; once the spool is empty batches go to PostgreSQL again.
    The replay runs C{replay_connections} statements at once, the events
    split by call (L{split_by_call}): each call's events are stored in
    order, which is what the derived state needs, while events of
    different calls may get ids in another order than they were emitted.
  - C{stopped}: after L{stopService}; a late event goes to the spool.

Start-up replays the spool a previous run left (a crash, or a stop while
the database was away) before anything else is written.  Stop flushes every
event to the database, or to the spool when it is away, and waits.

Every change of L{EventWriter.accepting_calls} is passed to the callbacks
given to L{EventWriter.on_durability_change}: the dialer places no new call
while it is false.

A batch PostgreSQL refuses for its data (not for being unreachable) is split
until the offending event is found; that event is stored without its derived
state, or, if even that fails, kept in the spool directory's C{rejected.log}
with an error in the log.  Nothing is dropped silently.
"""

import collections
import functools
import json
import re

import psycopg2
import psycopg2.extensions
from twisted.application import service
from twisted.internet import defer, threads
from twisted.logger import Logger

from fts import health as H
from fts.db.pool import CONNECTION_ERRORS, DatabaseUnavailable
from fts.events import spool as S
from fts.events.model import CallEvent

log = Logger()

STARTING = "starting"
DIRECT = "direct"
SPOOLING = "spooling"
REPLAYING = "replaying"
STOPPED = "stopped"

# PostgreSQL refused the data of a batch (a constraint, a value): retrying
# the same batch cannot help, isolating the bad event can.
DATA_ERRORS = (psycopg2.DataError, psycopg2.IntegrityError)
UNAVAILABLE = (DatabaseUnavailable,) + CONNECTION_ERRORS
# A statement PostgreSQL rolled back to break a deadlock (or a serialization
# failure): trying again can succeed.
ROLLED_BACK = psycopg2.extensions.TransactionRollbackError

# The call id of an event's JSON text (CallEvent.as_json):
# ["key","kind",campaign_id,call_id,...]; the kinds are [a-z_].  Keys with
# an escape (a quote, a backslash, non-ASCII) do not match: they are parsed.
_CALL_ID = re.compile(r'\["[^"\\]*","[a-z_]+",(?:null|\d+),(null|\d+),')


def thread_runner(reactor, threadpool=None):
    """
    A C{run_blocking(f, *args) -> Deferred} running C{f} in C{threadpool}
    (default: the reactor's own thread pool).
    """
    if threadpool is None:
        threadpool = reactor.getThreadPool()
    return functools.partial(threads.deferToThreadPool, reactor, threadpool)


class _Pending:
    __slots__ = ("event", "waiter", "emitted_at")

    def __init__(self, event, waiter, emitted_at):
        self.event = event
        self.waiter = waiter
        self.emitted_at = emitted_at


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class EventWriter(service.Service):
    """
    The durable event writer.

    @param store: an L{fts.db.events.EventStore}, or a callable returning
        one, called when the service starts (the database service builds
        its pool only when it starts).
    @param spool_dir: the spool directory, e.g. C{<data_dir>/spool/events}.
    @param clock: what batches and retries are timed with (the reactor).
    @param run_blocking: C{run_blocking(f, *args) -> Deferred} runs the
        spool's file work (write + fsync, read, unlink) off the reactor
        thread; see L{thread_runner}.
    @param health: the daemon's L{fts.health.Health}, or L{None}.
    @param batch_size: a batch is written as soon as this many events wait.
    @param max_delay: … or this many seconds after the oldest was emitted.
    @param max_batch: the most events one statement carries (a backlog is
        written in batches this large).
    @param backlog_limit: with more events than this waiting, calls are
        paused until the backlog is halved.
    @param replay_read_size: how many bytes of a spool file the replay
        reads at a time.
    @param replay_connections: how many statements the replay runs at once
        (each on its own connection of the store's pool), the events split
        by call so that each call's events keep their order.

    @ivar mode: see the module docstring.
    @ivar counts: C{written} (stored in PostgreSQL directly, duplicates
        included), C{duplicates}, C{spooled}, C{replayed} (stored from the
        spool), C{rejected} (kept in rejected.log), C{skipped} (unreadable
        spool records), C{statements} (batch statements sent to PostgreSQL).
    """

    name = "events"

    def __init__(self, store, spool_dir, clock, run_blocking, health=None,
                 batch_size=500, max_delay=0.02, max_batch=5000,
                 retry_delay=0.25, max_retry_delay=5.0, backlog_limit=100_000,
                 replay_read_size=4 * 1024 * 1024, replay_connections=2):
        self._store_source = store
        self.store = None
        self.spool = S.Spool(spool_dir, run_blocking)
        self.clock = clock
        self.health = health.component("events") if health is not None else None
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.max_batch = max(max_batch, batch_size)
        self.first_retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.backlog_limit = backlog_limit
        self.replay_read_size = replay_read_size
        self.replay_connections = max(1, replay_connections)

        self.mode = STARTING
        self.counts = dict(written=0, duplicates=0, spooled=0, replayed=0, rejected=0,
                           skipped=0, statements=0)
        self.last_error = None
        self._buffer = collections.deque()
        self._busy = False  # a batch is being written
        self._in_flight_count = 0
        self._timer = None  # the batch deadline
        self._overdue = False  # the deadline passed for the oldest event
        self._held = None  # a retry after a spool write failed
        self._spool_error = None  # why the last spool write failed
        self._spool_delay = retry_delay
        self._probe = None  # the next database probe
        self._probing = False
        self._retry_delay = retry_delay
        self._replay = None  # the replay in progress (a Deferred)
        self._backlogged = False
        self._accepting = False
        self._listeners = []
        self._listening = False
        self._idle_waiters = []
        self._flushing = 0  # > 0: write whatever waits, without waiting

    # --- public API -------------------------------------------------------

    @property
    def accepting_calls(self):
        """
        Whether events are being made durable in PostgreSQL with no backlog:
        the dialer places new calls only while this is true.
        """
        return self._accepting

    @property
    def pending(self):
        """
        How many emitted events are not durable yet.
        """
        return len(self._buffer) + self._in_flight_count

    def on_durability_change(self, callback):
        """
        Call C{callback(accepting_calls)} whenever L{accepting_calls} changes.
        """
        self._listeners.append(callback)

    def emit(self, event):
        """
        Record C{event}; never blocks, never fails for a valid event (an
        invalid L{CallEvent} cannot be built).
        """
        self._enqueue(event, None)

    def emit_durable(self, event):
        """
        Record C{event}.

        @return: a Deferred firing with L{None} once the event is durable
            (stored in PostgreSQL, or fsync'd to the spool).
        """
        waiter = defer.Deferred()
        self._enqueue(event, waiter)
        return waiter

    def flush(self):
        """
        Write every event emitted so far now, without waiting for a batch to
        fill.

        @return: a Deferred firing once they are durable (in PostgreSQL, or
            in the spool while it is away).
        """
        if not self._buffer and not self._busy:
            return defer.succeed(None)
        waiter = defer.Deferred()
        self._idle_waiters.append(waiter)
        self._flushing += 1

        def done(result):
            self._flushing -= 1
            return result

        waiter.addBoth(done)
        self._pump()
        return waiter

    # --- service ------------------------------------------------------------

    @defer.inlineCallbacks
    def startService(self):
        """
        Open the spool and replay what an earlier run left in it, before any
        new event is written.  Fires once that is done, or once the database
        is known to be away (the replay then happens when it returns).
        """
        service.Service.startService(self)
        store = self._store_source
        self.store = store() if callable(store) and not hasattr(store, "write") else store
        self._report(H.STARTING)
        left = yield self.spool.open()
        if left:
            log.info("replaying {files} spool file(s) left in {directory} by an earlier run"
                     " before writing new events",
                     files=len(left), directory=str(self.spool.directory))
        if hasattr(self.store, "on_reachable") and not self._listening:
            self._listening = True
            self.store.on_reachable(self._database_reachable)
        self.mode = REPLAYING
        self._pump()
        yield self._start_replay()

    @defer.inlineCallbacks
    def stopService(self):
        """
        Stop probing and replaying, write every event still waiting (to
        PostgreSQL, or to the spool if it is away), and close the spool.
        """
        service.Service.stopService(self)
        for call in (self._probe, self._held):
            if call is not None and call.active():
                call.cancel()
        self._probe = self._held = None
        if self._replay is not None:
            yield self._replay
        yield self.flush()
        self._set_mode(STOPPED)
        yield self.spool.close()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        log.info("event writer stopped: {written} written, {spooled} spooled,"
                 " {replayed} replayed", **self.counts)
        self._report(H.STOPPED)

    # --- batching -----------------------------------------------------------

    def _enqueue(self, event, waiter):
        if not isinstance(event, CallEvent):
            raise TypeError(f"emit() takes a CallEvent, not {event!r}")
        self._buffer.append(_Pending(event, waiter, self.clock.seconds()))
        if len(self._buffer) > self.backlog_limit and not self._backlogged:
            self._backlogged = True
            log.warn("{pending} events are waiting to be made durable; new calls are paused"
                     " until the backlog is halved", pending=len(self._buffer))
            self._update_accepting()
        if not self._busy:
            if len(self._buffer) >= self.batch_size or self.mode == STOPPED:
                self._pump()
            elif self._timer is None:
                self._arm_timer()

    def _arm_timer(self):
        if self._timer is not None or not self._buffer:
            return
        delay = self._buffer[0].emitted_at + self.max_delay - self.clock.seconds()
        self._timer = self.clock.callLater(max(0.0, delay), self._deadline)

    def _deadline(self):
        self._timer = None
        self._overdue = True
        self._pump()

    def _due(self):
        if (len(self._buffer) >= self.batch_size or self._flushing or self._overdue
                or self.mode == STOPPED):
            return True
        return self.clock.seconds() - self._buffer[0].emitted_at >= self.max_delay

    def _pump(self):
        """
        Start writing the next batch if one is due and none is in flight.
        """
        if self._busy or self.mode == STARTING or self._held is not None:
            return
        if not self._buffer:
            self._went_idle()
            return
        if not self._due():
            self._arm_timer()
            return
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        self._overdue = False
        size = min(len(self._buffer), self.max_batch)
        batch = [self._buffer.popleft() for _ in range(size)]
        self._busy = True
        self._in_flight_count = size
        if self.mode == DIRECT:
            d = self._write_direct(batch)
        else:
            d = self._write_spool(batch)

        def done(_):
            self._busy = False
            self._in_flight_count = 0
            if self._backlogged and len(self._buffer) <= self.backlog_limit // 2:
                self._backlogged = False
                log.info("event backlog down to {pending}; new calls may resume",
                         pending=len(self._buffer))
                self._update_accepting()
            self._report()
            self._pump()

        d.addErrback(lambda f: log.failure("writing a batch of {n} events", f, n=size))
        d.addBoth(done)
        d.addErrback(lambda f: log.failure("event writer bookkeeping", f))

    def _went_idle(self):
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    # --- writing to PostgreSQL --------------------------------------------

    @defer.inlineCallbacks
    def _write_direct(self, batch):
        try:
            yield self._write_database([p.event.as_json() for p in batch])
        except Exception as e:
            if not isinstance(e, UNAVAILABLE):
                # Not the data (that is isolated), not the connection: a
                # fault of ours or of the server.  The spool keeps the
                # events safe while the database is probed again.
                log.failure("PostgreSQL refused a batch of {n} events; spooling them",
                            n=len(batch))
            self._database_lost(e)
            yield self._write_spool(batch)
            return
        self.counts["written"] += len(batch)
        _fire(batch)

    @defer.inlineCallbacks
    def _write_database(self, records):
        """
        Write C{records} (event JSON texts, in chunks of C{max_batch}) with
        their derived state, isolating events PostgreSQL refuses for their
        data.  Fails with an C{UNAVAILABLE} error when the database is away.
        """
        for start in range(0, len(records), self.max_batch):
            chunk = records[start:start + self.max_batch]
            self.counts["statements"] += 1
            try:
                inserted = yield self.store.write(chunk)
            except DATA_ERRORS as e:
                yield self._isolate(chunk, e)
            else:
                self.counts["duplicates"] += len(chunk) - inserted

    @defer.inlineCallbacks
    def _isolate(self, records, error):
        """
        Write C{records}, which PostgreSQL refused together with C{error},
        in halves, down to the event it refuses.
        """
        if len(records) == 1:
            yield self._write_alone(records[0], error)
            return
        half = len(records) // 2
        for part in (records[:half], records[half:]):
            try:
                inserted = yield self.store.write(part)
            except DATA_ERRORS as e:
                yield self._isolate(part, e)
            else:
                self.counts["duplicates"] += len(part) - inserted

    @defer.inlineCallbacks
    def _write_alone(self, record, error):
        log.error("PostgreSQL refused the derived state of event {event}: {error};"
                  " storing the event without it",
                  event=_describe(record), error=_one_line(error))
        try:
            yield self.store.write([record], derive=False)
        except DATA_ERRORS as e:
            log.error("PostgreSQL refused event {event} itself: {error}; it is kept in {path}",
                      event=_describe(record), error=_one_line(e),
                      path=str(self.spool.directory / S.REJECTED))
            yield self.spool.reject([record])
            self.counts["rejected"] += 1

    # --- the spool ----------------------------------------------------------

    @defer.inlineCallbacks
    def _write_spool(self, batch):
        try:
            yield self.spool.append([S.encode(p.event) for p in batch])
        except Exception as e:
            self._spool_error = f"spool write failed: {e}"
            if self.mode == STOPPED or not self.running:
                log.critical(
                    "{n} events could not be written to PostgreSQL nor to the spool"
                    " while stopping ({error}); they are lost",
                    n=len(batch), error=e)
                _fire(batch, error=e)
                return
            # Keep them, in order, and try again after a pause.
            self._buffer.extendleft(reversed(batch))
            delay = self._spool_delay
            self._spool_delay = min(delay * 2, self.max_retry_delay)
            log.error("events cannot be made durable ({error}); {pending} are waiting in"
                      " memory, retrying in {delay:.1f} s",
                      error=e, pending=len(self._buffer), delay=delay)
            self._held = self.clock.callLater(delay, self._release)
            return
        if self._spool_error is not None:
            log.info("the spool takes events again")
            self._spool_error = None
            self._spool_delay = self.first_retry_delay
        self.counts["spooled"] += len(batch)
        _fire(batch)

    def _release(self):
        self._held = None
        self._pump()

    # --- outage and recovery ----------------------------------------------

    def _database_lost(self, error):
        self.last_error = _one_line(error)
        if self.mode in (DIRECT, REPLAYING):
            log.warn("PostgreSQL is unreachable ({error}): events go to the spool in"
                     " {directory} and no new call is placed until they are written",
                     error=self.last_error, directory=str(self.spool.directory))
            self._set_mode(SPOOLING)
        self._schedule_probe()

    def _next_retry_delay(self):
        delay = self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self.max_retry_delay)
        return delay

    def _schedule_probe(self):
        if not self.running or self._probe is not None or self._probing:
            return
        self._probe = self.clock.callLater(self._next_retry_delay(), self._try_database)

    def _database_reachable(self):
        """
        The pool has a connection again: try now rather than at the next
        probe.
        """
        if self.mode == SPOOLING and self.running and not self._probing:
            if self._probe is not None and self._probe.active():
                self._probe.cancel()
            self._probe = None
            self._try_database()

    def _try_database(self):
        self._probe = None
        self._probing = True

        def answered(_):
            self._probing = False
            if self.mode == SPOOLING and self.running:
                return self._start_replay()

        def failed(failure):
            self._probing = False
            self.last_error = _one_line(failure.value)
            self._report()
            self._schedule_probe()

        d = self.store.ping()
        d.addCallbacks(answered, failed)
        d.addErrback(lambda f: log.failure("probing the database", f))

    def _start_replay(self):
        if self._replay is None:
            self._replay = self._replay_spool()

            def finished(result):
                self._replay = None
                return result

            self._replay.addBoth(finished)
        return self._replay

    @defer.inlineCallbacks
    def _replay_spool(self):
        """
        Write the spool to PostgreSQL, oldest file first, removing each file
        once written; new events keep going to the spool meanwhile.  Ends in
        C{direct} mode when the spool is empty, in C{spooling} when the
        database went away again, and stops early when the service stops.
        """
        self._set_mode(REPLAYING)
        replayed = 0
        try:
            while True:
                paths = yield self.spool.seal()
                for path in paths:
                    done = yield self._replay_file(path)
                    if not done:
                        return
                    replayed += done
                if not self.spool.holds_records:
                    break
        except Exception as e:
            if not isinstance(e, UNAVAILABLE):
                log.failure("replaying the event spool failed; will retry")
            self._database_lost(e)
            return
        self._retry_delay = self.first_retry_delay
        self.last_error = None
        if replayed:
            log.info("replayed {replayed} events from the spool; events are written to"
                     " PostgreSQL again", replayed=replayed)
        self._set_mode(DIRECT)
        self._pump()

    @defer.inlineCallbacks
    def _replay_file(self, path):
        """
        Write one spool file to PostgreSQL (reading the next piece while the
        database writes the current one), then remove it.

        @return: a Deferred firing with the number of records written plus
            one, or 0 when the service stopped first.
        """
        written = 0
        reading = self.spool.read(path, 0, self.replay_read_size)
        while True:
            records, problems, offset, at_end = yield reading
            if not at_end:
                reading = self.spool.read(path, offset, self.replay_read_size)
            for problem in problems:
                log.warn("unreadable spool record: {problem}", problem=problem)
            self.counts["skipped"] += len(problems)
            try:
                complete = yield self._replay_records(records)
            except Exception:
                if not at_end:
                    reading.addErrback(lambda f: None)
                raise
            if not complete:
                if not at_end:
                    yield reading
                return 0
            self.counts["replayed"] += len(records)
            written += len(records)
            if at_end:
                break
        yield self.spool.remove(path)
        return written + 1

    @defer.inlineCallbacks
    def _replay_records(self, records):
        """
        Write C{records} read from the spool: split by call into
        C{replay_connections} parts written at once, each in order, in
        statements of C{max_batch}.  Each call's events keep their order (a
        call is in one part), which is all the derived state needs; events
        of different calls may be stored in another order than emitted.

        Parts that PostgreSQL makes wait on each other until one is rolled
        back (a deadlock on a contact or an opt-out shared by calls of two
        parts: rare) are written again, on one connection: the keys make
        that idempotent.

        @return: a Deferred firing with C{True}, or C{False} when the
            service stopped first; failing like L{_write_database}.
        """
        parts = [records]
        if self.replay_connections > 1 and len(records) > 1:
            parts = [part for part in split_by_call(records, self.replay_connections) if part]
        if len(parts) == 1:
            complete = yield self._replay_part(parts[0])
            return complete
        results = yield defer.DeferredList([self._replay_part(part) for part in parts],
                                           consumeErrors=True)
        failures = [result for ok, result in results if not ok]
        if not failures:
            return all(result for _, result in results)
        others = [f for f in failures if not f.check(ROLLED_BACK)]
        if others:
            others[0].raiseException()
        log.warn("replaying the spool on {n} connections: {error}; writing those {records}"
                 " events again on one connection",
                 n=len(parts), error=_one_line(failures[0].value), records=len(records))
        complete = yield self._replay_part(records)
        return complete

    @defer.inlineCallbacks
    def _replay_part(self, records):
        for start in range(0, len(records), self.max_batch):
            if not self.running:
                return False
            yield self._write_database(records[start:start + self.max_batch])
        return True

    # --- state, listeners, health -------------------------------------------

    def _set_mode(self, mode):
        if mode != self.mode:
            self.mode = mode
            self._report()
        self._update_accepting()

    def _update_accepting(self):
        accepting = self.mode == DIRECT and not self._backlogged
        if accepting == self._accepting:
            return
        self._accepting = accepting
        if accepting:
            log.info("events are durable again: new calls may be placed")
        for listener in list(self._listeners):
            try:
                listener(accepting)
            except Exception:
                log.failure("durability listener {listener!r} failed", listener=listener)
        self._report()

    def _report(self, state=None, error=None):
        if self.health is None:
            return
        if state is None and self._spool_error is not None:
            state, error = H.DOWN, self._spool_error
        if state is None:
            state = {DIRECT: H.UP, SPOOLING: H.DEGRADED, REPLAYING: H.DEGRADED,
                     STARTING: H.STARTING, STOPPED: H.STOPPED}[self.mode]
            if state == H.UP and self._backlogged:
                state = H.DEGRADED
            if state == H.DEGRADED and error is None:
                error = self.last_error
        self.health.set(state, error=error, mode=self.mode, pending=self.pending,
                        accepting_calls=self._accepting, **self.counts)


def split_by_call(records, n):
    """
    Split event JSON texts (L{CallEvent.as_json}) into C{n} lists by call
    id: all the events of one call in the same list, every list in the
    order of C{records}.  Events of no call go to the first list.
    """
    parts = [[] for _ in range(n)]
    match = _CALL_ID.match
    for record in records:
        found = match(record)
        if found is not None:
            call_id = found.group(1)
            index = 0 if call_id == "null" else int(call_id) % n
        else:
            index = _call_of(record) % n
        parts[index].append(record)
    return parts


def _call_of(record):
    """
    The call id of an event's JSON text that the fast pattern did not
    match (0 for none, or for text that is not an event).
    """
    try:
        call_id = json.loads(record)[3]
    except (ValueError, TypeError, IndexError, KeyError):
        return 0
    return call_id if isinstance(call_id, int) and not isinstance(call_id, bool) else 0


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _describe(record):
    """
    "key (kind of call N)" for the log, from an event's JSON text.
    """
    try:
        key, kind, _, call_id = json.loads(record)[:4]
        return f"{key} ({kind} of call {call_id})"
    except (ValueError, TypeError):
        return repr(record[:80])


def _fire(batch, error=None):
    for pending in batch:
        waiter = pending.waiter
        if waiter is not None and not waiter.called:
            if error is None:
                waiter.callback(None)
            else:
                waiter.errback(error)
