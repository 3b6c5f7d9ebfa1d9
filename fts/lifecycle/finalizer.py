"""
The finalization chain of one campaign, as job steps:

    wait_for_calls -> archive -> build_report -> purge -> finalize

  - L{CampaignFinalizer.begin} moves a finished campaign to finalizing and
    creates its progress row (with the deadline of the wait) in the same
    transaction.
  - C{wait_for_calls}: until no call of the campaign is in flight.  It
    re-checks at once when the dialer calls L{notify_call_ended}, and every
    C{poll_interval} seconds anyway.  At the deadline it hangs up the calls
    still up through the C{hangup(channel_id)} it was given, lets their
    hangup events arrive for C{hangup_grace} seconds, then records the calls
    still open as hung up by FTS and releases every claim.
  - C{archive}: the per-contact results into C{campaign_contacts_archive},
    in chunks of campaign_contacts ids (L{fts.db.finalization}), up to
    C{parallelism} chunks at once.
  - C{build_report}: C{report_builder(campaign_id)}, unless the final
    snapshot already exists.
  - C{purge}: call_events and calls of the campaign, then its
    campaign_contacts rows, in id ranges, up to C{parallelism} at once.

No step holds a transaction open for long: each chunk is one statement
(hence its own transaction) of a few hundred milliseconds, so nothing is
locked for long and vacuum is never held back by a finalization.
  - C{finalize}: finalizing -> finalized, with the progress marked done in
    the same transaction.

Every step reads the progress row first and does nothing if it is already
past that step, and every effect is idempotent, so running the chain again
after a crash at any instant, or twice, finishes it exactly once.  The
only effect outside the database, the report builder, is skipped once the
final snapshot exists; if the daemon dies after the builder finished but
before the snapshot row was committed it runs again (the builder writes its
snapshot with C{ON CONFLICT}).

C{checkpoint(campaign_id, point)}, if given, is called after each effect
(C{"hangups_sent"}, C{"stuck_recorded"}, C{"archive_chunk"}, C{"archived"},
C{"report_built"}, C{"purge_chunk"}, C{"purged"}); tests raise there to
simulate a daemon killed at that point.
"""

import functools
from datetime import UTC, datetime, timedelta

from twisted.internet import defer
from twisted.logger import Logger

from fts.core import windows
from fts.core.lifecycle import IllegalTransition, State, Trigger
from fts.db import finalization as F

log = Logger()

ACTOR = "finalizer"


class NotFinalizing(RuntimeError):
    """The campaign is not finalizing: its finalization must not run."""


