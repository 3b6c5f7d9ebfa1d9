"""
Tests for L{fts.jobs.runner.JobRunner}, driven by a C{task.Clock} only.
"""

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from twisted.internet import defer, task
from twisted.trial import unittest

from fts.db.jobs import JobStore
from fts.db.pool import DatabaseUnavailable, Pool
from fts.jobs.job import Job
from fts.jobs.recording import DatabaseRecorder, MemoryRecorder
from fts.jobs.runner import JobRunner, JobRunnerStopped, UnknownJob
from fts.jobs.schedule import DailyAt, Interval, Once

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Boom(Exception):
    """What failing steps raise."""


class Calls:
    """
    A step that notes when it ran and with what input, and returns a value
    (or raises, or returns a Deferred the test fires).
    """

    def __init__(self, clock, results=None):
        self.clock = clock
        self.calls = []
        self.results = list(results or [])
        self.pending = []

    def __call__(self, value):
        self.calls.append((self.clock.seconds(), value))
        result = self.results.pop(0) if self.results else "done"
        if isinstance(result, Exception):
            raise result
        if result is defer.Deferred:
            d = defer.Deferred(lambda d: self.cancelled.append(d))
            self.pending.append(d)
            return d
        return result

    cancelled = None

    def times(self):
        return [at - self.clock.start for at, _ in self.calls]


class RunnerTestCase(unittest.SynchronousTestCase):
    """
    A runner on a clock set to L{START}, recording in memory.
    """

    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START.timestamp())
        self.clock.start = self.clock.seconds()
        self.recorder = MemoryRecorder()
        self.runner = JobRunner(self.clock, self.recorder, random=lambda: 0.5,
                                stop_timeout=30)

    def step(self, results=None):
        step = Calls(self.clock, results)
        step.cancelled = []
        return step

    def start(self, *jobs):
        for job in jobs:
            self.runner.add(job)
        self.runner.startService()

    def stop(self):
        return self.runner.stopService()

    def run_for(self, seconds):
        """
        Advance the clock by C{seconds}, stopping at each delayed call on the
        way so each runs at its own time.
        """
        target = self.clock.seconds() + seconds
        while True:
            due = [c.getTime() for c in self.clock.getDelayedCalls()
                   if c.getTime() <= target]
            if not due:
                break
            self.clock.advance(max(0.0, min(due) - self.clock.seconds()))
        self.clock.advance(target - self.clock.seconds())

    def status(self, name):
        [status] = [s for s in self.runner.status() if s.name == name]
        return status


class IntervalTests(RunnerTestCase):

    def test_runs_every_interval(self):
        """An interval job runs once per interval, first one interval after start."""
        step = self.step()
        self.start(Job("sweep", [step], schedule=Interval(60)))
        self.clock.advance(59)
        self.assertEqual(step.calls, [])
        for _ in range(3):
            self.clock.advance(1)
            self.clock.advance(59)
        self.assertEqual(step.times(), [60, 120, 180])

    def test_next_run_visible(self):
        """The next run is in the status and told to the recorder."""
        self.start(Job("sweep", [self.step()], schedule=Interval(60)))
        expected = START + timedelta(seconds=60)
        self.assertEqual(self.status("sweep").next_run_at, expected)
        self.assertEqual(self.recorder.next_runs["sweep"], expected)
        self.assertEqual(self.recorder.schedules["sweep"], "every 60s")
        self.clock.advance(60)
        self.assertEqual(self.status("sweep").next_run_at, expected + timedelta(seconds=60))

    def test_jitter_stays_within_bounds(self):
        """With jitter, gaps vary but always stay within every ± jitter."""
        self.runner.random = random.Random(7).random
        step = self.step()
        self.start(Job("sweep", [step], schedule=Interval(60, jitter=15)))
        self.run_for(300 * 60)
        times = [0.0] + step.times()
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreater(len(gaps), 250)
        self.assertGreaterEqual(min(gaps), 45 - 1e-6)
        self.assertLess(max(gaps), 75 + 1e-6)
        # Spread over the whole range, not stuck at one value.
        self.assertLess(min(gaps), 47)
        self.assertGreater(max(gaps), 73)

    def test_jitter_exact_times(self):
        """The firing time is exactly every + jitter * (2r - 1) after the previous."""
        values = iter([0.0, 0.75, 0.25])
        self.runner.random = lambda: next(values, 0.5)
        step = self.step()
        self.start(Job("sweep", [step], schedule=Interval(60, jitter=20)))
        self.clock.pump([40, 70, 50])
        self.assertEqual(step.times(), [40, 110, 160])

    def test_at_start(self):
        """An C{at_start} interval job runs as soon as the runner starts."""
        step = self.step()
        self.start(Job("sweep", [step], schedule=Interval(60, at_start=True)))
        self.clock.advance(0)
        self.assertEqual(step.times(), [0])
        self.clock.advance(60)
        self.assertEqual(step.times(), [0, 60])

    def test_added_while_running(self):
        """A job added to a running runner is scheduled at once."""
        self.start()
        step = self.step()
        self.runner.add(Job("late", [step], schedule=Interval(10)))
        self.clock.advance(10)
        self.assertEqual(step.times(), [10])

    def test_duplicate_name(self):
        """Two jobs cannot share a name."""
        self.runner.add(Job("sweep", [self.step()]))
        self.assertRaises(ValueError, self.runner.add, Job("sweep", [self.step()]))

    def test_remove(self):
        """A removed job does not run again and has no next run."""
        step = self.step()
        self.start(Job("sweep", [step], schedule=Interval(10)))
        self.clock.advance(10)
        self.runner.remove("sweep")
        self.clock.advance(100)
        self.assertEqual(step.times(), [10])
        self.assertIsNone(self.recorder.next_runs["sweep"])
        self.assertRaises(UnknownJob, self.runner.remove, "sweep")


