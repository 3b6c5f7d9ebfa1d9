"""
Campaign operations too long for a web request, run as the job
C{campaign-actions} of the L{fts.jobs.runner.JobRunner}: confirming a
campaign (validation, then one C{INSERT ... SELECT} of every contact of its
list into C{campaign_contacts}: about 35 s for a million contacts) and
cancelling its pending calls (one C{UPDATE} of every pending contact).

The panel or the API queues the operation (L{CampaignJobs.submit}) and
answers at once; the job runs the queued operations one after another (so
two confirmations never compete for the same rows), each run being
recorded in C{job_runs} like any job's, and a trigger while it runs makes
it run once more right after.  The campaign page shows the operation's
L{ActionStatus} and follows it until it ends.  The store's work is one
transaction each time (so it is all or nothing); what the page shows is
its state and how long it has been running, not a percentage.

Without a job runner (tests, a daemon assembled without one) the queue is
worked through on the reactor just the same, outside any request.
"""

from collections import deque

import attr
from twisted.internet import defer
from twisted.logger import Logger

from fts.jobs.job import Job
from fts.jobs.runner import JobRunnerStopped

log = Logger()

JOB_NAME = "campaign-actions"

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"

#: Statuses kept in memory (the latest per campaign).
KEEP = 500


class ActionBusy(Exception):
    """
    The campaign already has an operation queued or running.
    """


@attr.s(eq=False)
class ActionStatus:
    """
    One queued operation and what became of it.

    @ivar kind: C{"confirm"} or C{"cancel_pending"}.
    @ivar state: L{QUEUED}, L{RUNNING}, L{SUCCEEDED} or L{FAILED}.
    @ivar result: a short sentence on success; C{error} one on failure.
    """

    campaign_id = attr.ib()
    kind = attr.ib()
    label = attr.ib()
    queued_at = attr.ib()
    work = attr.ib(repr=False)
    state = attr.ib(default=QUEUED)
    started_at = attr.ib(default=None)
    finished_at = attr.ib(default=None)
    result = attr.ib(default=None)
    error = attr.ib(default=None)

    @property
    def busy(self):
        return self.state in (QUEUED, RUNNING)

    def as_dict(self, now):
        """
        Plain values for JSON; times as POSIX seconds, C{elapsed} in seconds.
        """
        end = self.finished_at if self.finished_at is not None else now
        return {"campaign_id": self.campaign_id, "kind": self.kind, "label": self.label,
                "state": self.state, "queued_at": self.queued_at,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "elapsed": round(end - self.started_at, 1)
                if self.started_at is not None else None,
                "result": self.result, "error": self.error}


class CampaignJobs:
    """
    The queue of campaign operations and their latest statuses.

    @param runner: the daemon's L{JobRunner}, or L{None}.
    @param clock: C{IReactorTime}.
    """

    def __init__(self, runner, clock):
        self.runner = runner
        self.clock = clock
        self._queue = deque()
        self._latest = {}  # campaign id -> ActionStatus
        self._local = None  # the run in progress without a runner

    def status(self, campaign_id):
        """
        The latest L{ActionStatus} of the campaign, or L{None}.
        """
        return self._latest.get(campaign_id)

    def submit(self, campaign_id, kind, label, work):
        """
        Queue C{work()} (returning a Deferred of a result sentence) for
        campaign C{campaign_id} and have the job run it.

        @return: the L{ActionStatus}.
        @raise ActionBusy: the campaign has an operation queued or running.
        """
        current = self._latest.get(campaign_id)
        if current is not None and current.busy:
            raise ActionBusy(f"The campaign is busy: {current.label} is {current.state}.")
        status = ActionStatus(campaign_id, kind, label, self.clock.seconds(), work)
        self._latest.pop(campaign_id, None)
        self._latest[campaign_id] = status
        while len(self._latest) > KEEP:
            oldest = next(iter(self._latest))
            if self._latest[oldest].busy:
                break
            del self._latest[oldest]
        self._queue.append(status)
        self._trigger()
        return status

    def _trigger(self):
        runner = self.runner
        if runner is not None and runner.running:
            if JOB_NAME not in {s.name for s in runner.status()}:
                runner.add(Job(JOB_NAME, [self._work_queue], timeout=None,
                               description="Campaign confirmations and cancellations of"
                                           " pending calls queued from the panel and API"))
            d = runner.run_now(JOB_NAME)
            d.addErrback(self._runner_failed)
            return
        if self._local is None:
            self._local = defer.maybeDeferred(self._work_queue, None)
            self._local.addErrback(lambda f: log.failure("campaign operations", f))
            self._local.addBoth(self._local_done)

    def _local_done(self, _):
        self._local = None
        if self._queue:
            self._trigger()

    def _runner_failed(self, failure):
        failure.trap(JobRunnerStopped)
        # Stopping: what is queued will not run; say so on the page.
        while self._queue:
            status = self._queue.popleft()
            status.state, status.error = FAILED, "The daemon stopped before it ran."
            status.finished_at = self.clock.seconds()

    @defer.inlineCallbacks
    def _work_queue(self, _):
        done = []
        while self._queue:
            status = self._queue.popleft()
            status.state, status.started_at = RUNNING, self.clock.seconds()
            try:
                status.result = yield status.work()
            except Exception as e:
                status.state, status.error = FAILED, " ".join(str(e).split()) or repr(e)
                log.warn("campaign {campaign}: {label} failed: {error}",
                         campaign=status.campaign_id, label=status.label, error=status.error)
            else:
                status.state = SUCCEEDED
            status.finished_at = self.clock.seconds()
            done.append(f"campaign {status.campaign_id}: {status.label} {status.state}")
        return "; ".join(done) or "nothing queued"
