"""
The campaign wizard: create a campaign and edit a draft (or template) step
by step, with plain forms that work without JavaScript.

The first step (basics) creates the draft; every later step edits that
row, so nothing lives only in the browser and the operator may leave and
come back.  Steps: basics (name, list, caller ID, DNC lists, dial string),
message (recordings, text-to-speech with C{{column}} placeholders and
spoken fields; add, remove and reorder; a TTS preview rendered through
C{web.tts} with the list's first contact, or sample values), key options,
answering machines, schedule (timezone, dates, weekly windows, recipient
hours), pacing, retries, and a review listing every problem confirmation
would find (L{fts.db.campaigns.CampaignStore.problems}) with a link to its
field.  A draft is saved even while it has such problems; what the database
cannot hold (see L{fts.web.campaign_form}) is refused at its field and
nothing is stored.  Only drafts can be edited (the store says so
otherwise).  Operators only; every save is in the audit log.
"""

from collections import Counter
from pathlib import Path
from urllib.parse import quote

import attr

from fts.audio.tts import TTSError
from fts.core.campaign import CampaignSettings, TextPart, render_text
from fts.core.lifecycle import State
from fts.web import campaign_form as F
from fts.web import security
from fts.web.forms import Form
from fts.web.guard import Refusal, page
from fts.web.pages import pending
from fts.web.pages.audio import tts_status
from fts.web.pages.campaigns import campaign_store, get_campaign, store_actor
from fts.web.pages.list_views import sentence
from fts.web.routes import RouteTable

routes = RouteTable()

NOTICES = {
    "wizard-saved": "The draft has been saved.",
    "wizard-created": "The draft campaign has been created; continue with its message.",
}


@attr.frozen
class Choices:
    """
    What the wizard's pages offer: ready contact lists, recordings, DNC
    lists, the chosen list's columns and a sample contact's fields.
    """

    lists: list
    assets: list
    dnc_lists: list
    columns: tuple
    sample: dict

    def facts(self, is_template=False):
        return F.Facts(asset_ids=frozenset(a.id for a in self.assets),
                       columns=self.columns, is_template=is_template)


async def load_choices(web, list_id):
    """
    The L{Choices} for a campaign on list C{list_id} (or none).
    """
    store = web.store
    lists = await store.contacts.lists(status="ready", limit=1000)
    assets = [a for a in await web.audio.list() if a.status == "ready"] \
        if web.audio is not None else []
    dnc_lists = await store.dnc.lists() if getattr(store, "dnc", None) is not None else []
    columns, first = (), None
    if list_id is not None:
        chosen = await store.contacts.get(list_id)
        if chosen is not None:
            columns = chosen.placeholders
            found = await store.contacts.contacts(list_id, limit=1)
            first = found.items[0].fields if found.items else None
    return Choices(lists, assets, dnc_lists, tuple(columns),
                   F.sample_fields(columns, first))


def edit_url(campaign_id, step):
    return f"/campaigns/{campaign_id}/edit/{step}"


def _neighbour(step, offset):
    names = F.STEP_NAMES
    index = names.index(step) + offset
    return names[max(0, min(index, len(names) - 1))]


async def render_step(web, request, caller, step, campaign=None, settings=None,
                      description=None, form=None, status=200, error=None, preview=None):
    """
    Render one step of the wizard.

    @param campaign: the stored L{fts.db.campaigns.Campaign}, or L{None}
        while creating.
    @param settings: the settings to show (default the campaign's).
    @param form: the submitted L{Form} after a refusal: its errors and raw
        values are shown.
    @param preview: C{(path, url or None, message or None)} of a TTS preview.
    """
    if settings is None:
        settings = campaign.settings if campaign is not None else CampaignSettings(
            name="")
    if description is None and campaign is not None:
        description = campaign.description
    is_template = bool(campaign is not None and campaign.is_template)
    choices = await load_choices(web, settings.list_id)
    problems = []
    if campaign is not None:
        problems = await campaign_store(web).problems(settings, is_template=is_template)
    configured, available, reason = tts_status(web)
    return web.render(
        request, caller, "campaign_wizard.html", status=status, section="campaigns",
        step=step, steps=F.STEPS, campaign=campaign, settings=settings,
        description=description or "", is_template=is_template, choices=choices,
        errors=form.errors if form is not None else {},
        raw=form.values if form is not None and form.errors else {},
        problems=problems, at=F.problems_at(problems), step_of=F.step_of, error=error,
        step_titles=dict(F.STEPS), step_counts=Counter(F.step_of(p.path) for p in problems),
        preview=preview, tts_available=available, tts_reason=reason,
        weekdays=F.WEEKDAYS, retry_rules=F.RETRY_RULES, part_types=F.PART_TYPES,
        amd_parameters=F.AMD_PARAMETERS)


