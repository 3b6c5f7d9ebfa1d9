"""
Campaign reports: every SQL statement behind L{fts.reports}.

Set-based, whatever the campaign's size: a report is five statements in one
read-only REPEATABLE READ transaction (the campaign; one GROUPING SETS
aggregate over the per-contact results; one over the calls; the distinct
contacts per attempt outcome; the originates that were not counted),
returning a few dozen rows that L{fts.reports.assemble.assemble} turns into
a L{Report}.

The CSV export reads pages of C{CSV_PAGE} contacts formatted into CSV text
by PostgreSQL itself (one string per page, so the client does almost
nothing per contact).  Each page is an id range whose upper bound a cheap
index query finds first (keyset pagination on C{contact_id}; psycopg2's
asynchronous connections cannot COPY, and a named cursor would pin a pooled
connection for the whole download), so pages can be read concurrently and
written in order.

Where the numbers come from:

  - B{final} (L{ReportStore.build_final}, called by finalization after it has
    filled C{campaign_contacts_archive} and before it purges the working
    rows): per-contact facts from the archive, per-call facts from C{calls}.
    The snapshot is stored once (C{report_snapshots_one_final}); a second
    call returns the stored one without reading anything else, so it is
    safe after the purge.
  - B{live} (L{ReportStore.live}): per-contact facts aggregated from
    C{campaign_contacts} and C{calls}, with the same definitions as the
    archive (keys of all calls in order, the last option run, the AMD
    verdict of the last answered call, talk time summed over all calls,
    heard the whole message on any call).

Test calls (C{calls.is_test_call}) are never counted.
"""

import json

import attr
from twisted.internet import defer
from twisted.logger import Logger

from fts.reports.assemble import assemble, csv_layout, fallback_layout
from fts.reports.export import neutralise_sql
from fts.reports.model import (
    FINAL, LIVE, CsvLayout, ReportSnapshot, report_from_dict, report_to_dict,
)

log = Logger()

#: Contacts per CSV page (one page query each; about 1.4 MB of CSV).
CSV_PAGE = 10_000


class UnknownCampaign(LookupError):
    """
    No campaign has that id.
    """

    def __init__(self, campaign_id):
        self.campaign_id = campaign_id
        super().__init__(f"no campaign with id {campaign_id}")


class ArchiveIncomplete(Exception):
    """
    L{ReportStore.build_final} was called before finalization archived every
    contact of the campaign.
    """


@attr.frozen
class CsvPlan:
    """
    What an export of one campaign reads: C{source} L{FINAL} (the archive)
    or L{LIVE} (the working rows), the column layout, and the time zone of
    C{last_call_at}.
    """

    campaign_id: int
    source: str
    layout: CsvLayout
    timezone: str


# -- per-contact results -----------------------------------------------------------

# Per campaign_contacts row, from its calls: the same facts, with the same
# definitions, as finalization archives (fts/db/finalization.py): keys of all
# calls in call order, the last option run, opted out / heard the whole
# message on any call, talk time summed, answered when a call was answered
# (answered_at), the AMD verdict of the last answered call ("off" when AMD
# did not run), the last counted attempt's time.
_CALLS_PER_CONTACT = """
    max(attempt) AS attempts,
    string_agg(keys, '' ORDER BY id) AS keys,
    (array_agg(option_key ORDER BY id DESC) FILTER (WHERE option_key IS NOT NULL))[1]
        AS option_key,
    bool_or(opted_out) AS opted_out,
    (array_agg(coalesce(amd_verdict, 'off') ORDER BY id DESC)
        FILTER (WHERE answered_at IS NOT NULL))[1] AS amd_verdict,
    bool_or(answered_at IS NOT NULL) AS answered,
    sum(talk_seconds) AS talk_seconds,
    bool_or(heard_full_message) AS heard_full_message,
    max(coalesce(accepted_at, originated_at)) FILTER (WHERE attempt IS NOT NULL) AS last_at
"""

