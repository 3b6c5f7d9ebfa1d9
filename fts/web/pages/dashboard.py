"""
The dashboard: the daemon at a glance, kept current by server-sent events
(C{/dashboard/events}) rather than page reloads.

One snapshot (L{snapshot}) feeds both the first render and every event:
component and PBX connection states, calls in flight in total, per campaign
and per PBX, calls per second and answer rate (from the dialer's call
registry, once it is wired), and the jobs with their last runs.
"""

import json

from twisted.logger import Logger

from fts.web.guard import page
from fts.web.routes import RouteTable

log = Logger()
routes = RouteTable()

PBX_PREFIXES = ("pbx", "ami")


def _seconds(value):
    return value.timestamp() if value is not None else None


def _calls(web):
    if web.calls is None:
        return None
    calls = web.calls
    rates = web.rates.summary(list(calls)) if web.rates is not None else {}
    return {
        "total": calls.total,
        "per_campaign": [{"campaign": k, "calls": v}
                         for k, v in sorted(calls.per_campaign().items(), key=str)],
        "per_pbx": [{"pbx": k, "calls": v} for k, v in calls.per_pbx().items()],
        "cps": rates.get("cps"),
        "answer_rate": rates.get("answer_rate"),
    }


def _jobs(web):
    if web.jobs is None:
        return None
    rows = []
    for status in web.jobs.status():
        last = status.last_run
        rows.append({
            "name": status.name,
            "running": status.running,
            "next_run_at": _seconds(status.next_run_at),
            "last_outcome": last.outcome if last is not None else None,
            "last_finished_at": _seconds(last.finished_at) if last is not None else None,
        })
    return rows


async def snapshot(web):
    """
    The dashboard's data as plain JSON-able values (times as POSIX seconds),
    built at most once every C{web.snapshot_max_age} seconds however many
    dashboards, API clients and live feeds ask.
    """
    now = web.clock.seconds()
    cached = web.snapshot_cache
    if cached is not None and now - cached[0] < web.snapshot_max_age:
        return cached[1]
    data = await _build(web)
    web.snapshot_cache = (now, data)
    return data


async def _build(web):
    report = web.health.report()
    components = [{"name": name, "state": c["state"], "since": c["since"],
                   "last_error": c["last_error"]}
                  for name, c in report["components"].items()]
    recent = None
    if web.store is not None:
        try:
            runs = await web.store.jobs.runs(limit=8)
        except Exception as e:
            recent = {"error": " ".join(str(e).split())}
        else:
            recent = [{"job": r.job_name, "outcome": r.outcome,
                       "started_at": _seconds(r.started_at), "duration_ms": r.duration_ms,
                       "triggered_by": r.triggered_by} for r in runs]
    return {
        "time": report["time"],
        "status": report["status"],
        "components": components,
        "pbx": [c for c in components if c["name"].startswith(PBX_PREFIXES)],
        "calls": _calls(web),
        "jobs": _jobs(web),
        "recent_runs": recent,
        "campaigns": None,
    }


@routes.route("/")
@page()
async def dashboard_page(web, request, caller):
    data = await snapshot(web)
    return web.render(request, caller, "dashboard.html", section="dashboard", data=data)


@routes.route("/dashboard/events")
@page()
async def dashboard_events(web, request, caller):
    return web.live.subscribe(request)


@routes.route("/dashboard/snapshot.json")
@page()
async def dashboard_json(web, request, caller):
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(await snapshot(web), default=str).encode("utf-8")
