"""
The audit log (admin only): every change, newest first, paginated and
filterable by object type and actor.
"""

from fts.web import security
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.routes import RouteTable

routes = RouteTable()
PER_PAGE = 50


def page_number(form):
    number = form.integer("page", "Page", low=1, high=100000, required=False)
    return number or 1


@routes.route("/audit")
@page(security.ADMIN)
async def audit_page(web, request, caller):
    form = Form(request)
    number = page_number(form)
    object_type = form.text("type", "Type", required=False, max_length=50) or None
    actor = form.text("actor", "Actor", required=False, max_length=200) or None
    entries, total = await web.audit.entries(limit=PER_PAGE, offset=(number - 1) * PER_PAGE,
                                             object_type=object_type, actor=actor)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return web.render(request, caller, "audit.html", section="audit", entries=entries,
                      total=total, page=number, pages=pages, object_type=object_type or "",
                      actor=actor or "")