class CampaignFinalizer:
    """
    @param campaigns: the L{fts.db.campaigns.CampaignStore}.
    @param finalization: the L{fts.db.finalization.FinalizationStore}.
    @param clock: an C{IReactorTime}.
    @param hangup: C{hangup(channel_id)} returning a Deferred (or a value):
        hangs a call up through AMI.
    @param report_builder: C{report_builder(campaign_id)} returning a
        Deferred: builds the final report from the archive and the calls;
        C{None} to build none (logged).
    @param settings: L{fts.lifecycle.settings.LifecycleSettings}.
    @param checkpoint: see the module docstring.
    """

    def __init__(self, campaigns, finalization, clock, hangup, report_builder, settings,
                 checkpoint=None):
        self.campaigns = campaigns
        self.finalization = finalization
        self.clock = clock
        self.hangup = hangup
        self.report_builder = report_builder
        self.settings = settings
        self.checkpoint = checkpoint
        self._sleepers = {}

    def _now(self):
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    def _deadline(self):
        return self._now() + timedelta(seconds=self.settings.stuck_call_timeout)

    def _reached(self, campaign_id, point):
        if self.checkpoint is not None:
            self.checkpoint(campaign_id, point)

    # -- starting -----------------------------------------------------------

    def begin(self, campaign_id):
        """
        Move finished campaign C{campaign_id} to finalizing, creating its
        progress row in the same transaction.

        @return: a Deferred firing with the L{Transition}.
        """
        deadline = self._deadline()
        return self.campaigns.transition(
            campaign_id, Trigger.BEGIN_FINALIZING, ACTOR,
            in_transaction=lambda cursor, _move: F.begin(cursor, campaign_id, deadline))

    def steps(self, campaign_id):
        """The chain's steps for C{campaign_id}, as job steps (C{step(input)})."""
        return [functools.partial(step, campaign_id) for step in (
            self.wait_for_calls, self.archive, self.build_report, self.purge, self.finalize)]

    @defer.inlineCallbacks
    def run(self, campaign_id):
        """Run the whole chain now, outside the job runner (tools, benchmarks)."""
        result = None
        for step in self.steps(campaign_id):
            result = yield step(result)
        return result

    # -- waking -------------------------------------------------------------

    def notify_call_ended(self, campaign_id):
        """
        A call of C{campaign_id} ended: a finalization waiting for its calls
        looks again at once.
        """
        for d in self._sleepers.pop(campaign_id, []):
            d.callback(None)

    def _sleep(self, campaign_id, seconds):
        """A Deferred firing after C{seconds}, or when the campaign's call ends."""
        sleepers = self._sleepers.setdefault(campaign_id, [])

        def cancel(d):
            if timer.active():
                timer.cancel()
            if d in sleepers:
                sleepers.remove(d)

        d = defer.Deferred(cancel)

        def wake():
            if d in sleepers:
                sleepers.remove(d)
            d.callback(None)

        def settled(result):
            if timer.active():
                timer.cancel()
            if not sleepers and self._sleepers.get(campaign_id) is sleepers:
                del self._sleepers[campaign_id]
            return result

        timer = self.clock.callLater(seconds, wake)
        sleepers.append(d)
        return d.addBoth(settled)

    # -- steps ----------------------------------------------------------------

    @defer.inlineCallbacks
    def _progress(self, campaign_id):
        progress = yield self.finalization.progress(campaign_id)
        if progress is None:
            campaign = yield self.campaigns.get(campaign_id)
            if campaign.state is not State.FINALIZING:
                raise NotFinalizing(
                    f"Campaign {campaign_id} is {campaign.state}, not finalizing;"
                    " its finalization does not run.")
            # Moved to finalizing without a progress row: make it now.
            progress = yield self.finalization.progress(campaign_id, self._deadline())
        return progress

    @staticmethod
    def _past(progress, step):
        return F.STEPS.index(progress.step) > F.STEPS.index(step)

    @defer.inlineCallbacks
    def wait_for_calls(self, campaign_id, _input=None):
        """Step 1: wait until nothing of the campaign is in flight (bounded)."""
        progress = yield self._progress(campaign_id)
        summary = {"campaign_id": campaign_id}
        if self._past(progress, "waiting"):
            return summary
        deadline = progress.wait_deadline.timestamp()
        hung_up = False
        seen = None
        while True:
            count = yield self.finalization.calls_in_flight(campaign_id)
            if count == 0:
                break
            remaining = deadline - self.clock.seconds()
            if hung_up:
                yield self._record_stuck(campaign_id, count)
                break
            if remaining <= 0:
                yield self._hang_up(campaign_id, count)
                hung_up = True
                if self.settings.hangup_grace > 0:
                    yield self._sleep(campaign_id, self.settings.hangup_grace)
                continue
            if count != seen:
                log.info("campaign {campaign} finalizing: waiting for {count} call(s) in"
                         " flight, at most {remaining:.0f}s more", campaign=campaign_id,
                         count=count, remaining=remaining)
                seen = count
            yield self._sleep(campaign_id, min(self.settings.poll_interval, remaining))
        yield self.finalization.advance(campaign_id, "waiting", "archiving")
        return summary

    @defer.inlineCallbacks
    def _hang_up(self, campaign_id, count):
        channels = yield self.finalization.open_channels(campaign_id)
        log.warn("campaign {campaign} finalizing: {count} call(s) still in flight after"
                 " {timeout:g}s; hanging up {channels} channel(s)", campaign=campaign_id,
                 count=count, timeout=self.settings.stuck_call_timeout,
                 channels=len(channels))
        results = yield defer.DeferredList(
            [defer.maybeDeferred(self.hangup, channel) for channel in channels],
            consumeErrors=True)
        for channel, (ok, result) in zip(channels, results):
            if not ok:
                log.warn("campaign {campaign}: hanging up {channel} failed ({error}); it is"
                         " recorded as hung up all the same", campaign=campaign_id,
                         channel=channel, error=result.getErrorMessage())
        self._reached(campaign_id, "hangups_sent")

    @defer.inlineCallbacks
    def _record_stuck(self, campaign_id, count):
        ended, released = yield self.finalization.record_stuck(campaign_id, self._now())
        log.warn("campaign {campaign} finalizing: recorded {ended} stuck call(s) as hung up"
                 " by FTS and released {released} claim(s)", campaign=campaign_id,
                 ended=ended, released=released)
        self._reached(campaign_id, "stuck_recorded")

    @defer.inlineCallbacks
    def _in_lanes(self, items, work):
        """
        Run C{work(item)} for every item, at most C{parallelism} at once (each
        on its own pool connection).  After a failure no new item starts;
        the failure is raised once those running have ended.
        """
        items = iter(items)
        failures = []

        @defer.inlineCallbacks
        def lane():
            for item in items:
                if failures:
                    return
                try:
                    yield work(item)
                except BaseException:
                    failures.append(True)
                    raise

        results = yield defer.DeferredList(
            [lane() for _ in range(self.settings.parallelism)], consumeErrors=True)
        for ok, result in results:
            if not ok:
                result.raiseException()

    @staticmethod
    def _chunks(first, last, size):
        """C{(lo, hi)} ranges of at most C{size} ids covering C{first..last}."""
        if first is None:
            return []
        return [(lo, min(lo + size, last + 1)) for lo in range(first, last + 1, size)]

    @defer.inlineCallbacks
    def archive(self, campaign_id, summary=None):
        """Step 2: archive every contact's result, in chunks."""
        summary = dict(summary or {}, campaign_id=campaign_id)
        progress = yield self._progress(campaign_id)
        if self._past(progress, "archiving"):
            return summary
        if progress.outside_hours_zones is None:
            zones = yield self._outside_hours_zones(campaign_id)
            progress = yield self.finalization.prepare_archive(campaign_id, zones)
        chunks = [(lo, hi) for lo, hi in self._chunks(
            progress.first_row_id, progress.last_row_id, self.settings.archive_chunk)
            if lo not in progress.archived_chunks]

        @defer.inlineCallbacks
        def archive_chunk(chunk):
            yield self.finalization.archive_chunk(campaign_id, *chunk)
            self._reached(campaign_id, "archive_chunk")

        yield self._in_lanes(chunks, archive_chunk)
        self._reached(campaign_id, "archived")
        yield self.finalization.advance(campaign_id, "archiving", "reporting")
        progress = yield self.finalization.progress(campaign_id)
        summary["archived"] = progress.archived_rows
        log.info("campaign {campaign} finalizing: {rows} contact(s) archived",
                 campaign=campaign_id, rows=progress.archived_rows)
        return summary

    @defer.inlineCallbacks
    def _outside_hours_zones(self, campaign_id):
        """
        Contact timezones whose recipient hours never met an open campaign
        window while the campaign ran (between its first start and its
        finish).  None if the campaign has no recipient hours, never
        started, or its own windows never opened.
        """
        campaign = yield self.campaigns.get(campaign_id)
        schedule = campaign.settings.schedule
        began = campaign.first_started_at
        ended = campaign.finished_at or self._now()
        if schedule.recipient_hours is None or began is None or began >= ended:
            return []
        if not windows.open_intervals(schedule, began, ended):
            return []
        zones = yield self.finalization.never_dialed_timezones(campaign_id)
        outside = []
        for zone in zones:
            try:
                if not windows.open_intervals(schedule, began, ended, zone):
                    outside.append(zone)
            except windows.UnknownTimezone:
                continue
        return outside

    @defer.inlineCallbacks
    def build_report(self, campaign_id, summary=None):
        """Step 3: the final report, once."""
        summary = dict(summary or {}, campaign_id=campaign_id)
        progress = yield self._progress(campaign_id)
        if self._past(progress, "reporting"):
            return summary
        exists = yield self.finalization.final_report_exists(campaign_id)
        if exists:
            log.info("campaign {campaign} finalizing: the final report exists already",
                     campaign=campaign_id)
        elif self.report_builder is None:
            log.warn("campaign {campaign} finalizing: no report builder is configured;"
                     " no final report is built", campaign=campaign_id)
        else:
            yield defer.maybeDeferred(self.report_builder, campaign_id)
            log.info("campaign {campaign} finalizing: final report built", campaign=campaign_id)
        self._reached(campaign_id, "report_built")
        yield self.finalization.report_built(campaign_id)
        summary["report"] = True
        return summary

    @defer.inlineCallbacks
    def purge(self, campaign_id, summary=None):
        """
        Step 4: delete the campaign's working rows in id ranges: its call
        events and calls, then (nothing referencing them any more) its
        campaign_contacts rows.
        """
        summary = dict(summary or {}, campaign_id=campaign_id)
        progress = yield self._progress(campaign_id)
        if self._past(progress, "purging"):
            return summary
        size = self.settings.purge_chunk

        @defer.inlineCallbacks
        def purge_chunk(item):
            table, (lo, hi) = item
            yield self.finalization.purge_range(table, campaign_id, lo, hi)
            self._reached(campaign_id, "purge_chunk")

        chunks = []
        for table in ("call_events", "calls"):
            first, last = yield self.finalization.id_range(table, campaign_id)
            chunks += [(table, chunk) for chunk in self._chunks(first, last, size)]
        yield self._in_lanes(chunks, purge_chunk)
        chunks = [("campaign_contacts", chunk) for chunk in self._chunks(
            progress.first_row_id, progress.last_row_id, size)]
        yield self._in_lanes(chunks, purge_chunk)
        self._reached(campaign_id, "purged")
        yield self.finalization.advance(campaign_id, "purging", "finalizing")
        progress = yield self.finalization.progress(campaign_id)
        summary["purged"] = {"call_events": progress.purged_events,
                             "calls": progress.purged_calls,
                             "campaign_contacts": progress.purged_contacts}
        log.info("campaign {campaign} finalizing: purged {events} event(s), {calls} call(s),"
                 " {contacts} contact row(s)", campaign=campaign_id,
                 events=progress.purged_events, calls=progress.purged_calls,
                 contacts=progress.purged_contacts)
        return summary

    @defer.inlineCallbacks
    def finalize(self, campaign_id, summary=None):
        """Step 5: finalizing -> finalized, with the progress marked done."""
        summary = dict(summary or {}, campaign_id=campaign_id)
        progress = yield self._progress(campaign_id)
        if progress.step == "done":
            return summary
        stuck = progress.hung_up_calls > 0 or progress.released_claims > 0
        try:
            yield self.campaigns.transition(
                campaign_id, Trigger.FINALIZE, ACTOR, facts={"stuck_wait_over": stuck},
                in_transaction=lambda cursor, _move: F.mark_done(cursor, campaign_id))
        except IllegalTransition:
            campaign = yield self.campaigns.get(campaign_id)
            if campaign.state is not State.FINALIZED:
                raise
            # Finalized by someone else (another daemon) meanwhile.
        log.info("campaign {campaign} finalized", campaign=campaign_id)
        summary["finalized"] = True
        return summary