async def _campaign(web, request, caller, campaign_id):
    """
    The campaign C{campaign_id}, a draft.

    @raise Refusal: no such campaign (404), or not a draft (409).
    """
    campaign = await get_campaign(web, request, caller, campaign_id)
    if campaign.state is not State.DRAFT:
        raise Refusal(web.error_page(
            request, caller, 409,
            f"Campaign {campaign_id} is {campaign.state.value}; only a draft's settings"
            " can be changed. Nothing was changed."))
    return campaign


# -- creating -------------------------------------------------------------------


@routes.route("/campaigns/new")
@page(security.OPERATOR)
async def new_campaign(web, request, caller):
    if campaign_store(web) is None:
        return await pending.show(web, request, caller, "campaigns")
    form = Form(request)
    list_id = form.integer("list_id", "Contact list", low=1, high=2 ** 62, required=False)
    return await render_step(web, request, caller, "basics",
                             settings=CampaignSettings(name="", list_id=list_id))


@routes.route("/campaigns/new", methods=("POST",))
@page(security.OPERATOR)
async def create_campaign(web, request, caller):
    from fts.db.campaigns import InvalidCampaign

    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "campaigns")
    form = Form(request)
    settings, extra = F.parse_step("basics", form, CampaignSettings(), F.Facts())
    if form.ok:
        try:
            campaign = await store.create(settings, store_actor(caller.actor),
                                          description=extra["description"])
        except InvalidCampaign as e:
            form.error("list_id" if "contact list" in str(e) else "", sentence(e))
    if not form.ok:
        return await render_step(web, request, caller, "basics", settings=settings,
                                 description=extra.get("description"), form=form,
                                 status=400, error=form.errors.get(""))
    await web.audit.record(caller.actor, "campaign.create", "campaign", campaign.id,
                           {"name": campaign.name, "via": "wizard"})
    following = "basics" if (form.raw("action") or "") == "save" else "message"
    notice = "wizard-saved" if following == "basics" else "wizard-created"
    return web.see_other(request, edit_url(campaign.id, following) + f"?notice={notice}")


# -- editing --------------------------------------------------------------------


@routes.route("/campaigns/<int:campaign_id>/edit")
@page(security.OPERATOR)
async def edit_campaign(web, request, caller, campaign_id):
    return web.see_other(request, edit_url(campaign_id, "basics"))


@routes.route("/campaigns/<int:campaign_id>/edit/<string:step>")
@page(security.OPERATOR)
async def edit_step(web, request, caller, campaign_id, step):
    if campaign_store(web) is None:
        return await pending.show(web, request, caller, "campaigns")
    if step not in F.STEP_NAMES:
        return web.error_page(request, caller, 404, "There is no such wizard step.")
    campaign = await _campaign(web, request, caller, campaign_id)
    return await render_step(web, request, caller, step, campaign)


