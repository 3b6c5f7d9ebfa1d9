"""
The event log's SQL: one statement per batch of call events, which appends
the new events to C{call_events} and updates the derived state -- the
C{calls} row, the contact's progress in C{campaign_contacts}, the opt-outs
DNC list -- in the same implicit transaction.

One statement, so one round trip and atomic: the pool's connections are in
autocommit mode (psycopg2 asynchronous connections always are), and a single
statement is its own transaction.  The events arrive as one JSON array
parameter expanded server-side (psycopg2 asynchronous connections cannot
COPY; a JSON document is quoted by psycopg2 and parsed by PostgreSQL in C,
where lists adapted as C{ARRAY[...]} cost more to build and to plan than
the insert itself).  The derived state is set-based: one UPDATE of C{calls}
and one of C{campaign_contacts} per batch, whatever its size.

Duplicates (same idempotency key, e.g. a batch replayed from the spool that
had in fact been committed) are skipped (an index probe, or C{ON CONFLICT DO
NOTHING} when the batch repeats a key), and the derived state is computed
from the C{RETURNING} rows of the insert, that is from the events inserted
now only: a replayed key press is not appended twice.

What each kind changes (only for events whose C{call_id} names an existing
C{calls} row; the event itself is always stored).  "First" means the first
such event of the call wins and later ones leave the column alone; "last"
means the latest event of the call wins:

  - C{originate_sent}: nothing (the dialer inserted the row; skipped, so a
    batch holding only the sending of a call costs no update).
  - C{originate_accepted}, C{originate_failed}: C{calls.pbx_name} (payload
    C{pbx}, first; the PBX is chosen after the row is written).
  - C{originate_accepted}: C{calls.accepted_at} (first); the attempt is
    counted: C{calls.attempt = campaign_contacts.attempts + 1} and
    C{campaign_contacts.attempts + 1} (once per call: only while
    C{calls.attempt} is NULL), C{campaign_contacts.last_attempt_at}.
  - C{answered}: C{calls.answered_at} (first).
  - C{amd}: C{calls.amd_verdict} (last valid verdict), C{amd_cause}.
  - C{key}: appended to C{calls.keys}, in emission order (values other
    than one of C{0-9*#} are ignored).
  - C{option}: C{calls.option_key} (last).
  - C{transfer}: C{calls.transfer_target}, C{transfer_result} (last).
  - C{opt_out}: C{calls.opted_out}; the contact's phone (or the payload's
    C{phone} when digits only) is added to the built-in opt-outs DNC list
    (source C{opt_out_key}, with the campaign and call ids).
  - C{message_complete}: C{calls.heard_full_message}.
  - C{hangup}, C{lost}, C{originate_failed} (the end, first one wins):
    C{calls.ended_at}, C{outcome} (payload C{outcome}; else the row's own;
    else C{unknown}, or C{failed} for C{originate_failed}),
    C{hangup_cause}, C{hangup_cause_text}, C{originate_reason} (payload
    C{reason}), C{talk_seconds} (payload, else answer-to-end);
    C{campaign_contacts.last_outcome} (unless the contact is now in flight
    with another call); and when the payload carries the
    retry decision and the contact is still in flight with this call:
    C{retry_at} -> back to C{pending} at that time, C{final_outcome} ->
    C{done}, releasing the claim either way.

Values that would break a CHECK constraint (an unknown verdict, a cause
that is not a number, …) are ignored rather than failing the batch.  Lock
order is C{calls} then C{campaign_contacts}.
"""

import psycopg2.errors
from twisted.internet import defer

from fts.events.model import CallEvent

_OUTCOMES = ("'answered', 'busy', 'no_answer', 'congestion', 'chanunavail',"
             " 'invalid_number', 'failed', 'cancelled', 'unknown'")
_FINAL_OUTCOMES = ("'reached', 'opted_out', 'busy', 'no_answer', 'failed', 'invalid_number',"
                   " 'dnc_skipped', 'outside_hours_skipped', 'not_dialed', 'exhausted'")

