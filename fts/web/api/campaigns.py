"""
API: campaigns (list, read, start, pause, resume, cancel, confirm), their
scheduled start, cancelling their pending calls, their stats and calls, and
a single call now (C{POST /calls}).

Answers 503 while the daemon has no campaign store.  Viewers read;
operators act.

  - C{POST /campaigns/{id}/confirm} and C{POST /campaigns/{id}/cancel-pending}
    can take many seconds on a big campaign: they answer C{202} with the
    queued operation, run by the job C{campaign-actions}
    (L{fts.web.campaign_jobs}); C{GET /campaigns/{id}/stats} shows it as
    C{action} until the next one.
  - C{POST /campaigns/{id}/schedule} moves the start of a draft or scheduled
    campaign to C{at} (ISO 8601 with an offset) or C{after_seconds} from now;
    a draft is then confirmed as above (C{202}), a scheduled campaign just
    starts then (C{200}).
  - C{POST /campaigns/{id}/cancel-pending} closes every contact still
    waiting to be dialed (never dialed: C{not_dialed}; waiting for a retry:
    C{exhausted}); calls in flight end normally and the campaign keeps its
    state (L{fts.db.campaign_actions}).
  - C{GET /campaigns/{id}/calls} pages by keyset: newest first, C{before}
    = the previous page's C{next_before}; C{total} is capped at 10,000
    (C{total_capped}).
  - C{POST /calls} places a test call (C{calls.is_test_call}, never counted
    in reports) with the campaign's message.

Creating and editing campaigns are in the wizard's module.
"""

from datetime import UTC, datetime, timedelta

from fts.core.lifecycle import State, TransitionError, Trigger, allowed_triggers
from fts.db.calls import COUNT_CAP, OUTCOMES
from fts.db.campaign_actions import CANCELLABLE
from fts.web import security
from fts.web.api.framework import (
    API, PAGE_FIELDS, ApiError, Download, Field, Reply, invalid, page_of,
)
from fts.web.pages.campaign_calls import (
    call_dict, calls_query, read_filter, stream_csv, timezone_of,
)
from fts.web.pages.campaigns import (
    OPERATOR_MOVES, action_of, campaign_feeds, campaign_jobs, campaign_store, live_state,
    queue_cancel_pending, queue_confirm, store_actor, summary,
)

CAMPAIGN_ID = Field("campaign_id", "integer", required=True)
#: Longest delay C{after_seconds} accepts: a year.
MAX_DELAY = 366 * 24 * 3600
CALL_FILTERS = (
    Field("outcome", "string", enum=list(OUTCOMES)),
    Field("phone", "string", max_length=40, description="Digits the number contains."),
    Field("date_from", "string", max_length=10,
          description="First day (YYYY-MM-DD, campaign timezone)."),
    Field("date_to", "string", max_length=10, description="Last day, included."),
    Field("tests", "string", enum=["only", "exclude"],
          description="Only test calls, or none (default: all)."),
)


def _store(web):
    store = campaign_store(web)
    if store is None:
        raise ApiError(503, "unavailable", "Campaigns are not available in this daemon yet.")
    return store


async def _get(store, campaign_id):
    from fts.db.campaigns import CampaignNotFound

    try:
        return await store.get(campaign_id)
    except CampaignNotFound:
        raise ApiError(404, "not_found", "There is no such campaign.")


def _busy(error):
    return ApiError(409, "busy", str(error))


@API.endpoint("GET", "/campaigns", "Campaigns, newest first", role=security.VIEWER,
              tags=["campaigns"],
              query=[*PAGE_FIELDS, Field("state", "string", enum=[s.value for s in State]),
                     Field("name_contains", "string", max_length=100)])
async def list_campaigns(web, request, caller, query):
    store = _store(web)
    limit, offset = query.get("limit", 50), query.get("offset", 0)
    states = [query["state"]] if "state" in query else None
    name = query.get("name_contains")
    total = await store.count(states=states, name_contains=name)
    campaigns = await store.list(states=states, name_contains=name, limit=limit,
                                 offset=offset)
    return page_of([summary(c) for c in campaigns], total, limit, offset)


@API.endpoint("GET", "/campaigns/{campaign_id}", "One campaign", role=security.VIEWER,
              params=[CAMPAIGN_ID], tags=["campaigns"])
async def get_campaign(web, request, caller, campaign_id):
    campaign = await _get(_store(web), campaign_id)
    result = summary(campaign)
    result["calls_in_flight"] = (web.calls.campaign_count(campaign_id)
                                 if web.calls is not None else None)
    result["action"] = action_of(web, campaign_id)
    return result


def _move(trigger):
    async def move(web, request, caller, campaign_id, body):
        store = _store(web)
        await _get(store, campaign_id)
        try:
            await store.transition(campaign_id, trigger, store_actor(caller.actor),
                                   note=body.get("note", ""))
        except TransitionError as e:
            raise ApiError(409, "conflict", str(e))
        return summary(await store.get(campaign_id))

    move.__name__ = f"{trigger.value}_campaign"
    return move


