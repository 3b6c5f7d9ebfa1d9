"""
Where the runner writes down what it does: the recorder interface and its
two implementations.

The runner calls a recorder for every job it adds, every attempt it starts
and finishes, and every next firing it schedules.  L{MemoryRecorder} keeps
all of it in lists (tests, and a daemon without a database);
L{DatabaseRecorder} writes C{job_runs} and C{job_state} rows through
L{fts.db.jobs.JobStore}, where the panel reads them.

Any method may return a value or a Deferred, and may fail: the runner logs a
recorder failure and carries on (a database outage never stops a job's
schedule).  The runner calls one job's recorder methods one after another,
never concurrently, so a run's start is written before its end.
"""

import attr
from zope.interface import Interface, implementer


class IRunRecorder(Interface):
    """
    What L{fts.jobs.runner.JobRunner} tells about its jobs.
    """

    def job_added(name, schedule):
        """
        The runner took charge of job C{name}, whose schedule reads
        C{schedule} (text, e.g. C{"every 60s ±10s"}).  Any earlier run of it
        still marked running was interrupted (this runner is the only one).
        """

    def run_started(name, attempt, at, triggered_by, parent_run_id):
        """
        An attempt of job C{name} began at C{at} (aware datetime).

        @param attempt: 1 for a run's first attempt, then 2, 3, … for retries.
        @param triggered_by: C{"schedule"}, C{"manual"}, C{"api"} or
            C{"retry"}.
        @param parent_run_id: for a retry, the id of the failed attempt.
        @return: an id for this attempt (or a Deferred firing with it).
        """

    def run_finished(run_id, outcome, error, result, at):
        """
        The attempt C{run_id} ended at C{at} with C{outcome} (C{"success"},
        C{"failure"}, C{"timeout"}, C{"interrupted"}); C{error} is text or
        L{None}; C{result} the last step's result on success, else L{None}.
        """

    def next_run(name, at):
        """
        Job C{name} next fires at C{at} (aware datetime), or never (L{None}).
        """


@attr.s(slots=True)
class RecordedRun:
    """
    One attempt as L{MemoryRecorder} holds it (mutable until it finishes).
    """

    id = attr.ib()
    job = attr.ib()
    attempt = attr.ib()
    triggered_by = attr.ib()
    parent_run_id = attr.ib()
    started_at = attr.ib()
    finished_at = attr.ib(default=None)
    outcome = attr.ib(default="running")
    error = attr.ib(default=None)
    result = attr.ib(default=None)


@implementer(IRunRecorder)
class MemoryRecorder:
    """
    Keeps every record in memory.

    @ivar runs: L{RecordedRun}s, oldest first.
    @ivar schedules: job name -> schedule text.
    @ivar next_runs: job name -> next firing (or L{None}).
    """

    def __init__(self):
        self.runs = []
        self.schedules = {}
        self.next_runs = {}

    def job_added(self, name, schedule):
        self.schedules[name] = schedule
        for run in self.runs:
            if run.job == name and run.outcome == "running":
                run.outcome = "interrupted"

    def run_started(self, name, attempt, at, triggered_by, parent_run_id):
        run = RecordedRun(len(self.runs) + 1, name, attempt, triggered_by,
                          parent_run_id, at)
        self.runs.append(run)
        return run.id

    def run_finished(self, run_id, outcome, error, result, at):
        run = self.runs[run_id - 1]
        run.outcome, run.error, run.result, run.finished_at = outcome, error, result, at

    def next_run(self, name, at):
        self.next_runs[name] = at

    def runs_of(self, name):
        """
        The recorded attempts of job C{name}, oldest first.
        """
        return [run for run in self.runs if run.job == name]


@implementer(IRunRecorder)
class DatabaseRecorder:
    """
    Records into PostgreSQL through a L{fts.db.jobs.JobStore}.

    @ivar instance_id: written to C{job_runs.instance_id} (the daemon's id in
        C{dialer_instances}), or L{None}.
    """

    def __init__(self, store, instance_id=None):
        self.store = store
        self.instance_id = instance_id

    def job_added(self, name, schedule):
        return self.store.register(name, schedule)

    def run_started(self, name, attempt, at, triggered_by, parent_run_id):
        return self.store.run_started(name, attempt, at, triggered_by,
                                      parent_run_id=parent_run_id,
                                      instance_id=self.instance_id)

    def run_finished(self, run_id, outcome, error, result, at):
        return self.store.run_finished(run_id, outcome, error, result, at)

    def next_run(self, name, at):
        return self.store.next_run(name, at)