class TimeOfDayTests(RunnerTestCase):

    def test_daily_across_spring_forward(self):
        """A 02:30 New York job runs at 02:30 EST, 03:00 EDT on the DST day, then 02:30 EDT."""
        self.clock.advance((datetime(2026, 3, 6, 12, tzinfo=UTC) - START).total_seconds())
        step = self.step()
        self.start(Job("backup", [step],
                       schedule=DailyAt(time(2, 30), "America/New_York")))
        self.run_for(3 * 86400)
        ran = [datetime.fromtimestamp(at, UTC) for at, _ in step.calls]
        self.assertEqual(ran, [datetime(2026, 3, 7, 7, 30, tzinfo=UTC),
                               datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
                               datetime(2026, 3, 9, 6, 30, tzinfo=UTC)])
        local = [t.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M %Z")
                 for t in ran]
        self.assertEqual(local, ["02:30 EST", "03:00 EDT", "02:30 EDT"])

    def test_once(self):
        """A one-off runs at its time and then has no next run."""
        step = self.step()
        self.start(Job("start-campaign", [step],
                       schedule=Once(START + timedelta(minutes=5))))
        self.run_for(86400)
        self.assertEqual(step.times(), [300])
        self.assertIsNone(self.status("start-campaign").next_run_at)
        self.assertIsNone(self.recorder.next_runs["start-campaign"])

    def test_past_once_runs_at_start(self):
        """A one-off whose time passed while the daemon was down runs at start."""
        step = self.step()
        self.start(Job("start-campaign", [step],
                       schedule=Once(START - timedelta(hours=1))))
        self.clock.advance(0)
        self.assertEqual(step.times(), [0])

    def test_once_not_repeated_after_restart(self):
        """Restarting the runner does not run a one-off a second time."""
        step = self.step()
        self.start(Job("start-campaign", [step], schedule=Once(START)))
        self.clock.advance(0)
        self.successResultOf(self.stop())
        self.runner.startService()
        self.clock.advance(100)
        self.assertEqual(step.times(), [0])


