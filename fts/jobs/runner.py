"""
The C{jobs} service: runs named jobs on their schedules, on an injected clock.

Rules (STYLE §6, "periodic work that cannot die"):

  - Each job has one timer (C{clock.callLater}) for its next firing; there
    is no polling loop.  The next firing is computed when a firing happens,
    before the run starts, so nothing a run does can stop the schedule.
  - Runs of one job never overlap.  A scheduled firing that finds the job
    still running is skipped (the run in progress is doing that work) and
    logged.  A trigger (L{JobRunner.run_now}) during a run is coalesced: one
    follow-up run starts when the current one ends, however many triggers
    came, and every trigger's Deferred fires with that follow-up's record.
  - A run passes the first step L{None} and each next step the result of the
    one before (chaining).  When a step fails (or the attempt times out) the
    run retries I{that step}, with the same input, after C{retry_delay}, up
    to C{retries} times: steps already done (expire before finalize) are not
    redone.  Every attempt is recorded as its own row; a retry points at the
    attempt it retries.
  - C{timeout} bounds each attempt: the step in progress is cancelled and
    the attempt ends as C{"timeout"} (and is retried like a failure).  Work a
    step started outside its Deferred (a thread, a child process) is not
    stopped by the cancellation; such steps must honour cancellation.
  - A failing run is logged (C{log.failure}, with the traceback) and
    recorded; the schedule goes on.  A recorder failure (database down) is
    logged and ignored: jobs do not wait for their records.
  - C{stopService} cancels every timer and every wait before a retry, waits
    up to C{stop_timeout} seconds for attempts in progress, then cancels
    them (recorded as C{"interrupted"}), then waits for the records still
    being written within what is left of the same bound.
"""

import random as _random
from datetime import UTC, datetime

import attr
from twisted.application import service
from twisted.internet import defer, task
from twisted.logger import Logger

from fts.jobs.job import (
    API, CANCELLED, FAILURE, INTERRUPTED, MANUAL, RETRY, SCHEDULE, SUCCESS, TIMEOUT,
    JobStatus, RunRecord, step_name,
)
from fts.jobs.recording import MemoryRecorder

log = Logger()

_TRIGGERS = (MANUAL, API, SCHEDULE)
_ERROR_LIMIT = 2000
_SKIPPED = object()  # a recorder call not made (no run id to finish)


class UnknownJob(KeyError):
    """
    No job of that name is registered.
    """


class JobRunnerStopped(RuntimeError):
    """
    The runner is not running, so it starts nothing.
    """


class _InOrder:
    """
    Runs calls one after another: the next starts when the previous one's
    Deferred has fired, whatever its result.
    """

    def __init__(self):
        self._tail = defer.succeed(None)

    def run(self, function, *args):
        result = defer.Deferred()

        def go(_):
            d = defer.maybeDeferred(function, *args)
            d.addCallbacks(result.callback, result.errback)
            return d

        self._tail.addCallback(go)
        return result

    def idle(self):
        """
        A Deferred firing once everything queued so far has run.
        """
        return self.run(lambda: None)


@attr.s(slots=True)
class _Progress:
    """
    How far an attempt got: the index of the step to run next and its input.
    """

    index = attr.ib()
    input = attr.ib()


@attr.s(slots=True)
class _RunId:
    value = attr.ib(default=None)

    def set(self, value):
        self.value = value


@attr.s(slots=True)
class _FollowUp:
    triggered_by = attr.ib()
    waiters = attr.ib(factory=list)


@attr.s(slots=True, eq=False)
class _JobState:
    job = attr.ib()
    records = attr.ib(factory=_InOrder)
    timer = attr.ib(default=None)
    next_run_at = attr.ib(default=None)
    last_fired = attr.ib(default=None)
    running = attr.ib(default=False)
    run = attr.ib(default=None)          # Deferred of the run in progress
    attempt = attr.ib(default=None)      # Deferred of the attempt in progress
    retry_wait = attr.ib(default=None)   # Deferred of the wait before a retry
    timed_out = attr.ib(default=False)
    watchers = attr.ib(factory=list)     # Deferreds of run_now callers
    follow_up = attr.ib(default=None)
    last = attr.ib(default=None)
    removed = attr.ib(default=False)
    recording_failed = attr.ib(default=False)


def _error_text(failure, step):
    text = f"step {step} failed: {failure.type.__name__}: {failure.getErrorMessage()}"
    return text[:_ERROR_LIMIT]


