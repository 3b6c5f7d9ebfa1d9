"""
What the dialer tests share: rows written with plain SQL (the campaign and
list stores do not exist yet), a fake PBX line, an event recorder that
writes each batch through the real L{fts.db.events.EventStore} (so the
derived state is the real one), and a store wrapper that knows when the
database work the dialer started is done.
"""

from datetime import UTC, datetime, timedelta

from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from zope.interface import implementer

from fts.db.dialing import DialingStore
from fts.db.events import EventStore
from fts.dialer import line as L

#: The test epoch (2030-01-01 00:00 UTC, a Tuesday), for a Clock.
T0 = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


def at(seconds):
    return datetime.fromtimestamp(seconds, UTC)


@defer.inlineCallbacks
def campaign(pool, name="c", state="running", contacts=0, max_channels=10, cps=1000,
             priority=10, max_attempts=3, settings=None, windows="all", starts_at=None,
             ends_at=None, timezone="UTC", local_hours=None, phone_base=15550000000,
             due=T0 - 60, tz_of=None, dial_string=None):
    """
    A campaign with its list, C{contacts} contacts all due at C{due}, and
    calling windows (C{"all"}: every day, all day; or a list of
    C{(weekday, "HH:MM", "HH:MM")}).

    @return: C{(campaign_id, list_id)}.
    """
    rows = yield pool.runQuery(
        "INSERT INTO contact_lists (name) VALUES (%s) RETURNING id", (name + " list",))
    list_id = rows[0][0]
    starts_at = at(T0 - 86400) if starts_at is None else starts_at
    ends_at = at(T0 + 30 * 86400) if ends_at is None else ends_at
    hours_from, hours_to = local_hours or (None, None)
    import json

    rows = yield pool.runQuery(
        "INSERT INTO campaigns (name, list_id, state, starts_at, ends_at, max_channels, cps,"
        " priority, max_attempts, settings, timezone, local_hours_from, local_hours_to,"
        " dial_string, finish_reason)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (name, list_id, state, starts_at, ends_at, max_channels, cps, priority, max_attempts,
         json.dumps(settings or {}), timezone, hours_from, hours_to, dial_string,
         "cancelled" if state == "finished" else None))
    campaign_id = rows[0][0]
    if windows == "all":
        windows = [(d, "00:00", "00:00") for d in range(7)]
    for weekday, start, end in windows:
        yield pool.runOperation(
            "INSERT INTO campaign_windows (campaign_id, weekday, from_time, to_time)"
            " VALUES (%s, %s, %s, %s)", (campaign_id, weekday, start, end))
    if contacts:
        yield add_contacts(pool, campaign_id, list_id, contacts, phone_base, due, tz_of)
    return campaign_id, list_id


@defer.inlineCallbacks
def add_contacts(pool, campaign_id, list_id, count, phone_base=15550000000, due=T0 - 60,
                 tz_of=None, start=1):
    """
    C{count} contacts in the list and the campaign, due at C{due};
    C{tz_of(n)} gives contact C{n}'s timezone.
    """
    numbers = list(range(start, start + count))
    phones = [str(phone_base + n) for n in numbers]
    zones = [tz_of(n) if tz_of else None for n in numbers]
    yield pool.runOperation(
        "INSERT INTO contacts (list_id, row_number, phone, phone_original, timezone)"
        " SELECT %s, n, p, p, z FROM unnest(%s::int[], %s::text[], %s::text[]) AS u(n, p, z)",
        (list_id, numbers, phones, zones))
    yield pool.runOperation(
        "INSERT INTO campaign_contacts (campaign_id, contact_id, next_attempt_at)"
        " SELECT %s, id, %s FROM contacts WHERE list_id = %s AND row_number >= %s"
        " ORDER BY id", (campaign_id, at(due), list_id, start))
    return phones