class RetryTests(RunnerTestCase):

    def test_retries_and_delays_recorded(self):
        """Attempts run at 0, 10, 20 s; the run succeeds on the third; rows chain by parent."""
        step = self.step([Boom("one"), Boom("two"), "ok"])
        self.start(Job("notify", [step], retries=3, retry_delay=10))
        d = self.runner.run_now("notify")
        self.assertNoResult(d)
        self.clock.advance(10)
        self.assertNoResult(d)
        self.clock.advance(10)
        record = self.successResultOf(d)
        self.assertEqual(step.times(), [0, 10, 20])
        self.assertEqual((record.outcome, record.attempts, record.result),
                         ("success", 3, "ok"))
        self.assertEqual(record.started_at, START)
        self.assertEqual(record.finished_at, START + timedelta(seconds=20))
        rows = self.recorder.runs_of("notify")
        self.assertEqual([(r.attempt, r.triggered_by, r.outcome) for r in rows],
                         [(1, "manual", "failure"), (2, "retry", "failure"),
                          (3, "retry", "success")])
        self.assertEqual([r.parent_run_id for r in rows], [None, rows[0].id, rows[1].id])
        self.assertIn("Boom: one", rows[0].error)
        self.assertEqual(len(self.flushLoggedErrors(Boom)), 2)

    def test_max_retries_then_failure(self):
        """After C{retries} retries the run ends as a failure with the last error."""
        step = self.step([Boom("1"), Boom("2"), Boom("3"), "never"])
        self.start(Job("notify", [step], retries=2, retry_delay=5))
        d = self.runner.run_now("notify")
        self.clock.advance(5)
        self.clock.advance(5)
        record = self.successResultOf(d)
        self.assertEqual((record.outcome, record.attempts), ("failure", 3))
        self.assertIn("Boom: 3", record.error)
        self.clock.advance(1000)
        self.assertEqual(len(step.calls), 3)
        self.assertEqual(self.status("notify").last_run, record)
        self.assertEqual(len(self.flushLoggedErrors(Boom)), 3)

    def test_retry_resumes_at_failed_step(self):
        """A retry reruns only the failed step, with the input it had; earlier steps are not redone."""
        first = self.step(["expired"])
        second = self.step([Boom("busy"), "finalized"])
        third = self.step(["sent"])
        self.start(Job("finalize", [first, second, third], retries=1, retry_delay=1))
        d = self.runner.run_now("finalize")
        self.clock.advance(1)
        record = self.successResultOf(d)
        self.assertEqual(len(first.calls), 1)
        self.assertEqual([v for _, v in second.calls], ["expired", "expired"])
        self.assertEqual([v for _, v in third.calls], ["finalized"])
        self.assertEqual(record.result, "sent")
        self.flushLoggedErrors(Boom)

    def test_failing_deferred_is_a_failure(self):
        """A step whose Deferred fails counts like one that raises."""
        self.start(Job("j", [lambda _: defer.fail(Boom("async"))]))
        record = self.successResultOf(self.runner.run_now("j"))
        self.assertEqual(record.outcome, "failure")
        self.assertIn("Boom: async", record.error)
        self.flushLoggedErrors(Boom)


class ChainingTests(RunnerTestCase):

    def test_results_feed_next_step(self):
        """Each step gets the previous one's result; the run's result is the last one's."""
        self.start(Job("chain", [lambda _: 1, lambda x: defer.succeed(x + 1),
                                 lambda x: x * 10]))
        record = self.successResultOf(self.runner.run_now("chain"))
        self.assertEqual(record.result, 20)

    def test_first_step_gets_none(self):
        """The first step's input is None."""
        step = self.step()
        self.start(Job("chain", [step]))
        self.runner.run_now("chain")
        self.assertEqual(step.calls, [(self.clock.start, None)])

    def test_failed_step_stops_chain(self):
        """Steps after a failed one do not run."""
        after = self.step()
        self.start(Job("chain", [self.step([Boom("no")]), after]))
        self.successResultOf(self.runner.run_now("chain"))
        self.assertEqual(after.calls, [])
        self.flushLoggedErrors(Boom)


class ScheduleSurvivesTests(RunnerTestCase):

    def test_failing_run_does_not_stop_schedule(self):
        """A job that fails every time still runs at every interval."""
        step = self.step([Boom(str(i)) for i in range(5)])
        self.start(Job("sweep", [step], schedule=Interval(60)))
        self.clock.pump([60] * 5)
        self.assertEqual(step.times(), [60, 120, 180, 240, 300])
        self.assertEqual([r.outcome for r in self.recorder.runs],
                         ["failure"] * 5)
        self.assertEqual(self.status("sweep").next_run_at, START + timedelta(seconds=360))
        self.assertEqual(len(self.flushLoggedErrors(Boom)), 5)

    def test_recorder_failure_does_not_stop_schedule(self):
        """With the database down, runs still happen on schedule and the failures are logged."""
        pool = Pool(self.clock, "dbname=nowhere")
        pool.close()
        self.runner.recorder = DatabaseRecorder(JobStore(pool))
        step = self.step()
        self.start(Job("sweep", [step], schedule=Interval(60)))
        self.clock.pump([60] * 3)
        self.assertEqual(step.times(), [60, 120, 180])
        # Logged once with its traceback, not at every run.
        self.assertEqual(len(self.flushLoggedErrors(DatabaseUnavailable)), 1)
        self.assertEqual([s.last_run.outcome for s in self.runner.status()], ["success"])

    def test_recording_resumes(self):
        """When the recorder works again, runs are recorded again."""
        recorder = SwitchableRecorder()
        self.runner.recorder = recorder
        self.start(Job("sweep", [self.step()], schedule=Interval(60)))
        recorder.down = True
        self.clock.pump([60, 60])
        recorder.down = False
        self.clock.advance(60)
        self.assertEqual([r.job for r in recorder.runs], ["sweep"])
        self.assertEqual(len(self.flushLoggedErrors(DatabaseUnavailable)), 1)

    def test_schedule_error_is_logged(self):
        """A schedule that raises is logged; the job can still be run now."""
        class Broken:
            def next_run(self, now, previous, random_value):
                raise Boom("bad schedule")

            def describe(self):
                return "broken"

        step = self.step()
        self.start(Job("odd", [step], schedule=Broken()))
        self.assertEqual(len(self.flushLoggedErrors(Boom)), 1)
        self.successResultOf(self.runner.run_now("odd"))
        self.assertEqual(len(step.calls), 1)


