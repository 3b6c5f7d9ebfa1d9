"""
API: creating and editing campaigns, and templates.

A campaign's settings travel as their JSON form (L{fts.core.campaign}):
C{POST /campaigns} creates a draft from C{{"settings": {...}}}, C{PUT
/campaigns/{id}} replaces a draft's settings, C{PATCH} merges into them
(objects merged key by key, lists and other values replaced, C{null}
back to the default).  Malformed settings, and values the database cannot
hold (an unknown timezone, an end before the start, pacing out of range),
are refused with 422 and every problem at its field path
(C{settings.schedule.windows[2].start}); nothing is stored.  A readable
draft is stored even while confirmation would refuse it: the answer lists
those C{problems} (send C{"strict": true} to be refused instead).

C{DELETE /campaigns/{id}} deletes a draft or a finalized campaign.

Templates: list them, save a campaign as one (or create one from
settings), delete one, and create a campaign from one with a name, a list
and optional dates.  Operators only for every change; each is audited.
"""

from datetime import datetime

import attr

from fts.core import windows
from fts.core.campaign import SettingsError, settings_from_dict, settings_to_dict
from fts.core.lifecycle import State, TransitionError, Trigger
from fts.web import security
from fts.web.api.framework import API, PAGE_FIELDS, ApiError, Field, Reply, invalid, page_of
from fts.web.pages.campaigns import campaign_store, store_actor, summary

CAMPAIGN_ID = Field("campaign_id", "integer", required=True)
TEMPLATE_ID = Field("template_id", "integer", required=True)
DESCRIPTION = Field("description", "string", max_length=1000, nullable=True,
                    description="Shown on the campaign's page.")
STRICT = Field("strict", "boolean",
               description="Refuse (422) settings that confirmation would refuse;"
                           " by default the draft is stored and its problems listed.")


def _settings_field(required, what):
    return Field("settings", "object", required=required,
                 description=f"{what} in their JSON form (see fts.core.campaign):"
                             " name, list_id, dnc_list_ids, caller_id, message, menu, amd,"
                             " schedule, pacing, retry, dial_string, language.")


def _store(web):
    store = campaign_store(web)
    if store is None:
        raise ApiError(503, "unavailable", "Campaigns are not available in this daemon yet.")
    return store


async def _get(store, campaign_id, what="campaign"):
    from fts.db.campaigns import CampaignNotFound

    try:
        return await store.get(campaign_id)
    except CampaignNotFound:
        raise ApiError(404, "not_found", f"There is no such {what}.")


def _prefixed(problems):
    return [(f"settings.{p.path}" if p.path else "settings", p.message) for p in problems]


def storable_problems(settings, is_template=False):
    """
    What the database would refuse to hold, as C{(path, problem)} pairs
    (validation problems that only stop confirmation are not here).
    """
    found = []
    if not isinstance(settings.name, str) or not settings.name.strip():
        found.append(("settings.name", "Give the campaign a name."))
    schedule = settings.schedule
    try:
        windows.zone(schedule.timezone)
    except windows.UnknownTimezone:
        found.append(("settings.schedule.timezone",
                      f"Unknown timezone {schedule.timezone!r}; use a name like Europe/Berlin."))
    if schedule.start is not None and schedule.end is not None and schedule.end <= schedule.start:
        found.append(("settings.schedule.end", "The end must be after the start."))
    if is_template and (settings.list_id is not None or schedule.start or schedule.end):
        found.append(("settings", "A template has no contact list and no start or end."))
    pacing = settings.pacing
    for name, low, high in (("max_channels", 1, None), ("priority", 1, 100),
                            ("ring_timeout", 5, 300), ("max_call_duration", 10, 86400)):
        value = getattr(pacing, name)
        if value < low or (high is not None and value > high):
            found.append((f"settings.pacing.{name}",
                          f"must be at least {low}" + (f" and at most {high}" if high else "")))
    if not pacing.cps > 0:
        found.append(("settings.pacing.cps", "must be more than 0"))
    if not 1 <= settings.retry.max_attempts <= 100:
        found.append(("settings.retry.max_attempts", "must be from 1 to 100"))
    for index, window in enumerate(schedule.windows):
        if not 0 <= window.weekday <= 6:
            found.append((f"settings.schedule.windows[{index}].weekday",
                          "must be 0 (Monday) to 6 (Sunday)"))
    return found


def read_settings(data, is_template=False):
    """
    Settings from their JSON form, checked for what the database can hold.

    @raise ApiError: 422 with every problem at its C{settings.} path.
    """
    try:
        settings = settings_from_dict(data)
    except SettingsError as e:
        raise invalid(_prefixed(e.problems), "The settings are malformed; nothing was stored.")
    problems = storable_problems(settings, is_template)
    if problems:
        raise invalid(problems, "The settings cannot be stored; nothing was stored.")
    return settings


def merge(base, patch):
    """
    C{patch} merged into C{base} (JSON merge patch: objects merged,
    C{None} removes a key, anything else replaces).
    """
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return patch
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge(base.get(key), value)
    return merged


