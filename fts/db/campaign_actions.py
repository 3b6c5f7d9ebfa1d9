"""
Operator actions on a campaign that are not life-cycle moves: moving its
start, and cancelling every call still pending.  Each is one transaction
that locks the campaign row (as L{fts.db.campaigns.CampaignStore.transition}
does, so neither can interleave with a state change) and writes its
C{audit_log} row in the same transaction.

B{Moving the start} (L{CampaignActions.reschedule}) of a draft or a
scheduled campaign: the schedule's start in the settings (wall-clock time in
the schedule's timezone, as the operator would have typed it) and the
C{starts_at} column (the instant) change together; the column change wakes
the dialer (C{campaigns_notify_dialer}), which starts a scheduled campaign
once C{starts_at} has come.

B{Cancelling pending calls} (L{CampaignActions.cancel_pending}) of a
scheduled, running or paused campaign: every contact still waiting to be
dialed (C{status = 'pending'}: never dialed, or waiting for a retry) is
closed now, C{done} with the final outcome finalization would give it had
the campaign ended at this moment: C{exhausted} when it had at least one
attempt (its last attempt's outcome stays in C{last_outcome}), else
C{not_dialed}.  Contacts in flight are left alone: their calls end
normally, and a retry their outcome earns is still scheduled (pause the
campaign first to have none).  The campaign's state does not change; with
nothing left to dial, the sweeper finishes it as completed.  It is one
C{UPDATE} of the pending rows (through C{campaign_contacts_pending_idx}),
so the panel runs it as a job, not in the request.
"""

from datetime import UTC
from zoneinfo import ZoneInfo

import attr
from psycopg2.extras import Json
from twisted.internet import defer

from fts.core.campaign import settings_from_dict, settings_to_dict
from fts.core.lifecycle import State
from fts.db import audit
from fts.db.campaigns import CampaignNotFound

#: States whose start may be moved.
RESCHEDULABLE = (State.DRAFT, State.SCHEDULED)
#: States whose pending calls may be cancelled.
CANCELLABLE = (State.SCHEDULED, State.RUNNING, State.PAUSED)


class ActionRefused(ValueError):
    """
    The campaign's state (or its settings) does not allow the action;
    nothing changed.  The message is a sentence for the operator.
    """


_CANCEL_PENDING = """
WITH closed AS (
    UPDATE campaign_contacts
       SET status = 'done',
           final_outcome = CASE WHEN attempts > 0 THEN 'exhausted' ELSE 'not_dialed' END,
           finished_at = now()
     WHERE campaign_id = %(campaign)s AND status = 'pending'
 RETURNING final_outcome)
SELECT count(*) FILTER (WHERE final_outcome = 'not_dialed'),
       count(*) FILTER (WHERE final_outcome = 'exhausted')
  FROM closed
"""


@attr.frozen
class CancelledPending:
    """
    What L{CampaignActions.cancel_pending} closed: contacts never dialed
    (now C{not_dialed}) and contacts that were waiting for a retry (now
    C{exhausted}).
    """

    not_dialed: int
    exhausted: int

    @property
    def total(self):
        return self.not_dialed + self.exhausted


@defer.inlineCallbacks
def _lock(cursor, campaign_id):
    yield cursor.execute(
        "SELECT state, is_template, ends_at, settings FROM campaigns WHERE id = %s FOR UPDATE",
        (campaign_id,))
    row = cursor.fetchone()
    if row is None:
        raise CampaignNotFound(f"Campaign {campaign_id} does not exist.")
    return State(row[0]), row[1], row[2], row[3]


class CampaignActions:
    """
    See the module docstring.
    """

    def __init__(self, pool):
        self.pool = pool

    def reschedule(self, campaign_id, at, actor):
        """
        Move the start of a draft or scheduled campaign to the aware instant
        C{at}.

        @param actor: the L{fts.db.audit.Actor}.
        @return: a Deferred firing with the new start (aware, UTC).
        @raise ActionRefused: a template, another state, or C{at} not before
            the campaign's end.
        @raise CampaignNotFound: no such campaign.
        """
        if at.tzinfo is None:
            raise ValueError("the start must be an aware datetime")
        return self.pool.runInteraction(self._reschedule, campaign_id, at.astimezone(UTC),
                                        actor)

    @defer.inlineCallbacks
    def _reschedule(self, cursor, campaign_id, at, actor):
        state, is_template, ends_at, data = yield _lock(cursor, campaign_id)
        if is_template:
            raise ActionRefused("A template has no start; create a campaign from it first.")
        if state not in RESCHEDULABLE:
            raise ActionRefused(f"The campaign is {state}; only a draft or a scheduled"
                                " campaign can have its start moved.")
        if ends_at is not None and at >= ends_at:
            raise ActionRefused(f"The start must be before the campaign's end"
                                f" ({ends_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC).")
        settings = settings_from_dict(data)
        schedule = settings.schedule
        wall = at.astimezone(ZoneInfo(schedule.timezone)).replace(tzinfo=None)
        settings = attr.evolve(settings, schedule=attr.evolve(schedule, start=wall))
        yield cursor.execute(
            "UPDATE campaigns SET settings = %s, starts_at = %s WHERE id = %s",
            (Json(settings_to_dict(settings)), at, campaign_id))
        yield audit.write(cursor, actor, "campaign.schedule", "campaign", campaign_id,
                          {"starts_at": at.isoformat(), "state": str(state)})
        return at

    def cancel_pending(self, campaign_id, actor):
        """
        Close every pending contact of a scheduled, running or paused
        campaign (see the module docstring).

        @return: a Deferred firing with a L{CancelledPending}.
        @raise ActionRefused: another state.
        @raise CampaignNotFound: no such campaign.
        """
        return self.pool.runInteraction(self._cancel_pending, campaign_id, actor)

    @defer.inlineCallbacks
    def _cancel_pending(self, cursor, campaign_id, actor):
        state, is_template, _, _ = yield _lock(cursor, campaign_id)
        if state not in CANCELLABLE:
            raise ActionRefused(f"The campaign is {state}; pending calls can be cancelled"
                                " only while it is scheduled, running or paused.")
        yield cursor.execute(_CANCEL_PENDING, {"campaign": campaign_id})
        not_dialed, exhausted = cursor.fetchone()
        result = CancelledPending(not_dialed=not_dialed, exhausted=exhausted)
        yield audit.write(cursor, actor, "campaign.cancel_pending", "campaign", campaign_id,
                          {"not_dialed": not_dialed, "exhausted": exhausted})
        return result