# The events arrive as one JSON array of L{CallEvent.as_json} arrays: one
# parameter, quoted by psycopg2 in C and parsed by PostgreSQL in C (the
# events' own text is reused as is, from memory or from the spool).  The
# insert keeps the given order, so ids follow the order of the batch (the
# spool's replay splits it by call over two connections: each call's
# events keep their order, see fts.events.writer.split_by_call).
_INPUT = """
input AS (
    SELECT e->>0 AS key, e->>1 AS kind, (e->>2)::bigint AS campaign_id,
           (e->>3)::bigint AS call_id, (e->>4)::float8 AS at, e->5 AS payload, ord
      FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS i(e, ord)
),"""

# Skips keys already stored with an index probe: cheaper than ON CONFLICT's
# speculative insertion, but a key repeated within the batch, or inserted
# meanwhile by another writer, fails the statement with a unique violation;
# the store then runs the ON CONFLICT form.
_NEW_PROBING = """
new AS (
    INSERT INTO call_events (idempotency_key, kind, campaign_id, call_id, occurred_at, payload)
    SELECT key, kind, campaign_id, call_id, to_timestamp(at), payload
      FROM input
     -- A per-row index probe (a correlated subquery, which the planner
     -- cannot turn into a hash join scanning the whole log).
     WHERE (SELECT true FROM call_events c WHERE c.idempotency_key = input.key) IS NULL
     ORDER BY ord
    RETURNING id, kind, call_id, campaign_id, occurred_at, payload
)"""

_NEW_ON_CONFLICT = """
new AS (
    INSERT INTO call_events (idempotency_key, kind, campaign_id, call_id, occurred_at, payload)
    SELECT key, kind, campaign_id, call_id, to_timestamp(at), payload FROM input ORDER BY ord
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, kind, call_id, campaign_id, occurred_at, payload
)"""

_COUNT = "\nSELECT count(*) FROM new"
_ENDS = "('hangup', 'lost', 'originate_failed')"