async def _answer(store, campaign, status=200):
    """
    The campaign, its settings and the problems confirmation would find.
    """
    problems = await store.problems(campaign.settings, is_template=campaign.is_template)
    return Reply(status, {"campaign": summary(campaign),
                          "settings": settings_to_dict(campaign.settings),
                          "problems": [{"field": f, "problem": p}
                                       for f, p in _prefixed(problems)]})


async def _strict(store, settings, is_template):
    problems = await store.problems(settings, is_template=is_template)
    if problems:
        raise invalid(_prefixed(problems),
                      "The settings would not pass confirmation; nothing was stored.")


def _invalid_campaign(error):
    where = "settings.list_id" if "contact list" in str(error) else "settings"
    return invalid([(where, str(error))], "The settings cannot be stored; nothing was"
                                          " stored.")


@API.endpoint("POST", "/campaigns", "Create a draft campaign", role=security.OPERATOR,
              tags=["campaigns"], status=201,
              body=[_settings_field(True, "The campaign's settings"), DESCRIPTION, STRICT],
              description="Answers 201 with the campaign, its settings and the problems"
                          " confirmation would find; 422 with every problem at its field"
                          " path when the settings are malformed (or, with strict, not"
                          " valid).")
async def create_campaign(web, request, caller, body):
    from fts.db.campaigns import InvalidCampaign

    store = _store(web)
    settings = read_settings(body["settings"])
    if body.get("strict"):
        await _strict(store, settings, False)
    try:
        campaign = await store.create(settings, store_actor(caller.actor),
                                      description=body.get("description"))
    except InvalidCampaign as e:
        raise _invalid_campaign(e)
    await web.audit.record(caller.actor, "campaign.create", "campaign", campaign.id,
                           {"name": campaign.name, "via": "api"})
    return await _answer(store, campaign, status=201)


async def _edit(web, caller, campaign_id, body, data_of):
    from fts.db.campaigns import InvalidCampaign, NotEditable

    store = _store(web)
    campaign = await _get(store, campaign_id)
    if campaign.state is not State.DRAFT:
        raise ApiError(409, "conflict", f"Campaign {campaign_id} is {campaign.state.value};"
                                        " only a draft's settings can be changed.")
    settings = campaign.settings
    if "settings" in body:
        settings = read_settings(data_of(campaign), campaign.is_template)
    if body.get("strict"):
        await _strict(store, settings, campaign.is_template)
    changes = {"description": body["description"]} if "description" in body else {}
    try:
        campaign = await store.update(campaign_id, settings, store_actor(caller.actor),
                                      **changes)
    except NotEditable as e:
        raise ApiError(409, "conflict", str(e))
    except InvalidCampaign as e:
        raise _invalid_campaign(e)
    fields = sorted(body.get("settings", {})) + (["description"] if changes else [])
    await web.audit.record(caller.actor, "campaign.update", "campaign", campaign_id,
                           {"name": campaign.name, "via": "api", "fields": fields})
    return await _answer(store, campaign)


@API.endpoint("PUT", "/campaigns/{campaign_id}", "Replace a draft's settings",
              role=security.OPERATOR, params=[CAMPAIGN_ID], tags=["campaigns"],
              body=[_settings_field(True, "Every setting (missing ones take their"
                                          " defaults)"), DESCRIPTION, STRICT],
              description="Answers 409 when the campaign is not a draft.")
async def replace_campaign(web, request, caller, campaign_id, body):
    return await _edit(web, caller, campaign_id, body, lambda c: body["settings"])


@API.endpoint("PATCH", "/campaigns/{campaign_id}", "Change some of a draft's settings",
              role=security.OPERATOR, params=[CAMPAIGN_ID], tags=["campaigns"],
              body=[_settings_field(False, "The settings to change, merged into the"
                                           " current ones (JSON merge patch)"),
                    DESCRIPTION, STRICT],
              description="Answers 409 when the campaign is not a draft.")
async def patch_campaign(web, request, caller, campaign_id, body):
    return await _edit(web, caller, campaign_id, body,
                       lambda c: merge(settings_to_dict(c.settings), body["settings"]))


@API.endpoint("GET", "/campaigns/{campaign_id}/settings",
              "A campaign's settings and what confirmation would find wrong",
              role=security.VIEWER, params=[CAMPAIGN_ID], tags=["campaigns"])
async def campaign_settings(web, request, caller, campaign_id):
    store = _store(web)
    return await _answer(store, await _get(store, campaign_id))


@API.endpoint("DELETE", "/campaigns/{campaign_id}", "Delete a campaign",
              role=security.OPERATOR, params=[CAMPAIGN_ID], tags=["campaigns"],
              description="Only a draft (never confirmed) or a finalized campaign (its"
                          " results archived) can be deleted; any other state answers 409"
                          " with the reason.  A deleted campaign is kept as a row in state"
                          " deleted, with its history, and no longer listed.")
