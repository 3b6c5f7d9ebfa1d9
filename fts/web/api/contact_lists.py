"""
API: contact lists (create with the uploaded CSV as the request body,
status and progress, detect and confirm the format, preview, start the
import, rejected rows as JSON pages or CSV, accept or discard, contacts a
page at a time, archive, delete).

Answers 503 while the daemon has no importer.  Pages of contacts and
rejects are keyset-paginated: pass the answer's C{next_after} as C{after}.
"""

from fts.contacts import report
from fts.core import contacts as C
from fts.db.contacts import ContactListError
from fts.web import downloads, security, uploads
from fts.web.api import files
from fts.web.api.framework import (
    API, PAGE_FIELDS, ApiError, Download, Field, Reply, invalid,
)
from fts.web.pages import list_views as V

LIST_ID = Field("list_id", "integer", required=True)
TAGS = ["contact lists"]
CHOICES = [
    Field("encoding", "string", enum=C.ENCODINGS),
    Field("delimiter", "string", enum=list(V.DELIMITERS)),
    Field("has_header", "boolean"),
]
FORMAT = [
    *[Field(f.name, f.type, required=True, enum=f.enum) for f in CHOICES],
    Field("columns", "array", required=True, items="object",
          description="One object per column, in file order: name (the placeholder),"
                      " type (phone, text, number, date, time, timezone), date_order"
                      " (dmy or mdy, for dates), decimal (point or comma, for numbers)."
                      " Exactly one column is typed phone."),
]
KEYSET = [Field("limit", "integer", minimum=1, maximum=1000,
                description="Items per page (default 100)."),
          Field("after", "string", max_length=40,
                description="The next_after of the previous page.")]


def _store(web):
    store = V.contact_store(web)
    if store is None:
        raise ApiError(503, "unavailable", "Contact lists are not available in this daemon.")
    return store


async def _get(store, list_id):
    lst = await store.get(list_id)
    if lst is None:
        raise ApiError(404, "not_found", "There is no such contact list.")
    return lst


def _conflict(error):
    return ApiError(409, "conflict", V.sentence(error))


def read_columns(body):
    """
    The L{fts.core.contacts.ImportFormat} of a format body.

    @raise ApiError: 422 with one problem per bad column field.
    """
    problems, columns = [], []
    for i, item in enumerate(body["columns"]):
        where = f"columns[{i}]"
        if not isinstance(item, dict):
            problems.append((where, "must be an object"))
            continue
        unknown = set(item) - {"name", "type", "date_order", "decimal"}
        problems += [(f"{where}.{k}", "is not a known field") for k in sorted(unknown)]
        name = item.get("name")
        if not isinstance(name, str) or C.name_problem(name):
            problems.append((f"{where}.name", C.name_problem(name) if isinstance(name, str)
                             else "must be text"))
        kind = item.get("type", C.TEXT)
        if kind not in C.COLUMN_TYPES:
            problems.append((f"{where}.type", "must be one of: " + ", ".join(C.COLUMN_TYPES)))
        order = item.get("date_order", "dmy")
        if order not in C.DATE_ORDERS:
            problems.append((f"{where}.date_order", "must be dmy or mdy"))
        decimal = item.get("decimal", "point")
        if decimal not in V.DECIMALS:
            problems.append((f"{where}.decimal", "must be point or comma"))
        columns.append(C.Column(name if isinstance(name, str) else "", kind, order,
                                V.DECIMALS.get(decimal, ".")))
    if not body["columns"]:
        problems.append(("columns", "must list the file's columns"))
    if problems:
        raise invalid(problems)
    fmt = C.ImportFormat(body["encoding"], V.DELIMITERS[body["delimiter"]],
                         body["has_header"], columns)
    whole = C.format_problems(fmt)
    if whole:
        raise invalid([("columns", p) for p in whole])
    return fmt


@API.endpoint("GET", "/contact-lists", "Contact lists, newest first", role=security.VIEWER,
              tags=TAGS, query=[*PAGE_FIELDS, Field("archived", "boolean",
                                                    description="Archived lists instead.")],
              description="total is null: the lists are counted page by page (next_offset"
                          " is null on the last page).")
async def list_lists(web, request, caller, query):
    store = _store(web)
    limit, offset = query.get("limit", 50), query.get("offset", 0)
    found = await store.lists(archived=query.get("archived", False), limit=limit + 1,
                              offset=offset)
    items = [V.list_json(lst) for lst in found[:limit]]
    return {"items": items, "total": None, "limit": limit, "offset": offset,
            "next_offset": offset + limit if len(found) > limit else None}


