"""
One sweep over the campaigns that the clock or their contacts move on:

  1. scheduled campaigns whose start has come start (C{start}); those whose
     end passed first, or with no window left before it, expire;
  2. running and paused campaigns whose end has passed, or with no calling
     window left before the end, finish as expired (C{finish_expired});
  3. running and paused campaigns with no contact pending and none in flight
     finish as completed (C{finish_completed});
  4. finished campaigns begin finalizing (C{begin_finalizing}).

Each move goes through L{fts.db.campaigns.CampaignStore.transition}, which
locks the row and checks the guard again with fresh facts, so a sweep racing
an operator (pause, cancel) or another sweep changes nothing twice: the loser
gets a L{TransitionError}, logged at debug level.  A campaign that fails
otherwise is logged and skipped; the others are still swept.
"""

from datetime import UTC, datetime

from twisted.internet import defer
from twisted.logger import Logger

from fts.core.lifecycle import State, TransitionError, Trigger
from fts.core.windows import UnknownTimezone
from fts.lifecycle.decisions import due_trigger

log = Logger()

_ACTORS = {
    Trigger.START: "sweeper:start",
    Trigger.FINISH_EXPIRED: "sweeper:expiry",
    Trigger.FINISH_COMPLETED: "sweeper:completion",
}
_SUMMARY = {
    Trigger.START: "started",
    Trigger.FINISH_EXPIRED: "expired",
    Trigger.FINISH_COMPLETED: "completed",
}


class CampaignSweeper:
    """
    @param campaigns: the L{fts.db.campaigns.CampaignStore}.
    @param finalizer: what begins a finished campaign's finalization
        (C{begin(campaign_id)} returning a Deferred), the
        L{fts.lifecycle.finalizer.CampaignFinalizer}.
    @param clock: an C{IReactorTime}.
    """

    def __init__(self, campaigns, finalizer, clock):
        self.campaigns = campaigns
        self.finalizer = finalizer
        self.clock = clock

    def _now(self):
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    @defer.inlineCallbacks
    def sweep(self, _input=None):
        """
        Run one sweep.

        @return: a Deferred firing with a summary: campaign ids C{started},
            C{expired}, C{completed}, C{finalizing} (every campaign now
            finalizing, new or not) and C{errors}.
        """
        now = self._now()
        summary = {"started": [], "expired": [], "completed": [], "finalizing": [],
                   "errors": []}
        active = yield self.campaigns.in_states(
            [State.SCHEDULED, State.RUNNING, State.PAUSED])
        for campaign_id, state, starts_at, ends_at, schedule in active:
            try:
                trigger = due_trigger(state, now, starts_at, ends_at, schedule)
                if trigger is None and state in (State.RUNNING, State.PAUSED):
                    pending, in_flight = yield self.campaigns.work_left(campaign_id)
                    if not pending and not in_flight:
                        trigger = Trigger.FINISH_COMPLETED
                if trigger is not None:
                    yield self._move(campaign_id, trigger, now, summary)
            except UnknownTimezone as e:
                summary["errors"].append(campaign_id)
                log.error("campaign {campaign}: {error}; it cannot be started or expired"
                          " until its timezone is fixed", campaign=campaign_id, error=e)
            except Exception:
                summary["errors"].append(campaign_id)
                log.failure("sweeping campaign {campaign} failed; the next sweep tries again",
                            campaign=campaign_id)
        finished = yield self.campaigns.in_states([State.FINISHED])
        for campaign_id, *_ in finished:
            try:
                yield self.finalizer.begin(campaign_id)
            except TransitionError as e:
                log.debug("campaign {campaign} not moved to finalizing: {error}",
                          campaign=campaign_id, error=e)
            except Exception:
                summary["errors"].append(campaign_id)
                log.failure("beginning the finalization of campaign {campaign} failed;"
                            " the next sweep tries again", campaign=campaign_id)
        finalizing = yield self.campaigns.in_states([State.FINALIZING])
        summary["finalizing"] = [row[0] for row in finalizing]
        return summary

    @defer.inlineCallbacks
    def _move(self, campaign_id, trigger, now, summary):
        try:
            yield self.campaigns.transition(campaign_id, trigger, _ACTORS[trigger], now=now)
        except TransitionError as e:
            # Someone else moved it first (an operator, another sweep).
            log.debug("campaign {campaign} not moved by {trigger}: {error}",
                      campaign=campaign_id, trigger=trigger, error=e)
            return
        summary[_SUMMARY[trigger]].append(campaign_id)
