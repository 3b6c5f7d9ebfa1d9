"""
Campaigns: the list (filter by state, search by name, pages), the campaign
page and the operator's moves.

The campaign page shows the state, settings summary and life-cycle history;
the progress (contacts done, pending, in flight: L{fts.db.calls.CallsQuery})
and live outcome charts, kept current by server-sent events
(C{/campaigns/<id>/events}, L{fts.web.campaign_feed}); the calls table,
newest first, filterable by outcome, number and date and paged by keyset
(L{fts.web.pages.campaign_calls}, which also has the CSV download and the
test call); and the operation its job is running, if any.

Moves: pause, resume, start and cancel are one quick transaction each and
run in the request (start is offered only once the schedule's start has
come: before it the life cycle refuses, and the campaign starts by itself); confirming (validation, then every contact of the list
copied into the campaign) and cancelling the pending calls can take many
seconds on a big campaign, so they are queued for the job
C{campaign-actions} (L{fts.web.campaign_jobs}) and the page follows them.

Reads and writes go through C{store.campaigns}
(L{fts.db.campaigns.CampaignStore}); while the daemon has none, the pages
say so (L{fts.web.pages.pending}).  The wizard (create and edit) lives
elsewhere.
"""

from fts.core.lifecycle import State, TransitionError, Trigger, allowed_triggers
from fts.web import security
from fts.web.forms import Form
from fts.web.guard import Refusal, page
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

#: Moves offered on the campaign page only (the API deletes with DELETE).
PANEL_MOVES = {**OPERATOR_MOVES, Trigger.DELETE: "Delete campaign"}

NOTICES = {f"campaign-{t.value}": f"The campaign has been told to {t.value}."
           for t in OPERATOR_MOVES}
NOTICES.update({
    "campaign-delete": "The campaign has been deleted; its history stays in the audit log.",
    "campaign-confirm-queued": "Confirmation queued: the campaign is validated and its"
                               " contacts are added by the job campaign-actions. This page"
                               " follows it.",
    "campaign-cancel-pending-queued": "Cancelling the pending calls: queued for the job"
                                      " campaign-actions. This page follows it.",
})

#: Calls per page of the campaign page's calls table.
CALLS_PER_PAGE = 50


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


def moves_for(campaign, now=None):
    """
    The operator moves that apply in the campaign's state.

    @param now: the current POSIX time; when given, starting is not offered
        before the schedule's start (the life cycle would refuse it: the
        campaign starts by itself then).
    """
    allowed = set(allowed_triggers(campaign.state))
    if now is not None and campaign.starts_at is not None \
            and campaign.starts_at.timestamp() > now:
        allowed.discard(Trigger.START)
    return [(t.value, label) for t, label in PANEL_MOVES.items() if t in allowed]


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


def campaign_jobs(web):
    """
    The app's L{fts.web.campaign_jobs.CampaignJobs}, made on first use.
    """
    if web.campaign_jobs is None:
        from fts.web.campaign_jobs import CampaignJobs

        web.campaign_jobs = CampaignJobs(web.jobs, web.clock)
    return web.campaign_jobs


def campaign_feeds(web):
    """
    The app's L{fts.web.campaign_feed.CampaignFeeds}, made on first use.
    """
    if web.campaign_feeds is None:
        from fts.web.campaign_feed import CampaignFeeds

        from fts.web.pages.campaign_calls import calls_query

        feeds = web.campaign_feeds = CampaignFeeds(
            web, live_state, interval=web.live_interval,
            progress=lambda campaign_id: calls_query(web).progress(campaign_id))
        store = campaign_store(web)
        if store is not None:
            # A campaign that moves is read afresh, not served stale.
            store.on_transition(lambda campaign_id, move: feeds.progress.forget(campaign_id))
    return web.campaign_feeds


def action_of(web, campaign_id):
    """
    The campaign's latest queued operation as plain values, or L{None}.
    """
    status = campaign_jobs(web).status(campaign_id)
    return status.as_dict(web.clock.seconds()) if status is not None else None