@API.endpoint("POST", "/contact-lists/upload", "Create a list from a CSV file",
              role=security.OPERATOR, status=201, tags=TAGS,
              consumes=["text/csv", "application/octet-stream"],
              query=[Field("name", "string", required=True, max_length=200),
                     Field("description", "string", max_length=1000),
                     Field("filename", "string", max_length=200,
                           description="The file's name, for the operator.")],
              description="The request body is the CSV file. The list is created with the"
                          " format FTS detected (see detected); confirm or correct it with"
                          " PUT /contact-lists/{list_id}/format, then start the import.")
async def upload_list(web, request, caller, query):
    store = _store(web)
    name = query["name"].strip()
    if not name:
        raise invalid([("name", "is required")])
    filename = files.csv_filename(query)
    saved = await files.receive(web, request, filename, uploads.LIST_MAX_BYTES, ".csv")
    try:
        await V.sniff_file(web, saved.path)
    except C.FormatError as e:
        await web.run_blocking(uploads.remove, saved.path)
        raise invalid([("body", V.file_problem(e, filename))], "This is not a CSV file"
                      " FTS can import; nothing was stored.")
    lst = await store.create_list(name, (query.get("description") or "").strip() or None,
                                  created_by=caller.account.id, source_filename=filename)
    relative, absolute = web.imports.upload_path(lst.id)
    await web.run_blocking(uploads.move, saved.path, absolute)
    detected = await web.imports.uploaded(lst.id, relative, filename)
    await web.audit.record(caller.actor, "contact_list.upload", "contact_list", lst.id,
                           {"name": name, "file": filename, "bytes": saved.size})
    result = V.list_json(await store.get(lst.id))
    result["detected"] = V.detected_json(detected)
    return Reply(201, result)


@API.endpoint("GET", "/contact-lists/{list_id}", "One list: status, counts and progress",
              role=security.VIEWER, params=[LIST_ID], tags=TAGS)
async def get_list(web, request, caller, list_id):
    store = _store(web)
    lst = await _get(store, list_id)
    result = V.list_json(lst)
    result["rejects_by_reason"] = await store.reject_summary(list_id)
    return result


@API.endpoint("POST", "/contact-lists/{list_id}/detect",
              "Detect the format again, with some choices fixed", role=security.OPERATOR,
              params=[LIST_ID], tags=TAGS, body=CHOICES,
              description="Stores the detected format as the list's proposal.")
async def detect_format(web, request, caller, list_id, body):
    store = _store(web)
    lst = await _get(store, list_id)
    if not lst.upload_path:
        raise ApiError(409, "conflict", "This list has no uploaded file any more.")
    delimiter = V.DELIMITERS[body["delimiter"]] if "delimiter" in body else None
    try:
        detected = await web.imports.detect(list_id, body.get("encoding"), delimiter,
                                            body.get("has_header"))
    except C.FormatError as e:
        raise ApiError(409, "conflict", V.sentence(e))
    except ContactListError as e:
        raise _conflict(e)
    return V.detected_json(detected)


async def _checked_format(web, lst, body):
    fmt = read_columns(body)
    detected = await V.sniff_list(web, lst, fmt)
    if detected is None:
        raise ApiError(409, "conflict", "The list's uploaded file cannot be read any more.")
    if len(detected.columns) != len(fmt.columns):
        raise invalid([("columns", f"the file has {len(detected.columns)} columns with this"
                                   f" encoding, delimiter and header, not"
                                   f" {len(fmt.columns)}")])
    return fmt, detected


@API.endpoint("POST", "/contact-lists/{list_id}/preview",
              "How the first rows import with a format (nothing is stored)",
              role=security.OPERATOR, params=[LIST_ID], tags=TAGS, body=FORMAT)
async def preview_format(web, request, caller, list_id, body):
    store = _store(web)
    lst = await _get(store, list_id)
    fmt, detected = await _checked_format(web, lst, body)
    return {"rows": V.preview_json(C.validate_sample(detected.rows, fmt, web.imports.rules))}


@API.endpoint("PUT", "/contact-lists/{list_id}/format", "Confirm or correct the format",
              role=security.OPERATOR, params=[LIST_ID], tags=TAGS, body=FORMAT,
              description="Answers the list and the preview of its first rows.")
async def set_format(web, request, caller, list_id, body):
    store = _store(web)
    lst = await _get(store, list_id)
    fmt, detected = await _checked_format(web, lst, body)
    try:
        lst = await store.set_format(list_id, fmt)
    except ContactListError as e:
        raise _conflict(e)
    await web.audit.record(caller.actor, "contact_list.format", "contact_list", list_id,
                           {"format": V.format_json(fmt)})
    result = V.list_json(lst)
    result["preview"] = V.preview_json(C.validate_sample(detected.rows, fmt,
                                                         web.imports.rules))
    return result


