"""
The SQL of campaign finalization: progress, the wait for calls in flight,
hanging up stuck calls, the per-contact archive, and the purge.

All of it is set-based and chunked: Python holds counters and cursors, never
a row per contact or per call, and no statement runs for long (each chunk is
its own statement, hence its own transaction, on the pool's autocommit
connections).  Every statement is idempotent and records its progress in
C{campaign_finalizations} (0004_lifecycle.sql) in the same statement, so a
finalization killed anywhere resumes without doing anything twice.

What the archive holds per contact (C{campaign_contacts_archive}), from the
contact's C{campaign_contacts} row and the aggregates of its C{calls}:

  - C{final_outcome}: the row's own when it is done; for a row still
    pending (or a claim released after the bounded wait): C{opted_out} if
    an attempt opted out; C{exhausted} if it had at least one attempt (the
    retry policy still wanted another: the campaign ended first), its last
    attempt's outcome kept in C{last_outcome}; C{outside_hours_skipped} if
    never dialed and its timezone is one whose recipient hours never met a
    campaign window while the campaign ran; else C{not_dialed}.
  - C{attempts}: the larger of the row's counter and the highest
    C{calls.attempt} (the authoritative record).
  - C{first_attempt_at}/C{last_attempt_at}: over counted attempts.
  - C{keys}: every key of every attempt, in call order; C{option_key} the
    last option run; C{opted_out}, C{heard_full_message}: any attempt;
    C{talk_seconds}: the sum.
  - C{last_outcome}: of the last counted attempt (a refused originate is
    no attempt); C{NULL} if none.
  - C{amd_verdict}: of the last answered attempt (C{off} when AMD did not
    run); C{NULL} if never answered.  C{answered}: any attempt answered.
  - C{dnc_list_id}/C{dnc_list_name}: the DNC skip record.

Purge: C{call_events}, C{calls} and C{campaign_contacts} of the campaign are
deleted once the archive and the final report are written.  Calls go too,
because they are working rows (PRODUCT 7, the archive's table comment): the
final report snapshot keeps the per-attempt figures, and deleting
C{campaign_contacts} while its calls remain would cost one
C{ON DELETE SET NULL} update per call.
"""

import attr
import psycopg2.errors
from twisted.internet import defer
from twisted.logger import Logger

from fts.db.campaigns import IN_FLIGHT_SQL

log = Logger()

#: The steps of a finalization, in order.
STEPS = ("waiting", "archiving", "reporting", "purging", "finalizing", "done")


@attr.frozen
class FinalizationProgress:
    """One C{campaign_finalizations} row."""

    campaign_id: int
    step: str
    wait_deadline: object
    hung_up_calls: int
    released_claims: int
    outside_hours_zones: tuple | None
    first_row_id: int | None
    last_row_id: int | None
    archived_chunks: frozenset
    archived_rows: int
    report_built_at: object
    purged_events: int
    purged_calls: int
    purged_contacts: int
    finished_at: object


_PROGRESS_COLUMNS = """campaign_id, step, wait_deadline, hung_up_calls, released_claims,
    outside_hours_zones, first_row_id, last_row_id, archived_chunks, archived_rows,
    report_built_at, purged_events, purged_calls, purged_contacts, finished_at"""


def _progress(row):
    values = list(row)
    if values[5] is not None:
        values[5] = tuple(values[5])
    values[8] = frozenset(values[8])
    return FinalizationProgress(*values)


def begin(cursor, campaign_id, wait_deadline):
    """
    Create the progress row (in the transaction that moves the campaign to
    finalizing); a no-op if it exists.
    """
    return cursor.execute(
        "INSERT INTO campaign_finalizations (campaign_id, wait_deadline) VALUES (%s, %s)"
        " ON CONFLICT (campaign_id) DO NOTHING", (campaign_id, wait_deadline))


def mark_done(cursor, campaign_id):
    """Mark the finalization done (in the transaction that finalizes the campaign)."""
    return cursor.execute(
        "UPDATE campaign_finalizations SET step = 'done', finished_at = now(),"
        " updated_at = now() WHERE campaign_id = %s", (campaign_id,))