class JobRunner(service.Service):
    """
    Runs L{fts.jobs.job.Job}s on C{clock}.

    @param clock: an L{IReactorTime} (the reactor, or a C{task.Clock}).
    @param recorder: an L{fts.jobs.recording.IRunRecorder}; default a
        L{MemoryRecorder}.
    @param random: a callable returning floats in C{[0, 1)}, for jitter.
    @param stop_timeout: seconds C{stopService} waits for runs in progress
        (and then for their records) before giving up on them.
    """

    name = "jobs"

    def __init__(self, clock, recorder=None, random=None, stop_timeout=30.0):
        self.clock = clock
        self.recorder = recorder if recorder is not None else MemoryRecorder()
        self.random = random if random is not None else _random.Random().random
        self.stop_timeout = stop_timeout
        self._jobs = {}
        self._removed_running = set()  # removed jobs whose run is not over
        self._stopping = False
        self._interrupting = False

    # -- registration -----------------------------------------------------

    def add(self, job):
        """
        Take charge of C{job}; if the runner is running, schedule it now.

        @raise ValueError: a job of that name is already registered.
        """
        if job.name in self._jobs:
            raise ValueError(f"a job named {job.name!r} is already registered")
        state = self._jobs[job.name] = _JobState(job)
        if self.running:
            self._begin(state)
        return job

    def remove(self, name):
        """
        Forget job C{name}: cancel its next firing and any follow-up.  A run
        in progress finishes (and C{stopService} still waits for it).

        @raise UnknownJob: no such job.
        """
        state = self._state(name)
        del self._jobs[name]
        state.removed = True
        if state.running:
            self._removed_running.add(state)
        self._cancel_timer(state)
        self._record(state, "recording that it has no next run",
                     self.recorder.next_run, name, None)

    def _state(self, name):
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJob(name) from None

    # -- service ----------------------------------------------------------

    def startService(self):
        service.Service.startService(self)
        self._stopping = self._interrupting = False
        for state in self._jobs.values():
            self._begin(state)
        log.info("job runner started with {count} job(s): {names}",
                 count=len(self._jobs), names=", ".join(self._jobs) or "none")

    def _begin(self, state):
        job = state.job
        self._record(state, "registering the job", self.recorder.job_added,
                     job.name, job.describe_schedule())
        self._schedule(state, state.last_fired)

    def stopService(self):
        service.Service.stopService(self)
        self._stopping = True
        states = list(self._jobs.values()) + list(self._removed_running)
        for state in states:
            self._cancel_timer(state)
            self._record(state, "recording that it has no next run",
                         self.recorder.next_run, state.job.name, None)
            if state.retry_wait is not None:
                state.retry_wait.cancel()
        d = self._wait_for_runs(states)
        d.addErrback(lambda f: log.failure("stopping the job runner", f))
        return d

    @defer.inlineCallbacks
    def _wait_for_runs(self, states):
        deadline = self.clock.seconds() + self.stop_timeout
        runs = [state.run for state in states if state.running]
        if runs:
            names = ", ".join(s.job.name for s in states if s.running)
            log.info("waiting up to {timeout:g}s for job run(s) in progress: {names}",
                     timeout=self.stop_timeout, names=names)
            finished = yield self._within(
                defer.DeferredList(runs, consumeErrors=True), self.stop_timeout)
            if not finished:
                log.warn("job run(s) still going after {timeout:g}s; interrupting them",
                         timeout=self.stop_timeout)
                self._interrupting = True
                for state in states:
                    if state.attempt is not None:
                        state.attempt.cancel()
                yield defer.DeferredList(runs, consumeErrors=True)
        records = defer.DeferredList([state.records.idle() for state in states],
                                     consumeErrors=True)
        written = yield self._within(records, max(0.0, deadline - self.clock.seconds()))
        if not written:
            log.warn("job run records are still being written after {timeout:g}s;"
                     " stopping without them", timeout=self.stop_timeout)
        log.info("job runner stopped")

    def _within(self, d, seconds):
        """
        A Deferred firing with True when C{d} fires, or with False after
        C{seconds} if it has not (C{d} is left alone).
        """
        outcome = defer.Deferred()

        def time_up():
            if not outcome.called:
                outcome.callback(False)

        timer = self.clock.callLater(seconds, time_up)

        def fired(result):
            if timer.active():
                timer.cancel()
            if not outcome.called:
                outcome.callback(True)
            return result

        d.addBoth(fired)
        return outcome

    # -- scheduling -------------------------------------------------------

    def _now(self):
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    def _cancel_timer(self, state):
        if state.timer is not None and state.timer.active():
            state.timer.cancel()
        state.timer = None
        state.next_run_at = None

    def _schedule(self, state, previous):
        job, now, at = state.job, self._now(), None
        if job.schedule is not None:
            try:
                at = job.schedule.next_run(now, previous, self.random())
                delay = max(0.0, (at - now).total_seconds()) if at is not None else None
            except Exception:
                at = None
                log.failure("computing the next run of job {job}; it will not run"
                            " on its schedule until the daemon restarts (run now still"
                            " works)", job=job.name)
        state.next_run_at = at
        if at is not None:
            state.timer = self.clock.callLater(delay, self._due, state, at)
        self._record(state, "recording the next run", self.recorder.next_run,
                     job.name, at)

    def _due(self, state, at):
        state.timer = None
        state.last_fired = at
        self._schedule(state, at)
        if state.running:
            log.info("job {job} is due but its previous run is still going;"
                     " skipping this firing (next at {next})",
                     job=state.job.name, next=state.next_run_at)
            return
        self._start(state, SCHEDULE, [])

    # -- triggering -------------------------------------------------------

    def run_now(self, name, triggered_by=MANUAL):
        """
        Run job C{name} now, or, if it is running, once more right after.

        @param triggered_by: C{"manual"} (the panel) or C{"api"}.
        @return: a Deferred firing with the L{RunRecord} of the run this
            trigger caused (it never fails for a run that fails: see the
            record's C{outcome}); it fails with L{UnknownJob} or
            L{JobRunnerStopped}.
        """
        if triggered_by not in _TRIGGERS:
            raise ValueError(f"triggered_by must be one of {_TRIGGERS}, not {triggered_by!r}")
        if not self.running or self._stopping:
            return defer.fail(JobRunnerStopped(
                f"the job runner is stopped; job {name!r} was not run"))
        try:
            state = self._state(name)
        except UnknownJob as e:
            return defer.fail(e)
        waiter = defer.Deferred()
        if not state.running:
            self._start(state, triggered_by, [waiter])
        else:
            if state.follow_up is None:
                state.follow_up = _FollowUp(triggered_by)
                log.info("job {job} is running; it will run again when this run ends",
                         job=name)
            state.follow_up.waiters.append(waiter)
        return waiter

    def status(self):
        """
        Every job, in the order added, as L{JobStatus} values.
        """
        return [
            JobStatus(name=state.job.name, description=state.job.description,
                      schedule=state.job.describe_schedule(), running=state.running,
                      next_run_at=state.next_run_at,
                      follow_up=state.follow_up is not None, last_run=state.last)
            for state in self._jobs.values()
        ]

    # -- running ----------------------------------------------------------

    def _start(self, state, triggered_by, watchers):
        state.running = True
        state.watchers = watchers
        state.run = d = self._execute(state, triggered_by)
        d.addCallback(self._ended, state)
        d.addErrback(lambda f: log.failure("job {job}: the runner failed", f,
                                           job=state.job.name))

    def _ended(self, record, state):
        self._removed_running.discard(state)
        state.running = False
        state.run = None
        state.last = record
        notices = [(waiter, record) for waiter in state.watchers]
        state.watchers = []
        follow_up, state.follow_up = state.follow_up, None
        # Start the follow-up before telling anyone, so a caller reacting to
        # this record with run_now() joins a run instead of overlapping it.
        if follow_up is not None:
            if self._stopping or state.removed:
                cancelled = RunRecord(
                    job=state.job.name, triggered_by=follow_up.triggered_by,
                    outcome=CANCELLED, started_at=None, finished_at=None, attempts=0,
                    error="the job runner stopped (or the job was removed)"
                          " before this run began")
                notices += [(waiter, cancelled) for waiter in follow_up.waiters]
            else:
                self._start(state, follow_up.triggered_by, follow_up.waiters)
        for waiter, result in notices:
            waiter.callback(result)

    @defer.inlineCallbacks
    def _execute(self, state, triggered_by):
        job = state.job
        progress = _Progress(0, None)
        attempt, parent, started_at = 0, None, None
        while True:
            attempt += 1
            at = self._now()
            started_at = started_at or at
            run_id = _RunId()
            trigger = triggered_by if attempt == 1 else RETRY
            log.debug("job {job} attempt {attempt} starting ({trigger})",
                      job=job.name, attempt=attempt, trigger=trigger)
            self._record_start(state, run_id, attempt, at, trigger, parent)
            outcome, error, result, failure = yield self._attempt(state, progress)
            finished_at = self._now()
            self._record_finish(state, run_id, outcome, error, result, finished_at)
            if outcome == SUCCESS:
                log.info("job {job} succeeded in {seconds:.3f}s (attempt {attempt})",
                         job=job.name, attempt=attempt,
                         seconds=(finished_at - started_at).total_seconds())
                break
            step = step_name(job.steps[progress.index])
            retrying = (outcome in (FAILURE, TIMEOUT) and attempt <= job.retries
                        and not self._stopping)
            if retrying:
                then = (f"retrying that step in {job.retry_delay:g}s"
                        f" (attempt {attempt + 1} of {job.retries + 1})")
            elif self._stopping:
                then = "not retrying: the job runner is stopping"
            elif state.next_run_at is not None:
                then = f"giving up; next run at {state.next_run_at.isoformat()}"
            else:
                then = "giving up; no next run is scheduled"
            if failure is not None:
                log.failure("job {job} attempt {attempt} failed in step {step}; {then}",
                            failure, job=job.name, attempt=attempt, step=step, then=then)
            else:
                log.warn("job {job} attempt {attempt}: {error}; {then}",
                         job=job.name, attempt=attempt, error=error, then=then)
            if not retrying:
                break
            state.retry_wait = task.deferLater(self.clock, job.retry_delay, lambda: None)
            try:
                yield state.retry_wait
            except defer.CancelledError:
                log.info("job {job}: not retrying, the runner is stopping", job=job.name)
                break
            finally:
                state.retry_wait = None
            parent = run_id
        return RunRecord(job=job.name, triggered_by=triggered_by, outcome=outcome,
                         started_at=started_at, finished_at=finished_at,
                         attempts=attempt, error=error, result=result)

    def _attempt(self, state, progress):
        """
        Run the steps from C{progress} on, under the job's timeout.

        @return: a Deferred firing with C{(outcome, error, result, failure)};
            it never fails.
        """
        job = state.job
        state.timed_out = False
        steps = state.attempt = self._run_steps(job, progress)
        timer = None
        if job.timeout is not None and not steps.called:
            def expire():
                state.timed_out = True
                steps.cancel()
            timer = self.clock.callLater(job.timeout, expire)

        def succeeded(value):
            return (SUCCESS, None, value, None)

        def failed(failure):
            step = step_name(job.steps[progress.index])
            if state.timed_out:
                return (TIMEOUT, f"timed out after {job.timeout:g}s in step {step}",
                        None, None)
            if self._interrupting:
                return (INTERRUPTED, f"the daemon stopped during step {step}", None, None)
            return (FAILURE, _error_text(failure, step), None, failure)

        def settled(outcome):
            if timer is not None and timer.active():
                timer.cancel()
            state.attempt = None
            return outcome

        return steps.addCallbacks(succeeded, failed).addCallback(settled)

    @defer.inlineCallbacks
    def _run_steps(self, job, progress):
        while progress.index < len(job.steps):
            output = yield defer.maybeDeferred(job.steps[progress.index], progress.input)
            progress.index += 1
            progress.input = output
        return progress.input

    # -- recording --------------------------------------------------------

    def _record(self, state, what, method, *args):
        """
        Queue a recorder call.  While the recorder keeps failing (the
        database is down) only the first failure is logged with its
        traceback, the next ones at debug level, and a recovery once.
        """
        def recorded(result):
            if state.recording_failed and result is not _SKIPPED:
                state.recording_failed = False
                log.info("recording job {job} works again", job=state.job.name)
            return result

        def failed(failure):
            if state.recording_failed:
                log.debug("{what} for job {job} failed again: {error}", what=what,
                          job=state.job.name, error=failure.getErrorMessage())
                return
            state.recording_failed = True
            log.failure("{what} for job {job} failed; the job keeps running on its"
                        " schedule, its runs are not recorded until this works again",
                        failure, what=what, job=state.job.name)

        return state.records.run(method, *args).addCallbacks(recorded, failed)

    def _record_start(self, state, run_id, attempt, at, trigger, parent):
        def start():
            parent_id = parent.value if parent is not None else None
            d = defer.maybeDeferred(self.recorder.run_started, state.job.name,
                                    attempt, at, trigger, parent_id)
            return d.addCallback(run_id.set)

        self._record(state, "recording the start of a run", start)

    def _record_finish(self, state, run_id, outcome, error, result, at):
        def finish():
            if run_id.value is None:  # its start was not recorded (logged then)
                return _SKIPPED
            return self.recorder.run_finished(run_id.value, outcome, error, result, at)

        self._record(state, "recording the end of a run", finish)