# Both relations have the columns the aggregate reads.  "answered" on the
# archive: the answered column of 0004 when set, else what 0001 implies.
_FINAL_CONTACTS = """
    SELECT a.final_outcome, a.attempts, a.keys, a.option_key,
           a.opted_out OR a.final_outcome = 'opted_out' AS opted_out,
           a.amd_verdict,
           coalesce(a.answered, a.final_outcome IN ('reached', 'opted_out')) AS answered,
           a.talk_seconds, a.heard_full_message, a.dnc_list_name
      FROM campaign_contacts_archive a
     WHERE a.campaign_id = %(campaign)s
"""

_LIVE_CONTACTS = """
    SELECT CASE WHEN cc.status = 'done' THEN cc.final_outcome ELSE cc.status END
               AS final_outcome,
           greatest(cc.attempts, coalesce(k.attempts, 0)) AS attempts,
           coalesce(k.keys, '') AS keys,
           k.option_key,
           coalesce(k.opted_out, false) OR coalesce(cc.final_outcome = 'opted_out', false)
               AS opted_out,
           k.amd_verdict,
           coalesce(k.answered, false) AS answered,
           coalesce(k.talk_seconds, 0) AS talk_seconds,
           coalesce(k.heard_full_message, false) AS heard_full_message,
           d.name AS dnc_list_name
      FROM campaign_contacts cc
      LEFT JOIN (SELECT campaign_contact_id, """ + _CALLS_PER_CONTACT + """
                   FROM calls
                  WHERE campaign_id = %(campaign)s AND NOT is_test_call
                    AND campaign_contact_id IS NOT NULL
                  GROUP BY campaign_contact_id) k ON k.campaign_contact_id = cc.id
      LEFT JOIN dnc_lists d ON d.id = cc.dnc_list_id
     WHERE cc.campaign_id = %(campaign)s
"""

_CONTACT_COLUMNS = (
    "dimension", "value", "contacts", "dialed", "answered", "human", "machine", "notsure",
    "amd_off", "opted_out", "pressed_key", "heard_full_message", "not_final", "talk_seconds",
)

_CONTACT_AGGREGATE = """
WITH pc AS ({contacts})
SELECT CASE WHEN GROUPING(final_outcome) = 0 THEN 'final_outcome'
            WHEN GROUPING(option_key) = 0 THEN 'option'
            WHEN GROUPING(attempts) = 0 THEN 'attempts_used'
            WHEN GROUPING(dnc_list_name) = 0 THEN 'dnc_list'
            ELSE 'total' END,
       coalesce(final_outcome, option_key, attempts::text, dnc_list_name),
       count(*),
       count(*) FILTER (WHERE attempts > 0),
       count(*) FILTER (WHERE answered),
       count(*) FILTER (WHERE answered AND amd_verdict = 'human'),
       count(*) FILTER (WHERE answered AND amd_verdict = 'machine'),
       count(*) FILTER (WHERE answered AND amd_verdict = 'notsure'),
       count(*) FILTER (WHERE answered AND coalesce(amd_verdict, 'off') = 'off'),
       count(*) FILTER (WHERE opted_out),
       count(*) FILTER (WHERE keys <> ''),
       count(*) FILTER (WHERE heard_full_message),
       count(*) FILTER (WHERE final_outcome IN ('pending', 'in_flight')),
       coalesce(sum(talk_seconds), 0)::bigint
  FROM pc
 GROUP BY GROUPING SETS ((final_outcome), (option_key), (attempts), (dnc_list_name), ())
"""

# -- per-call results ------------------------------------------------------------

_CALL_COLUMNS = (
    "dimension", "value", "outcome", "calls", "answered", "machine", "talk_seconds",
)

