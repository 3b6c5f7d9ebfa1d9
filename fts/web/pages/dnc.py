"""
Do-not-call lists: the lists (the built-in opt-outs list first), create,
rename and delete one (refused, with the reason, for the built-in list and
for a list a campaign still honours), add and remove numbers, search a
list's numbers, check which lists hold a number, and CSV uploads with
their progress and rejected rows.

Reads and writes go through C{store.dnc} (L{fts.db.dnc.DncStore}); uploads
run in C{web.dnc_uploads} (L{fts.contacts.dnc_uploads.DncUploads}).
"""

import json

from twisted.logger import Logger

from fts.contacts import report
from fts.core import contacts as C
from fts.core.phones import PhoneError
from fts.db.dnc import DncError
from fts.web import downloads, security, uploads
from fts.web.forms import Form
from fts.web.guard import Refusal, page
from fts.web.pages import pending
from fts.web.pages.list_views import file_problem, sentence
from fts.web.pages.lists import save_csv
from fts.web.routes import RouteTable

log = Logger()
routes = RouteTable()
ENTRIES_PER_PAGE = 50
REJECTS_PER_PAGE = 100

NOTICES = {
    "dnc-created": "The DNC list has been created.",
    "dnc-renamed": "The DNC list has been renamed.",
    "dnc-deleted": "The DNC list and its numbers have been deleted.",
    "dnc-added": "The number has been added.",
    "dnc-present": "The number was on this list already.",
    "dnc-removed": "The number has been removed.",
    "dnc-absent": "That number was not on this list; nothing changed.",
    "dnc-uploading": "The upload has started: its numbers are added as it goes.",
}


def dnc_store(web):
    """
    The L{fts.db.dnc.DncStore}, or L{None} while not wired.
    """
    return getattr(web.store, "dnc", None) if web.store is not None else None


def list_json(dnc_list):
    return {"id": dnc_list.id, "name": dnc_list.name, "description": dnc_list.description,
            "builtin": dnc_list.builtin, "entries": dnc_list.entries,
            "created_at": dnc_list.created_at}


def entry_json(entry):
    return {"phone": entry.phone, "phone_original": entry.phone_original,
            "source": entry.source, "added_at": entry.added_at, "added_by": entry.added_by,
            "campaign_id": entry.source_campaign_id, "call_id": entry.source_call_id,
            "note": entry.note}


def upload_json(upload):
    progress = upload.progress
    return {"id": upload.id, "list_id": upload.list_id,
            "source_filename": upload.source_filename, "file_size": upload.file_size,
            "status": upload.status, "progress": progress,
            "percent": None if progress is None else int(progress * 100),
            "total_rows": upload.total_rows, "added_rows": upload.added_rows,
            "already_present_rows": upload.already_present_rows,
            "rejected_rows": upload.rejected_rows, "error": upload.error,
            "started_at": upload.started_at, "finished_at": upload.finished_at,
            "finished": upload.status != "importing"}


# -- the lists -------------------------------------------------------------------


async def _index(web, request, caller, status=200, errors=None, values=None, check=None):
    store = dnc_store(web)
    return web.render(request, caller, "dnc_lists.html", status=status, section="dnc",
                      lists=await store.lists(), errors=errors or {}, values=values or {},
                      check=check)


@routes.route("/dnc")
@page()
async def dnc_page(web, request, caller):
    if dnc_store(web) is None:
        return await pending.show(web, request, caller, "dnc")
    return await _index(web, request, caller)


@routes.route("/dnc", methods=("POST",))
@page(security.OPERATOR)
async def create_dnc_list(web, request, caller):
    store = dnc_store(web)
    if store is None:
        return await pending.show(web, request, caller, "dnc")
    form = Form(request)
    name = form.text("name", "Name", max_length=200)
    description = form.text("description", "Description", required=False, max_length=1000)
    if form.ok:
        try:
            created = await store.create_list(name, description or None,
                                              created_by=caller.account.id)
        except DncError as e:
            form.error("name", sentence(e))
    if not form.ok:
        return await _index(web, request, caller, 400, form.errors, form.values)
    await web.audit.record(caller.actor, "dnc_list.create", "dnc_list", created.id,
                           {"name": name})
    return web.see_other(request, f"/dnc/{created.id}?notice=dnc-created")


@routes.route("/dnc/check")
@page()
async def check_number(web, request, caller):
    """
    Which DNC lists hold a number (read-only: any role).
    """
    store = dnc_store(web)
    if store is None:
        return await pending.show(web, request, caller, "dnc")
    form = Form(request)
    phone = form.text("phone", "Phone number", max_length=50)
    check = None
    if form.ok:
        try:
            normalised = store.rules.normalise(phone)
            check = {"phone": phone, "normalised": normalised,
                     "lists": await store.check(phone)}
        except PhoneError as e:
            form.error("phone", e.reason)
    return await _index(web, request, caller, 200 if form.ok else 400,
                        {"phone": form.errors["phone"]} if "phone" in form.errors else {},
                        {"phone": phone}, check)


# -- one list ------------------------------------------------------------------------


async def _get(web, request, caller, list_id):
    """
    C{(store, list)}.

    @raise Refusal: no such list, or no DNC store in this daemon.
    """
    store = dnc_store(web)
    if store is None:
        raise Refusal(await pending.show(web, request, caller, "dnc"))
    found = await store.get(list_id)
    if found is None:
        raise Refusal(web.error_page(request, caller, 404, "There is no such DNC list."))
    return store, found


async def _detail(web, request, caller, dnc_list, status=200, errors=None, values=None,
                  error=None):
    store = dnc_store(web)
    form = Form(request) if status == 200 else None
    search = (form.text("q", "Search", required=False, max_length=50) if form else "") or None
    after = (form.text("after", "Position", required=False, max_length=20) if form else "")
    found = await store.entries(dnc_list.id, search=search, limit=ENTRIES_PER_PAGE,
                                after=after or None)
    return web.render(request, caller, "dnc_list.html", status=status, section="dnc",
                      dnc_list=dnc_list, entries=found.items, next_after=found.after,
                      first_page=not after, q=search or "",
                      uploads=await store.uploads(dnc_list.id, limit=10),
                      can_upload=web.dnc_uploads is not None,
                      limit=uploads.human_size(uploads.DNC_MAX_BYTES),
                      errors=errors or {}, values=values or {}, error=error)


@routes.route("/dnc/<int:list_id>")
@page()
async def dnc_list_page(web, request, caller, list_id):
    store, found = await _get(web, request, caller, list_id)
    return await _detail(web, request, caller, found)


@routes.route("/dnc/<int:list_id>/rename", methods=("POST",))
@page(security.OPERATOR)
async def rename_dnc_list(web, request, caller, list_id):
    store, found = await _get(web, request, caller, list_id)
    form = Form(request)
    name = form.text("name", "Name", max_length=200)
    description = form.text("description", "Description", required=False, max_length=1000)
    if form.ok:
        try:
            await store.rename(list_id, name, description or None)
        except DncError as e:
            form.error("name", sentence(e))
    if not form.ok:
        return await _detail(web, request, caller, found, 400, form.errors, form.values)
    await web.audit.record(caller.actor, "dnc_list.rename", "dnc_list", list_id,
                           {"from": found.name, "to": name})
    return web.see_other(request, f"/dnc/{list_id}?notice=dnc-renamed")


@routes.route("/dnc/<int:list_id>/delete", methods=("POST",))
@page(security.OPERATOR)
async def delete_dnc_list(web, request, caller, list_id):
    store, found = await _get(web, request, caller, list_id)
    try:
        await store.delete_list(list_id)
    except DncError as e:
        return await _detail(web, request, caller, found, 409, error=sentence(e))
    await web.audit.record(caller.actor, "dnc_list.delete", "dnc_list", list_id,
                           {"name": found.name, "entries": found.entries})
    return web.see_other(request, "/dnc?notice=dnc-deleted")


@routes.route("/dnc/<int:list_id>/add", methods=("POST",))
@page(security.OPERATOR)
async def add_number(web, request, caller, list_id):
    store, found = await _get(web, request, caller, list_id)
    form = Form(request)
    phone = form.text("phone", "Phone number", max_length=50)
    note = form.text("note", "Note", required=False, max_length=500)
    added = None
    if form.ok:
        try:
            entry, added = await store.add(list_id, phone, source="manual",
                                           added_by=caller.actor.name, note=note or None)
        except PhoneError as e:
            form.error("phone", e.reason)
    if not form.ok:
        return await _detail(web, request, caller, found, 400, form.errors, form.values)
    if added:
        await web.audit.record(caller.actor, "dnc_list.add", "dnc_list", list_id,
                               {"phone": entry.phone})
    notice = "dnc-added" if added else "dnc-present"
    return web.see_other(request, f"/dnc/{list_id}?notice={notice}")


@routes.route("/dnc/<int:list_id>/remove", methods=("POST",))
@page(security.OPERATOR)
async def remove_number(web, request, caller, list_id):
    store, found = await _get(web, request, caller, list_id)
    form = Form(request)
    phone = form.text("phone", "Phone number", max_length=50)
    if not form.ok:
        return await _detail(web, request, caller, found, 400, form.errors, form.values)
    removed = await store.remove(list_id, phone)
    if removed:
        await web.audit.record(caller.actor, "dnc_list.remove", "dnc_list", list_id,
                               {"phone": phone})
    notice = "dnc-removed" if removed else "dnc-absent"
    return web.see_other(request, f"/dnc/{list_id}?notice={notice}")


# -- uploads -------------------------------------------------------------------------


@routes.route("/dnc/upload/<int:list_id>", methods=("POST",))
@uploads.upload_page(security.OPERATOR)
async def upload_numbers(web, request, caller, list_id):
    """
    Add the numbers of a CSV file to a list: the file is checked (type,
    size, content) before the upload starts; it runs on in the daemon.
    """
    store, found = await _get(web, request, caller, list_id)
    if web.dnc_uploads is None:
        return web.error_page(request, caller, 503, "Uploads are not available in this"
                                                     " daemon; add numbers one by one.")
    form = Form(request)
    saved = await save_csv(web, request, form, uploads.DNC_MAX_BYTES)
    detected = None
    if saved is not None and form.ok:
        try:
            detected = await web.dnc_uploads.detect(saved.path)
        except C.FormatError as e:
            form.error("file", file_problem(e, saved.filename))
    if form.ok:
        try:
            run = await web.dnc_uploads.start(
                list_id, saved.path, detected.format(), source_filename=saved.filename,
                created_by=caller.account.id, added_by=caller.actor.name)
        except (DncError, ValueError) as e:
            form.error("file", sentence(e))
    if not form.ok:
        if saved is not None:
            await web.run_blocking(uploads.remove, saved.path)
        return await _detail(web, request, caller, found, 400, form.errors, form.values)
    done = run.when_done()
    done.addBoth(lambda _: web.run_blocking(uploads.remove, saved.path))
    done.addErrback(lambda f: log.failure("removing the uploaded DNC file {path}", f,
                                          path=str(saved.path)))
    await web.audit.record(caller.actor, "dnc_list.upload", "dnc_list", list_id,
                           {"file": saved.filename, "bytes": saved.size,
                            "upload": run.import_id})
    return web.see_other(request,
                         f"/dnc/{list_id}/uploads/{run.import_id}?notice=dnc-uploading")


async def _upload(web, request, caller, list_id, import_id):
    """
    C{(store, list, upload)}.

    @raise Refusal: no such list or upload.
    """
    store, found = await _get(web, request, caller, list_id)
    upload = await store.upload(import_id)
    if upload is None or upload.list_id != list_id:
        raise Refusal(web.error_page(request, caller, 404, "There is no such upload."))
    return store, found, upload


@routes.route("/dnc/<int:list_id>/uploads/<int:import_id>")
@page()
async def dnc_upload_page(web, request, caller, list_id, import_id):
    store, found, upload = await _upload(web, request, caller, list_id, import_id)
    form = Form(request)
    after = None
    try:
        row, rid = (form.raw("after") or "").split("-", 1)
        after = (int(row), int(rid))
    except ValueError:
        pass
    rejects = await store.upload_rejects(import_id, limit=REJECTS_PER_PAGE, after=after)
    following = rejects.after
    return web.render(request, caller, "dnc_upload.html", section="dnc", dnc_list=found,
                      upload=upload, facts=upload_json(upload), rejects=rejects.items,
                      next_after=f"{following[0]}-{following[1]}" if following else None,
                      first_page=after is None)


@routes.route("/dnc/<int:list_id>/uploads/<int:import_id>/progress.json")
@page()
async def upload_progress(web, request, caller, list_id, import_id):
    store, found, upload = await _upload(web, request, caller, list_id, import_id)
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(upload_json(upload), default=str).encode("utf-8")


@routes.route("/dnc/<int:list_id>/uploads/<int:import_id>/rejects.csv")
@page()
async def upload_rejects_csv(web, request, caller, list_id, import_id):
    store, found, upload = await _upload(web, request, caller, list_id, import_id)
    return await downloads.stream(
        request, b"text/csv; charset=utf-8", f"dnc-upload-{import_id}-rejects.csv",
        lambda write: report.write_dnc_rejects(store, import_id, write))
