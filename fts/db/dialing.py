"""
The dialer's SQL: campaigns to dial, claiming contacts, the calls rows
written before an Originate, releasing claims, reconciliation after a
restart, life-cycle transitions, and leadership (advisory lock, instance
heartbeat).

What the dialer does NOT write here: the outcome of an attempt.  That comes
from the call's events (C{hangup}, C{lost}, C{originate_failed} carry the
outcome and the retry decision), applied by L{fts.db.events} in the same
transaction as the events, so an outcome is never lost while PostgreSQL is
away.  The claim and the calls row are direct writes because they must
succeed before anyone is dialed.

Time: every statement that compares with "now" takes it as a parameter
(the dialer's injected clock), so tests drive time with a C{Clock}.
"""

import json
import os
import socket
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import attr
from twisted.internet import defer
from twisted.logger import Logger

from fts.core.campaign import (
    CallerId,
    CampaignSettings,
    Pacing,
    RecipientHours,
    RetryPolicy,
    Schedule,
    SettingsError,
    Window,
    settings_from_dict,
)
from fts.db.pool import ClosedSocketSafeReactor, WatchedConnection

__all__ = [
    "DialingStore",
    "CampaignRecord",
    "ClaimedContact",
    "InFlightRow",
    "OpenCall",
    "LeaderLock",
    "LOCK_KEY",
    "as_datetime",
]

log = Logger()

#: pg_advisory_lock key of the dialer: "FTSDIAL" as a number.
LOCK_KEY = int.from_bytes(b"FTSDIAL", "big")

#: The campaign changes channel (see migration 0003_dialer).
CAMPAIGNS_CHANNEL = "fts_campaigns"

#: A contact whose next attempt can never come (no window left before the
#: campaign's end): finalization decides its final outcome.
NEVER = datetime.max.replace(tzinfo=UTC)


def as_datetime(seconds):
    """
    Seconds since the epoch as an aware UTC datetime.
    """
    return datetime.fromtimestamp(seconds, UTC)


@attr.frozen
class CampaignRecord:
    """
    A campaign as the dialer reads it.

    @ivar settings: its L{CampaignSettings}, with the columns the dialer
        reads on every decision (pacing, schedule, retries, caller id, dial
        string) taking precedence over the JSON settings.
    @ivar starts_at, ends_at: aware instants (or C{None}).
    """

    id: int
    name: str
    state: str
    settings: CampaignSettings
    starts_at: datetime = None
    ends_at: datetime = None


@attr.frozen
class ClaimedContact:
    """
    One row returned by the claim.

    @ivar status: C{"in_flight"} (to dial; C{call_id} reserved) or
        C{"done"} (on a DNC list: C{dnc_list_id}).
    """

    id: int
    contact_id: int
    attempts: int
    status: str
    call_id: int
    dnc_list_id: int
    phone: str
    fields: dict
    timezone: str


@attr.frozen
class InFlightRow:
    """
    A contact in flight in the database (reconciliation after a restart).

    @ivar call_exists: whether its calls row was written.
    @ivar pbx: where it was sent (calls.pbx_name, or the C{originate_sent}
        event), or C{None} if not known.
    """

    id: int
    campaign_id: int
    contact_id: int
    attempts: int
    call_id: int
    claimed_by: str
    phone: str
    fields: dict
    timezone: str
    call_exists: bool
    accepted_at: datetime
    answered_at: datetime
    ended_at: datetime
    pbx: str


@attr.frozen
class OpenCall:
    """
    A test call (no campaign contact) whose end was never recorded.
    """

    id: int
    campaign_id: int
    channel_id: str
    number: str
    accepted_at: datetime
    answered_at: datetime
    pbx: str


def _time(text):
    hour, minute, *rest = (int(float(p)) for p in text.split(":"))
    return time(hour, minute, rest[0] if rest else 0)