# No count(DISTINCT) here: it would force a sort per grouping set, where
# without it PostgreSQL hashes every set in one pass over the calls.
_CALL_AGGREGATE = """
WITH c AS (
    SELECT attempt,
           coalesce(outcome, 'in_progress') AS outcome,
           extract(hour FROM originated_at AT TIME ZONE %(timezone)s)::int AS hour,
           option_key,
           CASE WHEN outcome = 'answered' THEN coalesce(amd_verdict, 'off') END AS amd,
           coalesce(talk_seconds, 0) AS talk_seconds
      FROM calls
     WHERE campaign_id = %(campaign)s AND NOT is_test_call AND attempt IS NOT NULL)
SELECT CASE WHEN GROUPING(attempt) = 0 THEN 'attempt'
            WHEN GROUPING(hour) = 0 THEN 'hour'
            WHEN GROUPING(outcome) = 0 THEN 'outcome'
            WHEN GROUPING(option_key) = 0 THEN 'option'
            WHEN GROUPING(amd) = 0 THEN 'amd'
            ELSE 'total' END,
       coalesce(attempt::text, hour::text, option_key, amd, outcome),
       CASE WHEN GROUPING(attempt) = 0 OR GROUPING(hour) = 0 THEN outcome END,
       count(*),
       count(*) FILTER (WHERE outcome = 'answered'),
       count(*) FILTER (WHERE amd = 'machine'),
       sum(talk_seconds)::bigint
  FROM c
 GROUP BY GROUPING SETS ((attempt, outcome), (hour, outcome), (outcome), (option_key), (amd), ())
"""

# Distinct contacts per attempt outcome (a contact busy twice counts once).
_CALL_CONTACTS = """
SELECT outcome, count(*)
  FROM (SELECT DISTINCT coalesce(outcome, 'in_progress') AS outcome,
                        coalesce(contact_id, -campaign_contact_id) AS contact
          FROM calls
         WHERE campaign_id = %(campaign)s AND NOT is_test_call AND attempt IS NOT NULL) d
 GROUP BY outcome
"""

_NOT_COUNTED = """
SELECT count(*) FROM calls
 WHERE campaign_id = %(campaign)s AND NOT is_test_call
   AND attempt IS NULL AND outcome IS NOT NULL
"""

_HEADER = """
SELECT c.id, c.name, c.state, c.finish_reason, c.timezone, c.settings, c.max_attempts,
       l.columns, l.phone_column, now(),
       (SELECT s.data -> 'csv_layout' FROM report_snapshots s
         WHERE s.campaign_id = c.id AND s.kind = 'final'),
       EXISTS (SELECT 1 FROM campaign_contacts cc WHERE cc.campaign_id = c.id)
  FROM campaigns c
  LEFT JOIN contact_lists l ON l.id = c.list_id
 WHERE c.id = %(campaign)s
"""

_FIELD_NAMES = """
SELECT DISTINCT jsonb_object_keys(fields) FROM campaign_contacts_archive
 WHERE campaign_id = %(campaign)s
"""

_SNAPSHOT_COLUMNS = "id, campaign_id, kind, built_at, data, csv_path, csv_bytes, csv_rows"


def _layout_of(header_row, field_names=None):
    stored = header_row[10]
    if stored:
        return CsvLayout(**stored)
    if header_row[7] is not None:
        return csv_layout(header_row[7], header_row[8])
    return fallback_layout(field_names or ())


def _snapshot(row):
    return ReportSnapshot(
        id=row[0], campaign_id=row[1], kind=row[2], built_at=row[3],
        report=report_from_dict(row[4]), csv_path=row[5], csv_bytes=row[6], csv_rows=row[7],
    )