@routes.route("/campaigns/<int:campaign_id>/edit/<string:step>", methods=("POST",))
@page(security.OPERATOR)
async def save_step(web, request, caller, campaign_id, step):
    """
    Save a step's fields (and apply the list edit its button asks for),
    then go where the button says: C{action=next}, C{back}, C{review}, or
    stay (C{save}, list edits).
    """
    from fts.db.campaigns import InvalidCampaign, NotEditable

    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "campaigns")
    if step not in F.STEP_NAMES:
        return web.error_page(request, caller, 404, "There is no such wizard step.")
    campaign = await _campaign(web, request, caller, campaign_id)
    form = Form(request)
    choices = await load_choices(web, campaign.settings.list_id)
    facts = choices.facts(campaign.is_template)
    settings, extra = F.parse_step(step, form, campaign.settings, facts)
    if step == "basics" and settings.list_id != campaign.settings.list_id:
        facts = (await load_choices(web, settings.list_id)).facts(campaign.is_template)
    op = F.parse_op(form.raw("op"))
    if form.ok and op is not None:
        settings, problem = F.apply_op(op, settings, facts)
        if problem:
            form.error("op", problem)
    if not form.ok:
        return await render_step(web, request, caller, step, campaign, settings=settings,
                                 description=extra.get("description"), form=form,
                                 status=400, error=form.errors.get("op"))
    changes = {"description": extra["description"]} if "description" in extra else {}
    try:
        campaign = await store.update(campaign_id, settings, store_actor(caller.actor),
                                      **changes)
    except NotEditable as e:
        return web.error_page(request, caller, 409, sentence(e) + " Nothing was changed.")
    except InvalidCampaign as e:
        if "contact list" in str(e):
            form.error("list_id", sentence(e))
        return await render_step(web, request, caller, step, campaign, settings=settings,
                                 description=extra.get("description"), form=form,
                                 status=400, error=sentence(e) + " Nothing was saved.")
    await web.audit.record(caller.actor, "campaign.update", "campaign", campaign_id,
                           {"step": step, "name": settings.name,
                            **({"edit": form.raw("op")} if op else {})})
    if op is not None and op[0] == "preview":
        return await _preview(web, request, caller, step, campaign, op[1], op[2])
    action = form.raw("action") or "save"
    target = {"next": _neighbour(step, 1), "back": _neighbour(step, -1),
              "review": "review"}.get(action, step)
    url = edit_url(campaign_id, target)
    if target == step:
        url += "?notice=wizard-saved"
        if op is not None:
            url += "#" + quote(op[1], safe="")
    return web.see_other(request, url)


# -- text-to-speech preview -----------------------------------------------------


def _text_part(settings, path, index):
    """
    The L{TextPart} at C{path}[C{index}], or L{None}.
    """
    if not F.editable_list(path) or not index.isdigit():
        return None
    try:
        part = F.get_path(settings, path)[int(index)]
    except (AttributeError, IndexError, TypeError):
        return None
    return part if isinstance(part, TextPart) else None


async def _preview(web, request, caller, step, campaign, path, index):
    """
    Render a text part's speech (filled with the sample contact) and show
    the step with a player for it, or with the reason it cannot be heard.
    """
    where = f"{path}[{index}]"
    part = _text_part(campaign.settings, path, index)
    url, message = None, None
    configured, available, reason = tts_status(web)
    if part is None:
        message = "Only text-to-speech parts can be previewed."
    elif not available:
        message = f"No preview: {reason or 'text-to-speech is not available.'}"
    else:
        choices = await load_choices(web, campaign.settings.list_id)
        try:
            await web.tts.render(render_text(part.text, choices.sample))
        except (TTSError, ValueError) as e:
            message = f"No preview: {sentence(e)}"
        else:
            url = (f"/campaigns/{campaign.id}/preview.wav?part={quote(path, safe='')}"
                   f"&index={index}")
    return await render_step(web, request, caller, step, campaign,
                             preview=(where, url, message))


@routes.route("/campaigns/<int:campaign_id>/preview.wav")
@page(security.OPERATOR)
async def preview_sound(web, request, caller, campaign_id):
    """
    The speech of one text part (C{?part=message&index=0}), filled with the
    list's first contact (or sample values), as WAV.
    """
    campaign = await get_campaign(web, request, caller, campaign_id)
    form = Form(request)
    part = _text_part(campaign.settings, form.raw("part") or "", form.raw("index") or "")
    if part is None:
        return web.error_page(request, caller, 404, "There is no such text part.")
    configured, available, reason = tts_status(web)
    if not available:
        return web.error_page(request, caller, 503, reason or "No text-to-speech.")
    choices = await load_choices(web, campaign.settings.list_id)
    try:
        sound = await web.tts.render(render_text(part.text, choices.sample))
    except (TTSError, ValueError) as e:
        return web.error_page(request, caller, 503, f"No preview: {sentence(e)}")
    data = await web.run_blocking(Path(sound.paths["wav"]).read_bytes)
    request.setHeader(b"content-type", b"audio/wav")
    request.setHeader(b"content-disposition", b'inline; filename="preview.wav"')
    return data
