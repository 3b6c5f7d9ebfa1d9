"""
What the panel's report pages read besides the reports themselves: which
campaigns have a report (live or final) with the headline numbers of the
final ones, and the few facts of one campaign a report page needs (name,
state, whether a final snapshot exists), read from the columns so that a
campaign whose settings no longer parse still shows its report.

The reports are read by L{fts.db.reports.ReportStore}.
"""

import attr
from twisted.internet import defer

#: Campaigns whose report is computed live from their working rows.
LIVE_STATES = ("running", "paused", "finished", "finalizing")
FINALIZED = "finalized"


@attr.frozen
class CampaignRef:
    """
    One campaign as the report and recycling pages name it.

    @ivar final_built_at: when its final report was built, or L{None}.
    """

    id: int
    name: str
    state: str
    finish_reason: str | None
    is_template: bool
    final_built_at: object


@attr.frozen
class ReportListing:
    """
    One line of the reports page: a campaign, and for a final report its
    headline numbers (distinct contacts; L{None} for live ones, which are
    computed when opened).
    """

    id: int
    name: str
    state: str
    finish_reason: str | None
    changed_at: object
    built_at: object
    contacts: int | None
    dialed: int | None
    answered: int | None


_WHICH = {
    "live": "c.state IN ('running', 'paused', 'finished', 'finalizing')",
    "final": "c.state = 'finalized'",
}


def _condition(which):
    try:
        return _WHICH[which]
    except KeyError:
        raise ValueError(f"which must be one of {sorted(_WHICH)}, not {which!r}") from None


class ReportIndex:
    """
    Reads the list of campaign reports and one campaign's name and state.
    """

    def __init__(self, pool):
        self.pool = pool

    @defer.inlineCallbacks
    def campaign(self, campaign_id):
        """
        The L{CampaignRef} of a campaign, or L{None} if there is none.
        """
        rows = yield self.pool.runQuery(
            "SELECT c.id, c.name, c.state, c.finish_reason, c.is_template,"
            " (SELECT s.built_at FROM report_snapshots s"
            "   WHERE s.campaign_id = c.id AND s.kind = 'final')"
            " FROM campaigns c WHERE c.id = %s AND c.state <> 'deleted'", (campaign_id,))
        return CampaignRef(*rows[0]) if rows else None

    @defer.inlineCallbacks
    def count(self, which):
        """
        How many campaigns have a C{which} report (C{"live"} or C{"final"}).
        """
        rows = yield self.pool.runQuery(
            "SELECT count(*) FROM campaigns c WHERE NOT c.is_template AND "
            + _condition(which))
        return rows[0][0]

    @defer.inlineCallbacks
    def list(self, which, limit=25, offset=0):
        """
        Campaigns with a C{which} report, the latest state change first, as
        L{ReportListing}s; final ones with their snapshot's numbers.
        """
        rows = yield self.pool.runQuery(
            "SELECT c.id, c.name, c.state, c.finish_reason, c.state_changed_at, s.built_at,"
            " (s.data -> 'contacts' ->> 'contacts')::bigint,"
            " (s.data -> 'contacts' ->> 'dialed')::bigint,"
            " (s.data -> 'contacts' ->> 'answered')::bigint"
            " FROM campaigns c"
            " LEFT JOIN report_snapshots s ON s.campaign_id = c.id AND s.kind = 'final'"
            " WHERE NOT c.is_template AND " + _condition(which)
            + " ORDER BY c.state_changed_at DESC, c.id DESC LIMIT %s OFFSET %s",
            (limit, offset))
        return [ReportListing(*row) for row in rows]
