"""
The life-cycle jobs on the L{fts.jobs.runner.JobRunner}:

  - C{campaign-lifecycle}: the sweeper (L{fts.lifecycle.sweeper}), every
    C{sweep_interval} seconds (± jitter) and once at start-up, so that a
    restarted daemon picks up at once the finalizations it was running;
  - C{finalize-campaign-<id>}: one job per finalizing campaign, added while
    its finalization runs, whose steps are the chain of
    L{fts.lifecycle.finalizer} (plus any C{after_finalized} steps, e.g. the
    e-mail notification).  The runner records every attempt, retries a
    failed step (only that step) and never overlaps two runs of it.  When
    the run ends the job is removed (its history stays in job_runs); one
    that failed is started again by a sweep after C{failure_backoff}.

Event-driven where it can be: a campaign that finishes through this store
(cancel, or the sweeper) begins finalizing at once without waiting for the
next sweep, its finalization job starts at once, and the dialer's
L{CampaignLifecycle.notify_call_ended} wakes the wait for calls in flight.
The sweeps are the safety net (and the clock-driven part).
"""

from twisted.internet import defer
from twisted.logger import Logger

from fts.core.lifecycle import State, TransitionError
from fts.jobs.job import SCHEDULE, SUCCESS, Job
from fts.jobs.runner import UnknownJob
from fts.jobs.schedule import Interval
from fts.lifecycle.finalizer import CampaignFinalizer
from fts.lifecycle.settings import LifecycleSettings
from fts.lifecycle.sweeper import CampaignSweeper

log = Logger()

SWEEP_JOB = "campaign-lifecycle"


def finalization_job_name(campaign_id):
    """The name of campaign C{campaign_id}'s finalization job."""
    return f"finalize-campaign-{campaign_id}"


class CampaignLifecycle:
    """
    @param clock: an C{IReactorTime}.
    @param campaigns: the L{fts.db.campaigns.CampaignStore}.
    @param finalization: the L{fts.db.finalization.FinalizationStore}.
    @param runner: the L{fts.jobs.runner.JobRunner}.
    @param hangup: C{hangup(channel_id)} -> Deferred, the dialer's.
    @param report_builder: C{build_final(campaign_id)} -> Deferred.
    @param after_finalized: extra job steps run after the campaign is
        finalized; each gets the summary dict (with C{campaign_id}).
    @param checkpoint: passed to the L{CampaignFinalizer} (tests).
    """

    def __init__(self, clock, campaigns, finalization, runner, hangup, report_builder,
                 settings=None, after_finalized=(), checkpoint=None):
        self.clock = clock
        self.campaigns = campaigns
        self.runner = runner
        self.settings = settings if settings is not None else LifecycleSettings()
        self.after_finalized = tuple(after_finalized)
        self.finalizer = CampaignFinalizer(campaigns, finalization, clock, hangup,
                                           report_builder, self.settings, checkpoint)
        self.sweeper = CampaignSweeper(campaigns, self.finalizer, clock)
        self._running = {}  # campaign id -> Deferred of its finalization run
        self._not_before = {}  # campaign id -> clock seconds (after a failed run)
        self._unsubscribe = None

    def install(self):
        """Register the sweeper job and listen to the store's transitions."""
        s = self.settings
        self.runner.add(Job(
            SWEEP_JOB, [self.sweep],
            schedule=Interval(s.sweep_interval, jitter=s.sweep_jitter, at_start=True),
            timeout=s.sweep_timeout,
            description="Start scheduled campaigns, expire and complete running ones,"
                        " finalize finished ones"))
        self._unsubscribe = self.campaigns.on_transition(self._transitioned)

    def uninstall(self):
        """Stop listening and remove the sweeper job (finalization runs finish)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        try:
            self.runner.remove(SWEEP_JOB)
        except UnknownJob:
            pass

    def notify_call_ended(self, campaign_id):
        """The dialer's hook: a call of C{campaign_id} ended (or was never placed)."""
        self.finalizer.notify_call_ended(campaign_id)

    @defer.inlineCallbacks
    def sweep(self, _input=None):
        """The sweeper job's step: one sweep, then make sure every finalizing
        campaign's finalization runs."""
        summary = yield self.sweeper.sweep()
        for campaign_id in summary["finalizing"]:
            self.finalize(campaign_id)
        return summary

    def finalize(self, campaign_id):
        """
        Start campaign C{campaign_id}'s finalization job unless it is
        running (or failed less than C{failure_backoff} seconds ago).

        @return: a Deferred firing with the run's
            L{fts.jobs.job.RunRecord} (C{None} if the runner is stopped), or
            C{None} if nothing was started.
        """
        if campaign_id in self._running:
            return self._running[campaign_id]
        if self._not_before.get(campaign_id, 0) > self.clock.seconds():
            return None
        name = finalization_job_name(campaign_id)
        s = self.settings
        steps = self.finalizer.steps(campaign_id) + list(self.after_finalized)
        self.runner.add(Job(
            name, steps, schedule=None, timeout=s.finalize_timeout,
            retries=s.finalize_retries, retry_delay=s.finalize_retry_delay,
            description=f"Finalize campaign {campaign_id}: wait for calls in flight,"
                        " archive, report, purge"))
        log.info("campaign {campaign}: finalization job {job} starting",
                 campaign=campaign_id, job=name)
        d = self.runner.run_now(name, triggered_by=SCHEDULE)

        def ended(record):
            self._ended(campaign_id, name)
            if record.outcome == SUCCESS:
                self._not_before.pop(campaign_id, None)
            else:
                self._not_before[campaign_id] = self.clock.seconds() + s.failure_backoff
                log.warn("campaign {campaign}: finalization ended {outcome} ({error});"
                         " it starts again in {backoff:g}s at the earliest",
                         campaign=campaign_id, outcome=record.outcome, error=record.error,
                         backoff=s.failure_backoff)
            return record

        def not_run(failure):
            self._ended(campaign_id, name)
            log.info("campaign {campaign}: finalization not run: {error}",
                     campaign=campaign_id, error=failure.getErrorMessage())
            return None

        d.addCallbacks(ended, not_run)
        d.addErrback(lambda f: log.failure("campaign {campaign}: finalization bookkeeping",
                                           f, campaign=campaign_id))
        if not d.called:
            self._running[campaign_id] = d
        return d

    def _ended(self, campaign_id, name):
        self._running.pop(campaign_id, None)
        try:
            self.runner.remove(name)
        except UnknownJob:
            pass

    def _transitioned(self, campaign_id, transition):
        """React at once: finished -> begin finalizing; finalizing -> run it."""
        if transition.to_state is State.FINISHED:
            d = self.finalizer.begin(campaign_id)
            d.addErrback(self._begin_failed, campaign_id)
        elif transition.to_state is State.FINALIZING and self.runner.running:
            self.finalize(campaign_id)

    def _begin_failed(self, failure, campaign_id):
        if failure.check(TransitionError):
            log.debug("campaign {campaign}: not moved to finalizing ({error})",
                      campaign=campaign_id, error=failure.getErrorMessage())
            return None
        log.failure("campaign {campaign}: beginning its finalization failed; the next"
                    " sweep tries again", failure, campaign=campaign_id)
        return None
