"""
Tests for L{fts.db.jobs.JobStore} and the runner recording through it into a
real PostgreSQL.
"""

from datetime import UTC, datetime, timedelta

from twisted.internet import defer, task

from fts.db.jobs import JobStore
from fts.jobs.job import Job
from fts.jobs.recording import DatabaseRecorder
from fts.jobs.runner import JobRunner
from fts.jobs.schedule import Interval
from tests.support.db import DatabaseTestCase

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Boom(Exception):
    """What failing steps raise."""


class JobStoreTests(DatabaseTestCase):

    def setUp(self):
        d = super().setUp()
        d.addCallback(lambda _: setattr(self, "jobs", JobStore(self.pool)))
        return d

    @defer.inlineCallbacks
    def test_run_recorded_and_readable(self):
        """A started then finished attempt shows as the job's last run, with duration and result."""
        yield self.jobs.register("sweep", "every 60s")
        run_id = yield self.jobs.run_started("sweep", 1, AT, "schedule", instance_id="a1")
        state = yield self.jobs.state("sweep")
        self.assertTrue(state.running)
        self.assertIsNone(state.last_outcome)
        yield self.jobs.run_finished(run_id, "success", None, {"expired": [3, 4]},
                                     AT + timedelta(seconds=2.5))
        yield self.jobs.next_run("sweep", AT + timedelta(seconds=60))
        state = yield self.jobs.state("sweep")
        self.assertEqual(
            (state.schedule, state.last_run_id, state.last_run_at, state.last_outcome,
             state.last_finished_at, state.last_duration_ms, state.next_run_at,
             state.running, state.enabled),
            ("every 60s", run_id, AT, "success", AT + timedelta(seconds=2.5), 2500,
             AT + timedelta(seconds=60), False, True))
        [run] = yield self.jobs.runs("sweep")
        self.assertEqual((run.outcome, run.result, run.instance_id, run.attempt),
                         ("success", {"expired": [3, 4]}, "a1", 1))

    @defer.inlineCallbacks
    def test_failure_error_kept(self):
        """A failed attempt keeps its error text for the panel."""
        run_id = yield self.jobs.run_started("notify", 1, AT, "manual")
        yield self.jobs.run_finished(run_id, "failure", "step send failed: SMTPError: 451",
                                     None, AT + timedelta(seconds=1))
        state = yield self.jobs.state("notify")
        self.assertEqual((state.last_outcome, state.last_error),
                         ("failure", "step send failed: SMTPError: 451"))

    @defer.inlineCallbacks
    def test_register_interrupts_stale_runs(self):
        """Registering a job marks its attempts left running (a crash) as interrupted."""
        stale = yield self.jobs.run_started("backup", 1, AT, "schedule")
        other = yield self.jobs.run_started("sweep", 1, AT, "schedule")
        marked = yield self.jobs.register("backup", "daily at 03:00 UTC")
        self.assertEqual(marked, 1)
        runs = {r.id: r for r in (yield self.jobs.runs())}
        self.assertEqual(runs[stale].outcome, "interrupted")
        self.assertIsNotNone(runs[stale].finished_at)
        self.assertEqual(runs[other].outcome, "running")

    @defer.inlineCallbacks
    def test_late_finish_does_not_reopen(self):
        """Finishing an attempt already marked interrupted changes nothing."""
        run_id = yield self.jobs.run_started("backup", 1, AT, "schedule")
        yield self.jobs.register("backup", "manual")
        yield self.jobs.run_finished(run_id, "success", None, None, AT)
        [run] = yield self.jobs.runs("backup")
        self.assertEqual(run.outcome, "interrupted")

    @defer.inlineCallbacks
    def test_odd_results_stored(self):
        """Results JSON cannot hold are stored as text; huge ones as a summary."""
        first = yield self.jobs.run_started("j", 1, AT, "manual")
        yield self.jobs.run_finished(first, "success", None, {"at": AT}, AT)
        second = yield self.jobs.run_started("j", 1, AT, "manual")
        yield self.jobs.run_finished(second, "success", None, "x" * 50_000, AT)
        latest, earlier = yield self.jobs.runs("j")
        self.assertEqual(earlier.result, {"at": str(AT)})
        self.assertTrue(latest.result["truncated"])

    @defer.inlineCallbacks
    def test_states_listed_by_name(self):
        """Every job with state is listed, by name."""
        yield self.jobs.next_run("sweep", AT)
        yield self.jobs.register("backup", "daily at 03:00 UTC")
        names = [s.name for s in (yield self.jobs.states())]
        self.assertEqual(names, ["backup", "sweep"])


class RunnerRecordsTests(DatabaseTestCase):

    @defer.inlineCallbacks
    def test_runner_records_into_database(self):
        """A run that fails once then succeeds leaves two chained rows and the job's last/next run."""
        clock = task.Clock()
        clock.advance(AT.timestamp())
        jobs = JobStore(self.pool)
        runner = JobRunner(clock, DatabaseRecorder(jobs, instance_id="test"),
                           random=lambda: 0.5)
        results = [Boom("first try"), "done"]

        def step(_):
            result = results.pop(0)
            if isinstance(result, Exception):
                raise result
            return result

        runner.add(Job("sweep", [step], schedule=Interval(60), retries=1, retry_delay=5))
        runner.startService()
        clock.advance(60)
        clock.advance(5)
        yield runner.stopService()   # waits for the records to be written
        self.flushLoggedErrors(Boom)
        retry, first = yield jobs.runs("sweep")
        self.assertEqual((first.outcome, first.triggered_by, first.attempt),
                         ("failure", "schedule", 1))
        self.assertIn("Boom: first try", first.error)
        self.assertEqual((retry.outcome, retry.triggered_by, retry.attempt,
                          retry.parent_run_id, retry.result),
                         ("success", "retry", 2, first.id, "done"))
        self.assertEqual(retry.started_at, AT + timedelta(seconds=65))
        state = yield jobs.state("sweep")
        self.assertEqual((state.last_outcome, state.last_run_id, state.schedule),
                         ("success", retry.id, "every 60s"))
        # Stopped: no next run.
        self.assertIsNone(state.next_run_at)