class SwitchableRecorder(MemoryRecorder):
    """
    A memory recorder that fails like a database that is down while C{down}.
    """

    down = False

    def __getattribute__(self, name):
        method = super().__getattribute__(name)
        if name in ("run_started", "run_finished", "next_run") and self.down:
            def unavailable(*args):
                raise DatabaseUnavailable("PostgreSQL is unreachable")
            return unavailable
        return method


class OverlapTests(RunnerTestCase):

    def test_no_overlap_and_triggers_coalesce(self):
        """A slow run is never overlapped: due firings are skipped, triggers make one follow-up."""
        step = self.step([defer.Deferred, "quick"])
        self.start(Job("sweep", [step], schedule=Interval(60), timeout=None))
        self.clock.advance(60)
        self.clock.pump([60, 60])
        self.assertEqual(len(step.calls), 1)
        status = self.status("sweep")
        self.assertTrue(status.running)
        self.assertEqual(status.next_run_at, START + timedelta(seconds=240))
        first = self.runner.run_now("sweep")
        second = self.runner.run_now("sweep", triggered_by="api")
        self.assertTrue(self.status("sweep").follow_up)
        self.assertEqual(len(step.calls), 1)
        step.pending[0].callback("slow")
        self.assertEqual(len(step.calls), 2)
        one, two = self.successResultOf(first), self.successResultOf(second)
        self.assertIs(one, two)
        self.assertEqual((one.triggered_by, one.result), ("manual", "quick"))
        self.assertEqual([r.triggered_by for r in self.recorder.runs], ["schedule", "manual"])
        self.assertFalse(self.status("sweep").running)

    def test_trigger_from_record_does_not_overlap(self):
        """A trigger made by a caller on receiving a record joins the follow-up already starting."""
        step = self.step([defer.Deferred, defer.Deferred, "third"])
        self.start(Job("sweep", [step], timeout=None))
        first = self.runner.run_now("sweep")
        self.runner.run_now("sweep")   # follow-up
        again = []
        first.addCallback(lambda _: again.append(self.runner.run_now("sweep")))
        step.pending[0].callback("one")
        self.assertEqual(len(step.calls), 2)
        self.assertTrue(self.status("sweep").follow_up)
        step.pending[1].callback("two")
        self.assertEqual(len(step.calls), 3)
        self.assertEqual(self.successResultOf(again[0]).result, "third")

    def test_run_now_when_idle(self):
        """A trigger runs an idle job at once and gives its record."""
        step = self.step(["hello"])
        self.start(Job("sweep", [step], schedule=Interval(3600)))
        record = self.successResultOf(self.runner.run_now("sweep"))
        self.assertEqual((record.outcome, record.result, record.triggered_by),
                         ("success", "hello", "manual"))
        self.assertEqual(step.times(), [0])
        self.assertEqual(self.status("sweep").next_run_at, START + timedelta(hours=1))

    def test_run_now_unknown(self):
        """Triggering an unknown job fails with UnknownJob."""
        self.start()
        self.failureResultOf(self.runner.run_now("nope"), UnknownJob)

    def test_run_now_stopped(self):
        """Triggering while the runner is stopped fails with JobRunnerStopped."""
        self.runner.add(Job("sweep", [self.step()]))
        self.failureResultOf(self.runner.run_now("sweep"), JobRunnerStopped)

    def test_run_now_bad_trigger(self):
        """Only schedule, manual and api are triggers."""
        self.start(Job("sweep", [self.step()]))
        self.assertRaises(ValueError, self.runner.run_now, "sweep", "retry")