_NOTE = Field("note", "string", max_length=500, description="Why, for the campaign's history.")

for _trigger in OPERATOR_MOVES:
    if _trigger is Trigger.CONFIRM:
        continue
    API.endpoint("POST", f"/campaigns/{{campaign_id}}/{_trigger.value}",
                 f"{_trigger.value.capitalize()} the campaign", role=security.OPERATOR,
                 params=[CAMPAIGN_ID], tags=["campaigns"], body=[_NOTE],
                 description="Answers 409 with the reason when the campaign's state does"
                             " not allow it.")(_move(_trigger))


def _confirmable(campaign):
    if campaign.is_template or Trigger.CONFIRM not in allowed_triggers(campaign.state):
        kind = "template" if campaign.is_template else campaign.state.value
        raise ApiError(409, "conflict", f"A {kind} campaign cannot be confirmed.")


def _queue_confirm(web, campaign_id, caller, note=""):
    from fts.web.campaign_jobs import ActionBusy

    try:
        queue_confirm(web, campaign_id, caller, note=note)
    except ActionBusy as e:
        raise _busy(e)
    return action_of(web, campaign_id)


@API.endpoint("POST", "/campaigns/{campaign_id}/confirm",
              "Confirm the campaign (validate it and add its contacts), as a job",
              role=security.OPERATOR, params=[CAMPAIGN_ID], tags=["campaigns"], body=[_NOTE],
              status=202,
              description="Answers 202 with the queued operation; follow it as C{action} of"
                          " GET /campaigns/{campaign_id}/stats. 409 when the state does not"
                          " allow it or an operation is already queued.")
async def confirm_campaign(web, request, caller, campaign_id, body):
    _confirmable(await _get(_store(web), campaign_id))
    return _queue_confirm(web, campaign_id, caller, body.get("note", ""))


@API.endpoint("POST", "/campaigns/{campaign_id}/schedule",
              "Start the campaign at a time, or after a delay", role=security.OPERATOR,
              params=[CAMPAIGN_ID], tags=["campaigns"],
              body=[Field("at", "string", max_length=40,
                          description="ISO 8601 instant with its offset"
                                      " (2026-06-01T09:00:00+02:00)."),
                    Field("after_seconds", "integer", minimum=0, maximum=MAX_DELAY,
                          description="Seconds from now.")],
              description="Exactly one of at / after_seconds. A draft gets that start and"
                          " is confirmed as a job (202, with the queued operation); a"
                          " scheduled campaign just starts then (200). 409 in other states.")
async def schedule_campaign(web, request, caller, campaign_id, body):
    from fts.db.campaign_actions import ActionRefused, CampaignActions

    if ("at" in body) == ("after_seconds" in body):
        raise invalid([("at", "give either at or after_seconds"),
                       ("after_seconds", "give either at or after_seconds")])
    if "at" in body:
        try:
            at = datetime.fromisoformat(body["at"])
        except ValueError:
            raise invalid([("at", "must be an ISO 8601 date and time")])
        if at.tzinfo is None:
            raise invalid([("at", "must include its offset (Z or +02:00)")])
    else:
        at = datetime.fromtimestamp(web.clock.seconds(), UTC) + timedelta(
            seconds=body["after_seconds"])
    store = _store(web)
    campaign = await _get(store, campaign_id)
    if campaign.state is State.DRAFT:
        _confirmable(campaign)
        current = campaign_jobs(web).status(campaign_id)
        if current is not None and current.busy:
            raise ApiError(409, "busy", f"The campaign is busy: {current.label} is"
                                        f" {current.state}. Nothing was changed.")
    try:
        starts = await CampaignActions(web.store.pool).reschedule(campaign_id, at,
                                                                  caller.actor)
    except ActionRefused as e:
        raise ApiError(409, "conflict", str(e))
    result = summary(await store.get(campaign_id))
    result["starts_at"] = starts
    if campaign.state is State.DRAFT:
        result["action"] = _queue_confirm(web, campaign_id, caller,
                                          "scheduled through the API")
        return Reply(202, result)
    return result


@API.endpoint("POST", "/campaigns/{campaign_id}/cancel-pending",
              "Cancel every pending call of the campaign, as a job", role=security.OPERATOR,
              params=[CAMPAIGN_ID], tags=["campaigns"], status=202,
              description="Every contact still waiting to be dialed is closed: never dialed"
                          " -> not_dialed, waiting for a retry -> exhausted. Calls in flight"
                          " end normally (a retry they earn is still scheduled: pause first"
                          " to have none); the campaign keeps its state. Scheduled, running"
                          " or paused campaigns only (409 otherwise). Answers 202 with the"
                          " queued operation.")
