"""
Contact lists: the lists with their status and counts, the upload (the
file is saved in blocks and its format detected before anything is
stored), the list page (the format to confirm and the preview while it
waits for an import, the progress while it imports, the decision after an
import with rejected rows, the contacts once ready), the progress poll,
and archive, restore, rename, discard, accept and delete.

The format form, the import start and the rejected-rows report are in
L{fts.web.pages.list_import}.  Reads and writes go through C{store.contacts}
(L{fts.db.contacts.ContactStore}) and the importer
(L{fts.contacts.imports.ContactImports}, C{web.imports}); while the daemon
has no importer the pages say so.
"""

import json
import tempfile
from pathlib import Path

from fts.core import contacts as C
from fts.db.contacts import ContactListError
from fts.web import security, uploads
from fts.web.forms import Form
from fts.web.guard import Refusal, page
from fts.web.pages import list_views as V
from fts.web.routes import RouteTable

routes = RouteTable()
PER_PAGE = 25
CONTACTS_PER_PAGE = 50

NOTICES = {
    "list-uploaded": "The file has been uploaded. Check the format FTS detected, correct"
                     " what needs correcting, then start the import.",
    "list-importing": "The import has started; its progress shows below.",
    "list-accepted": "The imported rows have been accepted: the list is ready for"
                     " campaigns.",
    "list-discarded": "The import has been discarded; its rejected rows stay readable.",
    "list-archived": "The list has been archived: it leaves the list of lists and the"
                     " campaign wizard; campaigns using it keep working.",
    "list-restored": "The list has been restored.",
    "list-renamed": "The list has been renamed.",
    "list-deleted": "The list and its contacts have been deleted.",
}


# -- the lists ---------------------------------------------------------------------


async def _index(web, request, caller, status=200, errors=None, values=None):
    store = V.contact_store(web)
    form = Form(request) if status == 200 else None
    archived = bool(form and form.checkbox("archived"))
    number = (form.integer("page", "Page", low=1, high=100000, required=False)
              if form else None) or 1
    found = await store.lists(archived=archived, limit=PER_PAGE + 1,
                              offset=(number - 1) * PER_PAGE)
    return web.render(request, caller, "lists.html", status=status, section="lists",
                      lists=found[:PER_PAGE], more=len(found) > PER_PAGE, page=number,
                      archived=archived, errors=errors or (form.errors if form else {}),
                      values=values or {}, limit=V.upload_limit_text())


@routes.route("/lists")
@page()
async def lists_page(web, request, caller):
    if V.contact_store(web) is None:
        return await V.not_wired(web, request, caller)
    return await _index(web, request, caller)


@routes.route("/lists/upload", methods=("POST",))
@uploads.upload_page(security.OPERATOR)
async def upload_list(web, request, caller):
    """
    Create a list from an uploaded CSV file: the name and the file are
    checked (type, size, content) before anything is stored.
    """
    store = V.contact_store(web)
    if store is None:
        return await V.not_wired(web, request, caller)
    form = Form(request)
    name = form.text("name", "Name", max_length=200)
    description = form.text("description", "Description", required=False, max_length=1000)
    saved = await save_csv(web, request, form, uploads.LIST_MAX_BYTES)
    if saved is not None and "file" not in form.errors:
        try:
            await V.sniff_file(web, saved.path)
        except C.FormatError as e:
            form.error("file", V.file_problem(e, saved.filename))
    if not form.ok:
        if saved is not None:
            await web.run_blocking(uploads.remove, saved.path)
        return await _index(web, request, caller, 400, form.errors, form.values)
    lst = await store.create_list(name, description or None, created_by=caller.account.id,
                                  source_filename=saved.filename)
    relative, absolute = web.imports.upload_path(lst.id)
    await web.run_blocking(uploads.move, saved.path, absolute)
    await web.imports.uploaded(lst.id, relative, saved.filename)
    await web.audit.record(caller.actor, "contact_list.upload", "contact_list", lst.id,
                           {"name": name, "file": saved.filename, "bytes": saved.size})
    return web.see_other(request, f"/lists/{lst.id}?notice=list-uploaded")