class TimeoutTests(RunnerTestCase):

    def test_timeout_cancels_step(self):
        """An attempt over its timeout has its step cancelled and ends as timeout."""
        step = self.step([defer.Deferred])
        after = self.step()
        self.start(Job("backup", [step, after], timeout=5))
        d = self.runner.run_now("backup")
        self.clock.advance(4.9)
        self.assertNoResult(d)
        self.clock.advance(0.1)
        record = self.successResultOf(d)
        self.assertEqual(step.cancelled, step.pending)
        self.assertEqual(record.outcome, "timeout")
        self.assertIn("timed out after 5s", record.error)
        self.assertEqual(after.calls, [])
        self.assertEqual(self.recorder.runs[0].outcome, "timeout")

    def test_timeout_is_retried(self):
        """A timed-out attempt is retried like a failed one."""
        step = self.step([defer.Deferred, "ok"])
        self.start(Job("backup", [step], timeout=5, retries=1, retry_delay=3))
        d = self.runner.run_now("backup")
        self.clock.advance(5)
        self.clock.advance(3)
        record = self.successResultOf(d)
        self.assertEqual((record.outcome, record.attempts), ("success", 2))
        self.assertEqual([r.outcome for r in self.recorder.runs], ["timeout", "success"])

    def test_fast_run_leaves_no_timer(self):
        """A run that ends in time leaves no timeout pending on the clock."""
        self.start(Job("j", [self.step()], timeout=5))
        self.successResultOf(self.runner.run_now("j"))
        self.assertEqual(self.clock.getDelayedCalls(), [])


class StopTests(RunnerTestCase):

    def test_stop_waits_for_run_in_progress(self):
        """Stopping waits for the run in progress, which completes normally."""
        step = self.step([defer.Deferred])
        self.start(Job("sweep", [step], schedule=Interval(60), timeout=None))
        self.clock.advance(60)
        stopped = self.stop()
        self.clock.advance(20)
        self.assertNoResult(stopped)
        step.pending[0].callback("late")
        self.successResultOf(stopped)
        self.assertEqual(self.recorder.runs[0].outcome, "success")
        self.assertIsNone(self.status("sweep").next_run_at)
        self.assertIsNone(self.recorder.next_runs["sweep"])
        self.clock.advance(600)
        self.assertEqual(len(step.calls), 1)

    def test_stop_bound_interrupts(self):
        """After the bound, stopping cancels the run and records it interrupted."""
        step = self.step([defer.Deferred])
        self.start(Job("sweep", [step], timeout=None))
        d = self.runner.run_now("sweep")
        stopped = self.stop()
        self.clock.advance(29.9)
        self.assertNoResult(stopped)
        self.clock.advance(0.1)
        self.successResultOf(stopped)
        self.assertEqual(step.cancelled, step.pending)
        self.assertEqual(self.successResultOf(d).outcome, "interrupted")
        self.assertEqual(self.recorder.runs[0].outcome, "interrupted")

    def test_stop_during_retry_wait(self):
        """Stopping during the wait before a retry ends the run at once, without retrying."""
        step = self.step([Boom("x"), "ok"])
        self.start(Job("notify", [step], retries=1, retry_delay=300))
        d = self.runner.run_now("notify")
        self.successResultOf(self.stop())
        self.assertEqual(self.successResultOf(d).outcome, "failure")
        self.clock.advance(600)
        self.assertEqual(len(step.calls), 1)
        self.flushLoggedErrors(Boom)

    def test_follow_up_cancelled_by_stop(self):
        """A follow-up waiting when the runner stops never runs; its trigger learns so."""
        step = self.step([defer.Deferred])
        self.start(Job("sweep", [step], timeout=None))
        self.runner.run_now("sweep")
        follow_up = self.runner.run_now("sweep")
        stopped = self.stop()
        step.pending[0].callback(None)
        self.successResultOf(stopped)
        self.assertEqual(self.successResultOf(follow_up).outcome, "cancelled")
        self.assertEqual(len(step.calls), 1)

    def test_stop_waits_for_removed_job(self):
        """A job removed during its run is still waited for when stopping."""
        step = self.step([defer.Deferred])
        self.start(Job("sweep", [step], timeout=None))
        d = self.runner.run_now("sweep")
        follow_up = self.runner.run_now("sweep")
        self.runner.remove("sweep")
        stopped = self.stop()
        self.assertNoResult(stopped)
        step.pending[0].callback("finished")
        self.successResultOf(stopped)
        self.assertEqual(self.successResultOf(d).outcome, "success")
        self.assertEqual(self.successResultOf(follow_up).outcome, "cancelled")

    def test_stop_idle(self):
        """Stopping an idle runner is immediate and leaves nothing on the clock."""
        self.start(Job("sweep", [self.step()], schedule=Interval(60)))
        self.successResultOf(self.stop())
        self.assertEqual(self.clock.getDelayedCalls(), [])