@API.endpoint("POST", "/contact-lists/{list_id}/start", "Start the import",
              role=security.OPERATOR, params=[LIST_ID], status=202, tags=TAGS,
              description="Imports with the stored format; follow it with GET"
                          " /contact-lists/{list_id} (status, progress).")
async def start_import(web, request, caller, list_id):
    store = _store(web)
    lst = await _get(store, list_id)
    try:
        await web.imports.start(list_id)
    except ContactListError as e:
        raise _conflict(e)
    await web.audit.record(caller.actor, "contact_list.import", "contact_list", list_id,
                           {"name": lst.name})
    return Reply(202, V.list_json(await store.get(list_id)))


def _decision(name, summary, action, audit_action):
    async def decide(web, request, caller, list_id):
        store = _store(web)
        lst = await _get(store, list_id)
        try:
            await action(web, store, list_id)
        except ContactListError as e:
            raise _conflict(e)
        await web.audit.record(caller.actor, audit_action, "contact_list", list_id,
                               {"name": lst.name})
        current = await store.get(list_id)
        return V.list_json(current) if current is not None else {"id": list_id,
                                                                 "deleted": True}

    decide.__name__ = name
    return decide


async def _discard(web, store, list_id):
    if not await web.imports.cancel(list_id):
        raise ContactListError("there is no import to cancel or discard")


for _name, _method, _path, _summary, _action, _audit in (
        ("accept_import", "POST", "/accept", "Accept the imported rows despite the rejects",
         lambda web, store, i: web.imports.accept(i), "contact_list.accept"),
        ("discard_import", "POST", "/discard", "Cancel or discard the import",
         _discard, "contact_list.discard"),
        ("archive_list", "POST", "/archive", "Archive the list",
         lambda web, store, i: store.archive(i, True), "contact_list.archive"),
        ("restore_list", "POST", "/restore", "Restore an archived list",
         lambda web, store, i: store.archive(i, False), "contact_list.restore"),
        ("delete_list", "DELETE", "", "Delete the list and its contacts",
         lambda web, store, i: web.imports.delete(i), "contact_list.delete")):
    API.endpoint(_method, "/contact-lists/{list_id}" + _path, _summary,
                 role=security.OPERATOR, params=[LIST_ID], tags=TAGS,
                 description="Answers 409 with the reason when the list's state does not"
                             " allow it (a list in use cannot be deleted).")(
        _decision(_name, _summary, _action, _audit))


@API.endpoint("GET", "/contact-lists/{list_id}/rejects", "Rejected rows, by row number",
              role=security.VIEWER, params=[LIST_ID], tags=TAGS,
              query=[*KEYSET, Field("reason_code", "string", enum=C.REASON_CODES)])
async def list_rejects(web, request, caller, list_id, query):
    store = _store(web)
    await _get(store, list_id)
    limit = query.get("limit", 100)
    after = V.decode_after(query.get("after"))
    if query.get("after") and after is None:
        raise invalid([("after", "must be a next_after of this endpoint")])
    page = await store.rejects(list_id, limit=limit, after=after,
                               reason_code=query.get("reason_code"))
    return {"items": [V.reject_json(r) for r in page.items], "limit": limit,
            "after": query.get("after"), "next_after": V.encode_after(page.after)}


@API.endpoint("GET", "/contact-lists/{list_id}/rejects.csv",
              "The rejected-rows report as CSV", role=security.VIEWER, params=[LIST_ID],
              tags=TAGS, produces="text/csv",
              query=[Field("reason_code", "string", enum=C.REASON_CODES)])
async def rejects_csv(web, request, caller, list_id, query):
    store = _store(web)
    await _get(store, list_id)
    reason = query.get("reason_code")
    return Download(lambda request: downloads.stream(
        request, b"text/csv; charset=utf-8", f"contact-list-{list_id}-rejects.csv",
        lambda write: report.write_contact_rejects(store, list_id, write,
                                                   reason_code=reason)))


@API.endpoint("GET", "/contact-lists/{list_id}/contacts", "Contacts, in file order",
              role=security.VIEWER, params=[LIST_ID], tags=TAGS,
              query=[*KEYSET, Field("search", "string", max_length=100,
                                    description="Phone digits, or text in any field.")],
              description="total is the list's accepted rows without a search, null with"
                          " one.")
async def list_contacts(web, request, caller, list_id, query):
    store = _store(web)
    lst = await _get(store, list_id)
    limit = query.get("limit", 100)
    after = query.get("after")
    if after is not None and not after.isdigit():
        raise invalid([("after", "must be a next_after of this endpoint")])
    search = query.get("search")
    page = await store.contacts(list_id, search=search, limit=limit,
                                after=int(after) if after else None)
    return {"items": [V.contact_json(c) for c in page.items], "limit": limit,
            "total": None if search else lst.accepted_rows, "after": after,
            "next_after": None if page.after is None else str(page.after)}