def _windows(rows):
    """
    campaign_windows rows -> core L{Window}s.  The table says C{from = to}
    is 24 hours (core reads a degenerate window as empty), so such a window
    becomes two: to midnight, and from midnight the next day.
    """
    out = []
    for weekday, start, end in rows:
        start, end = _time(start), _time(end)
        if start == end and start != time(0):
            out.append(Window(weekday, start, time(0)))
            out.append(Window((weekday + 1) % 7, time(0), end))
        else:
            out.append(Window(weekday, start, end))
    return tuple(out)


def _local(instant, tz):
    if instant is None:
        return None
    return instant.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def _settings_of(row):
    (cid, name, _state, tz, starts_at, ends_at, hours_from, hours_to, data, max_channels,
     cps, priority, ring_timeout, max_duration, max_attempts, dial_string, cid_number,
     cid_name, windows) = row
    try:
        base = settings_from_dict(data or {})
        retry = base.retry
    except SettingsError as e:
        base = CampaignSettings()
        try:
            retry = settings_from_dict((data or {}).get("retry", {}), RetryPolicy)
        except (SettingsError, AttributeError):
            retry = RetryPolicy()
        log.warn("campaign {id} ({name}): settings unreadable ({error}); dialing with the"
                 " columns and default message/menu settings", id=cid, name=name, error=e)
    hours = None
    if hours_from is not None and hours_to is not None:
        hours = RecipientHours(hours_from, hours_to,
                               base.schedule.recipient_hours.timezone_column
                               if base.schedule.recipient_hours else "")
    schedule = Schedule(
        timezone=tz,
        start=_local(starts_at, tz),
        end=_local(ends_at, tz),
        windows=_windows(windows or ()),
        recipient_hours=hours,
    )
    pacing = Pacing(max_channels=max_channels, cps=float(cps), priority=priority,
                    ring_timeout=ring_timeout, max_call_duration=max_duration)
    return attr.evolve(
        base,
        name=name,
        schedule=schedule,
        pacing=pacing,
        retry=attr.evolve(retry, max_attempts=max_attempts),
        caller_id=CallerId(cid_number or base.caller_id.number, cid_name or base.caller_id.name),
        dial_string=dial_string or base.dial_string,
    )


_CAMPAIGNS = """
SELECT c.id, c.name, c.state, c.timezone, c.starts_at, c.ends_at, c.local_hours_from,
       c.local_hours_to, c.settings, c.max_channels, c.cps, c.priority, c.ring_timeout_s,
       c.max_call_duration_s, c.max_attempts, c.dial_string, c.caller_id_number,
       c.caller_id_name,
       (SELECT json_agg(json_build_array(w.weekday, w.from_time::text, w.to_time::text)
                        ORDER BY w.weekday, w.from_time)
          FROM campaign_windows AS w WHERE w.campaign_id = c.id)
  FROM campaigns AS c
 WHERE NOT c.is_template"""

_DIALABLE = " AND c.state IN ('scheduled', 'running', 'paused')"