class ReportStore:
    """
    Reads campaign reports and stores their snapshots.
    """

    def __init__(self, pool):
        self.pool = pool

    # -- reports ---------------------------------------------------------------

    def live(self, campaign_id):
        """
        The report of a campaign from its working rows (while it runs, or
        finished but not yet finalized).

        @return: a Deferred firing with a L{Report} of kind C{live}.
        @raise UnknownCampaign: (in the Deferred) no such campaign.
        """
        return self.pool.runInteraction(self._read, campaign_id, LIVE)

    @defer.inlineCallbacks
    def build_final(self, campaign_id):
        """
        Build and store the final report of a campaign whose contacts are all
        in C{campaign_contacts_archive}, once: if the final snapshot exists it
        is returned as stored (so this is safe to call again after the
        working rows are purged).

        @return: a Deferred firing with the L{ReportSnapshot}.
        @raise ArchiveIncomplete: working rows of the campaign are not archived.
        """
        existing = yield self.snapshot(campaign_id, FINAL)
        if existing is not None:
            return existing
        report = yield self.pool.runInteraction(self._read, campaign_id, FINAL)
        rows = yield self.pool.runQuery(
            "INSERT INTO report_snapshots (campaign_id, kind, built_at, data)"
            " VALUES (%s, 'final', %s, %s)"
            " ON CONFLICT (campaign_id) WHERE kind = 'final' DO NOTHING"
            " RETURNING " + _SNAPSHOT_COLUMNS,
            (campaign_id, report.built_at, json.dumps(report_to_dict(report))),
        )
        if not rows:  # built concurrently by someone else: theirs stands
            stored = yield self.snapshot(campaign_id, FINAL)
            return stored
        log.info("final report of campaign {campaign} stored: {contacts} contacts,"
                 " {calls} calls", campaign=campaign_id,
                 contacts=report.contacts.contacts, calls=report.calls.calls)
        return _snapshot(rows[0])

    @defer.inlineCallbacks
    def snapshot(self, campaign_id, kind=FINAL):
        """
        The stored snapshot of that kind (the latest for C{live}), or L{None}.
        """
        rows = yield self.pool.runQuery(
            "SELECT " + _SNAPSHOT_COLUMNS + " FROM report_snapshots"
            " WHERE campaign_id = %s AND kind = %s ORDER BY built_at DESC, id DESC LIMIT 1",
            (campaign_id, kind),
        )
        return _snapshot(rows[0]) if rows else None

    @defer.inlineCallbacks
    def current(self, campaign_id):
        """
        The final report when there is one, else the live report.
        """
        stored = yield self.snapshot(campaign_id, FINAL)
        if stored is not None:
            return stored.report
        report = yield self.live(campaign_id)
        return report

    @defer.inlineCallbacks
    def record_live(self, campaign_id, keep=3):
        """
        Store a live snapshot (for a dashboard that should not recompute on
        every view) and delete all but the newest C{keep} live ones.

        @return: a Deferred firing with the new L{ReportSnapshot}.
        """
        report = yield self.live(campaign_id)
        rows = yield self.pool.runQuery(
            "WITH added AS (INSERT INTO report_snapshots (campaign_id, kind, built_at, data)"
            " VALUES (%(campaign)s, 'live', %(at)s, %(data)s) RETURNING " + _SNAPSHOT_COLUMNS
            + "), dropped AS (DELETE FROM report_snapshots WHERE id IN ("
            " SELECT id FROM report_snapshots WHERE campaign_id = %(campaign)s"
            " AND kind = 'live' ORDER BY built_at DESC, id DESC OFFSET %(keep)s))"
            " SELECT * FROM added",
            {"campaign": campaign_id, "at": report.built_at, "keep": max(keep, 1) - 1,
             "data": json.dumps(report_to_dict(report))},
        )
        return _snapshot(rows[0])

    def set_csv_file(self, snapshot_id, csv_path, csv_bytes, csv_rows):
        """
        Record the CSV file written for a snapshot (C{csv_path} relative to
        the data directory).
        """
        return self.pool.runOperation(
            "UPDATE report_snapshots SET csv_path = %s, csv_bytes = %s, csv_rows = %s"
            " WHERE id = %s", (csv_path, csv_bytes, csv_rows, snapshot_id))

    @defer.inlineCallbacks
    def _read(self, cursor, campaign_id, kind):
        yield cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # Room to hash the aggregates of a million-contact campaign in memory
        # (the default 4 MB spills them to disk); this transaction only.
        yield cursor.execute("SET LOCAL work_mem = '64MB'")
        params = {"campaign": campaign_id}
        yield cursor.execute(_HEADER, params)
        row = cursor.fetchone()
        if row is None:
            raise UnknownCampaign(campaign_id)
        params["timezone"] = row[4]
        if kind == FINAL and row[11]:
            yield cursor.execute(
                "SELECT (SELECT count(*) FROM campaign_contacts WHERE campaign_id = %(campaign)s),"
                " (SELECT count(*) FROM campaign_contacts_archive"
                " WHERE campaign_id = %(campaign)s)", params)
            working, archived = cursor.fetchone()
            if working > archived:
                raise ArchiveIncomplete(
                    f"campaign {campaign_id}: {archived} contacts archived but {working}"
                    " working rows remain; finalization must archive every contact before"
                    " the final report is built")
        field_names = None
        if row[7] is None and row[10] is None:
            yield cursor.execute(_FIELD_NAMES, params)
            field_names = [r[0] for r in cursor.fetchall()]
        contacts_sql = _FINAL_CONTACTS if kind == FINAL else _LIVE_CONTACTS
        yield cursor.execute(_CONTACT_AGGREGATE.format(contacts=contacts_sql), params)
        contact_rows = [dict(zip(_CONTACT_COLUMNS, r)) for r in cursor.fetchall()]
        yield cursor.execute(_CALL_AGGREGATE, params)
        call_rows = [dict(zip(_CALL_COLUMNS, r)) for r in cursor.fetchall()]
        yield cursor.execute(_CALL_CONTACTS, params)
        distinct = dict(cursor.fetchall())
        for call in call_rows:
            if call["dimension"] == "outcome":
                call["contacts"] = distinct.get(call["value"], 0)
        yield cursor.execute(_NOT_COUNTED, params)
        (not_counted,) = cursor.fetchone()
        header = {
            "campaign_id": row[0], "name": row[1], "state": row[2], "finish_reason": row[3],
            "timezone": row[4], "settings": row[5], "max_attempts": row[6],
            "built_at": row[9], "layout": _layout_of(row, field_names),
        }
        return assemble(header, contact_rows, call_rows, not_counted, kind)

    # -- CSV export -------------------------------------------------------------

    @defer.inlineCallbacks
    def csv_plan(self, campaign_id):
        """
        Decide what an export of the campaign reads: the archive once the
        final report exists or no working row is left, else the working rows.

        @return: a Deferred firing with a L{CsvPlan}.
        """
        rows = yield self.pool.runQuery(_HEADER, {"campaign": campaign_id})
        if not rows:
            raise UnknownCampaign(campaign_id)
        row = rows[0]
        source = FINAL if row[10] is not None or not row[11] else LIVE
        field_names = None
        if row[7] is None and row[10] is None:
            names = yield self.pool.runQuery(_FIELD_NAMES, {"campaign": campaign_id})
            field_names = [r[0] for r in names]
        return CsvPlan(campaign_id=campaign_id, source=source,
                       layout=_layout_of(row, field_names), timezone=row[4])

    @defer.inlineCallbacks
    def csv_boundary(self, plan, after, size=CSV_PAGE):
        """
        The id of the C{size}-th contact after id C{after}, or L{None} when
        fewer remain: the upper bound of the next page (an index-only scan
        of C{size} entries).
        """
        table = "campaign_contacts_archive" if plan.source == FINAL else "campaign_contacts"
        rows = yield self.pool.runQuery(
            f"SELECT contact_id FROM {table}"
            " WHERE campaign_id = %(campaign)s AND contact_id > %(after)s"
            " ORDER BY contact_id OFFSET %(skip)s LIMIT 1",
            {"campaign": plan.campaign_id, "after": after, "skip": max(size - 1, 0)})
        return rows[0][0] if rows else None

    @defer.inlineCallbacks
    def csv_page(self, plan, after, upto=None):
        """
        The CSV lines of the contacts whose id is above C{after} and at most
        C{upto} (no upper bound for L{None}), in contact id (= file) order,
        formatted by PostgreSQL (see L{_csv_field}) into one text: the
        client handles one string per page instead of fifteen per contact.

        @return: a Deferred firing with a L{CsvPage}.
        """
        sql, params = _page_query(plan, after, upto)
        [(rows, text)] = yield self.pool.runQuery(sql, params)
        return CsvPage(rows=rows, text=text or "")


