"""
Campaign templates: every setting of a campaign (message, keys, AMD,
windows, pacing, retries, DNC lists) without a contact list or dates, kept
to start new campaigns from.

The page lists the templates; an operator creates a campaign from one
(name, list, optional dates: the new draft opens in the wizard's review),
saves a campaign as a template (the button on the campaign page), starts an
empty template, renames and deletes templates.  Templates are edited with
the campaign wizard (L{fts.web.pages.campaign_wizard}).  Reads and writes go
through C{store.campaigns} (L{fts.db.campaigns.CampaignStore}); every change
is audited.
"""

import attr

from fts.core.campaign import CampaignSettings
from fts.core.lifecycle import State, TransitionError, Trigger
from fts.web import security
from fts.web.campaign_form import read_datetime
from fts.web.forms import Form
from fts.web.guard import Refusal, page
from fts.web.pages import pending
from fts.web.pages.campaigns import campaign_store, store_actor
from fts.web.pages.list_views import sentence
from fts.web.routes import RouteTable

routes = RouteTable()

NOTICES = {
    "template-saved": "The campaign's settings have been saved as a new template.",
    "template-renamed": "The template has been renamed.",
    "template-deleted": "The template has been deleted.",
}


async def _index(web, request, caller, status=200, errors=None, values=None, error=None,
                 target=None):
    store = campaign_store(web)
    templates = await store.list(states=[State.DRAFT], is_template=True, limit=1000)
    lists = await web.store.contacts.lists(status="ready", limit=1000)
    return web.render(request, caller, "campaign_templates.html", status=status,
                      section="templates", templates=templates, lists=lists,
                      errors=errors or {}, values=values or {}, error=error, target=target)


@routes.route("/templates")
@page()
async def templates_page(web, request, caller):
    if campaign_store(web) is None:
        return await pending.show(web, request, caller, "templates")
    return await _index(web, request, caller)


async def _template(web, request, caller, template_id):
    """
    The template C{template_id}.

    @raise Refusal: a 404 when there is no such template.
    """
    from fts.db.campaigns import CampaignNotFound

    try:
        found = await campaign_store(web).get(template_id)
    except CampaignNotFound:
        found = None
    if found is None or not found.is_template or found.state is not State.DRAFT:
        raise Refusal(web.error_page(request, caller, 404, "There is no such template."))
    return found


@routes.route("/templates/new", methods=("POST",))
@page(security.OPERATOR)
async def new_template(web, request, caller):
    """
    An empty template, opened in the wizard.
    """
    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "templates")
    form = Form(request)
    name = form.text("name", "Name", max_length=200)
    if not form.ok:
        return await _index(web, request, caller, 400, form.errors, form.values,
                            target="new")
    template = await store.create(CampaignSettings(name=name), store_actor(caller.actor),
                                  is_template=True)
    await web.audit.record(caller.actor, "campaign_template.create", "campaign",
                           template.id, {"name": name})
    return web.see_other(request, f"/campaigns/{template.id}/edit/basics")


@routes.route("/templates/<int:template_id>/campaigns", methods=("POST",))
@page(security.OPERATOR)
async def campaign_from_template(web, request, caller, template_id):
    """
    A new draft with the template's settings, the given name and list, and
    optional dates; it opens in the wizard's review.
    """
    from fts.db.campaigns import InvalidCampaign

    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "templates")
    await _template(web, request, caller, template_id)
    form = Form(request)
    name = form.text("name", "Name", max_length=200)
    list_id = form.integer("list_id", "Contact list", low=1, high=2 ** 62)
    start = read_datetime(form, "start", "Start")
    end = read_datetime(form, "end", "End")
    if start is not None and end is not None and end <= start:
        form.error("end", "The end must be after the start.")
    if form.ok:
        try:
            campaign = await store.create_from_template(
                template_id, store_actor(caller.actor), name=name, list_id=list_id,
                start=start, end=end)
        except InvalidCampaign as e:
            form.error("list_id", sentence(e))
    if not form.ok:
        return await _index(web, request, caller, 400, form.errors, form.values,
                            target=template_id)
    await web.audit.record(caller.actor, "campaign.create", "campaign", campaign.id,
                           {"name": name, "template_id": template_id, "list_id": list_id})
    return web.see_other(request, f"/campaigns/{campaign.id}/edit/review")


@routes.route("/templates/<int:template_id>/rename", methods=("POST",))
@page(security.OPERATOR)
async def rename_template(web, request, caller, template_id):
    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "templates")
    template = await _template(web, request, caller, template_id)
    form = Form(request)
    name = form.text("name", "Name", max_length=200)
    if not form.ok:
        return await _index(web, request, caller, 400, form.errors, form.values,
                            target=template_id)
    await store.update(template_id, attr.evolve(template.settings, name=name),
                       store_actor(caller.actor))
    await web.audit.record(caller.actor, "campaign_template.rename", "campaign",
                           template_id, {"from": template.name, "to": name})
    return web.see_other(request, "/templates?notice=template-renamed")


@routes.route("/templates/<int:template_id>/delete", methods=("POST",))
@page(security.OPERATOR)
async def delete_template(web, request, caller, template_id):
    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "templates")
    template = await _template(web, request, caller, template_id)
    try:
        await store.transition(template_id, Trigger.DELETE, store_actor(caller.actor))
    except TransitionError as e:
        return await _index(web, request, caller, 409, error=sentence(e))
    await web.audit.record(caller.actor, "campaign_template.delete", "campaign",
                           template_id, {"name": template.name})
    return web.see_other(request, "/templates?notice=template-deleted")


@routes.route("/campaigns/<int:campaign_id>/save-as-template", methods=("POST",))
@page(security.OPERATOR)
async def save_as_template(web, request, caller, campaign_id):
    """
    A new template with every setting of the campaign but its list and
    dates (any state: a finished campaign's settings are worth keeping).
    """
    from fts.db.campaigns import CampaignNotFound

    store = campaign_store(web)
    if store is None:
        return await pending.show(web, request, caller, "templates")
    form = Form(request)
    name = form.text("name", "Template name", required=False, max_length=200) or None
    if not form.ok:
        return web.error_page(request, caller, 400, form.errors["name"])
    try:
        template = await store.save_as_template(campaign_id, store_actor(caller.actor),
                                                name=name)
    except CampaignNotFound:
        return web.error_page(request, caller, 404, "There is no such campaign.")
    await web.audit.record(caller.actor, "campaign_template.create", "campaign", template.id,
                           {"name": template.name, "from_campaign": campaign_id})
    return web.see_other(request, "/templates?notice=template-saved")
