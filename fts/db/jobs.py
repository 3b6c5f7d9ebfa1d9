"""
Job runs and job state: the SQL behind L{fts.jobs.recording.DatabaseRecorder}
and the panel's jobs page.

C{job_runs} holds one row per attempt of a run (a retry is a new row whose
C{parent_run_id} is the attempt it retries); C{job_state} one row per job
with its schedule text and last/next run.  Every write is one statement.
"""

import json

import attr
from twisted.internet import defer

#: Longest result kept, as JSON text; a longer one is stored as a summary.
RESULT_LIMIT = 10_000
ERROR_LIMIT = 4_000


def _result_json(result):
    """
    C{result} as JSON text (values JSON cannot hold become strings), or
    L{None}.
    """
    if result is None:
        return None
    text = json.dumps(result, default=str)
    if len(text) > RESULT_LIMIT:
        text = json.dumps({"truncated": True, "length": len(text),
                           "start": text[:1000]})
    return text


@attr.s(frozen=True, slots=True)
class JobRun:
    """
    One attempt of a job (a C{job_runs} row).
    """

    id = attr.ib()
    job_name = attr.ib()
    triggered_by = attr.ib()
    attempt = attr.ib()
    parent_run_id = attr.ib()
    started_at = attr.ib()
    finished_at = attr.ib()
    outcome = attr.ib()
    error = attr.ib()
    result = attr.ib()
    duration_ms = attr.ib()
    instance_id = attr.ib()


@attr.s(frozen=True, slots=True)
class JobState:
    """
    One job as the panel lists it (C{job_state} and its last run).

    @ivar running: an attempt of it is marked running now.
    @ivar last_outcome: outcome of the last finished attempt, or L{None}.
    """

    name = attr.ib()
    schedule = attr.ib()
    enabled = attr.ib()
    paused = attr.ib()
    next_run_at = attr.ib()
    last_run_id = attr.ib()
    last_run_at = attr.ib()
    last_finished_at = attr.ib()
    last_outcome = attr.ib()
    last_error = attr.ib()
    last_attempt = attr.ib()
    last_duration_ms = attr.ib()
    running = attr.ib()


_RUN_COLUMNS = """id, job_name, triggered_by, attempt, parent_run_id, started_at,
    finished_at, outcome, error, result, duration_ms, instance_id"""

_STATE_QUERY = """
    SELECT s.name, s.schedule, s.enabled, s.paused, s.next_run_at, s.last_run_id,
           s.last_run_at, r.finished_at, s.last_outcome, r.error, r.attempt,
           r.duration_ms,
           EXISTS (SELECT 1 FROM job_runs x
                   WHERE x.job_name = s.name AND x.outcome = 'running')
      FROM job_state s
      LEFT JOIN job_runs r ON r.id = s.last_run_id
"""


class JobStore:
    """
    Reads and writes C{job_runs} and C{job_state}.
    """

    def __init__(self, pool):
        self.pool = pool

    @defer.inlineCallbacks
    def register(self, name, schedule):
        """
        Note job C{name} with its schedule text (enabled), and mark any
        attempt of it still C{running} as C{interrupted}: the caller is now
        the only runner of that job, so such a row was left by a daemon that
        stopped or died during the run.

        @return: a Deferred firing with how many attempts were marked.
        """
        rows = yield self.pool.runQuery(
            """
            WITH stale AS (
                UPDATE job_runs
                   SET outcome = 'interrupted', finished_at = now(),
                       error = coalesce(error, 'the daemon stopped or died during the run')
                 WHERE job_name = %s AND outcome = 'running'
             RETURNING id)
            INSERT INTO job_state (name, schedule, enabled) VALUES (%s, %s, true)
            ON CONFLICT (name) DO UPDATE SET schedule = EXCLUDED.schedule, enabled = true
            RETURNING (SELECT count(*) FROM stale)
            """,
            (name, name, schedule),
        )
        return rows[0][0]

    @defer.inlineCallbacks
    def run_started(self, name, attempt, at, triggered_by, parent_run_id=None,
                    instance_id=None):
        """
        Insert a C{running} attempt started at C{at}.

        @return: a Deferred firing with its id.
        """
        rows = yield self.pool.runQuery(
            """
            INSERT INTO job_runs (job_name, triggered_by, parent_run_id, scheduled_for,
                                  started_at, outcome, attempt, instance_id)
            VALUES (%s, %s, %s, %s, %s, 'running', %s, %s)
            RETURNING id
            """,
            (name, triggered_by, parent_run_id, at, at, attempt, instance_id),
        )
        return rows[0][0]

    def run_finished(self, run_id, outcome, error, result, at):
        """
        End attempt C{run_id} (if it is still C{running}) with C{outcome},
        C{error} text and C{result} (stored as JSON), and make it its job's
        last run.
        """
        if error is not None:
            error = error[:ERROR_LIMIT]
        return self.pool.runOperation(
            """
            WITH finished AS (
                UPDATE job_runs
                   SET outcome = %s, error = %s, result = %s::jsonb, finished_at = %s
                 WHERE id = %s AND outcome = 'running'
             RETURNING job_name, id, started_at, outcome)
            INSERT INTO job_state (name, last_run_id, last_run_at, last_outcome)
            SELECT job_name, id, started_at, outcome FROM finished
            ON CONFLICT (name) DO UPDATE
               SET last_run_id = EXCLUDED.last_run_id,
                   last_run_at = EXCLUDED.last_run_at,
                   last_outcome = EXCLUDED.last_outcome
            """,
            (outcome, error, _result_json(result), at, run_id),
        )

    def next_run(self, name, at):
        """
        Job C{name} next runs at C{at} (or never: L{None}).
        """
        return self.pool.runOperation(
            """
            INSERT INTO job_state (name, next_run_at) VALUES (%s, %s)
            ON CONFLICT (name) DO UPDATE SET next_run_at = EXCLUDED.next_run_at
            """,
            (name, at),
        )

    @defer.inlineCallbacks
    def states(self):
        """
        Every known job as a L{JobState}, by name.
        """
        rows = yield self.pool.runQuery(_STATE_QUERY + " ORDER BY s.name")
        return [JobState(*row) for row in rows]

    @defer.inlineCallbacks
    def state(self, name):
        """
        Job C{name} as a L{JobState}, or L{None}.
        """
        rows = yield self.pool.runQuery(_STATE_QUERY + " WHERE s.name = %s", (name,))
        return JobState(*rows[0]) if rows else None

    @defer.inlineCallbacks
    def runs(self, name=None, limit=50):
        """
        The latest attempts (of job C{name}, or of all jobs), newest first,
        as L{JobRun}s.
        """
        if name is None:
            rows = yield self.pool.runQuery(
                f"SELECT {_RUN_COLUMNS} FROM job_runs ORDER BY id DESC LIMIT %s",
                (limit,))
        else:
            rows = yield self.pool.runQuery(
                f"SELECT {_RUN_COLUMNS} FROM job_runs WHERE job_name = %s"
                " ORDER BY id DESC LIMIT %s", (name, limit))
        return [JobRun(*row) for row in rows]