_DERIVE = """,
per_call AS (
    -- Every ordered aggregate sorts by id (emission order), so PostgreSQL
    -- sorts the batch once; "last" values are the last array element.
    SELECT call_id,
        bool_or(kind = 'originate_accepted') AS accepted,
        (array_agg(payload->>'pbx' ORDER BY id) FILTER (
            WHERE kind IN ('originate_accepted', 'originate_failed')
              AND payload->>'pbx' IS NOT NULL))[1] AS pbx,
        min(occurred_at) FILTER (WHERE kind = 'originate_accepted') AS accepted_at,
        min(occurred_at) FILTER (WHERE kind = 'answered') AS answered_at,
        array_agg(payload->>'verdict' ORDER BY id) FILTER (
            WHERE kind = 'amd' AND payload->>'verdict' IN ('human', 'machine', 'notsure', 'off')
        ) AS amd_verdicts,
        array_agg(payload->>'cause' ORDER BY id) FILTER (
            WHERE kind = 'amd' AND payload->>'cause' IS NOT NULL) AS amd_causes,
        string_agg(payload->>'key', '' ORDER BY id) FILTER (
            WHERE kind = 'key' AND payload->>'key' ~ '^[0-9*#]$') AS keys,
        array_agg(payload->>'key' ORDER BY id) FILTER (
            WHERE kind = 'option' AND payload->>'key' ~ '^[0-9*#]$') AS option_keys,
        array_agg(payload->>'target' ORDER BY id) FILTER (
            WHERE kind = 'transfer' AND payload->>'target' IS NOT NULL) AS transfer_targets,
        array_agg(payload->>'result' ORDER BY id) FILTER (
            WHERE kind = 'transfer' AND payload->>'result' IS NOT NULL) AS transfer_results,
        bool_or(kind = 'opt_out') AS opted_out,
        bool_or(kind = 'message_complete') AS heard,
        -- The end of the call: its first hangup, lost or originate_failed.
        (array_agg(id ORDER BY id) FILTER (WHERE kind IN """ + _ENDS + """))[1] AS end_id,
        (array_agg(kind ORDER BY id) FILTER (WHERE kind IN """ + _ENDS + """))[1] AS end_kind,
        (array_agg(occurred_at ORDER BY id) FILTER (WHERE kind IN """ + _ENDS + """))[1]
            AS end_at,
        (array_agg(payload ORDER BY id) FILTER (WHERE kind IN """ + _ENDS + """))[1] AS ep
      FROM new
     WHERE call_id IS NOT NULL AND kind <> 'originate_sent'
     GROUP BY call_id
),
-- Joined with the rows as they were before this statement (same snapshot),
-- so the updates below know what changes now.
x AS (
    SELECT p.*, old.campaign_contact_id AS cc_id,
           p.amd_verdicts[cardinality(p.amd_verdicts)] AS amd_verdict,
           p.amd_causes[cardinality(p.amd_causes)] AS amd_cause,
           p.option_keys[cardinality(p.option_keys)] AS option_key,
           p.transfer_targets[cardinality(p.transfer_targets)] AS transfer_target,
           p.transfer_results[cardinality(p.transfer_results)] AS transfer_result,
           p.end_id IS NOT NULL AND old.ended_at IS NULL AS ends_now,
           p.accepted AND old.attempt IS NULL AND cc.id IS NOT NULL AS counts_attempt,
           cc.attempts + 1 AS next_attempt,
           coalesce(old.answered_at, p.answered_at) AS answered_any,
           coalesce(CASE WHEN p.ep->>'outcome' IN (""" + _OUTCOMES + """)
                         THEN p.ep->>'outcome' END,
                    old.outcome,
                    CASE WHEN p.end_kind = 'originate_failed' THEN 'failed'
                         ELSE 'unknown' END) AS end_outcome,
           CASE WHEN p.ep->>'cause' ~ '^[0-9]{1,4}$'
                THEN (p.ep->>'cause')::smallint END AS cause,
           p.ep->>'cause_text' AS cause_text,
           CASE WHEN p.ep->>'reason' ~ '^[0-9]{1,4}$'
                THEN (p.ep->>'reason')::smallint END AS reason,
           CASE WHEN p.ep->>'talk_seconds' ~ '^[0-9]{1,9}([.][0-9]*)?$'
                THEN round((p.ep->>'talk_seconds')::numeric)::integer END AS talk_seconds,
           CASE WHEN p.ep->>'retry_at' ~ '^[0-9]{1,12}([.][0-9]*)?$'
                THEN to_timestamp((p.ep->>'retry_at')::float8) END AS retry_at,
           CASE WHEN p.ep->>'final_outcome' IN (""" + _FINAL_OUTCOMES + """)
                THEN p.ep->>'final_outcome' END AS final_outcome
      FROM per_call p
      JOIN calls old ON old.id = p.call_id
      LEFT JOIN campaign_contacts cc ON cc.id = old.campaign_contact_id
),
calls_done AS (
    UPDATE calls c SET
        accepted_at = coalesce(c.accepted_at, x.accepted_at),
        pbx_name = coalesce(c.pbx_name, x.pbx),
        attempt = CASE WHEN x.counts_attempt THEN x.next_attempt ELSE c.attempt END,
        answered_at = coalesce(c.answered_at, x.answered_at),
        amd_verdict = coalesce(x.amd_verdict, c.amd_verdict),
        amd_cause = coalesce(x.amd_cause, c.amd_cause),
        keys = c.keys || coalesce(x.keys, ''),
        option_key = coalesce(x.option_key, c.option_key),
        transfer_target = coalesce(x.transfer_target, c.transfer_target),
        transfer_result = coalesce(x.transfer_result, c.transfer_result),
        opted_out = c.opted_out OR x.opted_out,
        heard_full_message = c.heard_full_message OR x.heard,
        ended_at = CASE WHEN x.ends_now THEN x.end_at ELSE c.ended_at END,
        outcome = CASE WHEN x.ends_now THEN x.end_outcome ELSE c.outcome END,
        hangup_cause = CASE WHEN x.ends_now THEN coalesce(x.cause, c.hangup_cause)
                            ELSE c.hangup_cause END,
        hangup_cause_text = CASE WHEN x.ends_now THEN coalesce(x.cause_text, c.hangup_cause_text)
                                 ELSE c.hangup_cause_text END,
        originate_reason = CASE WHEN x.ends_now THEN coalesce(x.reason, c.originate_reason)
                                ELSE c.originate_reason END,
        talk_seconds = CASE
            WHEN NOT x.ends_now THEN c.talk_seconds
            WHEN x.talk_seconds IS NOT NULL THEN x.talk_seconds
            WHEN x.answered_any IS NOT NULL
                THEN greatest(0, round(extract(epoch FROM x.end_at - x.answered_any)))::integer
            ELSE c.talk_seconds END
      FROM x
     WHERE c.id = x.call_id
    RETURNING c.id AS call_id, x.cc_id, x.counts_attempt, x.accepted_at, x.ends_now,
              x.end_id, x.end_at, c.outcome, x.retry_at, x.final_outcome
),
contacts_done AS (
    UPDATE campaign_contacts cc SET
        attempts = cc.attempts + u.counted,
        last_attempt_at = coalesce(u.last_attempt_at, cc.last_attempt_at),
        last_outcome = CASE WHEN u.current THEN coalesce(u.outcome, cc.last_outcome)
                            ELSE cc.last_outcome END,
        status = CASE WHEN NOT u.releases THEN cc.status
                      WHEN u.final_outcome IS NOT NULL THEN 'done'
                      ELSE 'pending' END,
        final_outcome = CASE WHEN u.releases THEN u.final_outcome ELSE cc.final_outcome END,
        next_attempt_at = CASE WHEN u.releases AND u.final_outcome IS NULL THEN u.retry_at
                               ELSE cc.next_attempt_at END,
        finished_at = CASE WHEN u.releases AND u.final_outcome IS NOT NULL THEN u.end_at
                           ELSE cc.finished_at END,
        in_flight_call_id = CASE WHEN u.releases THEN NULL ELSE cc.in_flight_call_id END,
        claimed_at = CASE WHEN u.releases THEN NULL ELSE cc.claimed_at END,
        claimed_by = CASE WHEN u.releases THEN NULL ELSE cc.claimed_by END
      FROM (
        -- Per contact: the attempts counted now, and the latest of its calls
        -- that ended now, with whether the contact is still in flight with
        -- that call (or no longer in flight) rather than with a newer claim.
        SELECT d.*,
               cur.in_flight_call_id IS NULL OR cur.in_flight_call_id = d.last_call_id
                   AS current,
               coalesce(cur.status = 'in_flight' AND cur.in_flight_call_id = d.last_call_id
                        AND (d.retry_at IS NOT NULL OR d.final_outcome IS NOT NULL),
                        false) AS releases
          FROM (
            SELECT cc_id,
                   count(*) FILTER (WHERE counts_attempt) AS counted,
                   max(accepted_at) FILTER (WHERE counts_attempt) AS last_attempt_at,
                   (array_agg(call_id ORDER BY end_id DESC) FILTER (WHERE ends_now))[1]
                       AS last_call_id,
                   (array_agg(outcome ORDER BY end_id DESC) FILTER (WHERE ends_now))[1]
                       AS outcome,
                   (array_agg(retry_at ORDER BY end_id DESC) FILTER (WHERE ends_now))[1]
                       AS retry_at,
                   (array_agg(final_outcome ORDER BY end_id DESC) FILTER (WHERE ends_now))[1]
                       AS final_outcome,
                   (array_agg(end_at ORDER BY end_id DESC) FILTER (WHERE ends_now))[1]
                       AS end_at
              FROM calls_done
             WHERE cc_id IS NOT NULL
             GROUP BY cc_id
          ) d
          JOIN campaign_contacts cur ON cur.id = d.cc_id
      ) u
     WHERE cc.id = u.cc_id
       AND (u.counted > 0 OR u.last_call_id IS NOT NULL)
    RETURNING cc.id
),
opt_outs AS (
    INSERT INTO dnc_entries (list_id, phone, phone_original, source, added_by,
                             source_campaign_id, source_call_id)
    SELECT l.id, o.phone, o.phone_original, 'opt_out_key', 'opt-out key',
           o.campaign_id, o.call_id
      FROM (
        SELECT coalesce(ct.phone, n.payload->>'phone') AS phone,
               coalesce(ct.phone_original, n.payload->>'phone') AS phone_original,
               n.campaign_id, n.call_id
          FROM new n
          LEFT JOIN calls c ON c.id = n.call_id
          LEFT JOIN contacts ct ON ct.id = c.contact_id
         WHERE n.kind = 'opt_out'
      ) o
      CROSS JOIN (SELECT id FROM dnc_lists WHERE builtin) l
     WHERE o.phone ~ '^[0-9]+$'
    ON CONFLICT (list_id, phone) DO NOTHING
    RETURNING phone
)"""

