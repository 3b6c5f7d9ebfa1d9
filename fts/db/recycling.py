"""
How many contacts a recycling would take, before the operator confirms it:
one count over the finalized campaign's archive with the very condition the
copy uses (L{fts.db.campaigns.RECYCLE_WHERE}), so the number shown is the
number copied.  The recycling itself is L{fts.db.campaigns.CampaignStore.recycle}.
"""

from twisted.internet import defer

from fts.core.recycling import RecycleChoice
from fts.db.campaigns import RECYCLE_WHERE

COUNT_SQL = "SELECT count(*) FROM campaign_contacts_archive a WHERE " + RECYCLE_WHERE


def selection_params(campaign_id, selection):
    """
    The parameters of L{RECYCLE_WHERE} for a L{RecycleSelection}.
    """
    return {"source": campaign_id, "keys": sorted(selection.keys),
            **{choice.value: choice in selection.choices for choice in RecycleChoice}}


class RecycleCounts:
    """
    Counts the archived contacts of a campaign that a selection picks.
    """

    def __init__(self, pool):
        self.pool = pool

    @defer.inlineCallbacks
    def count(self, campaign_id, selection):
        """
        @return: a Deferred firing with the number of contacts of campaign
            C{campaign_id}'s archive that C{selection} takes (0 for a
            campaign with no archive).
        """
        rows = yield self.pool.runQuery(COUNT_SQL, selection_params(campaign_id, selection))
        return rows[0][0]