async def live_state(web, campaign_id, campaign=None):
    """
    The cheap part of the campaign page's live data (no report): state,
    progress (kept a moment: L{fts.web.campaign_feed.ProgressCache}),
    calls in flight, the queued operation.  C{campaign}: the campaign
    already read, else it is read (with the progress, at once).
    """
    progress = campaign_feeds(web).progress.get(campaign_id)
    if campaign is None:
        campaign, progress = await _together(campaign_store(web).get(campaign_id), progress)
    else:
        progress = await progress
    return {
        "time": web.clock.seconds(),
        "state": campaign.state.value,
        "finish_reason": campaign.finish_reason.value if campaign.finish_reason else None,
        "progress": progress.as_dict(),
        "in_flight": web.calls.campaign_count(campaign_id) if web.calls is not None else None,
        "action": action_of(web, campaign_id),
    }


def queue_confirm(web, campaign_id, caller, note=""):
    """
    Queue the confirmation of a campaign for the job (the caller checked
    that its state allows it).

    @return: the L{fts.web.campaign_jobs.ActionStatus}.
    @raise fts.web.campaign_jobs.ActionBusy: something is already queued.
    """
    store = campaign_store(web)
    actor = store_actor(caller.actor)

    async def confirm():
        move = await store.transition(campaign_id, Trigger.CONFIRM, actor, note=note)
        return f"Confirmed: the campaign is {move.to_state.value}."

    return campaign_jobs(web).submit(campaign_id, "confirm", "confirmation",
                                     lambda: _deferred(confirm()))


def queue_cancel_pending(web, campaign_id, caller):
    """
    Queue the cancellation of every pending call of a campaign for the job
    (see L{fts.db.campaign_actions} for what it does).
    """
    from fts.db.campaign_actions import CampaignActions

    actions = CampaignActions(web.store.pool)

    async def cancel():
        closed = await actions.cancel_pending(campaign_id, caller.actor)
        return (f"Cancelled {closed.total} pending contacts ({closed.not_dialed} never"
                f" dialed, {closed.exhausted} waiting for a retry).")

    return campaign_jobs(web).submit(campaign_id, "cancel_pending",
                                     "cancelling the pending calls",
                                     lambda: _deferred(cancel()))


def _deferred(coroutine):
    from twisted.internet import defer

    return defer.ensureDeferred(coroutine)


async def _together(*reads):
    """
    The results of Deferreds or coroutines, run at once (the pool sends
    them on as many connections) rather than one after the other; the
    first failure is raised.
    """
    from twisted.internet import defer

    try:
        return await defer.gatherResults([defer.ensureDeferred(r) for r in reads],
                                         consumeErrors=True)
    except defer.FirstError as e:
        e.subFailure.raiseException()


async def get_campaign(web, request, caller, campaign_id):
    """
    The campaign C{campaign_id}.

    @raise Refusal: with the "not available" page while the daemon has no
        campaign store, a 404 for an unknown id.
    """
    from fts.db.campaigns import CampaignNotFound

    store = campaign_store(web)
    if store is None:
        raise Refusal(await pending.show(web, request, caller, "campaigns"))
    try:
        return await store.get(campaign_id)
    except CampaignNotFound:
        raise Refusal(web.error_page(request, caller, 404, "There is no such campaign."))


async def show_campaign(web, request, caller, campaign_id, status=200, error=None,
                        test_errors=None, test_phone=""):
    """
    Render the campaign page (also after a refused form, with its errors).
    """
    from fts.web.pages import campaign_calls as C

    campaign = await get_campaign(web, request, caller, campaign_id)
    store = campaign_store(web)
    form = Form(request) if request.method == b"GET" else None
    values = form.values if form is not None else {}
    filters, filter_errors = C.read_filter(values, C.timezone_of(campaign))
    before = None
    if form is not None:
        before = form.integer("before", "Page", low=1, required=False)
        filter_errors.update({k: v for k, v in form.errors.items() if k == "before"})
    # The reads that need only the campaign's id, at once.
    reads = [store.transitions(campaign_id), live_state(web, campaign_id, campaign)]
    if filters is not None and not filter_errors:
        query = C.calls_query(web)
        reads += [query.page(campaign_id, filters, before=before, limit=CALLS_PER_PAGE),
                  query.count(campaign_id, filters)]
    transitions, live, *listed = await _together(*reads)
    calls, total = listed if listed else (None, 0)
    shown = {name: values.get(name, "") for name in
             ("outcome", "phone", "date_from", "date_to", "tests")}
    return web.render(request, caller, "campaign.html", status=status, section="campaigns",
                      campaign=campaign, facts=summary(campaign), transitions=transitions,
                      moves=moves_for(campaign, web.clock.seconds()),
                      in_flight=live["in_flight"], error=error,
                      live=live, calls=calls, calls_total=total, filters=shown,
                      filter_errors=filter_errors, outcomes=C.OUTCOMES, before=before,
                      test_errors=test_errors or {}, test_phone=test_phone,
                      can_cancel_pending=campaign.state in (State.SCHEDULED, State.RUNNING,
                                                            State.PAUSED),
                      test_calls=web.test_calls is not None)


