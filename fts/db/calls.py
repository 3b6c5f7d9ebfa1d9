"""
The calls of a campaign as the campaign page and the API list them, and the
campaign's progress (contacts done, pending, in flight).

Paging is by keyset on C{calls.id}, newest first: a page is one backward
scan of C{calls_campaign_idx (campaign_id, id)} from the last id shown,
stopping after C{limit + 1} matching rows, so the first page and the
thousandth cost the same whatever the campaign's size (no C{OFFSET}).
Filters (outcome, number, time range, test calls) are checked on the rows
that scan reaches: a filter matching few calls of a huge campaign reads
further, never more than the campaign's calls.  Counts are capped
(L{COUNT_CAP}): "more than 10,000" is all a page needs to say, and an exact
count of a million rows would cost more than the page itself.

The CSV download reads the same rows oldest first in pages of
L{CSV_PAGE} (keyset again), so it streams without holding the campaign in
memory.

The CSV cells go through L{fts.reports.export.encode_rows}, which
neutralises values a spreadsheet would run as formulas (a PBX's hangup
text, a PBX name); see L{fts.reports.export}.

Progress counts the campaign's rows by status in one pass over
C{campaign_contacts_campaign_contact_key} (C{count(*) FILTER}: three
separate counts read the rows three times); once finalization has purged
the working rows the archive gives the total (everything is then done),
read only then.  That pass grows with the campaign (about 0.25 us a row),
so the panel reuses a campaign's progress for a while
(L{fts.web.campaign_feed.ProgressCache}) rather than counting per request.
"""

import re

import attr
from twisted.internet import defer

#: Outcomes a call can be filtered by: C{calls.outcome}; C{in_progress} for
#: calls the PBX accepted that have not ended; C{queued} for calls written
#: when their contact was claimed, whose Originate the PBX has not accepted
#: yet (the dialer keeps a few ready ahead of the free channels).
OUTCOMES = ("answered", "busy", "no_answer", "congestion", "chanunavail", "invalid_number",
            "failed", "cancelled", "unknown", "in_progress", "queued")

#: Counts stop here.
COUNT_CAP = 10_000

#: Calls per page of the CSV download.
CSV_PAGE = 5_000

#: Columns of the CSV download, in order.
CSV_HEADER = ("call_id", "number", "test_call", "attempt", "outcome", "originated_at",
              "answered_at", "ended_at", "talk_seconds", "amd_verdict", "keys", "option_key",
              "opted_out", "hangup_cause", "pbx")

_DIGITS = re.compile(r"^[0-9]{1,20}$")

_COLUMNS = """id, number_dialed, is_test_call, attempt, outcome, originated_at, answered_at,
    ended_at, talk_seconds, amd_verdict, keys, option_key, opted_out, hangup_cause_text,
    pbx_name"""


@attr.frozen
class CallFilter:
    """
    Which calls of a campaign to list.

    @ivar outcome: one of L{OUTCOMES}, or L{None} for all.
    @ivar phone: digits the number dialed must contain, or L{None}.
    @ivar since: only calls originated at or after this aware instant.
    @ivar until: only calls originated before this aware instant.
    @ivar tests: C{None} all calls, C{True} test calls only, C{False} none.
    """

    outcome: str | None = None
    phone: str | None = None
    since: object = None
    until: object = None
    tests: bool | None = None

    def __attrs_post_init__(self):
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.phone is not None and not _DIGITS.match(self.phone):
            raise ValueError("the number filter must be 1 to 20 digits")

    def where(self, campaign_id):
        """
        The C{WHERE} clause (without the keyword) and its parameters.
        """
        clauses = ["campaign_id = %(campaign)s"]
        params = {"campaign": campaign_id}
        if self.outcome == "in_progress":
            clauses.append("outcome IS NULL AND attempt IS NOT NULL")
        elif self.outcome == "queued":
            clauses.append("outcome IS NULL AND attempt IS NULL")
        elif self.outcome is not None:
            clauses.append("outcome = %(outcome)s")
            params["outcome"] = self.outcome
        if self.phone is not None:
            # Digits only (checked above): no LIKE metacharacter can get in.
            clauses.append("number_dialed LIKE %(phone)s")
            params["phone"] = f"%{self.phone}%"
        if self.since is not None:
            clauses.append("originated_at >= %(since)s")
            params["since"] = self.since
        if self.until is not None:
            clauses.append("originated_at < %(until)s")
            params["until"] = self.until
        if self.tests is not None:
            clauses.append("is_test_call" if self.tests else "NOT is_test_call")
        return " AND ".join(clauses), params


