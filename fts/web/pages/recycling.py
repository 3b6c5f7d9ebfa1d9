"""
Recycling from the panel: the operator picks which contacts of a finalized
campaign a new draft takes over (outcomes and "pressed key X", as
L{fts.core.recycling.RecycleSelection} defines them), sees how many
contacts match, then confirms; the draft is created with the same settings
on a new list of just those contacts, and the browser goes to it.

The count is a GET (it changes nothing); the recycling is a POST with the
CSRF token, for operators, recorded in the audit log and in the new
campaign's history.  L{recycle} is shared with the API.
"""

from fts.core.lifecycle import TransitionError
from fts.core.recycling import RecycleChoice, RecycleSelection
from fts.db.recycling import RecycleCounts
from fts.web import security
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.pages import pending
from fts.web.pages.campaigns import campaign_store, store_actor
from fts.web.pages.reports import report_index
from fts.web.routes import RouteTable

routes = RouteTable()

#: Every choice with its label and what it takes, in the form's order.
CHOICES = (
    (RecycleChoice.NOT_ANSWERED, "Not answered",
     "Dialed but never answered, whatever the reason."),
    (RecycleChoice.BUSY, "Busy", "Never answered; the last attempt was busy."),
    (RecycleChoice.NO_ANSWER, "No answer",
     "Never answered; the last attempt rang out (or its outcome was lost)."),
    (RecycleChoice.FAILED, "Failed or congestion",
     "Never answered; the last attempt hit congestion, an unavailable channel or a PBX"
     " failure."),
    (RecycleChoice.MACHINE, "Answering machine",
     "Answered by a machine (the AMD verdict of the last answered call)."),
    (RecycleChoice.ANSWERED_WITHOUT_KEY, "Answered without a key",
     "Answered, not by a machine, and no key pressed."),
    (RecycleChoice.NEVER_DIALED, "Never dialed",
     "Not dialed, skipped for calling hours, or cancelled before dialing."),
)
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#")
NAME_LIMIT = 200

NOTICES = {
    "campaign-recycled": "The recycled campaign was created as a draft with the same"
                         " settings. Review it, then confirm it to schedule it.",
}


class RecycleRefused(Exception):
    """
    A recycling that cannot be done: C{status}, the reason in words, and
    the C{(field, problem)} pairs when the request itself was wrong.
    """

    def __init__(self, status, message, problems=()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = list(problems)


def read_selection(choices, keys):
    """
    A L{RecycleSelection} from submitted choice and key values.

    @return: C{(selection or None, [(field, problem), ...])}.
    """
    problems = []
    known = {choice.value for choice in RecycleChoice}
    bad = [c for c in choices if c not in known]
    if bad:
        problems.append(("choices", "Unknown outcome: " + ", ".join(map(repr, bad[:5]))
                         + ". Choose among: " + ", ".join(sorted(known)) + "."))
    bad_keys = [k for k in keys if k not in KEYS]
    if bad_keys:
        problems.append(("keys", "Not a phone key: " + ", ".join(map(repr, bad_keys[:5]))
                         + ". Keys are 0-9, * and #."))
    if problems:
        return None, problems
    try:
        return RecycleSelection(choices=choices, keys=keys), []
    except ValueError as e:
        return None, [("choices", str(e))]


async def source_of(web, campaign_id):
    """
    The campaign to recycle, as a L{fts.db.report_index.CampaignRef}.

    @raise RecycleRefused: no such campaign (404), or not finalized (409).
    """
    ref = await report_index(web).campaign(campaign_id)
    if ref is None or ref.is_template:
        raise RecycleRefused(404, "There is no such campaign." if ref is None else
                             "A template cannot be recycled; only a finalized campaign can.")
    if ref.state != "finalized":
        raise RecycleRefused(409, f"This campaign is {ref.state}: only a finalized campaign"
                                  " can be recycled. Nothing was created.")
    return ref


def count_matching(web, campaign_id, selection):
    """
    A Deferred firing with how many contacts C{selection} takes.
    """
    return RecycleCounts(web.store.pool).count(campaign_id, selection)


async def recycle(web, caller, ref, selection, name):
    """
    Create the recycled draft of campaign C{ref} and audit it.

    @return: C{(campaign, contacts taken)}.
    @raise RecycleRefused: no contact matches (422), or the store refused.
    """
    store = campaign_store(web)
    contacts = await count_matching(web, ref.id, selection)
    if not contacts:
        raise RecycleRefused(422, "No contact of this campaign matches that choice;"
                                  " nothing was created.",
                             [("choices", "matches no contact")])
    try:
        made = await store.recycle(ref.id, selection, store_actor(caller.actor),
                                   name=name or None)
    except TransitionError as e:
        raise RecycleRefused(409, f"{e} Nothing was created.")
    await web.audit.record(caller.actor, "campaign.recycle", "campaign", made.id, {
        "from_campaign": ref.id, "choices": sorted(c.value for c in selection.choices),
        "keys": sorted(selection.keys), "contacts": contacts})
    return made, contacts


def _read_form(request, ref):
    form = Form(request)
    choices, keys = form.all("choice"), form.all("key")
    name = form.text("name", "Name", required=False, max_length=NAME_LIMIT)
    selection, problems = read_selection(choices, keys)
    for field, problem in problems:
        form.error(field, problem)
    values = {"choices": set(choices), "keys": set(keys),
              "name": name or f"{ref.name} (recycled)"[:NAME_LIMIT]}
    return form, selection, values, name


async def _show(web, request, caller, campaign_id, respond):
    if web.store is None or campaign_store(web) is None:
        return await pending.show(web, request, caller, "campaigns")
    try:
        ref = await source_of(web, campaign_id)
    except RecycleRefused as e:
        return web.error_page(request, caller, e.status, e.message)
    return await respond(ref)


def _render(web, request, caller, ref, values, errors, matching=None, status=200,
            error=None):
    return web.render(request, caller, "recycle.html", status=status, section="campaigns",
                      ref=ref, values=values, errors=errors, matching=matching,
                      choices=CHOICES, keys=KEYS, error=error, name_limit=NAME_LIMIT)


@routes.route("/campaigns/<int:campaign_id>/recycle")
@page(security.OPERATOR)
async def recycle_page(web, request, caller, campaign_id):
    async def respond(ref):
        if not request.args or b"preview" not in request.args:
            values = {"choices": set(), "keys": set(),
                      "name": f"{ref.name} (recycled)"[:NAME_LIMIT]}
            return _render(web, request, caller, ref, values, {})
        form, selection, values, _ = _read_form(request, ref)
        if not form.ok:
            return _render(web, request, caller, ref, values, form.errors, status=422)
        matching = await count_matching(web, ref.id, selection)
        return _render(web, request, caller, ref, values, {}, matching=matching)

    return await _show(web, request, caller, campaign_id, respond)


@routes.route("/campaigns/<int:campaign_id>/recycle", methods=("POST",))
@page(security.OPERATOR)
async def recycle_post(web, request, caller, campaign_id):
    async def respond(ref):
        form, selection, values, name = _read_form(request, ref)
        if not form.ok:
            return _render(web, request, caller, ref, values, form.errors, status=422)
        try:
            made, _ = await recycle(web, caller, ref, selection, name)
        except RecycleRefused as e:
            errors = dict(e.problems)
            return _render(web, request, caller, ref, values, errors, matching=0 if
                           e.status == 422 else None, status=e.status, error=e.message)
        return web.see_other(request, f"/campaigns/{made.id}?notice=campaign-recycled")

    return await _show(web, request, caller, campaign_id, respond)