# The claim: the index campaign_contacts_pending_idx gives the next rows in
# order and stops after LIMIT; FOR UPDATE SKIP LOCKED lets concurrent claims
# pass each other; FOR SHARE on the campaign makes a pause committed before
# the claim stop it (and a pause waits for a claim in progress); the DNC
# check happens on the same rows in the same statement.
#
# Written so that its cost is a few index probes per contact, whatever the
# plan: the rows are picked from campaign_contacts alone (the contacts are
# joined after the LIMIT, by primary key); the DNC lists the campaign
# honours are read once into an array, built-in list first, and each number
# is one probe of dnc_entries_phone_idx (phone, list_id) -- the earlier form
# hashed the lists again for every contact.  Both CTEs after the pick are
# materialized so that the DNC probe runs once per contact, not once per
# column of the UPDATE that reads its result.
CLAIM = """
WITH picked AS (
    SELECT cc.id, cc.contact_id FROM campaign_contacts AS cc
     WHERE cc.campaign_id = %(campaign_id)s AND cc.status = 'pending'
       AND cc.next_attempt_at <= %(now)s
       AND EXISTS (SELECT 1 FROM campaigns WHERE id = %(campaign_id)s AND state = 'running' FOR SHARE)
     ORDER BY cc.next_attempt_at, cc.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), lists AS MATERIALIZED (
    SELECT array(SELECT l.id FROM dnc_lists AS l
                  WHERE l.builtin OR l.id IN (SELECT cdl.dnc_list_id FROM campaign_dnc_lists AS cdl
                                               WHERE cdl.campaign_id = %(campaign_id)s)
                  ORDER BY l.builtin DESC, l.id) AS ids
), checked AS MATERIALIZED (
    SELECT p.id, c.phone, c.fields, c.timezone,
           (SELECT d.list_id FROM dnc_entries AS d
             WHERE d.phone = c.phone AND d.list_id = ANY (lists.ids)
             ORDER BY array_position(lists.ids, d.list_id) LIMIT 1) AS dnc_list_id
      FROM picked AS p JOIN contacts AS c ON c.id = p.contact_id CROSS JOIN lists
)
UPDATE campaign_contacts AS cc
   SET status = CASE WHEN p.dnc_list_id IS NULL THEN 'in_flight' ELSE 'done' END,
       claimed_at = %(now)s, claimed_by = %(instance_id)s,
       in_flight_call_id = CASE WHEN p.dnc_list_id IS NULL
                                THEN nextval(pg_get_serial_sequence('calls', 'id')) END,
       dnc_list_id = p.dnc_list_id,
       final_outcome = CASE WHEN p.dnc_list_id IS NULL THEN NULL ELSE 'dnc_skipped' END,
       finished_at = CASE WHEN p.dnc_list_id IS NULL THEN NULL ELSE %(now)s END
  FROM checked AS p WHERE cc.id = p.id
RETURNING cc.id, cc.contact_id, cc.attempts, cc.status, cc.in_flight_call_id, cc.dnc_list_id,
          p.phone, p.fields, p.timezone"""

# The claim runs as a server-side prepared statement (parsed once per
# connection) and commits without waiting for its WAL flush: nothing is
# dialed before the calls rows of the claimed contacts are written by
# PREPARE below, whose synchronous commit flushes the WAL up to its own
# commit record -- the claim's commit record comes before it -- so a claim
# whose Originate went out is always durable.  A crash before that loses a
# claim nobody dialed: the contacts are pending again, as they were (a DNC
# skip lost that way is made again at the next claim).  This saves one WAL
# flush per batch.
CLAIM_TYPES = ("bigint", "integer", "text", "timestamptz")
CLAIM_PREPARED = CLAIM % {"campaign_id": "$1", "limit": "$2", "instance_id": "$3",
                          "now": "$4"}
CLAIM_BEFORE = "SET LOCAL synchronous_commit TO off; "

# After the claim: the calls rows of the contacts to dial (one multi-row
# insert), and the contacts outside their local hours back to pending at
# their next allowed instant -- one statement, one round trip.
PREPARE = """
WITH ins AS (
    INSERT INTO calls (id, campaign_id, contact_id, campaign_contact_id, channel_id,
                       number_dialed, caller_id_number, originated_at)
    SELECT i.id, %(campaign_id)s, i.contact_id, i.cc_id, 'fts-' || i.id, i.phone,
           %(caller_id)s, %(now)s
      FROM unnest(%(ids)s::bigint[], %(contact_ids)s::bigint[], %(cc_ids)s::bigint[],
                  %(phones)s::text[]) AS i(id, contact_id, cc_id, phone)
    RETURNING id
), rel AS (
    UPDATE campaign_contacts AS cc
       SET status = 'pending', next_attempt_at = r.at, in_flight_call_id = NULL,
           claimed_at = NULL, claimed_by = NULL
      FROM unnest(%(rel_ids)s::bigint[], %(rel_calls)s::bigint[], %(rel_at)s::timestamptz[])
           AS r(id, call_id, at)
     WHERE cc.id = r.id AND cc.status = 'in_flight' AND cc.in_flight_call_id = r.call_id
    RETURNING cc.id
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM rel)"""