@attr.frozen
class CsvPage:
    """
    One page of the CSV export: C{rows} lines (each ending with CRLF) in
    C{text}.
    """

    rows: int
    text: str


def _csv_field(expression):
    """
    SQL quoting a free-text CSV field (RFC 4180): always enclosed in double
    quotes, its double quotes doubled, NULL as C{""}.  Used for the list's
    own columns, the number as uploaded and the DNC list name; the other
    columns (numbers, outcomes, keys, timestamps) never hold a comma, a
    quote or a line break, so they are written bare.  Quoting always rather
    than when needed is the cheaper expression: measured on PostgreSQL 16,
    the "when needed" test (a regex per field) cost about 4 us per row, 40 %
    of the page query.  The value goes through L{neutralise_sql} (no
    formula a spreadsheet would run: see L{fts.reports.export}), whose
    first-character test is all most values cost.
    """
    value = neutralise_sql(f"coalesce({expression}, '')")
    return f"""'"' || replace({value}, '"', '""') || '"'"""


def _csv_line(fields):
    """
    The SQL text expression of one CSV line (fields already text, no NULL
    handling needed beyond coalesce), CRLF-terminated.
    """
    return " || ',' || ".join(fields) + " || E'\\r\\n'"


def _list_values(plan, alias):
    """
    The quoted list columns of a row and their parameters.
    """
    exprs, params = [], {}
    for index, name in enumerate(plan.layout.list_columns):
        if index == plan.layout.phone_column:
            exprs.append(_csv_field(f"{alias}.phone_original"))
        else:
            exprs.append(_csv_field(f"({alias}.fields ->> %(col{index})s)"))
            params[f"col{index}"] = name
    return exprs, params