async def cancel_pending(web, request, caller, campaign_id):
    from fts.web.campaign_jobs import ActionBusy

    campaign = await _get(_store(web), campaign_id)
    if campaign.state not in CANCELLABLE:
        raise ApiError(409, "conflict", f"The campaign is {campaign.state.value}; pending"
                       " calls can be cancelled only while it is scheduled, running or"
                       " paused.")
    try:
        queue_cancel_pending(web, campaign_id, caller)
    except ActionBusy as e:
        raise _busy(e)
    return action_of(web, campaign_id)


@API.endpoint("GET", "/campaigns/{campaign_id}/stats", "Progress and outcomes of a campaign",
              role=security.VIEWER, params=[CAMPAIGN_ID], tags=["campaigns"],
              description="Progress (contacts done, pending, in a call), calls in flight,"
                          " the queued operation, and the report's headline figures and"
                          " outcome counts (test calls never counted; the report is"
                          " rebuilt at most every 10 s, see report.built_at).")
async def campaign_stats(web, request, caller, campaign_id):
    campaign = await _get(_store(web), campaign_id)
    result = await live_state(web, campaign_id, campaign)
    # Rebuilt at most every 10 s (longer for a costly one), as for the page.
    report = await campaign_feeds(web).current_report(campaign_id)
    if report is None:
        raise ApiError(503, "unavailable", "The campaign's report cannot be read right now;"
                                           " try again in a few seconds.")
    result["report"] = {
        "kind": report.kind,
        "built_at": report.built_at,
        "figures": {f.key: f.value for f in report.figures()},
        "final_outcomes": {row.key: row.contacts for row in report.final_outcomes},
        "call_outcomes": {row.key: row.calls for row in report.call_outcomes},
    }
    return result


@API.endpoint("GET", "/campaigns/{campaign_id}/calls", "Calls of a campaign, newest first",
              role=security.VIEWER, params=[CAMPAIGN_ID], tags=["campaigns"],
              query=[Field("limit", "integer", minimum=1, maximum=500,
                           description="Calls per page (default 50)."),
                     Field("before", "integer", minimum=1,
                           description="next_before of the previous page."),
                     *CALL_FILTERS])
async def campaign_calls(web, request, caller, campaign_id, query):
    campaign = await _get(_store(web), campaign_id)
    filters, problems = read_filter(query, timezone_of(campaign))
    if problems:
        raise invalid(sorted(problems.items()), "The query has invalid parameters.")
    limit = query.get("limit", 50)
    calls = calls_query(web)
    found = await calls.page(campaign_id, filters, before=query.get("before"), limit=limit)
    total = await calls.count(campaign_id, filters)
    return {"items": [call_dict(c) for c in found.items], "limit": limit, "total": total,
            "total_capped": total >= COUNT_CAP, "next_before": found.next_before}


@API.endpoint("GET", "/campaigns/{campaign_id}/calls.csv", "Calls of a campaign as CSV",
              role=security.VIEWER, params=[CAMPAIGN_ID], tags=["campaigns"],
              query=list(CALL_FILTERS), produces="text/csv",
              description="Streamed, oldest first, with the same filters as the calls list.")
async def campaign_calls_csv(web, request, caller, campaign_id, query):
    campaign = await _get(_store(web), campaign_id)
    filters, problems = read_filter(query, timezone_of(campaign))
    if problems:
        raise invalid(sorted(problems.items()), "The query has invalid parameters.")
    return Download(lambda req: stream_csv(web, req, campaign, filters))


@API.endpoint("POST", "/calls", "Call one number now (a test call)", role=security.OPERATOR,
              tags=["calls"], status=201,
              body=[Field("phone", "string", required=True, max_length=40),
                    Field("campaign_id", "integer", required=True, minimum=1,
                          description="Whose message, caller ID and AMD settings to use.")],
              description="Placed at once through the dialer's PBX lines; recorded as a test"
                          " call, never counted in reports or retried. 422 for a number that"
                          " cannot be dialed, 404 for no such campaign, 503 when no PBX line"
                          " is up, 409 when the PBX or the campaign refuses it.")
async def call_now(web, request, caller, body):
    from fts.dialer.test_calls import InvalidNumber, NoLine, TestCallRefused, UnknownCampaign

    campaign_id = body["campaign_id"]
    await _get(_store(web), campaign_id)
    if web.test_calls is None:
        raise ApiError(503, "unavailable", "This daemon has no dialer; no call was placed.")
    try:
        placed = await web.test_calls.place(
            campaign_id, body["phone"], actor=f"{caller.actor.kind}:{caller.actor.name}")
    except InvalidNumber as e:
        raise invalid([("phone", str(e))], "The number cannot be dialed; no call was placed.")
    except UnknownCampaign as e:
        raise ApiError(404, "not_found", str(e))
    except NoLine as e:
        raise ApiError(503, "unavailable", str(e))
    except TestCallRefused as e:
        raise ApiError(409, "conflict", str(e))
    await web.audit.record(caller.actor, "campaign.test_call", "campaign", campaign_id,
                           {"number": placed.number, "call_id": placed.call_id})
    return {"call_id": placed.call_id, "number": placed.number, "campaign_id": campaign_id,
            "test_call": True}