@defer.inlineCallbacks
def dnc(pool, phone, builtin=True, name="blocked", campaign_id=None):
    """
    Put C{phone} on the built-in opt-outs list, or on a named list that
    C{campaign_id} honours.  Returns the list id.
    """
    if builtin:
        rows = yield pool.runQuery("SELECT id FROM dnc_lists WHERE builtin")
        list_id = rows[0][0]
    else:
        rows = yield pool.runQuery(
            "INSERT INTO dnc_lists (name) VALUES (%s) ON CONFLICT (name) DO UPDATE"
            " SET name = EXCLUDED.name RETURNING id", (name,))
        list_id = rows[0][0]
        if campaign_id is not None:
            yield pool.runOperation(
                "INSERT INTO campaign_dnc_lists VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (campaign_id, list_id))
    yield pool.runOperation(
        "INSERT INTO dnc_entries (list_id, phone, source) VALUES (%s, %s, 'manual')",
        (list_id, phone))
    return list_id


def contacts(pool, campaign_id):
    """
    C{(id, phone, status, attempts, final_outcome, last_outcome, next_attempt_at epoch,
    dnc_list_id)} of every contact of a campaign, in id order.
    """
    return pool.runQuery(
        "SELECT cc.id, c.phone, cc.status, cc.attempts, cc.final_outcome, cc.last_outcome,"
        " extract(epoch FROM cc.next_attempt_at)::float8, cc.dnc_list_id"
        " FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id"
        " WHERE cc.campaign_id = %s ORDER BY cc.id", (campaign_id,))


def calls(pool, campaign_id):
    """
    C{(id, number, attempt, outcome, accepted, ended)} of every call of a campaign.
    """
    return pool.runQuery(
        "SELECT id, number_dialed, attempt, outcome, accepted_at IS NOT NULL,"
        " ended_at IS NOT NULL FROM calls WHERE campaign_id = %s ORDER BY id", (campaign_id,))


class CountingStore:
    """
    A L{DialingStore} that counts the statements in progress, so a test can
    wait until the database work the dialer started is done.
    """

    def __init__(self, pool):
        self._store = DialingStore(pool)
        self.pending = 0
        self.calls = []
        self._idle = []

    def __getattr__(self, name):
        method = getattr(self._store, name)
        if not callable(method):
            return method
        return self.counting(method, name)

    def counting(self, method, name=None):
        """
        C{method}, counted like the store's own statements (e.g. the
        campaign store's C{transition} the dialer is given).
        """
        name = name or method.__name__

        def counted(*args, **kwargs):
            self.pending += 1
            self.calls.append(name)
            d = defer.maybeDeferred(method, *args, **kwargs)

            def done(result):
                self.pending -= 1
                if not self.pending:
                    waiters, self._idle = self._idle, []
                    for w in waiters:
                        w.callback(None)
                return result

            return d.addBoth(done)

        return counted

    def idle(self):
        if not self.pending:
            return defer.succeed(None)
        d = defer.Deferred()
        self._idle.append(d)
        return d


class DirectEvents:
    """
    The event writer's interface, writing every batch of emitted events at
    once (in emission order, one batch at a time) through the real
    L{EventStore}, so the derived state is what production computes.
    """

    def __init__(self, pool):
        self.store = EventStore(pool)
        self.accepting_calls = True
        self.emitted = []
        self._listeners = []
        self._buffer = []
        self._busy = False
        self._idle = []

    def on_durability_change(self, callback):
        self._listeners.append(callback)

    def set_accepting(self, value):
        self.accepting_calls = value
        for callback in self._listeners:
            callback(value)

    def emit(self, event):
        self._enqueue(event, None)

    def emit_durable(self, event):
        d = defer.Deferred()
        self._enqueue(event, d)
        return d

    def kinds(self, call_id=None):
        return [e.kind for e in self.emitted if call_id is None or e.call_id == call_id]

    def _enqueue(self, event, waiter):
        self.emitted.append(event)
        self._buffer.append((event, waiter))
        self._pump()

    @property
    def pending(self):
        return len(self._buffer) + (1 if self._busy else 0)

    def _pump(self):
        if self._busy:
            return
        if not self._buffer:
            waiters, self._idle = self._idle, []
            for w in waiters:
                w.callback(None)
            return
        batch, self._buffer = self._buffer, []
        self._busy = True
        d = self.store.write([e.as_json() for e, _ in batch])

        def done(result):
            self._busy = False
            for _, waiter in batch:
                if waiter is not None:
                    waiter.callback(None)
            self._pump()
            return result

        d.addBoth(done)

    def idle(self):
        if not self._busy and not self._buffer:
            return defer.succeed(None)
        d = defer.Deferred()
        self._idle.append(d)
        return d


@implementer(L.IPBXLine)
class FakeLine:
    """
    A PBX line the test drives: it records each originate, and accepts it at
    once unless C{auto_accept} is false.
    """

    def __init__(self, name="pbx1", capacity=100, cps=10000.0, connected=True,
                 auto_accept=True):
        self.name = name
        self.capacity = capacity
        self.cps = cps
        self.connected = connected
        self.auto_accept = auto_accept
        self.requests = []
        self.pending = {}
        self.channels = {}
        self.tracked = []
        self.forgotten = []
        self.hung_up = []
        self.refuse_with = None
        self._progress = []
        self._connection = []

    def originate(self, request):
        self.requests.append(request)
        if self.refuse_with is not None:
            return defer.fail(self.refuse_with)
        if not self.connected:
            return defer.fail(L.PBXUnavailable(self.name, "not connected"))
        self.channels[request.channel_id] = L.ChannelInfo(request.channel_id, "", "Down")
        if self.auto_accept:
            return defer.succeed(None)
        d = defer.Deferred()
        self.pending[request.channel_id] = d
        return d

    def on_progress(self, callback):
        self._progress.append(callback)

    def on_connection_change(self, callback):
        self._connection.append(callback)

    def report(self, channel_id, kind, **kwargs):
        if kind == L.ENDED:
            self.channels.pop(channel_id, None)
        elif kind == L.ANSWERED and channel_id in self.channels:
            self.channels[channel_id] = L.ChannelInfo(channel_id, "", "Up")
        for callback in list(self._progress):
            callback(self, L.CallProgress(channel_id, kind, **kwargs))

    def answer(self, channel_id):
        self.report(channel_id, L.ANSWERED)

    def end(self, channel_id, reason=None, cause=16, answered=False):
        self.report(channel_id, L.ENDED, reason=reason, cause=cause, answered=answered)

    def set_connected(self, connected):
        self.connected = connected
        for callback in list(self._connection):
            callback(self, connected)

    def hangup(self, channel_id, cause=16):
        self.hung_up.append(channel_id)
        return defer.succeed(None)

    def active_channels(self):
        if not self.connected:
            return defer.fail(L.PBXUnavailable(self.name, "not connected"))
        return defer.succeed(dict(self.channels))

    def track(self, channel_id, other_channel_id, answered):
        self.tracked.append(channel_id)

    def forget(self, channel_id):
        self.forgotten.append(channel_id)

    @property
    def live(self):
        """
        Channel ids of calls placed and not ended.
        """
        return list(self.channels)


def real_turn(delay=0.0):
    """
    Let the real reactor run once (database I/O).
    """
    return deferLater(reactor, delay, lambda: None)


@defer.inlineCallbacks
def settle(clock, store, events, rounds=1000):
    """
    Run the dialer until nothing is left to do now: pumps due on the
    C{Clock} at the current time, statements in progress, events not yet
    written.
    """
    for _ in range(rounds):
        clock.advance(0)
        if store.pending:
            yield store.idle()
            continue
        if events.pending:
            yield events.idle()
            continue
        yield real_turn()
        due = [c for c in clock.getDelayedCalls() if c.getTime() <= clock.seconds()]
        if not due and not store.pending and not events.pending:
            return
    raise AssertionError("the dialer did not settle")


@defer.inlineCallbacks
def advance(clock, store, events, seconds, step=None):
    """
    Move the C{Clock} forward C{seconds}, stopping at every timer on the way
    and settling the database work each one starts.
    """
    end = clock.seconds() + seconds
    yield settle(clock, store, events)
    while True:
        upcoming = [c.getTime() for c in clock.getDelayedCalls()]
        nxt = min(upcoming) if upcoming else None
        if step is not None:
            nxt = min(nxt, clock.seconds() + step) if nxt is not None else clock.seconds() + step
        if nxt is None or nxt > end:
            clock.advance(max(0.0, end - clock.seconds()))
            yield settle(clock, store, events)
            return
        clock.advance(max(0.0, nxt - clock.seconds()))
        yield settle(clock, store, events)


def days(n):
    return timedelta(days=n)