# Stuck calls after the bounded wait: end every open call of the campaign as
# hung up by FTS (answered if it was, else cancelled), with a hangup event in
# the log, and release every claim, in one statement.  Idempotent: only rows
# still open or claimed change.
_RECORD_STUCK = """
WITH stuck AS (
    UPDATE calls SET
        ended_at = %(now)s,
        outcome = CASE WHEN answered_at IS NOT NULL THEN 'answered' ELSE 'cancelled' END,
        hangup_cause_text = 'hung up by FTS: still up when the finalization wait ended',
        talk_seconds = CASE WHEN answered_at IS NOT NULL
            THEN greatest(0, round(extract(epoch FROM %(now)s - answered_at)))::integer
            ELSE talk_seconds END
     WHERE campaign_id = %(campaign)s AND ended_at IS NULL
    RETURNING id, channel_id, campaign_contact_id, outcome
),
released AS (
    UPDATE campaign_contacts cc SET
        status = 'pending',
        next_attempt_at = coalesce(cc.next_attempt_at, %(now)s),
        last_outcome = coalesce((SELECT s.outcome FROM stuck s
                                  WHERE s.campaign_contact_id = cc.id
                                  ORDER BY s.id DESC LIMIT 1), cc.last_outcome),
        in_flight_call_id = NULL, claimed_at = NULL, claimed_by = NULL
     WHERE cc.campaign_id = %(campaign)s AND cc.status = 'in_flight'
    RETURNING cc.id
),
logged AS (
    INSERT INTO call_events (idempotency_key, call_id, campaign_id, kind, payload, occurred_at)
    SELECT channel_id || ':finalization-hangup', id, %(campaign)s, 'hangup',
           jsonb_build_object('outcome', outcome, 'by', 'finalization',
                              'cause_text', 'hung up by FTS: finalization wait over'),
           %(now)s
      FROM stuck
    ON CONFLICT (idempotency_key) DO NOTHING
),
noted AS (
    UPDATE campaign_finalizations SET
        hung_up_calls = hung_up_calls + (SELECT count(*) FROM stuck),
        released_claims = released_claims + (SELECT count(*) FROM released),
        updated_at = now()
     WHERE campaign_id = %(campaign)s
)
SELECT (SELECT count(*) FROM stuck), (SELECT count(*) FROM released)
"""