STATEMENTS = {
    # (derive, on_conflict) -> SQL
    (True, False): "WITH " + _INPUT + _NEW_PROBING + _DERIVE + _COUNT,
    (True, True): "WITH " + _INPUT + _NEW_ON_CONFLICT + _DERIVE + _COUNT,
    (False, False): "WITH " + _INPUT + _NEW_PROBING + _COUNT,
    (False, True): "WITH " + _INPUT + _NEW_ON_CONFLICT + _COUNT,
}
KEY_CONSTRAINT = "call_events_idempotency_key_key"

_READ = (
    "SELECT idempotency_key, kind, campaign_id, call_id,"
    " extract(epoch FROM occurred_at)::float8, payload FROM call_events"
)


class EventStore:
    """
    The event log.  Events are given to L{write} as the JSON texts of
    L{fts.events.model.CallEvent.as_json}.
    """

    def __init__(self, pool):
        self.pool = pool

    def write(self, records, derive=True):
        """
        Append the events in one statement, skipping keys already stored,
        and (unless C{derive} is false) update the derived state from the
        events inserted now, atomically with them.

        @param records: JSON texts of events (L{CallEvent.as_json}), in
            order.
        @return: a Deferred firing with the number of events inserted (the
            others were duplicates).  It fails with the pool's
            C{DatabaseUnavailable} or a connection error when PostgreSQL is
            unreachable, or with a C{psycopg2} error about the data.
        """
        if not records:
            return defer.succeed(0)
        document = "[" + ",".join(records) + "]"
        d = self.pool.runQuery(STATEMENTS[derive, False], (document,))

        def repeated_key(failure):
            failure.trap(psycopg2.errors.UniqueViolation)
            if getattr(failure.value.diag, "constraint_name", None) != KEY_CONSTRAINT:
                return failure
            return self.pool.runQuery(STATEMENTS[derive, True], (document,))

        d.addErrback(repeated_key)
        d.addCallback(lambda result: result[0][0])
        return d

    def ping(self):
        """
        A Deferred firing when PostgreSQL answers a trivial query.
        """
        return self.pool.runQuery("SELECT 1")

    def on_reachable(self, listener):
        """
        Call C{listener()} whenever the pool gets a connection back after
        having none.
        """
        def changed(state):
            if state in ("up", "degraded"):
                listener()

        self.pool.on_state_change(changed)

    @defer.inlineCallbacks
    def events_of_call(self, call_id):
        """
        The stored events of one call, in the order they were stored.

        @rtype: list of L{CallEvent}
        """
        rows = yield self.pool.runQuery(_READ + " WHERE call_id = %s ORDER BY id", (call_id,))
        return [_event(row) for row in rows]

    @defer.inlineCallbacks
    def events_after(self, after_id=0, limit=10000):
        """
        Stored events with an id above C{after_id}, in id order.

        @return: a Deferred firing with a list of C{(id, L{CallEvent})}.
        """
        rows = yield self.pool.runQuery(
            "SELECT id, idempotency_key, kind, campaign_id, call_id,"
            " extract(epoch FROM occurred_at)::float8, payload FROM call_events"
            " WHERE id > %s ORDER BY id LIMIT %s", (after_id, limit))
        return [(row[0], _event(row[1:])) for row in rows]

    @defer.inlineCallbacks
    def count(self):
        """
        How many events the log holds.
        """
        rows = yield self.pool.runQuery("SELECT count(*) FROM call_events")
        return rows[0][0]


def _event(row):
    key, kind, campaign_id, call_id, occurred_at, payload = row
    return CallEvent(key=key, kind=kind, campaign_id=campaign_id, call_id=call_id,
                     occurred_at=occurred_at, payload=payload)