# Claimed contacts that were never dialed go back to pending as they were
# (next_attempt_at untouched); their calls rows go if nothing was recorded
# about them.
RELEASE = """
WITH r AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(call_ids)s::bigint[]) AS r(id, call_id)
), rel AS (
    UPDATE campaign_contacts AS cc
       SET status = 'pending', in_flight_call_id = NULL, claimed_at = NULL, claimed_by = NULL,
           next_attempt_at = coalesce(%(at)s::timestamptz, cc.next_attempt_at)
      FROM r
     WHERE cc.id = r.id AND cc.status = 'in_flight'
       AND cc.in_flight_call_id IS NOT DISTINCT FROM r.call_id
    RETURNING cc.id
), del AS (
    DELETE FROM calls AS c USING r
     WHERE c.id = r.call_id AND c.accepted_at IS NULL AND c.ended_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM call_events AS e WHERE e.call_id = c.id)
    RETURNING c.id
)
SELECT (SELECT count(*) FROM rel), (SELECT count(*) FROM del)"""

EARLIEST = """
SELECT c.id,
       (SELECT cc.next_attempt_at FROM campaign_contacts AS cc
         WHERE cc.campaign_id = c.id AND cc.status = 'pending'
         ORDER BY cc.next_attempt_at LIMIT 1)
  FROM unnest(%s::bigint[]) AS c(id)"""

IN_FLIGHT = """
SELECT cc.id, cc.campaign_id, cc.contact_id, cc.attempts, cc.in_flight_call_id, cc.claimed_by,
       ct.phone, ct.fields, ct.timezone, k.id IS NOT NULL, k.accepted_at, k.answered_at,
       k.ended_at,
       coalesce(k.pbx_name, (SELECT e.payload->>'pbx' FROM call_events AS e
                              WHERE e.call_id = k.id AND e.kind = 'originate_sent' LIMIT 1))
  FROM campaign_contacts AS cc
  JOIN contacts AS ct ON ct.id = cc.contact_id
  LEFT JOIN calls AS k ON k.id = cc.in_flight_call_id
 WHERE cc.status = 'in_flight'
 ORDER BY cc.id"""

OPEN_TEST_CALLS = """
SELECT k.id, k.campaign_id, k.channel_id, k.number_dialed, k.accepted_at, k.answered_at,
       coalesce(k.pbx_name, (SELECT e.payload->>'pbx' FROM call_events AS e
                              WHERE e.call_id = k.id AND e.kind = 'originate_sent' LIMIT 1))
  FROM calls AS k
 WHERE k.ended_at IS NULL AND k.is_test_call
 ORDER BY k.id"""

TEST_CALL = """
WITH n AS (SELECT nextval(pg_get_serial_sequence('calls', 'id')) AS id)
INSERT INTO calls (id, campaign_id, channel_id, number_dialed, caller_id_number,
                   originated_at, is_test_call)
SELECT n.id, %(campaign_id)s, 'fts-' || n.id, %(number)s, %(caller_id)s, %(now)s, true FROM n
RETURNING id"""