# One chunk of the archive: the campaign's campaign_contacts rows with
# lo <= id < hi, their contacts (a range of contacts ids too, so the join is
# an index range scan rather than a scan of the whole contacts table), the
# aggregates of their calls (through calls_campaign_contact_attempt_key; every
# ORDER BY is by id ascending so one sort serves all the aggregates, and the
# "last" values are the arrays' last elements), and the chunk noted as done in
# the same statement.  A plain INSERT: the chunk's entry in archived_chunks,
# written in the same statement, makes it run once; ON CONFLICT is only the
# fallback if a row is there already (chunk boundaries changed by a new
# archive_chunk setting between a crash and the resumption).
_ARCHIVE_CHUNK = """
WITH chunk AS MATERIALIZED (
    SELECT id, campaign_id, contact_id, status, attempts, final_outcome, dnc_list_id,
           last_outcome, last_attempt_at
      FROM campaign_contacts
     WHERE campaign_id = %(campaign)s AND id >= %(lo)s AND id < %(hi)s
),
agg AS (
    SELECT cc_id, max_attempt, first_at, last_at, keys, opted_out, talk_seconds, heard,
           answered, options[cardinality(options)] AS option_key,
           amds[cardinality(amds)] AS amd, outcomes[cardinality(outcomes)] AS last_outcome
      FROM (
        SELECT k.campaign_contact_id AS cc_id,
               max(k.attempt) AS max_attempt,
               min(coalesce(k.accepted_at, k.originated_at))
                   FILTER (WHERE k.attempt IS NOT NULL) AS first_at,
               max(coalesce(k.accepted_at, k.originated_at))
                   FILTER (WHERE k.attempt IS NOT NULL) AS last_at,
               string_agg(nullif(k.keys, ''), '' ORDER BY k.id) AS keys,
               array_agg(k.option_key ORDER BY k.id)
                   FILTER (WHERE k.option_key IS NOT NULL) AS options,
               bool_or(k.opted_out) AS opted_out,
               sum(k.talk_seconds) AS talk_seconds,
               bool_or(k.heard_full_message) AS heard,
               bool_or(k.answered_at IS NOT NULL) AS answered,
               array_agg(coalesce(k.amd_verdict, 'off') ORDER BY k.id)
                   FILTER (WHERE k.answered_at IS NOT NULL) AS amds,
               array_agg(k.outcome ORDER BY k.id)
                   FILTER (WHERE k.outcome IS NOT NULL AND k.attempt IS NOT NULL) AS outcomes
          FROM calls k
         WHERE k.campaign_contact_id >= %(lo)s AND k.campaign_contact_id < %(hi)s
           AND k.campaign_id = %(campaign)s
         GROUP BY k.campaign_contact_id) a
),
ins AS (
    INSERT INTO campaign_contacts_archive (
        campaign_id, contact_id, row_number, phone, phone_original, fields, final_outcome,
        amd_verdict, attempts, first_attempt_at, last_attempt_at, keys, option_key,
        opted_out, talk_seconds, heard_full_message, dnc_list_id, dnc_list_name,
        last_outcome, answered)
    SELECT cc.campaign_id, cc.contact_id, c.row_number, c.phone, c.phone_original, c.fields,
           CASE WHEN cc.status = 'done' THEN cc.final_outcome
                WHEN coalesce(g.opted_out, false) THEN 'opted_out'
                WHEN greatest(cc.attempts, coalesce(g.max_attempt, 0)) > 0 THEN 'exhausted'
                WHEN c.timezone = ANY(p.outside_hours_zones) THEN 'outside_hours_skipped'
                ELSE 'not_dialed' END,
           CASE WHEN g.answered THEN g.amd END,
           greatest(cc.attempts, coalesce(g.max_attempt, 0)),
           g.first_at,
           coalesce(g.last_at, cc.last_attempt_at),
           coalesce(g.keys, ''), g.option_key, coalesce(g.opted_out, false),
           coalesce(g.talk_seconds, 0), coalesce(g.heard, false),
           cc.dnc_list_id, d.name,
           CASE WHEN greatest(cc.attempts, coalesce(g.max_attempt, 0)) > 0
                THEN coalesce(g.last_outcome, cc.last_outcome) END,
           coalesce(g.answered, false)
      FROM chunk cc
      JOIN campaign_finalizations p ON p.campaign_id = cc.campaign_id
      JOIN contacts c ON c.id = cc.contact_id
                     AND c.id >= (SELECT min(contact_id) FROM chunk)
                     AND c.id <= (SELECT max(contact_id) FROM chunk)
      LEFT JOIN agg g ON g.cc_id = cc.id
      LEFT JOIN dnc_lists d ON d.id = cc.dnc_list_id
    {on_conflict}
    RETURNING 1
),
noted AS (
    UPDATE campaign_finalizations SET
        archived_chunks = array_append(archived_chunks, %(lo)s::bigint),
        archived_rows = archived_rows + (SELECT count(*) FROM ins),
        updated_at = now()
     WHERE campaign_id = %(campaign)s
)
SELECT count(*) FROM ins
"""
ARCHIVE_CHUNK = _ARCHIVE_CHUNK.format(on_conflict="")
ARCHIVE_CHUNK_ON_CONFLICT = _ARCHIVE_CHUNK.format(
    on_conflict="ON CONFLICT (campaign_id, contact_id) DO NOTHING")
ARCHIVE_KEY = "campaign_contacts_archive_pkey"

# Deletes by id range through a (campaign_id, id) index (calls_campaign_idx,
# call_events_campaign_idx, and for campaign_contacts its primary key); each
# chunk notes what it deleted.  Idempotent: a range deleted again deletes
# nothing.
_PURGE_RANGE = """
WITH gone AS (
    DELETE FROM {table}
     WHERE campaign_id = %(campaign)s AND id >= %(lo)s AND id < %(hi)s
    RETURNING 1
),
noted AS (
    UPDATE campaign_finalizations SET {counter} = {counter} + (SELECT count(*) FROM gone),
           updated_at = now()
     WHERE campaign_id = %(campaign)s
)
SELECT count(*) FROM gone
"""

