"""
Campaigns with reports for the report and recycling page tests: the
hand-computed campaign of L{tests.reports.fixture} (live, or finalized with
its snapshot and working rows purged), and a finalized campaign whose
archive holds a given grid of outcomes (for recycling, which reads the
campaign's settings through the campaign store).
"""

from twisted.internet import defer

from fts.core.lifecycle import Trigger
from tests.lifecycle import fixtures as F
from tests.reports import fixture

XSS = '<script>alert("x")</script>'
XSS_ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

#: (final outcome, last attempt outcome, answered, AMD verdict, keys) per
#: archived contact of L{finalized_with_archive}.
GRID = [
    ("busy", "busy", False, None, ""),                       # 0
    ("exhausted", "no_answer", False, None, ""),             # 1
    ("reached", "answered", True, "machine", ""),            # 2
    ("reached", "answered", True, "human", "1"),             # 3
    ("reached", "answered", True, "human", ""),              # 4
    ("opted_out", "answered", True, "human", "9"),           # 5
    ("not_dialed", None, False, None, ""),                   # 6
    ("failed", "congestion", False, None, ""),               # 7
]


@defer.inlineCallbacks
def payment_reminders(pool):
    """
    The fixture's finished campaign with its working rows; its id.
    """
    yield pool.runOperation(fixture.setup_sql())
    [(campaign_id,)] = yield pool.runQuery(
        "SELECT id FROM campaigns WHERE name = 'Payment reminders'")
    return campaign_id


@defer.inlineCallbacks
def finalize(store, pool, campaign_id):
    """
    Finalize the fixture's campaign as finalization does: archive, build
    the final report, purge.
    """
    yield pool.runOperation(fixture.archive_sql())
    yield store.reports.build_final(campaign_id)
    yield pool.runOperation(fixture.PURGE_SQL)


@defer.inlineCallbacks
def finalized_with_archive(campaigns, reports, pool, grid=GRID, name="Reminders"):
    """
    A finalized campaign made with the campaign store whose archive holds
    one contact per C{grid} entry, with its final report; returns C{(campaign id, phones)}.
    """
    phones = ["1555%04d" % n for n in range(len(grid))]
    cid = yield F.campaign_in(campaigns, pool, "running", phones=phones, name=name)
    yield campaigns.transition(cid, Trigger.CANCEL, F.USER)
    yield campaigns.transition(cid, Trigger.BEGIN_FINALIZING, "finalizer")
    for n, (final, last, answered, amd, keys) in enumerate(grid):
        yield pool.runOperation(
            "INSERT INTO campaign_contacts_archive (campaign_id, contact_id, row_number,"
            " phone, phone_original, fields, final_outcome, amd_verdict, keys, last_outcome,"
            " answered, attempts)"
            " SELECT %s, c.id, c.row_number, c.phone, c.phone_original, c.fields,"
            " %s, %s, %s, %s, %s, %s"
            " FROM contacts c JOIN campaigns k ON k.list_id = c.list_id"
            " WHERE k.id = %s AND c.phone = %s",
            (cid, final, amd, keys, last, answered, 0 if last is None else 1, cid,
             phones[n]))
    yield reports.build_final(cid)
    yield pool.runOperation("DELETE FROM campaign_contacts WHERE campaign_id = %s", (cid,))
    yield campaigns.transition(cid, Trigger.FINALIZE, "finalizer")
    return cid, phones


@defer.inlineCallbacks
def list_phones(pool, list_id):
    """The phones of a contact list, in row order."""
    rows = yield pool.runQuery(
        "SELECT phone FROM contacts WHERE list_id = %s ORDER BY row_number", (list_id,))
    return [r[0] for r in rows]
