"""
The jobs page: every job with its schedule, last and next run, outcome and
recent runs; "run now" for admins.  A run started here goes on in the job
runner: the request only starts it.
"""

from twisted.logger import Logger

from fts.jobs.job import MANUAL
from fts.jobs.runner import UnknownJob
from fts.web import security
from fts.web.guard import page
from fts.web.routes import RouteTable

log = Logger()
routes = RouteTable()

NOTICES = {
    "job-started": "The job has been started (or will run again right after the run in"
                   " progress). Its outcome appears below when it ends.",
}


async def job_rows(web):
    """
    Every job as a dict: the runner's view (running, next run, last run in
    this process) merged with the database's (last outcome, error, duration
    across restarts).
    """
    rows = {}
    if web.store is not None:
        for state in await web.store.jobs.states():
            rows[state.name] = {
                "name": state.name, "description": "", "schedule": state.schedule,
                "running": state.running, "next_run_at": state.next_run_at,
                "last_run_at": state.last_run_at, "last_outcome": state.last_outcome,
                "last_error": state.last_error, "last_duration_ms": state.last_duration_ms,
                "registered": False,
            }
    if web.jobs is not None:
        for status in web.jobs.status():
            row = rows.setdefault(status.name, {
                "name": status.name, "last_run_at": None, "last_outcome": None,
                "last_error": None, "last_duration_ms": None})
            row.update(description=status.description, schedule=status.schedule,
                       running=status.running, next_run_at=status.next_run_at,
                       registered=True)
            last = status.last_run
            if last is not None and last.started_at is not None and (
                    row["last_run_at"] is None or last.started_at >= row["last_run_at"]):
                row.update(last_run_at=last.started_at, last_outcome=last.outcome,
                           last_error=last.error)
                if last.finished_at is not None:
                    row["last_duration_ms"] = int(
                        (last.finished_at - last.started_at).total_seconds() * 1000)
    return [rows[name] for name in sorted(rows)]


@routes.route("/jobs")
@page()
async def jobs_page(web, request, caller):
    jobs = await job_rows(web)
    runs = await web.store.jobs.runs(limit=30) if web.store is not None else []
    return web.render(request, caller, "jobs.html", section="jobs", jobs=jobs, runs=runs,
                      runner=web.jobs is not None)


def start_job(web, name, caller, triggered_by=MANUAL):
    """
    Start job C{name} now (or right after its run in progress) without
    waiting for it; its outcome is logged and recorded by the runner.

    @raise UnknownJob: no job of that name is registered.
    """
    if web.jobs is None or name not in {s.name for s in web.jobs.status()}:
        raise UnknownJob(name)
    d = web.jobs.run_now(name, triggered_by=triggered_by)
    d.addCallback(lambda record: log.info(
        "job {job} run by {actor}: {outcome}", job=name, actor=caller.actor.name,
        outcome=record.outcome))
    d.addErrback(lambda f: log.failure("job {job} run by {actor}", f, job=name,
                                       actor=caller.actor.name))


@routes.route("/jobs/<string:name>/run", methods=("POST",))
@page(security.ADMIN)
async def run_job(web, request, caller, name):
    try:
        start_job(web, name, caller)
    except UnknownJob:
        return web.error_page(request, caller, 404, "There is no such job in this daemon.")
    await web.audit.record(caller.actor, "job.run_now", "job", name)
    return web.see_other(request, "/jobs?notice=job-started")