_PURGED = {"call_events": "purged_events", "calls": "purged_calls",
           "campaign_contacts": "purged_contacts"}


class FinalizationStore:
    """
    The statements of L{fts.lifecycle.finalizer.CampaignFinalizer}.

    @param skip_fk_checks: run the archive inserts and the purge deletes
        with C{session_replication_role = replica} (the default), which
        skips the per-row foreign-key triggers there.  Those checks are redundant by
        construction: the archive references the campaign being finalized,
        which cannot be deleted meanwhile, and a campaign's
        campaign_contacts rows are deleted only after every call that
        references them (C{calls.campaign_contact_id ... ON DELETE SET
        NULL} then has nothing to update).  They cost half the server time
        of a large finalization (see bench/finalize_1m.py).
        It also skips any other trigger on those tables (there is none
        today) and needs a role allowed to set the parameter (a superuser,
        as the embedded PostgreSQL's; or C{GRANT SET ON PARAMETER
        session_replication_role} on PostgreSQL 15+); without that it
        falls back, once logged, to ordinary statements.
    """

    def __init__(self, pool, skip_fk_checks=True):
        self.pool = pool
        self.skip_fk_checks = skip_fk_checks

    @defer.inlineCallbacks
    def _bulk(self, sql, args):
        """Run a bulk statement, without its FK triggers if configured and allowed."""
        if self.skip_fk_checks:
            def interaction(cursor):
                d = cursor.execute("SET LOCAL session_replication_role = replica")
                d.addCallback(lambda _: cursor.execute(sql, args))
                return d.addCallback(lambda _: cursor.fetchall())

            try:
                rows = yield self.pool.runInteraction(interaction)
                return rows
            except psycopg2.errors.InsufficientPrivilege as e:
                self.skip_fk_checks = False
                log.warn("finalization cannot set session_replication_role ({error});"
                         " running its statements with their foreign-key checks",
                         error=" ".join(str(e).split()))
        rows = yield self.pool.runQuery(sql, args)
        return rows

    @defer.inlineCallbacks
    def progress(self, campaign_id, wait_deadline=None):
        """
        The L{FinalizationProgress} of C{campaign_id}; if there is none and
        C{wait_deadline} is given, one is created first (a campaign moved to
        finalizing by a daemon that died before creating it).

        @return: a Deferred firing with the progress, or C{None}.
        """
        if wait_deadline is not None:
            yield self.pool.runOperation(
                "INSERT INTO campaign_finalizations (campaign_id, wait_deadline)"
                " VALUES (%s, %s) ON CONFLICT (campaign_id) DO NOTHING",
                (campaign_id, wait_deadline))
        rows = yield self.pool.runQuery(
            f"SELECT {_PROGRESS_COLUMNS} FROM campaign_finalizations WHERE campaign_id = %s",
            (campaign_id,))
        return _progress(rows[0]) if rows else None

    def advance(self, campaign_id, from_step, to_step):
        """
        Move the progress from C{from_step} to C{to_step} (a no-op if it has
        already moved on).
        """
        return self.pool.runOperation(
            "UPDATE campaign_finalizations SET step = %s, updated_at = now()"
            " WHERE campaign_id = %s AND step = %s", (to_step, campaign_id, from_step))

    @defer.inlineCallbacks
    def calls_in_flight(self, campaign_id):
        """Calls of the campaign not yet ended, plus claims without an open call."""
        rows = yield self.pool.runQuery(IN_FLIGHT_SQL, {"campaign": campaign_id})
        return rows[0][0]

    @defer.inlineCallbacks
    def open_channels(self, campaign_id):
        """The channel ids of the campaign's calls not yet ended (few: at most its channels)."""
        rows = yield self.pool.runQuery(
            "SELECT channel_id FROM calls WHERE campaign_id = %s AND ended_at IS NULL"
            " ORDER BY id", (campaign_id,))
        return [row[0] for row in rows]

    @defer.inlineCallbacks
    def record_stuck(self, campaign_id, now):
        """
        End every open call of the campaign as hung up by FTS at C{now}
        (logged as a C{hangup} event) and release every claim.

        @return: a Deferred firing with C{(calls_ended, claims_released)}.
        """
        rows = yield self.pool.runQuery(_RECORD_STUCK, {"campaign": campaign_id, "now": now})
        return tuple(rows[0])

    @defer.inlineCallbacks
    def never_dialed_timezones(self, campaign_id):
        """The distinct timezones of contacts not done that were never dialed."""
        rows = yield self.pool.runQuery(
            "SELECT DISTINCT c.timezone FROM campaign_contacts cc"
            " JOIN contacts c ON c.id = cc.contact_id"
            " WHERE cc.campaign_id = %s AND cc.status <> 'done' AND cc.attempts = 0"
            " AND c.timezone IS NOT NULL ORDER BY 1", (campaign_id,))
        return [row[0] for row in rows]

    @defer.inlineCallbacks
    def prepare_archive(self, campaign_id, outside_hours_zones):
        """
        Note the zones whose never-dialed contacts are outside_hours_skipped
        and the campaign's campaign_contacts id range, once (later calls
        keep what the first one noted).

        @return: a Deferred firing with the L{FinalizationProgress}.
        """
        yield self.pool.runOperation(
            """
            UPDATE campaign_finalizations p SET
                outside_hours_zones = %(zones)s::text[],
                first_row_id = r.lo, last_row_id = r.hi,
                updated_at = now()
              FROM (SELECT min(id) AS lo, max(id) AS hi FROM campaign_contacts
                     WHERE campaign_id = %(campaign)s) r
             WHERE p.campaign_id = %(campaign)s AND p.outside_hours_zones IS NULL
            """, {"campaign": campaign_id, "zones": list(outside_hours_zones)})
        progress = yield self.progress(campaign_id)
        return progress

    @defer.inlineCallbacks
    def archive_chunk(self, campaign_id, lo, hi):
        """
        Archive the campaign's contacts with C{lo <= id < hi} and note the
        chunk C{lo} as archived.

        @return: a Deferred firing with the rows inserted now.
        """
        args = {"campaign": campaign_id, "lo": lo, "hi": hi}
        try:
            rows = yield self._bulk(ARCHIVE_CHUNK, args)
        except psycopg2.errors.UniqueViolation as e:
            if getattr(e.diag, "constraint_name", None) != ARCHIVE_KEY:
                raise
            # Rows of this chunk are archived already (the progress row was
            # reset by hand?): keep them, add the others.
            rows = yield self._bulk(ARCHIVE_CHUNK_ON_CONFLICT, args)
        return rows[0][0]

    @defer.inlineCallbacks
    def final_report_exists(self, campaign_id):
        """Whether the campaign's final report snapshot is stored."""
        rows = yield self.pool.runQuery(
            "SELECT EXISTS (SELECT 1 FROM report_snapshots"
            " WHERE campaign_id = %s AND kind = 'final')", (campaign_id,))
        return rows[0][0]

    def report_built(self, campaign_id):
        """Note the report built and move on to purging."""
        return self.pool.runOperation(
            "UPDATE campaign_finalizations SET report_built_at = coalesce(report_built_at, now()),"
            " step = 'purging', updated_at = now()"
            " WHERE campaign_id = %s AND step = 'reporting'", (campaign_id,))

    @defer.inlineCallbacks
    def id_range(self, table, campaign_id):
        """
        The lowest and highest id of the campaign's rows in C{table}
        (C{"call_events"}, C{"calls"}), or C{(None, None)}: two index
        endpoint reads.
        """
        if table not in ("call_events", "calls"):
            raise ValueError(f"no id range for {table!r}")
        rows = yield self.pool.runQuery(
            f"SELECT (SELECT min(id) FROM {table} WHERE campaign_id = %(c)s),"
            f" (SELECT max(id) FROM {table} WHERE campaign_id = %(c)s)", {"c": campaign_id})
        return tuple(rows[0])

    @defer.inlineCallbacks
    def purge_range(self, table, campaign_id, lo, hi):
        """
        Delete the campaign's rows of C{table} (C{"call_events"},
        C{"calls"}, C{"campaign_contacts"}) with C{lo <= id < hi}.

        @return: a Deferred firing with how many were deleted.
        """
        rows = yield self._bulk(
            _PURGE_RANGE.format(table=table, counter=_PURGED[table]),
            {"campaign": campaign_id, "lo": lo, "hi": hi})
        return rows[0][0]
