"""
The C{jobs} service: named periodic and deferred work inside the daemon.

    schedule.py   when a job runs next (pure: Interval, DailyAt, Once)
    job.py        Job, RunRecord, JobStatus (values)
    runner.py     JobRunner, the twisted Service named "jobs"
    recording.py  IRunRecorder, MemoryRecorder, DatabaseRecorder

Registering a job::

    runner = JobRunner(reactor, DatabaseRecorder(JobStore(pool)))
    runner.add(Job("expire-campaigns", [sweeper.expire],
                   schedule=Interval(60, jitter=5, at_start=True),
                   timeout=120, retries=2, retry_delay=10,
                   description="Expire campaigns past their end"))
"""