@routes.route("/campaigns/<int:campaign_id>")
@page()
async def campaign_page(web, request, caller, campaign_id):
    return await show_campaign(web, request, caller, campaign_id)


@routes.route("/campaigns/<int:campaign_id>/events")
@page()
async def campaign_events(web, request, caller, campaign_id):
    await get_campaign(web, request, caller, campaign_id)
    return campaign_feeds(web).subscribe(campaign_id, request)


@routes.route("/campaigns/<int:campaign_id>/cancel-pending", methods=("POST",))
@page(security.OPERATOR)
async def cancel_pending(web, request, caller, campaign_id):
    from fts.db.campaign_actions import CANCELLABLE
    from fts.web.campaign_jobs import ActionBusy

    campaign = await get_campaign(web, request, caller, campaign_id)
    if campaign.state not in CANCELLABLE:
        return await show_campaign(
            web, request, caller, campaign_id, status=409,
            error=f"The campaign is {campaign.state.value}; pending calls can be cancelled"
                  " only while it is scheduled, running or paused. Nothing was changed.")
    try:
        queue_cancel_pending(web, campaign_id, caller)
    except ActionBusy as e:
        return await show_campaign(web, request, caller, campaign_id, status=409,
                                   error=str(e))
    return web.see_other(request, f"/campaigns/{campaign_id}?notice=campaign-cancel-pending-queued")


@routes.route("/campaigns/<int:campaign_id>/<string:move>", methods=("POST",))
@page(security.OPERATOR)
async def campaign_move(web, request, caller, campaign_id, move):
    from fts.db.campaigns import CampaignNotFound
    from fts.web.campaign_jobs import ActionBusy

    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "campaigns")
    try:
        trigger = Trigger(move)
    except ValueError:
        trigger = None
    if trigger not in PANEL_MOVES:
        return web.error_page(request, caller, 404, "There is no such campaign action.")
    form = Form(request)
    note = form.text("note", "Note", required=False, max_length=500)
    if form.errors:
        return await show_campaign(web, request, caller, campaign_id, status=400,
                                   error=" ".join(form.errors.values()))
    if trigger is Trigger.CONFIRM:
        try:
            campaign = await store.get(campaign_id)
        except CampaignNotFound:
            return web.error_page(request, caller, 404, "There is no such campaign.")
        if Trigger.CONFIRM not in allowed_triggers(campaign.state) or campaign.is_template:
            return await show_campaign(
                web, request, caller, campaign_id, status=409,
                error=f"A {'template' if campaign.is_template else campaign.state.value}"
                      " campaign cannot be confirmed. Nothing was changed.")
        try:
            queue_confirm(web, campaign_id, caller, note=note)
        except ActionBusy as e:
            return await show_campaign(web, request, caller, campaign_id, status=409,
                                       error=str(e))
        return web.see_other(request, f"/campaigns/{campaign_id}?notice=campaign-confirm-queued")
    try:
        await store.transition(campaign_id, trigger, store_actor(caller.actor), note=note)
    except CampaignNotFound:
        return web.error_page(request, caller, 404, "There is no such campaign.")
    except TransitionError as e:
        return await show_campaign(web, request, caller, campaign_id, status=409,
                                   error=str(e))
    if trigger is Trigger.DELETE:
        return web.see_other(request, "/campaigns?notice=campaign-delete")
    return web.see_other(request, f"/campaigns/{campaign_id}?notice=campaign-{trigger.value}")