@attr.frozen
class CallRow:
    """
    One call as the calls table shows it.
    """

    id: int
    number: str
    is_test: bool
    attempt: int | None
    outcome: str | None
    originated_at: object
    answered_at: object
    ended_at: object
    talk_seconds: int | None
    amd_verdict: str | None
    keys: str
    option_key: str | None
    opted_out: bool
    hangup_cause: str | None
    pbx: str | None

    @property
    def status(self):
        """
        The outcome; else C{in_progress} once the PBX accepted the call,
        C{queued} before.
        """
        if self.outcome:
            return self.outcome
        return "in_progress" if self.attempt is not None else "queued"

    def csv_values(self):
        """
        The row's values in L{CSV_HEADER} order, as text.
        """
        def when(value):
            return value.isoformat() if value is not None else ""

        return (str(self.id), self.number, "yes" if self.is_test else "no",
                "" if self.attempt is None else str(self.attempt),
                self.status, when(self.originated_at),
                when(self.answered_at), when(self.ended_at),
                "" if self.talk_seconds is None else str(self.talk_seconds),
                self.amd_verdict or "", self.keys, self.option_key or "",
                "yes" if self.opted_out else "no", self.hangup_cause or "", self.pbx or "")


@attr.frozen
class CallsPage:
    """
    One page of calls, newest first; C{next_before} is the C{before} of the
    next (older) page, or L{None} on the last page.
    """

    items: tuple
    next_before: int | None


@attr.frozen
class Progress:
    """
    Where a campaign's contacts stand: C{total} = C{done} + C{pending} +
    C{in_flight}.  C{archived}: the counts come from the archive (the
    campaign is finalized).
    """

    total: int
    done: int
    pending: int
    in_flight: int
    archived: bool = False

    @property
    def percent_done(self):
        return round(100.0 * self.done / self.total, 1) if self.total else 0.0

    def as_dict(self):
        return {"total": self.total, "done": self.done, "pending": self.pending,
                "in_flight": self.in_flight, "archived": self.archived,
                "percent_done": self.percent_done}


_PROGRESS = """
SELECT count(*) FILTER (WHERE status = 'pending'),
       count(*) FILTER (WHERE status = 'in_flight'),
       count(*)
  FROM campaign_contacts WHERE campaign_id = %(campaign)s
"""

_ARCHIVED = "SELECT count(*) FROM campaign_contacts_archive WHERE campaign_id = %(campaign)s"


def _row(values):
    return CallRow(*values)


class CallsQuery:
    """
    Reads the calls of campaigns (see the module docstring).
    """

    def __init__(self, pool):
        self.pool = pool

    @defer.inlineCallbacks
    def page(self, campaign_id, filters=CallFilter(), before=None, limit=50):
        """
        The newest C{limit} calls matching C{filters} whose id is below
        C{before} (all when L{None}).

        @return: a Deferred firing with a L{CallsPage}.
        """
        where, params = filters.where(campaign_id)
        if before is not None:
            where += " AND id < %(before)s"
            params["before"] = before
        params["limit"] = limit + 1
        rows = yield self.pool.runQuery(
            f"SELECT {_COLUMNS} FROM calls WHERE {where} ORDER BY id DESC LIMIT %(limit)s",
            params)
        items = tuple(_row(r) for r in rows[:limit])
        following = items[-1].id if len(rows) > limit else None
        return CallsPage(items=items, next_before=following)

    @defer.inlineCallbacks
    def count(self, campaign_id, filters=CallFilter(), cap=COUNT_CAP):
        """
        How many calls match, counted up to C{cap} (a result of C{cap} means
        "at least that many").
        """
        where, params = filters.where(campaign_id)
        params["cap"] = cap
        rows = yield self.pool.runQuery(
            f"SELECT count(*) FROM (SELECT 1 FROM calls WHERE {where} LIMIT %(cap)s) c", params)
        return rows[0][0]

    @defer.inlineCallbacks
    def oldest_after(self, campaign_id, filters=CallFilter(), after=0, limit=CSV_PAGE):
        """
        The oldest C{limit} matching calls whose id is above C{after}, oldest
        first (the CSV download's pages).

        @return: a Deferred firing with a tuple of L{CallRow}s.
        """
        where, params = filters.where(campaign_id)
        params.update(after=after, limit=limit)
        rows = yield self.pool.runQuery(
            f"SELECT {_COLUMNS} FROM calls WHERE {where} AND id > %(after)s"
            " ORDER BY id LIMIT %(limit)s", params)
        return tuple(_row(r) for r in rows)

    @defer.inlineCallbacks
    def sample_fields(self, campaign_id):
        """
        The fields of the first contact of the campaign's list (what a test
        call's message fills its placeholders with), or C{{}}.
        """
        rows = yield self.pool.runQuery(
            "SELECT c.fields FROM campaigns k JOIN contacts c ON c.list_id = k.list_id"
            " WHERE k.id = %s ORDER BY c.id LIMIT 1", (campaign_id,))
        return dict(rows[0][0]) if rows else {}

    @defer.inlineCallbacks
    def progress(self, campaign_id):
        """
        The campaign's L{Progress} (all zero for a draft: it has no contacts
        until it is confirmed).
        """
        rows = yield self.pool.runQuery(_PROGRESS, {"campaign": campaign_id})
        pending, in_flight, total = rows[0]
        archived = 0
        if total == 0:
            rows = yield self.pool.runQuery(_ARCHIVED, {"campaign": campaign_id})
            archived = rows[0][0]
        if archived:
            return Progress(total=archived, done=archived, pending=0, in_flight=0,
                            archived=True)
        return Progress(total=total, done=total - pending - in_flight, pending=pending,
                        in_flight=in_flight)