async def save_csv(web, request, form, max_bytes):
    """
    Save the C{file} part of a multipart request to a staging file; every
    problem goes to C{form} at C{file}.

    @return: the L{fts.web.uploads.Saved} file, or L{None}.
    """
    staging = uploads.staging_path(staging_directory(web), ".csv")
    try:
        boundary = uploads.boundary_of(request)
        saved = await web.run_blocking(uploads.save_part, request.content, boundary, "file",
                                       staging, max_bytes)
    except uploads.UploadError as e:
        form.error("file", str(e))
        return None
    problem = uploads.csv_type_problem(saved.filename)
    if problem:
        form.error("file", problem)
    return saved


def staging_directory(web):
    """
    Where uploads wait while they are checked: C{web.upload_dir}, by
    default C{uploads/incoming} in the importer's data directory (the same
    file system as the lists' files, so moving one is a rename), else the
    system's temporary directory.
    """
    if web.upload_dir is not None:
        return web.upload_dir
    if web.imports is not None:
        return web.imports.data_dir / "uploads" / "incoming"
    return Path(tempfile.gettempdir()) / "fts-uploads"


# -- one list ------------------------------------------------------------------


async def get_list(web, request, caller, list_id):
    """
    C{(store, list)}.

    @raise Refusal: no such list (404), or the lists are not wired.
    """
    store = V.contact_store(web)
    if store is None:
        raise Refusal(await V.not_wired(web, request, caller))
    lst = await store.get(list_id)
    if lst is None:
        raise Refusal(web.error_page(request, caller, 404, "There is no such contact list."))
    return store, lst


async def list_detail(web, request, caller, lst, status=200, error=None, errors=None,
                      values=None, detected=None, preview=None):
    """
    The list page for the list's import status (see the module docstring).
    """
    store = V.contact_store(web)
    context = {"lst": lst, "facts": V.list_json(lst), "error": error,
               "human_size": uploads.human_size,
               "errors": errors or {}, "reasons": V.REASON_TEXT,
               "summary": await store.reject_summary(lst.id)}
    if lst.import_status in (C.UPLOADED, C.IMPORTED, C.FAILED) and lst.upload_path:
        context.update(await _wizard(web, lst, values, detected, preview))
    if lst.import_status == C.READY:
        context.update(await _contacts(store, request, lst))
    return web.render(request, caller, "list.html", status=status, section="lists",
                      **context)


async def _wizard(web, lst, values, detected, preview):
    """
    The format form's context: what was detected, the values to show and
    the preview of the first rows.
    """
    fmt = lst.format()
    if detected is None:
        detected = await V.sniff_list(web, lst)
    if detected is not None and fmt is None:
        fmt = detected.format()
    if values is None and fmt is not None:
        values = V.format_values(fmt)
    if preview is None and detected is not None and fmt is not None:
        preview = C.validate_sample(detected.rows, fmt, web.imports.rules)
    values = values or {}
    return {"wizard": True, "detected": detected, "values": values,
            "columns": range(V.column_count(values)), "preview": preview or [],
            "types": C.COLUMN_TYPES, "encodings": C.ENCODINGS,
            "delimiters": list(V.DELIMITERS), "date_orders": C.DATE_ORDERS,
            "decimals": list(V.DECIMALS)}


async def _contacts(store, request, lst):
    form = Form(request)
    search = form.text("q", "Search", required=False, max_length=100) or None
    after = form.integer("after", "Position", low=0, required=False)
    found = await store.contacts(lst.id, search=search, limit=CONTACTS_PER_PAGE, after=after)
    return {"contacts": found.items, "next_after": found.after, "q": search or "",
            "first_page": not after, "search_errors": form.errors,
            "fields": [c.name for c in lst.columns if c.type != C.PHONE]}