class DialingStore:
    """
    The dialer's statements, on a L{fts.db.pool.Pool}.
    """

    def __init__(self, pool):
        self.pool = pool

    # -- campaigns -----------------------------------------------------------

    @defer.inlineCallbacks
    def campaigns(self, ids=None, any_state=False):
        """
        The scheduled, running and paused campaigns (or those of C{ids}
        among them; or of C{ids} in any state with C{any_state}), as
        L{CampaignRecord}s.
        """
        sql, args = _CAMPAIGNS, None
        if not any_state:
            sql += _DIALABLE
        if ids is not None:
            sql += " AND c.id = ANY(%s)"
            args = (list(ids),)
        rows = yield self.pool.runQuery(sql + " ORDER BY c.id", args)
        out = []
        for row in rows:
            try:
                settings = _settings_of(row)
            except Exception:
                log.failure("campaign {id}: cannot read its settings; not dialing it",
                            id=row[0])
                continue
            out.append(CampaignRecord(row[0], row[1], row[2], settings, row[4], row[5]))
        return out

    # -- claiming ------------------------------------------------------------

    @defer.inlineCallbacks
    def claim(self, campaign_id, limit, instance_id, now):
        """
        Claim up to C{limit} due contacts of a running campaign: each comes
        back in flight with a reserved call id, or done as C{dnc_skipped}
        when a DNC list the campaign honours has its number.  Nothing is
        claimed unless the campaign is running in the database.

        @return: a Deferred firing with a list of L{ClaimedContact}.
        """
        rows = yield self.pool.runPrepared(
            "fts_claim", CLAIM_TYPES, CLAIM_PREPARED, (campaign_id, int(limit), instance_id, now),
            before=CLAIM_BEFORE)
        return [ClaimedContact(*row) for row in rows]

    def prepare(self, campaign_id, calls, releases, caller_id, now):
        """
        Write the calls rows of claimed contacts about to be dialed, and
        send others back to pending at a given instant, in one statement.

        @param calls: C{(call_id, contact_id, campaign_contact_id, phone)}.
        @param releases: C{(campaign_contact_id, call_id, next_attempt_at)}.
        @return: a Deferred firing with C{(calls written, contacts
            released)}.
        """
        d = self.pool.runQuery(PREPARE, {
            "campaign_id": campaign_id, "caller_id": caller_id or None, "now": now,
            "ids": [c[0] for c in calls], "contact_ids": [c[1] for c in calls],
            "cc_ids": [c[2] for c in calls], "phones": [c[3] for c in calls],
            "rel_ids": [r[0] for r in releases], "rel_calls": [r[1] for r in releases],
            "rel_at": [r[2] for r in releases]})
        return d.addCallback(lambda rows: tuple(rows[0]))

    def release(self, pairs, at=None):
        """
        Put claimed contacts that were never dialed back to pending (at
        C{at}, or as they were) and delete their unused calls rows.

        @param pairs: C{(campaign_contact_id, call_id)}; C{call_id} may be
            C{None} for a claim without a call id.
        @return: a Deferred firing with C{(contacts released, calls rows
            deleted)}.
        """
        pairs = list(pairs)
        if not pairs:
            return defer.succeed((0, 0))
        d = self.pool.runQuery(RELEASE, {
            "ids": [p[0] for p in pairs], "call_ids": [p[1] for p in pairs], "at": at})
        return d.addCallback(lambda rows: tuple(rows[0]))

    @defer.inlineCallbacks
    def earliest_pending(self, campaign_ids):
        """
        For each campaign, when its next pending contact is due (C{None}
        when it has none).
        """
        rows = yield self.pool.runQuery(EARLIEST, (list(campaign_ids),))
        return {cid: at for cid, at in rows}

    # -- test calls ------------------------------------------------------------

    @defer.inlineCallbacks
    def insert_test_call(self, campaign_id, number, caller_id, now):
        """
        The calls row of a test call (no contact, C{is_test_call}).

        @return: a Deferred firing with its id.
        """
        rows = yield self.pool.runQuery(TEST_CALL, {
            "campaign_id": campaign_id, "number": number, "caller_id": caller_id or None,
            "now": now})
        return rows[0][0]

    # -- reconciliation ----------------------------------------------------------

    @defer.inlineCallbacks
    def in_flight(self):
        """
        Every contact in flight in the database, with its call.

        @rtype: list of L{InFlightRow}
        """
        rows = yield self.pool.runQuery(IN_FLIGHT)
        return [InFlightRow(*row) for row in rows]

    @defer.inlineCallbacks
    def open_test_calls(self):
        """
        Test calls whose end was never recorded.

        @rtype: list of L{OpenCall}
        """
        rows = yield self.pool.runQuery(OPEN_TEST_CALLS)
        return [OpenCall(*row) for row in rows]

    # -- instances -----------------------------------------------------------

    def register_instance(self, instance_id, now, version=None):
        """
        Record this daemon in C{dialer_instances}.
        """
        return self.pool.runOperation(
            "INSERT INTO dialer_instances (instance_id, host, pid, version, started_at,"
            " heartbeat_at) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at,"
            " stopped_at = NULL",
            (instance_id, socket.gethostname(), os.getpid(), version, now, now))

    def instance_stopped(self, instance_id, now):
        return self.pool.runOperation(
            "UPDATE dialer_instances SET stopped_at = %s, is_leader = false, leader_since = NULL"
            " WHERE instance_id = %s", (now, instance_id))

    def instances(self):
        """
        C{(instance_id, is_leader, heartbeat_at, stopped_at)} of every
        instance, for tests and the status page.
        """
        return self.pool.runQuery(
            "SELECT instance_id, is_leader, heartbeat_at, stopped_at FROM dialer_instances"
            " ORDER BY started_at")


