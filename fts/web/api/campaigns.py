"""
API: campaigns (list, read, pause, resume, cancel).

Answers 503 while the daemon has no campaign store.  Creating and editing
campaigns, scheduling a start and cancelling pending calls are not here yet.
"""

from fts.core.lifecycle import State, TransitionError, Trigger
from fts.web import security
from fts.web.api.framework import API, PAGE_FIELDS, ApiError, Field, page_of
from fts.web.pages.campaigns import OPERATOR_MOVES, campaign_store, store_actor, summary

CAMPAIGN_ID = Field("campaign_id", "integer", required=True)


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


for _trigger in OPERATOR_MOVES:
    API.endpoint("POST", f"/campaigns/{{campaign_id}}/{_trigger.value}",
                 f"{_trigger.value.capitalize()} the campaign", role=security.OPERATOR,
                 params=[CAMPAIGN_ID], tags=["campaigns"],
                 body=[Field("note", "string", max_length=500,
                             description="Why, for the campaign's history.")],
                 description="Answers 409 with the reason when the campaign's state does"
                             " not allow it.")(_move(_trigger))