@routes.route("/lists/<int:list_id>")
@page()
async def list_page(web, request, caller, list_id):
    store, lst = await get_list(web, request, caller, list_id)
    return await list_detail(web, request, caller, lst)


@routes.route("/lists/<int:list_id>/progress.json")
@page()
async def list_progress(web, request, caller, list_id):
    """
    The list's status and counts, for the page's progress poll.
    """
    store, lst = await get_list(web, request, caller, list_id)
    request.setHeader(b"content-type", b"application/json")
    facts = V.list_json(lst)
    facts["finished"] = lst.import_status != C.IMPORTING
    return json.dumps(facts, default=str).encode("utf-8")


# -- decisions and housekeeping ------------------------------------------------------


async def _act(web, request, caller, list_id, action, notice, audit_action):
    store, lst = await get_list(web, request, caller, list_id)
    try:
        await action(store, lst)
    except ContactListError as e:
        current = await store.get(list_id)
        if current is None:
            return web.error_page(request, caller, 404, "There is no such contact list.")
        return await list_detail(web, request, caller, current, status=409,
                                 error=V.sentence(e))
    await web.audit.record(caller.actor, audit_action, "contact_list", list_id,
                           {"name": lst.name})
    target = "/lists" if notice == "list-deleted" else f"/lists/{list_id}"
    return web.see_other(request, f"{target}?notice={notice}")


@routes.route("/lists/<int:list_id>/accept", methods=("POST",))
@page(security.OPERATOR)
async def accept_list(web, request, caller, list_id):
    return await _act(web, request, caller, list_id,
                      lambda store, lst: web.imports.accept(lst.id),
                      "list-accepted", "contact_list.accept")


@routes.route("/lists/<int:list_id>/discard", methods=("POST",))
@page(security.OPERATOR)
async def discard_list(web, request, caller, list_id):
    async def discard(store, lst):
        if not await web.imports.cancel(lst.id):
            raise ContactListError(f"contact list {lst.id} is {lst.import_status}: there is"
                                   " no import to cancel or discard")

    return await _act(web, request, caller, list_id, discard, "list-discarded",
                      "contact_list.discard")


@routes.route("/lists/<int:list_id>/archive", methods=("POST",))
@page(security.OPERATOR)
async def archive_list(web, request, caller, list_id):
    return await _act(web, request, caller, list_id,
                      lambda store, lst: store.archive(lst.id, True),
                      "list-archived", "contact_list.archive")


@routes.route("/lists/<int:list_id>/restore", methods=("POST",))
@page(security.OPERATOR)
async def restore_list(web, request, caller, list_id):
    return await _act(web, request, caller, list_id,
                      lambda store, lst: store.archive(lst.id, False),
                      "list-restored", "contact_list.restore")


@routes.route("/lists/<int:list_id>/delete", methods=("POST",))
@page(security.OPERATOR)
async def delete_list(web, request, caller, list_id):
    return await _act(web, request, caller, list_id,
                      lambda store, lst: web.imports.delete(lst.id),
                      "list-deleted", "contact_list.delete")


@routes.route("/lists/<int:list_id>/rename", methods=("POST",))
@page(security.OPERATOR)
async def rename_list(web, request, caller, list_id):
    store, lst = await get_list(web, request, caller, list_id)
    form = Form(request)
    name = form.text("name", "Name", max_length=200)
    description = form.text("description", "Description", required=False, max_length=1000)
    if not form.ok:
        return await list_detail(web, request, caller, lst, status=400, errors=form.errors)
    await store.rename(list_id, name, description or None)
    await web.audit.record(caller.actor, "contact_list.rename", "contact_list", list_id,
                           {"from": lst.name, "to": name})
    return web.see_other(request, f"/lists/{list_id}?notice=list-renamed")
