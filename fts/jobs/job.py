"""
What a job is and what the runner says about it: plain values, no behaviour.

A L{Job} is a name, a chain of steps, a schedule and a failure policy.  The
runner (L{fts.jobs.runner.JobRunner}) reports each finished run as a
L{RunRecord} and each job's state as a L{JobStatus}.
"""

import attr

#: Outcomes of a run, as stored in C{job_runs.outcome}.
SUCCESS = "success"
FAILURE = "failure"
TIMEOUT = "timeout"
INTERRUPTED = "interrupted"
CANCELLED = "cancelled"

#: Why a run began, as stored in C{job_runs.triggered_by}.
SCHEDULE = "schedule"
MANUAL = "manual"
API = "api"
RETRY = "retry"


def _steps(value):
    steps = tuple(value)
    if not steps:
        raise ValueError("a job needs at least one step")
    for step in steps:
        if not callable(step):
            raise ValueError(f"job step {step!r} is not callable")
    return steps


def _name(instance, attribute, value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a job name must be a non-empty string, not {value!r}")


def _optional_positive(instance, attribute, value):
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be more than 0 seconds or None,"
                         f" not {value!r}")


def _not_negative(instance, attribute, value):
    if value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, not {value!r}")


def step_name(step):
    """
    How logs and errors name a step: its qualified function name (a bound
    method reads C{Sweeper.expire}, a callable object its class name).
    """
    inner = getattr(step, "func", step)  # functools.partial
    return getattr(inner, "__qualname__", None) or type(inner).__qualname__


@attr.s(frozen=True, slots=True)
class Job:
    """
    A named piece of periodic or deferred work.

    @ivar name: unique within a runner; also the C{job_runs.job_name}.
    @ivar steps: callables C{step(input) -> value or Deferred}, run in order;
        the first gets L{None}, each next one the result of the one before
        (chaining), and the last one's result is the run's result.
    @ivar schedule: an L{fts.jobs.schedule.Interval}, C{DailyAt} or C{Once}
        (anything with C{next_run(now, previous, random_value)} and
        C{describe()}), or L{None} for a job that only runs when triggered.
    @ivar timeout: seconds one attempt may take (its steps from where the
        attempt began to the end); then the step in progress is cancelled and
        the attempt ends as C{"timeout"}.  L{None}: no limit.
    @ivar retries: how many times a failed or timed-out attempt is retried
        (so at most C{retries + 1} attempts per run).
    @ivar retry_delay: seconds between a failed attempt and its retry.
    @ivar description: one line for the panel.
    """

    name = attr.ib(validator=_name)
    steps = attr.ib(converter=_steps)
    schedule = attr.ib(default=None)
    timeout = attr.ib(default=600.0, validator=_optional_positive)
    retries = attr.ib(default=0, validator=_not_negative)
    retry_delay = attr.ib(default=0.0, validator=_not_negative)
    description = attr.ib(default="")

    def describe_schedule(self):
        """
        The schedule as text (C{job_state.schedule}); C{"manual"} for none.
        """
        return self.schedule.describe() if self.schedule is not None else "manual"


@attr.s(frozen=True, slots=True)
class RunRecord:
    """
    One finished run of a job (all its attempts).

    @ivar outcome: that of the last attempt: L{SUCCESS}, L{FAILURE},
        L{TIMEOUT}, L{INTERRUPTED} (the runner stopped during it) or
        L{CANCELLED} (it never began: the runner stopped first).
    @ivar started_at: start of the first attempt (aware, UTC), or L{None} if
        cancelled before it began; C{finished_at} likewise.
    @ivar attempts: how many attempts ran (0 if cancelled).
    @ivar error: text of the last attempt's error, or L{None}.
    @ivar result: the last step's result on success, else L{None}.
    """

    job = attr.ib()
    triggered_by = attr.ib()
    outcome = attr.ib()
    started_at = attr.ib()
    finished_at = attr.ib()
    attempts = attr.ib()
    error = attr.ib(default=None)
    result = attr.ib(default=None)


@attr.s(frozen=True, slots=True)
class JobStatus:
    """
    One job as the panel shows it, from the runner's memory.

    @ivar running: a run is in progress (including a wait before a retry).
    @ivar next_run_at: the next scheduled firing (aware, UTC), or L{None}.
    @ivar follow_up: a triggered run is waiting for the one in progress.
    @ivar last_run: the last finished L{RunRecord}, or L{None}.
    """

    name = attr.ib()
    description = attr.ib()
    schedule = attr.ib()
    running = attr.ib()
    next_run_at = attr.ib()
    follow_up = attr.ib()
    last_run = attr.ib()
