"""
Campaigns: the list (filter by state, search by name, pages), the campaign
page (state, settings summary, life-cycle history, calls in flight) and the
operator's life-cycle moves (pause, resume, cancel).

Reads and writes go through C{store.campaigns}
(L{fts.db.campaigns.CampaignStore}); while the daemon has none, the pages
say so (L{fts.web.pages.pending}).  Not here yet: the wizard (create and
edit), test calls, outcome charts and the calls table.
"""

from fts.core.lifecycle import State, TransitionError, Trigger, allowed_triggers
from fts.web import security
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.pages import pending
from fts.web.routes import RouteTable

routes = RouteTable()
PER_PAGE = 25

#: Moves an operator makes from the campaign page, with their button text.
OPERATOR_MOVES = {
    Trigger.CONFIRM: "Confirm (validate and schedule)",
    Trigger.START: "Start now",
    Trigger.PAUSE: "Pause",
    Trigger.RESUME: "Resume",
    Trigger.CANCEL: "Cancel campaign",
}

NOTICES = {f"campaign-{t.value}": f"The campaign has been told to {t.value}."
           for t in OPERATOR_MOVES}


def campaign_store(web):
    """
    The L{fts.db.campaigns.CampaignStore}, or L{None} while not wired.
    """
    return getattr(web.store, "campaigns", None) if web.store is not None else None


def store_actor(actor):
    """
    Our L{fts.db.audit.Actor} as the campaign store's actor.
    """
    from fts.db.campaigns import Actor as CampaignActor

    name = actor.name
    if actor.kind == "api_token" and name.startswith("api:"):
        name = name[len("api:"):]
    return CampaignActor(actor.kind, name, user_id=actor.user_id,
                         api_token_id=actor.api_token_id)


def summary(campaign):
    """
    The facts the campaign page and the API show, as plain values.
    """
    settings = campaign.settings
    pacing = settings.pacing
    return {
        "id": campaign.id,
        "name": campaign.name,
        "description": campaign.description,
        "state": campaign.state.value,
        "finish_reason": campaign.finish_reason.value if campaign.finish_reason else None,
        "is_template": campaign.is_template,
        "list_id": campaign.list_id,
        "caller_id": {"number": settings.caller_id.number, "name": settings.caller_id.name}
        if settings.caller_id is not None else None,
        "timezone": settings.schedule.timezone if settings.schedule else None,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "max_channels": getattr(pacing, "max_channels", None),
        "cps": getattr(pacing, "cps", None),
        "message_parts": len(settings.message),
        "created_at": campaign.created_at,
        "state_changed_at": campaign.state_changed_at,
        "first_started_at": campaign.first_started_at,
        "finished_at": campaign.finished_at,
        "finalized_at": campaign.finalized_at,
    }


def moves_for(campaign):
    """
    The operator moves that apply in the campaign's state.
    """
    allowed = set(allowed_triggers(campaign.state))
    return [(t.value, label) for t, label in OPERATOR_MOVES.items() if t in allowed]


@routes.route("/campaigns")
@page()
async def campaigns_page(web, request, caller):
    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "campaigns")
    form = Form(request)
    number = form.integer("page", "Page", low=1, high=100000, required=False) or 1
    state = form.choice("state", "State", [s.value for s in State], required=False)
    search = form.text("q", "Search", required=False, max_length=100) or None
    states = [state] if state else None
    total = await store.count(states=states, name_contains=search)
    campaigns = await store.list(states=states, name_contains=search, limit=PER_PAGE,
                                 offset=(number - 1) * PER_PAGE)
    in_flight = web.calls.per_campaign() if web.calls is not None else None
    return web.render(request, caller, "campaigns.html", section="campaigns",
                      campaigns=campaigns, total=total, page=number,
                      pages=max(1, -(-total // PER_PAGE)), state=state or "",
                      q=search or "", states=[s.value for s in State],
                      in_flight=in_flight, errors=form.errors)


async def _campaign_page(web, request, caller, campaign_id, status=200, error=None):
    from fts.db.campaigns import CampaignNotFound

    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "campaigns")
    try:
        campaign = await store.get(campaign_id)
    except CampaignNotFound:
        return web.error_page(request, caller, 404, "There is no such campaign.")
    transitions = await store.transitions(campaign_id)
    in_flight = web.calls.campaign_count(campaign_id) if web.calls is not None else None
    return web.render(request, caller, "campaign.html", status=status, section="campaigns",
                      campaign=campaign, facts=summary(campaign), transitions=transitions,
                      moves=moves_for(campaign), in_flight=in_flight, error=error)


@routes.route("/campaigns/<int:campaign_id>")
@page()
async def campaign_page(web, request, caller, campaign_id):
    return await _campaign_page(web, request, caller, campaign_id)


@routes.route("/campaigns/<int:campaign_id>/<string:move>", methods=("POST",))
@page(security.OPERATOR)
async def campaign_move(web, request, caller, campaign_id, move):
    from fts.db.campaigns import CampaignNotFound

    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "campaigns")
    try:
        trigger = Trigger(move)
    except ValueError:
        trigger = None
    if trigger not in OPERATOR_MOVES:
        return web.error_page(request, caller, 404, "There is no such campaign action.")
    form = Form(request)
    note = form.text("note", "Note", required=False, max_length=500)
    try:
        await store.transition(campaign_id, trigger, store_actor(caller.actor), note=note)
    except CampaignNotFound:
        return web.error_page(request, caller, 404, "There is no such campaign.")
    except TransitionError as e:
        return await _campaign_page(web, request, caller, campaign_id, status=409,
                                    error=str(e))
    return web.see_other(request, f"/campaigns/{campaign_id}?notice=campaign-{trigger.value}")