def _page_query(plan, after, upto):
    params = {"campaign": plan.campaign_id, "after": after, "upto": upto,
              "timezone": plan.timezone}
    # With no upper bound the condition folds away (psycopg2 sends literals).
    bound = "(%(upto)s::bigint IS NULL OR {column} <= %(upto)s)"
    if plan.source == FINAL:
        values, extra = _list_values(plan, "a")
        line = _csv_line(values + [
            "a.phone",
            "a.final_outcome",
            "a.attempts::text",
            "a.keys",
            "coalesce(a.option_key, '')",
            "coalesce(a.amd_verdict, '')",
            "a.talk_seconds::text",
            "CASE WHEN a.heard_full_message THEN 'yes' ELSE 'no' END",
            "coalesce(to_char(a.last_attempt_at AT TIME ZONE %(timezone)s,"
            " 'YYYY-MM-DD HH24:MI:SS'), '')",
            _csv_field("a.dnc_list_name"),
        ])
        page = f"""
            SELECT a.contact_id, {line} AS line
              FROM campaign_contacts_archive a
             WHERE a.campaign_id = %(campaign)s AND a.contact_id > %(after)s
               AND {bound.format(column="a.contact_id")}"""
    else:
        values, extra = _list_values(plan, "ct")
        line = _csv_line(values + [
            "ct.phone",
            "CASE WHEN p.status = 'done' THEN p.final_outcome ELSE p.status END",
            "greatest(p.attempts, coalesce(k.attempts, 0))::text",
            "coalesce(k.keys, '')",
            "coalesce(k.option_key, '')",
            "coalesce(k.amd_verdict, '')",
            "coalesce(k.talk_seconds, 0)::text",
            "CASE WHEN k.heard_full_message THEN 'yes' ELSE 'no' END",
            "coalesce(to_char(coalesce(k.last_at, p.last_attempt_at) AT TIME ZONE %(timezone)s,"
            " 'YYYY-MM-DD HH24:MI:SS'), '')",
            _csv_field("d.name"),
        ])
        page = """
            WITH p AS (
                SELECT id, contact_id, status, final_outcome, attempts, last_attempt_at,
                       dnc_list_id
                  FROM campaign_contacts
                 WHERE campaign_id = %(campaign)s AND contact_id > %(after)s
                   AND """ + bound.format(column="contact_id") + """),
            k AS (
                SELECT campaign_contact_id, """ + _CALLS_PER_CONTACT + """
                  FROM calls
                 WHERE campaign_contact_id IN (SELECT id FROM p) AND NOT is_test_call
                 GROUP BY campaign_contact_id)
            SELECT p.contact_id, """ + line + """ AS line
              FROM p
              JOIN contacts ct ON ct.id = p.contact_id
              LEFT JOIN k ON k.campaign_contact_id = p.id
              LEFT JOIN dnc_lists d ON d.id = p.dnc_list_id"""
    params.update(extra)
    sql = ("SELECT count(*), string_agg(line, '' ORDER BY contact_id)"
           " FROM (" + page + ") page")
    return sql, params
