"""
The import of a contact list: the format form (detect again with some
choices fixed, preview the first rows with a corrected format, start the
import) and the rejected-rows report (a page, and a CSV download viewers
may read too).
"""

from fts.contacts import report
from fts.core import contacts as C
from fts.db.contacts import ContactListError
from fts.web import downloads, security
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.pages import list_views as V
from fts.web.pages.lists import get_list, list_detail
from fts.web.routes import RouteTable

routes = RouteTable()
REJECTS_PER_PAGE = 100
ACTIONS = ("detect", "preview", "start")


@routes.route("/lists/<int:list_id>/format", methods=("POST",))
@page(security.OPERATOR)
async def list_format(web, request, caller, list_id):
    """
    The format form's three buttons: C{detect} (detect the columns again
    with the encoding, delimiter and header chosen), C{preview} (show the
    first rows as the form's format takes them; nothing is stored) and
    C{start} (store the format and start the import).
    """
    store, lst = await get_list(web, request, caller, list_id)
    if not lst.upload_path or lst.import_status not in (C.UPLOADED, C.IMPORTED, C.FAILED):
        return await list_detail(web, request, caller, lst, status=409,
                                 error="This list's format can no longer be changed.")
    form = Form(request)
    action = form.choice("action", "Action", ACTIONS) or "preview"
    if action == "detect":
        return await _detect(web, request, caller, store, lst, form)
    fmt = V.read_format(form)
    detected = None
    if fmt is not None:
        detected = await V.sniff_list(web, lst, fmt)
        if detected is None:
            form.error("columns", "The uploaded file cannot be read any more: delete this"
                                  " list and upload the file again.")
        elif len(detected.columns) != len(fmt.columns):
            form.error("delimiter", f"With these choices the file has"
                                    f" {len(detected.columns)} columns, not"
                                    f" {len(fmt.columns)}: press “Detect again” to get"
                                    " its columns.")
    if not form.ok:
        return await list_detail(web, request, caller, lst, status=400, errors=form.errors,
                                 values=form.values, detected=detected)
    if action == "preview":
        preview = C.validate_sample(detected.rows, fmt, web.imports.rules)
        return await list_detail(web, request, caller, lst, values=form.values,
                                 detected=detected, preview=preview)
    try:
        await web.imports.start(lst.id, fmt)
    except ContactListError as e:
        current = await store.get(lst.id)
        return await list_detail(web, request, caller, current, status=409,
                                 error=V.sentence(e), values=form.values)
    await web.audit.record(caller.actor, "contact_list.import", "contact_list", lst.id,
                           {"name": lst.name, "format": V.format_json(fmt)})
    return web.see_other(request, f"/lists/{lst.id}?notice=list-importing")


async def _detect(web, request, caller, store, lst, form):
    encoding = form.choice("encoding", "Encoding", C.ENCODINGS)
    delimiter = form.choice("delimiter", "Delimiter", list(V.DELIMITERS))
    header = form.choice("has_header", "Header row", ("yes", "no"))
    if not form.ok:
        return await list_detail(web, request, caller, lst, status=400, errors=form.errors,
                                 values=form.values)
    try:
        detected = await web.imports.detect(lst.id, encoding, V.DELIMITERS[delimiter],
                                            header == "yes")
    except (C.FormatError, OSError) as e:
        return await list_detail(web, request, caller, lst, status=409,
                                 error=f"The file cannot be read: {e}")
    lst = await store.get(lst.id)
    return await list_detail(web, request, caller, lst, values=V.format_values(
        detected.format()), detected=detected)


# -- the rejected rows -----------------------------------------------------------


@routes.route("/lists/<int:list_id>/rejects")
@page()
async def rejects_page(web, request, caller, list_id):
    """
    The rejected rows of the list's import, by row number, a page at a
    time, optionally of one reason.
    """
    store, lst = await get_list(web, request, caller, list_id)
    summary = await store.reject_summary(list_id)
    form = Form(request)
    reason = form.choice("reason", "Reason", C.REASON_CODES, required=False)
    after = V.decode_after(form.raw("after"))
    found = await store.rejects(list_id, limit=REJECTS_PER_PAGE, after=after,
                                reason_code=reason)
    return web.render(request, caller, "list_rejects.html", section="lists", lst=lst,
                      rejects=found.items, next_after=V.encode_after(found.after),
                      first_page=after is None, summary=summary, reason=reason or "",
                      reasons=V.REASON_TEXT, errors=form.errors)


@routes.route("/lists/<int:list_id>/rejects.csv")
@page()
async def rejects_csv(web, request, caller, list_id):
    """
    The rejected-rows report as CSV (one line per problem), streamed.
    """
    store, lst = await get_list(web, request, caller, list_id)
    form = Form(request)
    reason = form.choice("reason", "Reason", C.REASON_CODES, required=False)
    suffix = f"-{reason}" if reason else ""
    return await downloads.stream(
        request, b"text/csv; charset=utf-8", f"contact-list-{list_id}-rejects{suffix}.csv",
        lambda write: report.write_contact_rejects(store, list_id, write,
                                                   reason_code=reason))
