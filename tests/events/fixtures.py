"""
Rows the event tests need (a campaign, contacts, calls in flight), written
with plain SQL: the stores that will own these tables do not exist yet.
"""

import attr
from twisted.internet import defer


@attr.s(frozen=True, slots=True)
class CallInFlight:
    call_id = attr.ib()
    campaign_id = attr.ib()
    contact_id = attr.ib()
    campaign_contact_id = attr.ib()
    phone = attr.ib()


@defer.inlineCallbacks
def campaign(pool, name="test campaign"):
    """
    A draft campaign with an empty contact list; returns
    C{(campaign_id, list_id)}.
    """
    rows = yield pool.runQuery(
        "INSERT INTO contact_lists (name) VALUES (%s) RETURNING id", (name + " list",))
    list_id = rows[0][0]
    rows = yield pool.runQuery(
        "INSERT INTO campaigns (name, list_id) VALUES (%s, %s) RETURNING id", (name, list_id))
    return rows[0][0], list_id


@defer.inlineCallbacks
def call_in_flight(pool, campaign_id, list_id, phone, attempts=0):
    """
    A contact claimed by the dialer with a call placed (as the dialer will
    leave them before the first event of the call).
    """
    rows = yield pool.runQuery(
        "INSERT INTO contacts (list_id, row_number, phone, phone_original)"
        " VALUES (%s, 1, %s, %s) RETURNING id", (list_id, phone, "+" + phone))
    contact_id = rows[0][0]
    rows = yield pool.runQuery("SELECT nextval(pg_get_serial_sequence('calls', 'id'))")
    call_id = rows[0][0]
    rows = yield pool.runQuery(
        "INSERT INTO campaign_contacts (campaign_id, contact_id, status, attempts,"
        " in_flight_call_id, claimed_at, claimed_by)"
        " VALUES (%s, %s, 'in_flight', %s, %s, now(), 'test') RETURNING id",
        (campaign_id, contact_id, attempts, call_id))
    cc_id = rows[0][0]
    yield pool.runOperation(
        "INSERT INTO calls (id, campaign_id, contact_id, campaign_contact_id, channel_id,"
        " number_dialed) VALUES (%s, %s, %s, %s, %s, %s)",
        (call_id, campaign_id, contact_id, cc_id, "fts-%d" % call_id, phone))
    return CallInFlight(call_id, campaign_id, contact_id, cc_id, phone)


CALL_COLUMNS = ("accepted_at", "answered_at", "ended_at", "attempt", "outcome",
                "originate_reason", "hangup_cause", "hangup_cause_text", "amd_verdict",
                "amd_cause", "keys", "option_key", "opted_out", "talk_seconds",
                "heard_full_message", "transfer_target", "transfer_result")
CONTACT_COLUMNS = ("status", "attempts", "next_attempt_at", "last_outcome",
                   "last_attempt_at", "final_outcome", "in_flight_call_id", "claimed_by",
                   "finished_at")


def _epoch(column):
    if column.endswith("_at"):
        return "extract(epoch FROM %s)::float8" % column
    return column


@defer.inlineCallbacks
def call_row(pool, call_id):
    """
    The derived columns of a calls row as a dict (times in epoch seconds).
    """
    rows = yield pool.runQuery(
        "SELECT %s FROM calls WHERE id = %%s" % ", ".join(map(_epoch, CALL_COLUMNS)),
        (call_id,))
    return dict(zip(CALL_COLUMNS, rows[0]))


@defer.inlineCallbacks
def contact_row(pool, cc_id):
    """
    The progress columns of a campaign_contacts row as a dict.
    """
    rows = yield pool.runQuery(
        "SELECT %s FROM campaign_contacts WHERE id = %%s"
        % ", ".join(map(_epoch, CONTACT_COLUMNS)), (cc_id,))
    return dict(zip(CONTACT_COLUMNS, rows[0]))


@defer.inlineCallbacks
def opt_outs(pool):
    """
    The opt-outs DNC list as C{[(phone, source, source_campaign_id,
    source_call_id)]}.
    """
    rows = yield pool.runQuery(
        "SELECT e.phone, e.source, e.source_campaign_id, e.source_call_id"
        " FROM dnc_entries e JOIN dnc_lists l ON l.id = e.list_id WHERE l.builtin"
        " ORDER BY e.phone")
    return [tuple(r) for r in rows]
