"""
The rejected-rows reports as CSV, streamed page by page from the database.

The report is for people and spreadsheets: UTF-8 with a byte order mark
(so Excel reads it as UTF-8), comma-separated, one line per problem (a row
with two bad values has two lines).  Cells that a spreadsheet would take as
a formula are prefixed with an apostrophe (L{fts.core.spreadsheet}), so an
uploaded C{=HYPERLINK(...)} stays text.
"""

import csv
import io

from twisted.internet import defer

from fts.core.spreadsheet import neutralise

CONTACT_HEADER = ("row", "column", "value", "reason", "reason_code", "duplicate_of_row",
                  "record")
DNC_HEADER = ("row", "value", "reason")
PAGE = 2000
BOM = "\ufeff"


def spreadsheet_safe(value):
    """
    C{value} as text a spreadsheet will not evaluate
    (L{fts.core.spreadsheet.neutralise}).
    """
    if value is None:
        return ""
    return neutralise(str(value))


def _lines(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([spreadsheet_safe(v) for v in row])
    return out.getvalue().encode("utf-8")


def _column(reject):
    if reject.column_name:
        return reject.column_name
    if reject.column_index is not None:
        return f"column {reject.column_index + 1}"
    return ""


@defer.inlineCallbacks
def _stream(fetch, to_row, header, write):
    yield defer.maybeDeferred(write, (BOM.encode("utf-8") + _lines([header])))
    count, after = 0, None
    while True:
        page = yield fetch(after)
        if page.items:
            yield defer.maybeDeferred(write, _lines(to_row(r) for r in page.items))
            count += len(page.items)
        if page.after is None:
            return count
        after = page.after


def write_contact_rejects(store, list_id, write, reason_code=None, page_size=PAGE):
    """
    Stream the rejected-rows report of a contact list.

    @param store: the L{fts.db.contacts.ContactStore}.
    @param write: called with each chunk of bytes; may return a Deferred
        to slow the reading down (a consumer's back-pressure).
    @return: a Deferred firing with the number of report lines.
    """
    return _stream(
        lambda after: store.rejects(list_id, limit=page_size, after=after,
                                    reason_code=reason_code),
        lambda r: (r.row_number, _column(r), r.value, r.reason, r.reason_code,
                   r.duplicate_of_row, r.raw),
        CONTACT_HEADER, write)


def write_dnc_rejects(store, import_id, write, page_size=PAGE):
    """
    Stream the rejected-rows report of a DNC upload (see
    L{write_contact_rejects}).
    """
    return _stream(
        lambda after: store.upload_rejects(import_id, limit=page_size, after=after),
        lambda r: (r.row_number, r.value, r.reason),
        DNC_HEADER, write)
