"""
What the contact-list pages and API show of a list, and reading the
import format the operator confirms: plain values from the store's models,
and the format form's fields checked one by one so each problem is shown at
its field.
"""

from pathlib import Path

from fts.contacts.imports import SAMPLE_BYTES, read_sample
from fts.core import contacts as C
from fts.web import uploads
from fts.web.pages import pending

#: Delimiters by the name forms and the API use (a tab is awkward in both).
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}
DELIMITER_NAMES = {v: k for k, v in DELIMITERS.items()}
DECIMALS = {"point": ".", "comma": ","}
DECIMAL_NAMES = {v: k for k, v in DECIMALS.items()}

#: Most columns a format form takes.
MAX_COLUMNS = 200

STATUS_TEXT = {
    C.UPLOADED: "uploaded: confirm the format, then start the import",
    C.IMPORTING: "importing",
    C.IMPORTED: "imported with rejected rows: accept the rest or discard",
    C.READY: "ready",
    C.FAILED: "failed",
    C.CANCELLED: "discarded",
}

REASON_TEXT = {
    C.INVALID_PHONE: "invalid phone number",
    C.COLUMN_COUNT: "wrong number of values",
    C.BAD_DATE: "bad date",
    C.BAD_TIME: "bad time",
    C.BAD_NUMBER: "bad number",
    C.BAD_TIMEZONE: "bad time zone",
    C.BAD_ENCODING: "bad encoding",
    C.DUPLICATE: "duplicate phone (dialed once)",
    C.OTHER: "other",
}


def contact_store(web):
    """
    The L{fts.db.contacts.ContactStore} when the contact-list pages are
    wired (store and importer), else L{None}.
    """
    if web.store is None or web.imports is None:
        return None
    return getattr(web.store, "contacts", None)


async def not_wired(web, request, caller):
    return await pending.show(web, request, caller, "lists")


def sentence(error):
    """
    An error's message as a sentence: capitalised, with a full stop.
    """
    text = str(error).strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def format_json(fmt):
    if fmt is None:
        return None
    return {"encoding": fmt.encoding, "delimiter": DELIMITER_NAMES.get(fmt.delimiter),
            "has_header": fmt.has_header, "phone_column": fmt.phone_column,
            "columns": [column_json(c) for c in fmt.columns]}


def column_json(column):
    data = {"name": column.name, "type": column.type}
    if column.type == C.DATE:
        data["date_order"] = column.date_order
    if column.type == C.NUMBER:
        data["decimal"] = DECIMAL_NAMES.get(column.decimal, column.decimal)
    return data


def list_json(lst):
    """
    A L{fts.db.contacts.ContactList} as plain values (the API's and the
    progress poll's view).
    """
    progress = lst.progress
    return {
        "id": lst.id, "name": lst.name, "description": lst.description,
        "status": lst.import_status, "status_text": STATUS_TEXT.get(lst.import_status, ""),
        "archived": lst.archived, "archived_at": lst.archived_at,
        "source_filename": lst.source_filename, "file_size": lst.file_size,
        "total_rows": lst.total_rows, "accepted_rows": lst.accepted_rows,
        "rejected_rows": lst.rejected_rows, "duplicate_rows": lst.duplicate_rows,
        "progress": progress,
        "percent": None if progress is None else int(progress * 100),
        "import_started_at": lst.import_started_at,
        "import_finished_at": lst.import_finished_at, "import_error": lst.import_error,
        "campaigns": lst.campaigns, "created_at": lst.created_at,
        "format": format_json(lst.format()), "placeholders": list(lst.placeholders),
    }


def detected_json(detected):
    return {
        "encoding": detected.encoding, "delimiter": DELIMITER_NAMES.get(detected.delimiter),
        "has_header": detected.has_header, "phone_column": detected.phone_column,
        "columns": [column_json(c) for c in detected.columns],
        "header": list(detected.header), "notes": list(detected.notes),
        "rows": [{"row": n, "cells": list(cells)} for n, cells in detected.rows],
    }


def problem_json(problem):
    return {"column": problem.column_index, "column_name": problem.column_name,
            "value": problem.value, "reason_code": problem.reason_code,
            "reason": problem.reason}


def preview_json(preview):
    return [{"row": number, "cells": list(cells), "ok": row is not None,
             "problems": [problem_json(p) for p in problems]}
            for number, cells, row, problems in preview]


def reject_json(reject):
    return {"row": reject.row_number, "column": reject.column_index,
            "column_name": reject.column_name, "value": reject.value,
            "reason_code": reject.reason_code, "reason": reject.reason,
            "duplicate_of_row": reject.duplicate_of_row, "record": reject.raw}


def contact_json(contact):
    return {"id": contact.id, "row": contact.row_number, "phone": contact.phone,
            "phone_original": contact.phone_original, "fields": contact.fields,
            "timezone": contact.timezone}


def encode_after(after):
    """
    A rejects page cursor C{(row_number, id)} as text for a URL.
    """
    return None if after is None else f"{after[0]}-{after[1]}"