class LeaderLock:
    """
    The dialer's leadership: a session-level advisory lock held on a
    dedicated connection (the lock lives as long as that session, so a
    daemon that dies -- even by SIGKILL -- releases it at once).

    The same connection carries the instance heartbeat (a failing heartbeat
    means the lock may be gone: leadership is dropped at once) and the
    C{LISTEN} for campaign changes.

    @param connect: C{connect() -> Deferred(connection)}, for tests; by
        default a txpostgres connection to C{dsn}.
    """

    def __init__(self, reactor, dsn, instance_id, key=LOCK_KEY):
        self.reactor = reactor
        self.dsn = dsn
        self.instance_id = instance_id
        self.key = key
        self.connection = None
        self.held = False
        self._observers = []

    @defer.inlineCallbacks
    def try_acquire(self, now):
        """
        Try to take the lock without waiting.

        @return: a Deferred firing with C{True} if this instance now holds
            it, C{False} if another does; it fails when the database
            cannot be reached.
        """
        if self.connection is None:
            connection = WatchedConnection(reactor=ClosedSocketSafeReactor(self.reactor))
            yield connection.connect(self.dsn)
            connection.addNotifyObserver(self._notified)
            connection.on_lost = self._lost
            self.connection = connection
        try:
            rows = yield self.connection.runQuery("SELECT pg_try_advisory_lock(%s)",
                                                  (self.key,))
        except Exception:
            self.drop()
            raise
        self.held = bool(rows[0][0])
        if self.held:
            yield self.connection.runOperation(
                "UPDATE dialer_instances SET is_leader = (instance_id = %(me)s),"
                " leader_since = CASE WHEN instance_id = %(me)s THEN %(now)s END",
                {"me": self.instance_id, "now": now})
            yield self.connection.runOperation("LISTEN " + CAMPAIGNS_CHANNEL)
        return self.held

    def heartbeat(self, now, status):
        """
        Prove the lock's session is alive and publish a status snapshot.

        @return: a Deferred; a failure means the session (and the lock) may
            be gone.
        """
        if self.connection is None:
            return defer.fail(RuntimeError("no leadership connection"))
        return self.connection.runOperation(
            "UPDATE dialer_instances SET heartbeat_at = %s, status = %s WHERE instance_id = %s",
            (now, json.dumps(status, default=str), self.instance_id))

    def on_campaign_change(self, callback):
        """
        Call C{callback(campaign_id)} for every campaign change notified
        while this instance holds the lock.
        """
        self._observers.append(callback)

    def _notified(self, notify):
        if notify.channel != CAMPAIGNS_CHANNEL:
            return
        try:
            campaign_id = int(notify.payload)
        except (TypeError, ValueError):
            log.warn("ignored a campaign notification with payload {payload!r}",
                     payload=notify.payload)
            return
        for callback in list(self._observers):
            try:
                callback(campaign_id)
            except Exception:
                log.failure("a campaign-change observer failed for campaign {id}",
                            id=campaign_id)

    def _lost(self, connection, error):
        """
        The lock's session ended while idle: the lock is gone with it; the
        next heartbeat fails and the dialer steps down.
        """
        if connection is self.connection:
            log.warn("the dialer lock's database session ended ({error})", error=error)
            self.drop()

    def drop(self):
        """
        Close the connection: the lock, if held, is released with it.
        """
        connection, self.connection = self.connection, None
        self.held = False
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass
