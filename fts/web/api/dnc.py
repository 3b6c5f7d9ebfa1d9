"""
API: do-not-call lists (list, create, rename, delete), their numbers (add,
remove, a page at a time), checking a number, opting a number out, and CSV
uploads (the file as the request body) with their progress and rejected
rows.
"""

from twisted.logger import Logger

from fts.contacts import report
from fts.core import contacts as C
from fts.core.phones import PhoneError
from fts.db.dnc import DncError, DncListInUse
from fts.web import downloads, security, uploads
from fts.web.api import files
from fts.web.api.framework import API, ApiError, Download, Field, Reply, invalid, page_of
from fts.web.pages.dnc import dnc_store, entry_json, list_json, upload_json
from fts.web.pages.list_views import file_problem, sentence

log = Logger()

LIST_ID = Field("list_id", "integer", required=True)
IMPORT_ID = Field("import_id", "integer", required=True)
TAGS = ["dnc"]
DETAILS = [Field("name", "string", required=True, max_length=200),
           Field("description", "string", max_length=1000, nullable=True)]


def _store(web):
    store = dnc_store(web)
    if store is None:
        raise ApiError(503, "unavailable", "DNC lists are not available in this daemon.")
    return store


async def _get(store, list_id):
    found = await store.get(list_id)
    if found is None:
        raise ApiError(404, "not_found", "There is no such DNC list.")
    return found


@API.endpoint("GET", "/dnc-lists", "Every DNC list, the built-in opt-outs list first",
              role=security.VIEWER, tags=TAGS)
async def list_dnc_lists(web, request, caller):
    items = [list_json(found) for found in await _store(web).lists()]
    return page_of(items, len(items), len(items), 0)


@API.endpoint("POST", "/dnc-lists", "Create a DNC list", role=security.OPERATOR,
              status=201, tags=TAGS, body=DETAILS)
async def create_dnc_list(web, request, caller, body):
    store = _store(web)
    try:
        created = await store.create_list(body["name"], body.get("description") or None,
                                          created_by=caller.account.id)
    except DncError as e:
        raise invalid([("name", sentence(e))], sentence(e))
    await web.audit.record(caller.actor, "dnc_list.create", "dnc_list", created.id,
                           {"name": created.name})
    return Reply(201, list_json(created))


@API.endpoint("GET", "/dnc-lists/{list_id}", "One DNC list", role=security.VIEWER,
              params=[LIST_ID], tags=TAGS)
async def get_dnc_list(web, request, caller, list_id):
    return list_json(await _get(_store(web), list_id))


@API.endpoint("PATCH", "/dnc-lists/{list_id}", "Rename a DNC list", role=security.OPERATOR,
              params=[LIST_ID], tags=TAGS, body=DETAILS)
async def rename_dnc_list(web, request, caller, list_id, body):
    store = _store(web)
    found = await _get(store, list_id)
    try:
        await store.rename(list_id, body["name"], body.get("description") or None)
    except DncError as e:
        raise invalid([("name", sentence(e))], sentence(e))
    await web.audit.record(caller.actor, "dnc_list.rename", "dnc_list", list_id,
                           {"from": found.name, "to": body["name"]})
    return list_json(await store.get(list_id))


@API.endpoint("DELETE", "/dnc-lists/{list_id}", "Delete a DNC list and its numbers",
              role=security.OPERATOR, params=[LIST_ID], tags=TAGS,
              description="Answers 409 for the built-in list and for a list a campaign"
                          " that is not finalized honours.")
async def delete_dnc_list(web, request, caller, list_id):
    store = _store(web)
    found = await _get(store, list_id)
    try:
        await store.delete_list(list_id)
    except DncListInUse as e:
        raise ApiError(409, "conflict", sentence(e))
    await web.audit.record(caller.actor, "dnc_list.delete", "dnc_list", list_id,
                           {"name": found.name, "entries": found.entries})
    return {"id": list_id, "deleted": True}


@API.endpoint("GET", "/dnc-lists/{list_id}/numbers", "A list's numbers, in numeric order",
              role=security.VIEWER, params=[LIST_ID], tags=TAGS,
              query=[Field("limit", "integer", minimum=1, maximum=1000,
                           description="Items per page (default 100)."),
                     Field("after", "string", max_length=20,
                           description="The next_after of the previous page."),
                     Field("search", "string", max_length=50,
                           description="Digits found anywhere in the number.")])
async def list_dnc_numbers(web, request, caller, list_id, query):
    store = _store(web)
    found = await _get(store, list_id)
    limit = query.get("limit", 100)
    page = await store.entries(list_id, search=query.get("search"), limit=limit,
                               after=query.get("after"))
    return {"items": [entry_json(e) for e in page.items], "limit": limit,
            "total": None if query.get("search") else found.entries,
            "after": query.get("after"), "next_after": page.after}


@API.endpoint("POST", "/dnc-lists/{list_id}/numbers", "Add a number to a list",
              role=security.OPERATOR, params=[LIST_ID], tags=TAGS,
              body=[Field("phone", "string", required=True, max_length=50),
                    Field("note", "string", max_length=500, nullable=True)],
              description="Answers 201 when the number is new on the list, 200 when it"
                          " was there (added is false).")
async def add_dnc_number(web, request, caller, list_id, body):
    store = _store(web)
    await _get(store, list_id)
    try:
        entry, added = await store.add(list_id, body["phone"], source="api",
                                       added_by=caller.actor.name, note=body.get("note"))
    except PhoneError as e:
        raise invalid([("phone", e.reason)])
    if added:
        await web.audit.record(caller.actor, "dnc_list.add", "dnc_list", list_id,
                               {"phone": entry.phone})
    return Reply(201 if added else 200, dict(entry_json(entry), added=added))


@API.endpoint("DELETE", "/dnc-lists/{list_id}/numbers/{phone}",
              "Remove a number from a list", role=security.OPERATOR,
              params=[LIST_ID, Field("phone", "string", required=True)], tags=TAGS,
              description="Answers 404 when the number is not on the list.")
async def remove_dnc_number(web, request, caller, list_id, phone):
    store = _store(web)
    await _get(store, list_id)
    if not await store.remove(list_id, phone):
        raise ApiError(404, "not_found", "That number is not on this list.")
    await web.audit.record(caller.actor, "dnc_list.remove", "dnc_list", list_id,
                           {"phone": phone})
    return {"list_id": list_id, "phone": phone, "removed": True}


@API.endpoint("GET", "/dnc/check", "Which DNC lists hold a number", role=security.VIEWER,
              tags=TAGS, query=[Field("phone", "string", required=True, max_length=50)])
async def check_dnc_number(web, request, caller, query):
    store = _store(web)
    try:
        normalised = store.rules.normalise(query["phone"])
        lists = await store.check(query["phone"])
    except PhoneError as e:
        raise invalid([("phone", e.reason)], "This is not a phone number.")
    return {"phone": query["phone"], "normalised": normalised, "listed": bool(lists),
            "lists": [list_json(found) for found in lists]}


@API.endpoint("POST", "/dnc/opt-outs", "Opt a number out of every campaign",
              role=security.OPERATOR, tags=TAGS,
              body=[Field("phone", "string", required=True, max_length=50),
                    Field("note", "string", max_length=500, nullable=True)],
              description="Adds the number to the built-in opt-outs list, which every"
                          " campaign honours at dial time. Idempotent.")
async def opt_out(web, request, caller, body):
    store = _store(web)
    try:
        added = await store.opt_out(body["phone"], source="api_opt_out",
                                    added_by=caller.actor.name, note=body.get("note"))
    except PhoneError as e:
        raise invalid([("phone", e.reason)])
    builtin = await store.builtin()
    if added:
        await web.audit.record(caller.actor, "dnc_list.opt_out", "dnc_list", builtin.id,
                               {"phone": store.rules.normalise(body["phone"])})
    return Reply(201 if added else 200, {"phone": store.rules.normalise(body["phone"]),
                                         "list_id": builtin.id, "added": added})


# -- uploads ---------------------------------------------------------------------


@API.endpoint("POST", "/dnc-lists/upload/{list_id}", "Upload a CSV of numbers into a list",
              role=security.OPERATOR, params=[LIST_ID], status=202, tags=TAGS,
              consumes=["text/csv", "application/octet-stream"],
              query=[Field("filename", "string", max_length=200)],
              description="The request body is the CSV file; its phone column is"
                          " detected. Follow the upload with GET /dnc-uploads/{import_id}.")
async def upload_dnc_numbers(web, request, caller, list_id, query):
    store = _store(web)
    await _get(store, list_id)
    if web.dnc_uploads is None:
        raise ApiError(503, "unavailable", "DNC uploads are not available in this daemon.")
    filename = files.csv_filename(query)
    saved = await files.receive(web, request, filename, uploads.DNC_MAX_BYTES, ".csv")
    try:
        detected = await web.dnc_uploads.detect(saved.path)
        run = await web.dnc_uploads.start(list_id, saved.path, detected.format(),
                                          source_filename=filename,
                                          created_by=caller.account.id,
                                          added_by=caller.actor.name)
    except (C.FormatError, DncError, ValueError) as e:
        await web.run_blocking(uploads.remove, saved.path)
        raise invalid([("body", file_problem(e, filename))], "This file cannot be uploaded;"
                      " nothing was stored.")
    done = run.when_done()
    done.addBoth(lambda _: web.run_blocking(uploads.remove, saved.path))
    done.addErrback(lambda f: log.failure("removing the uploaded DNC file {path}", f,
                                          path=str(saved.path)))
    await web.audit.record(caller.actor, "dnc_list.upload", "dnc_list", list_id,
                           {"file": filename, "bytes": saved.size, "upload": run.import_id})
    return Reply(202, upload_json(await store.upload(run.import_id)))


async def _upload(web, import_id):
    store = _store(web)
    upload = await store.upload(import_id)
    if upload is None:
        raise ApiError(404, "not_found", "There is no such DNC upload.")
    return store, upload


@API.endpoint("GET", "/dnc-uploads/{import_id}", "A DNC upload's status and counts",
              role=security.VIEWER, params=[IMPORT_ID], tags=TAGS)
async def get_dnc_upload(web, request, caller, import_id):
    store, upload = await _upload(web, import_id)
    return upload_json(upload)


@API.endpoint("GET", "/dnc-uploads/{import_id}/rejects", "A DNC upload's rejected rows",
              role=security.VIEWER, params=[IMPORT_ID], tags=TAGS,
              query=[Field("limit", "integer", minimum=1, maximum=1000),
                     Field("after", "string", max_length=40)])
async def list_dnc_upload_rejects(web, request, caller, import_id, query):
    store, upload = await _upload(web, import_id)
    limit = query.get("limit", 100)
    after = None
    if query.get("after"):
        try:
            row, rid = query["after"].split("-", 1)
            after = (int(row), int(rid))
        except ValueError:
            raise invalid([("after", "must be a next_after of this endpoint")])
    page = await store.upload_rejects(import_id, limit=limit, after=after)
    return {"items": [{"row": r.row_number, "value": r.value, "reason": r.reason}
                      for r in page.items],
            "limit": limit, "after": query.get("after"),
            "next_after": f"{page.after[0]}-{page.after[1]}" if page.after else None}


@API.endpoint("GET", "/dnc-uploads/{import_id}/rejects.csv",
              "A DNC upload's rejected rows as CSV", role=security.VIEWER,
              params=[IMPORT_ID], tags=TAGS, produces="text/csv")
async def dnc_upload_rejects_csv(web, request, caller, import_id):
    store, upload = await _upload(web, import_id)
    return Download(lambda request: downloads.stream(
        request, b"text/csv; charset=utf-8", f"dnc-upload-{import_id}-rejects.csv",
        lambda write: report.write_dnc_rejects(store, import_id, write)))
