"""
API: jobs (list, recent runs, run now).
"""

from fts.jobs.job import API as TRIGGERED_BY_API
from fts.jobs.runner import UnknownJob
from fts.web import security
from fts.web.api.framework import API, ApiError, Field, Reply
from fts.web.pages.jobs import job_rows, start_job

NAME = Field("name", "string", required=True, description="The job's name.")


@API.endpoint("GET", "/jobs", "Every job with its schedule, last and next run",
              role=security.VIEWER, tags=["jobs"])
async def list_jobs(web, request, caller):
    rows = await job_rows(web)
    return {"items": rows, "total": len(rows), "limit": len(rows), "offset": 0,
            "next_offset": None}


@API.endpoint("GET", "/jobs/{name}/runs", "The job's latest runs, newest first",
              role=security.VIEWER, params=[NAME], tags=["jobs"],
              query=[Field("limit", "integer", minimum=1, maximum=500,
                           description="How many runs (default 50).")])
async def list_runs(web, request, caller, name, query):
    if web.store is None:
        raise ApiError(503, "unavailable", "The database is not connected.")
    runs = await web.store.jobs.runs(name=name, limit=query.get("limit", 50))
    items = [{"id": r.id, "job": r.job_name, "triggered_by": r.triggered_by,
              "attempt": r.attempt, "started_at": r.started_at, "finished_at": r.finished_at,
              "outcome": r.outcome, "error": r.error, "duration_ms": r.duration_ms}
             for r in runs]
    return {"items": items}


@API.endpoint("POST", "/jobs/{name}/run", "Run the job now", role=security.ADMIN,
              params=[NAME], status=202, tags=["jobs"],
              description="Starts the job (or queues one more run after the run in"
                          " progress) and answers at once; follow it with"
                          " GET /jobs/{name}/runs.")
async def run_job(web, request, caller, name):
    try:
        start_job(web, name, caller, triggered_by=TRIGGERED_BY_API)
    except UnknownJob:
        raise ApiError(404, "not_found", "There is no such job in this daemon.")
    await web.audit.record(caller.actor, "job.run_now", "job", name)
    return Reply(202, {"job": name, "started": True})