async def delete_campaign(web, request, caller, campaign_id):
    store = _store(web)
    campaign = await _get(store, campaign_id)
    if campaign.is_template:
        raise ApiError(404, "not_found", "There is no such campaign (this is a template:"
                                         " DELETE /api/v1/templates/{id}).")
    try:
        await store.transition(campaign_id, Trigger.DELETE, store_actor(caller.actor))
    except TransitionError as e:
        raise ApiError(409, "conflict", str(e))
    await web.audit.record(caller.actor, "campaign.delete", "campaign", campaign_id,
                           {"name": campaign.name, "via": "api"})
    return {"deleted": campaign_id}


# -- templates ------------------------------------------------------------------


@API.endpoint("GET", "/templates", "Campaign templates, newest first", role=security.VIEWER,
              tags=["templates"], query=[*PAGE_FIELDS])
async def list_templates(web, request, caller, query):
    store = _store(web)
    limit, offset = query.get("limit", 50), query.get("offset", 0)
    states = [State.DRAFT]
    total = await store.count(states=states, is_template=True)
    found = await store.list(states=states, is_template=True, limit=limit, offset=offset)
    return page_of([dict(summary(t), settings=settings_to_dict(t.settings)) for t in found],
                   total, limit, offset)


@API.endpoint("POST", "/templates", "Create a template", role=security.OPERATOR,
              tags=["templates"], status=201,
              body=[Field("campaign_id", "integer",
                          description="Save this campaign's settings as the template."),
                    _settings_field(False, "Or: the template's settings (no list_id, no"
                                           " dates)"),
                    Field("name", "string", max_length=200,
                          description="The template's name (default: the campaign's)."),
                    DESCRIPTION])
async def create_template(web, request, caller, body):
    store = _store(web)
    actor = store_actor(caller.actor)
    if ("campaign_id" in body) == ("settings" in body):
        raise invalid([("campaign_id", "give either campaign_id or settings")])
    if "campaign_id" in body:
        await _get(store, body["campaign_id"])
        template = await store.save_as_template(body["campaign_id"], actor,
                                                name=body.get("name"))
        if "description" in body:
            template = await store.update(template.id, template.settings, actor,
                                          description=body["description"])
    else:
        settings = read_settings(body["settings"], is_template=True)
        if body.get("name"):
            settings = attr.evolve(settings, name=body["name"])
        template = await store.create(settings, actor, is_template=True,
                                      description=body.get("description"))
    await web.audit.record(caller.actor, "campaign_template.create", "campaign", template.id,
                           {"name": template.name, "via": "api",
                            "from_campaign": body.get("campaign_id")})
    return await _answer(store, template, status=201)


async def _template(store, template_id):
    template = await _get(store, template_id, "template")
    if not template.is_template or template.state is not State.DRAFT:
        raise ApiError(404, "not_found", "There is no such template.")
    return template


@API.endpoint("DELETE", "/templates/{template_id}", "Delete a template",
              role=security.OPERATOR, params=[TEMPLATE_ID], tags=["templates"])
async def delete_template(web, request, caller, template_id):
    store = _store(web)
    template = await _template(store, template_id)
    try:
        await store.transition(template_id, Trigger.DELETE, store_actor(caller.actor))
    except TransitionError as e:
        raise ApiError(409, "conflict", str(e))
    await web.audit.record(caller.actor, "campaign_template.delete", "campaign", template_id,
                           {"name": template.name, "via": "api"})
    return {"deleted": template_id}


def _local_time(body, name, problems):
    text = body.get(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        problems.append((name, "must be a date and time like 2026-03-01T09:00"))
        return None
    if value.tzinfo is not None:
        problems.append((name, "must be local time in the template's timezone, without"
                               " an offset"))
        return None
    return value


@API.endpoint("POST", "/templates/{template_id}/campaigns",
              "Create a draft campaign from a template", role=security.OPERATOR,
              params=[TEMPLATE_ID], tags=["templates", "campaigns"], status=201,
              body=[Field("name", "string", required=True, max_length=200),
                    Field("list_id", "integer", required=True, minimum=1),
                    Field("start", "string", max_length=40,
                          description="Local date-time in the template's timezone."),
                    Field("end", "string", max_length=40), DESCRIPTION])
async def campaign_from_template(web, request, caller, template_id, body):
    from fts.db.campaigns import InvalidCampaign

    store = _store(web)
    await _template(store, template_id)
    problems = []
    if not body["name"].strip():
        problems.append(("name", "must not be empty"))
    start = _local_time(body, "start", problems)
    end = _local_time(body, "end", problems)
    if start is not None and end is not None and end <= start:
        problems.append(("end", "must be after the start"))
    if problems:
        raise invalid(problems)
    try:
        campaign = await store.create_from_template(
            template_id, store_actor(caller.actor), name=body["name"].strip(),
            list_id=body["list_id"], start=start, end=end,
            description=body.get("description"))
    except InvalidCampaign as e:
        raise invalid([("list_id", str(e))])
    await web.audit.record(caller.actor, "campaign.create", "campaign", campaign.id,
                           {"name": campaign.name, "via": "api", "template_id": template_id})
    return await _answer(store, campaign, status=201)