def decode_after(text):
    """
    The rejects cursor from its URL text, or L{None} (start) for anything
    malformed.
    """
    try:
        row, rid = (text or "").split("-", 1)
        return int(row), int(rid)
    except ValueError:
        return None


# -- the uploaded file ----------------------------------------------------------


def absolute_upload(web, lst):
    path = Path(lst.upload_path)
    return path if path.is_absolute() else web.imports.data_dir / path


async def sniff_file(web, path, encoding=None, delimiter=None, has_header=None):
    """
    The L{fts.core.contacts.Detected} format of a file, read off the
    reactor thread, without storing anything.

    @raise fts.core.contacts.FormatError: not a CSV file.
    """
    sample, complete = await web.run_blocking(read_sample, path, SAMPLE_BYTES)
    return await web.run_blocking(C.sniff, sample, complete, web.imports.rules, encoding,
                                  delimiter, has_header)


async def sniff_list(web, lst, fmt=None):
    """
    The detected format of a list's file with the stored (or C{fmt}'s)
    encoding, delimiter and header, or L{None} when the file is gone.
    """
    if not lst.upload_path:
        return None
    fmt = fmt or lst.format()
    choices = (fmt.encoding, fmt.delimiter, fmt.has_header) if fmt else (None, None, None)
    try:
        return await sniff_file(web, absolute_upload(web, lst), *choices)
    except (OSError, C.FormatError):
        return None


def file_problem(error, filename):
    """
    The message shown at the file field for a L{C.FormatError}.
    """
    text = str(error)
    return f"{filename}: {text[:1].lower()}{text[1:]}" + ("" if text.endswith(".") else ".")


# -- the format form ---------------------------------------------------------------


def read_format(form):
    """
    The L{fts.core.contacts.ImportFormat} of a format form, or L{None}
    with every problem kept in C{form} at its field: C{encoding},
    C{delimiter}, C{has_header}, C{name_<i>}, C{type_<i>},
    C{date_order_<i>}, C{decimal_<i>} and C{columns} (the whole).
    """
    encoding = form.choice("encoding", "Encoding", C.ENCODINGS)
    delimiter = form.choice("delimiter", "Delimiter", list(DELIMITERS))
    header = form.choice("has_header", "Header row", ("yes", "no"))
    count = form.integer("column_count", "Number of columns", low=1, high=MAX_COLUMNS)
    columns, seen = [], {}
    for i in range(count or 0):
        label = f"Column {i + 1}"
        name = form.text(f"name_{i}", f"{label}'s name", max_length=C.MAX_NAME_LENGTH)
        if name and f"name_{i}" not in form.errors:
            problem = C.name_problem(name)
            if problem:
                form.error(f"name_{i}", problem[:1].upper() + problem[1:] + ".")
            elif name in seen:
                form.error(f"name_{i}", f"Column {seen[name]} is named {name} too: names"
                                        " must be unique.")
            else:
                seen[name] = i + 1
        kind = form.choice(f"type_{i}", f"{label}'s type", C.COLUMN_TYPES) or C.TEXT
        order = form.choice(f"date_order_{i}", "Date order", C.DATE_ORDERS,
                            required=False) or "dmy"
        decimal = form.choice(f"decimal_{i}", "Decimal mark", list(DECIMALS), required=False)
        columns.append(C.Column(name, kind, order, DECIMALS.get(decimal, ".")))
    phones = [i for i, c in enumerate(columns) if c.type == C.PHONE]
    if count and not phones:
        form.error("columns", "Choose the column that holds the phone numbers: set its"
                              " type to phone.")
    for i in phones[1:]:
        form.error(f"type_{i}", f"Column {phones[0] + 1} holds the phone numbers already:"
                                " type this one text.")
    zones = [i for i, c in enumerate(columns) if c.type == C.TIMEZONE]
    for i in zones[1:]:
        form.error(f"type_{i}", f"Column {zones[0] + 1} is the time zone already: a contact"
                                " has one time zone.")
    if not form.ok:
        return None
    fmt = C.ImportFormat(encoding, DELIMITERS[delimiter], header == "yes", columns)
    problems = C.format_problems(fmt)
    if problems:
        form.error("columns", "; ".join(problems) + ".")
        return None
    return fmt


def format_values(fmt):
    """
    The format form's values for C{fmt} (to show what is stored or
    detected).
    """
    values = {"encoding": fmt.encoding, "delimiter": DELIMITER_NAMES.get(fmt.delimiter),
              "has_header": "yes" if fmt.has_header else "no",
              "column_count": str(len(fmt.columns))}
    for i, column in enumerate(fmt.columns):
        values[f"name_{i}"] = column.name
        values[f"type_{i}"] = column.type
        values[f"date_order_{i}"] = column.date_order
        values[f"decimal_{i}"] = DECIMAL_NAMES.get(column.decimal, "point")
    return values


def column_count(values):
    try:
        return max(0, min(MAX_COLUMNS, int(values.get("column_count") or 0)))
    except ValueError:
        return 0


def upload_limit_text():
    return uploads.human_size(uploads.LIST_MAX_BYTES)
