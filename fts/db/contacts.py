"""
Contact lists, their contacts and the rejected rows of their imports.

The import writes each batch with one statement (L{ContactStore.import_chunk}):
the rows are inserted with C{ON CONFLICT (list_id, phone) DO NOTHING}, the
rows that conflicted become C{duplicate} rejects pointing at the row that
was kept (found set-based: among the rows this statement inserted, or among
the list's earlier rows), the other rejects are inserted, and the list's
counters and progress move -- atomically, and only while the list is still
C{importing} (the list row is locked for the statement, so a cancel waits
for the batch in progress and the next batch writes nothing).

Rows and rejects arrive as JSON text, one parameter each (psycopg2's
asynchronous connections cannot COPY; one quoted string is the cheapest
parameter to send, and PostgreSQL parses it in C).
"""

import json
import re

import attr
import psycopg2.errors
from twisted.internet import defer

from fts.core import contacts as C

_LIST_COLUMNS = """
    l.id, l.name, l.description, l.archived_at, l.source_filename, l.upload_path,
    l.file_size, l.encoding, l.delimiter, l.has_header, l.phone_column, l.columns,
    l.total_rows, l.accepted_rows, l.rejected_rows, l.duplicate_rows, l.import_status,
    l.import_bytes_done, l.import_started_at, l.import_finished_at, l.import_error,
    l.created_by, l.created_at, l.updated_at,
    (SELECT count(*) FROM campaigns c
      WHERE c.list_id = l.id AND c.state NOT IN ('finalized', 'deleted'))"""


class ContactListError(Exception):
    """
    A contact-list operation was refused; C{str()} is for the operator.
    """


class ListInUse(ContactListError):
    """
    The list is used by a campaign that is not finalized (the database's
    own message names the campaign).
    """


class ImportStateError(ContactListError):
    """
    The list's import status does not allow the operation.
    """


@attr.frozen
class ContactList:
    """
    A C{contact_lists} row.

    @ivar columns: tuple of L{fts.core.contacts.Column}.
    @ivar campaigns: how many campaigns not yet finalized use the list.
    """

    id: int
    name: str
    description: object
    archived_at: object
    source_filename: object
    upload_path: object
    file_size: object
    encoding: object
    delimiter: object
    has_header: object
    phone_column: object
    columns: tuple
    total_rows: int
    accepted_rows: int
    rejected_rows: int
    duplicate_rows: int
    import_status: str
    import_bytes_done: int
    import_started_at: object
    import_finished_at: object
    import_error: object
    created_by: object
    created_at: object
    updated_at: object
    campaigns: int

    @property
    def archived(self):
        return self.archived_at is not None

    @property
    def progress(self):
        """
        Share of the file imported, 0.0 to 1.0 (L{None} without a file size).
        """
        if self.import_status in (C.IMPORTED, C.READY):
            return 1.0
        if not self.file_size:
            return None
        return min(1.0, self.import_bytes_done / self.file_size)

    @property
    def placeholders(self):
        """
        The column names usable in text-to-speech: the keys of every
        contact's C{fields} (all columns but the phone, which is the
        contact's C{phone}).
        """
        return tuple(c.name for c in self.columns if c.type != C.PHONE)

    def format(self):
        """
        The confirmed L{fts.core.contacts.ImportFormat}, or L{None}.
        """
        if self.encoding is None or self.delimiter is None or self.has_header is None:
            return None
        return C.ImportFormat(self.encoding, self.delimiter, self.has_header, self.columns)


def _list(row):
    values = list(row)
    values[11] = tuple(C.Column.from_json(c) for c in (values[11] or []))
    return ContactList(*values)


@attr.frozen
class Contact:
    id: int
    list_id: int
    row_number: int
    phone: str
    phone_original: str
    fields: dict
    timezone: object


@attr.frozen
class Reject:
    """
    A C{contact_import_rejects} row.
    """

    id: int
    list_id: int
    row_number: int
    column_index: object
    column_name: object
    value: object
    reason_code: str
    reason: str
    duplicate_of_row: object
    raw: object


@attr.frozen
class Page:
    """
    One page of a keyset-paginated listing.

    @ivar after: pass as C{after} to get the next page; L{None} on the last.
    """

    items: tuple
    after: object


@attr.frozen
class ChunkResult:
    """
    The list's counters after a batch.

    @ivar importing: the list was still importing (else nothing was written:
        it was cancelled or deleted meanwhile).
    """

    importing: bool
    total_rows: int = 0
    accepted_rows: int = 0
    rejected_rows: int = 0
    duplicate_rows: int = 0


def like_pattern(text):
    """
    A LIKE pattern matching C{text} anywhere, its wildcards escaped.
    """
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_PHONE_SEARCH = re.compile(r"^[\d\s+().\-]+$")

_CHUNK = """
WITH lst AS (
    SELECT id FROM contact_lists
     WHERE id = %(list)s AND import_status = 'importing'
       FOR UPDATE
),
input AS (
    SELECT (e->>0)::int AS row_number, e->>1 AS phone, e->>2 AS phone_original,
           e->3 AS fields, e->>4 AS timezone
      FROM jsonb_array_elements(%(rows)s::jsonb) AS e
),
ins AS (
    INSERT INTO contacts (list_id, row_number, phone, phone_original, fields, timezone)
    SELECT lst.id, i.row_number, i.phone, i.phone_original, i.fields, i.timezone
      FROM input i CROSS JOIN lst
     ORDER BY i.row_number
    ON CONFLICT (list_id, phone) DO NOTHING
    RETURNING row_number
),
dup AS (
    SELECT i.row_number, i.phone, i.phone_original
      FROM input i CROSS JOIN lst
     WHERE i.row_number NOT IN (SELECT row_number FROM ins)
),
-- The row kept for each duplicate: a row of an earlier batch when there is
-- one (this statement's snapshot does not see its own inserts), else the
-- first row of this batch with that phone, which this statement inserted.
firsts AS (
    SELECT i.phone, min(i.row_number) AS first_row
      FROM input i
     WHERE i.phone IN (SELECT phone FROM dup)
     GROUP BY i.phone
),
kept AS MATERIALIZED (
    SELECT d.row_number, d.phone, d.phone_original,
           coalesce(c.row_number, f.first_row) AS kept_row
      FROM dup d
      JOIN firsts f ON f.phone = d.phone
      LEFT JOIN contacts c ON c.list_id = %(list)s AND c.phone = d.phone
),
dup_rejects AS (
    INSERT INTO contact_import_rejects
        (list_id, row_number, column_index, column_name, value, reason_code, reason,
         duplicate_of_row)
    SELECT %(list)s, k.row_number, %(phone_index)s, %(phone_name)s, k.phone_original,
           'duplicate',
           'same phone number as row ' || k.kept_row || ' (' || k.phone
               || '), which is kept: the number is dialed once',
           k.kept_row
      FROM kept k
    RETURNING 1
),
-- (bad runs although nothing reads it: PostgreSQL runs every data-modifying
-- WITH statement to completion.)
bad AS (
    INSERT INTO contact_import_rejects
        (list_id, row_number, column_index, column_name, value, reason_code, reason, raw)
    SELECT lst.id, (r->>0)::int, (r->>1)::int, r->>2, r->>3, r->>4, r->>5, r->>6
      FROM jsonb_array_elements(%(rejects)s::jsonb) AS r CROSS JOIN lst
    RETURNING 1
)
UPDATE contact_lists l
   SET total_rows = l.total_rows + %(read)s,
       accepted_rows = l.accepted_rows + (SELECT count(*) FROM ins),
       duplicate_rows = l.duplicate_rows + (SELECT count(*) FROM dup_rejects),
       rejected_rows = l.rejected_rows + %(rejected)s,
       import_bytes_done = %(bytes)s
  FROM lst
 WHERE l.id = lst.id
RETURNING l.total_rows, l.accepted_rows, l.rejected_rows, l.duplicate_rows
"""


class ContactStore:
    """
    The SQL of contact lists.
    """

    def __init__(self, pool):
        self.pool = pool

    # -- lists ---------------------------------------------------------------

    @defer.inlineCallbacks
    def create_list(self, name, description=None, created_by=None, source_filename=None):
        """
        A new, empty list (status C{uploaded}).

        @raise ContactListError: the name is empty.
        """
        name = (name or "").strip()
        if not name:
            raise ContactListError("a contact list needs a name")
        rows = yield self.pool.runQuery(
            "INSERT INTO contact_lists (name, description, created_by, source_filename)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (name, description, created_by, source_filename))
        return (yield self.get(rows[0][0]))

    @defer.inlineCallbacks
    def get(self, list_id):
        """
        The L{ContactList}, or L{None}.
        """
        rows = yield self.pool.runQuery(
            f"SELECT {_LIST_COLUMNS} FROM contact_lists l WHERE l.id = %s", (list_id,))
        return _list(rows[0]) if rows else None

    @defer.inlineCallbacks
    def lists(self, archived=False, status=None, limit=100, offset=0):
        """
        Lists, newest first: the archived ones or the others, optionally
        only those in one import status (C{"ready"} for the campaign wizard).
        """
        rows = yield self.pool.runQuery(
            f"SELECT {_LIST_COLUMNS} FROM contact_lists l"
            " WHERE (l.archived_at IS NOT NULL) = %s"
            "   AND (%s::text IS NULL OR l.import_status = %s)"
            " ORDER BY l.created_at DESC, l.id DESC LIMIT %s OFFSET %s",
            (bool(archived), status, status, limit, offset))
        return [_list(r) for r in rows]

    @defer.inlineCallbacks
    def rename(self, list_id, name, description=None):
        """
        Change a list's name and description; L{False} if there is no list.
        """
        name = (name or "").strip()
        if not name:
            raise ContactListError("a contact list needs a name")
        rows = yield self.pool.runQuery(
            "UPDATE contact_lists SET name = %s, description = %s WHERE id = %s RETURNING id",
            (name, description, list_id))
        return bool(rows)

    @defer.inlineCallbacks
    def archive(self, list_id, archived=True):
        """
        Archive (or with C{archived=False} restore) a list: archived lists
        leave the default listing and the campaign wizard; campaigns using
        one keep working.  L{False} if there is no list.
        """
        rows = yield self.pool.runQuery(
            "UPDATE contact_lists SET archived_at ="
            " CASE WHEN %s THEN coalesce(archived_at, now()) END"
            " WHERE id = %s RETURNING id", (bool(archived), list_id))
        return bool(rows)

    @defer.inlineCallbacks
    def delete(self, list_id):
        """
        Delete a list with its contacts and rejects.

        @return: the deleted L{ContactList} (its C{upload_path} is the
            caller's to remove), or L{None} if there was none.
        @raise ListInUse: a campaign not finalized uses it.
        @raise ImportStateError: its import is running.
        """
        current = yield self.get(list_id)
        if current is None:
            return None
        try:
            rows = yield self.pool.runQuery(
                "DELETE FROM contact_lists WHERE id = %s AND import_status <> 'importing'"
                " RETURNING id", (list_id,))
        except psycopg2.errors.RestrictViolation as e:
            raise ListInUse(_message(e)) from None
        if not rows:
            if (yield self.get(list_id)) is None:
                return None
            raise ImportStateError(f"contact list {list_id} ({current.name!r}) is being "
                                   "imported: cancel the import before deleting it")
        return current

    @defer.inlineCallbacks
    def set_upload(self, list_id, upload_path, file_size, source_filename=None):
        """
        Record the uploaded file of a list.
        """
        rows = yield self.pool.runQuery(
            "UPDATE contact_lists SET upload_path = %s, file_size = %s,"
            " source_filename = coalesce(%s, source_filename)"
            " WHERE id = %s AND import_status = 'uploaded' RETURNING id",
            (upload_path, file_size, source_filename, list_id))
        if not rows:
            raise ImportStateError(f"contact list {list_id} does not wait for a file")

    @defer.inlineCallbacks
    def set_format(self, list_id, fmt):
        """
        Store the format to import with (detected, or confirmed by the
        operator): possible before the import and again after a failed or
        rejected one, until the rows are accepted.

        @raise ContactListError: the format is not usable (every problem
            listed), or the list is past that point.
        """
        problems = C.format_problems(fmt)
        if problems:
            raise ContactListError("; ".join(problems))
        from_states = (C.UPLOADED, C.IMPORTED, C.FAILED)
        rows = yield self.pool.runQuery(
            "UPDATE contact_lists SET encoding = %s, delimiter = %s, has_header = %s,"
            " phone_column = %s, columns = %s::jsonb"
            " WHERE id = %s AND import_status = ANY(%s) RETURNING id",
            (fmt.encoding, fmt.delimiter, fmt.has_header, fmt.phone_column,
             json.dumps(fmt.columns_json()), list_id, list(from_states)))
        if not rows:
            yield self._state_error(list_id, "its format cannot be changed")
        return (yield self.get(list_id))

    @defer.inlineCallbacks
    def _state_error(self, list_id, what):
        current = yield self.get(list_id)
        if current is None:
            raise ContactListError(f"there is no contact list {list_id}")
        raise ImportStateError(f"contact list {list_id} ({current.name!r}) is "
                               f"{current.import_status}: {what}")

    # -- contacts and rejects -------------------------------------------------

    @defer.inlineCallbacks
    def contacts(self, list_id, search=None, limit=100, after=None):
        """
        A page of a list's contacts in file order.

        @param search: digits (and phone punctuation) match anywhere in the
            normalised phone; other text matches anywhere in the phone as
            written or in a field value, ignoring case.
        @param after: the C{after} of the previous L{Page}.
        """
        digits = text = None
        if search and search.strip():
            search = search.strip()
            if _PHONE_SEARCH.match(search) and re.sub(r"\D", "", search):
                digits = like_pattern(re.sub(r"\D", "", search))
            else:
                text = like_pattern(search)
        rows = yield self.pool.runQuery(
            "SELECT id, list_id, row_number, phone, phone_original, fields, timezone"
            "  FROM contacts"
            " WHERE list_id = %(list)s AND id > %(after)s"
            "   AND (%(digits)s::text IS NULL OR phone LIKE %(digits)s)"
            "   AND (%(text)s::text IS NULL OR phone_original ILIKE %(text)s"
            "        OR EXISTS (SELECT 1 FROM jsonb_each_text(fields) f"
            "                    WHERE f.value ILIKE %(text)s))"
            " ORDER BY id LIMIT %(limit)s",
            {"list": list_id, "after": after or 0, "digits": digits, "text": text,
             "limit": limit})
        items = tuple(Contact(*r) for r in rows)
        return Page(items, items[-1].id if len(items) == limit else None)

    @defer.inlineCallbacks
    def rejects(self, list_id, limit=100, after=None, reason_code=None):
        """
        A page of the rejected-rows report, by row number.

        @param after: the C{after} of the previous L{Page} (a
            C{(row_number, id)} pair).
        """
        row, rid = after or (0, 0)
        rows = yield self.pool.runQuery(
            "SELECT id, list_id, row_number, column_index, column_name, value, reason_code,"
            "       reason, duplicate_of_row, raw"
            "  FROM contact_import_rejects"
            " WHERE list_id = %s AND (row_number, id) > (%s, %s)"
            "   AND (%s::text IS NULL OR reason_code = %s)"
            " ORDER BY row_number, id LIMIT %s",
            (list_id, row, rid, reason_code, reason_code, limit))
        items = tuple(Reject(*r) for r in rows)
        last = items[-1] if len(items) == limit else None
        return Page(items, (last.row_number, last.id) if last else None)

    @defer.inlineCallbacks
    def reject_summary(self, list_id):
        """
        C{{reason_code: number of rows}} of a list's rejects.
        """
        rows = yield self.pool.runQuery(
            "SELECT reason_code, count(DISTINCT row_number) FROM contact_import_rejects"
            " WHERE list_id = %s GROUP BY reason_code", (list_id,))
        return dict(rows)

    # -- the import -------------------------------------------------------------

    @defer.inlineCallbacks
    def begin_import(self, list_id):
        """
        Move the list to C{importing}, clearing the rows, rejects and
        counters of an earlier attempt.

        @return: the L{ContactList}.
        @raise ImportStateError: no file or format yet, or not in a status
            an import can start from.
        """
        sources = C.statuses_leading_to(C.IMPORTING)

        @defer.inlineCallbacks
        def interaction(cursor):
            yield cursor.execute(
                "UPDATE contact_lists SET import_status = 'importing', total_rows = 0,"
                " accepted_rows = 0, rejected_rows = 0, duplicate_rows = 0,"
                " import_bytes_done = 0, import_started_at = now(),"
                " import_finished_at = NULL, import_error = NULL"
                " WHERE id = %s AND import_status = ANY(%s)"
                "   AND upload_path IS NOT NULL AND encoding IS NOT NULL"
                " RETURNING id", (list_id, list(sources)))
            if not cursor.fetchall():
                return False
            yield cursor.execute("DELETE FROM contact_import_rejects WHERE list_id = %s",
                                 (list_id,))
            yield cursor.execute("DELETE FROM contacts WHERE list_id = %s", (list_id,))
            return True

        if not (yield self.pool.runInteraction(interaction)):
            current = yield self.get(list_id)
            if current is not None and current.import_status in sources:
                raise ImportStateError(f"contact list {list_id} ({current.name!r}) has no "
                                       "file or no confirmed format yet")
            yield self._state_error(list_id, "its import cannot be started")
        return (yield self.get(list_id))

    @defer.inlineCallbacks
    def import_chunk(self, list_id, batch, phone_index, phone_name):
        """
        Write one L{fts.contacts.batches.Batch} of a contact import (see
        the module docstring).

        @rtype: L{ChunkResult}
        """
        rows = yield self.pool.runQuery(_CHUNK, {
            "list": list_id, "rows": batch.rows_json, "rejects": batch.rejects_json,
            "read": batch.rows, "rejected": batch.rejected_rows,
            "bytes": batch.bytes_done, "phone_index": phone_index,
            "phone_name": phone_name})
        if not rows:
            return ChunkResult(False)
        return ChunkResult(True, *rows[0])

    @defer.inlineCallbacks
    def finish_import(self, list_id):
        """
        End an import whose rows are all written: C{ready}, C{imported}
        or C{failed} per L{fts.core.contacts.import_outcome}.

        @return: the L{ContactList}, or L{None} if it was no longer
            importing (cancelled meanwhile).
        """
        current = yield self.get(list_id)
        if current is None or current.import_status != C.IMPORTING:
            return None
        status, error = C.import_outcome(current.accepted_rows, current.rejected_rows)
        rows = yield self.pool.runQuery(
            "UPDATE contact_lists SET import_status = %s, import_error = %s,"
            " import_finished_at = now(),"
            " import_bytes_done = coalesce(file_size, import_bytes_done)"
            " WHERE id = %s AND import_status = 'importing' RETURNING id",
            (status, error, list_id))
        return (yield self.get(list_id)) if rows else None

    @defer.inlineCallbacks
    def fail_import(self, list_id, error):
        """
        Mark a running import C{failed} with the reason; L{False} if it was
        not running.
        """
        rows = yield self.pool.runQuery(
            "UPDATE contact_lists SET import_status = 'failed', import_error = %s,"
            " import_finished_at = now()"
            " WHERE id = %s AND import_status = 'importing' RETURNING id",
            (error, list_id))
        return bool(rows)

    @defer.inlineCallbacks
    def fail_interrupted_imports(self, stalled_for=None,
                                 error="the daemon stopped during the import; "
                                       "start the import again"):
        """
        Mark lists left C{importing} by a daemon that stopped as C{failed}.

        @param stalled_for: only those whose row has not changed for this
            many seconds (each batch updates it); L{None}: all of them.
        @return: the ids of those lists.
        """
        rows = yield self.pool.runQuery(
            "UPDATE contact_lists SET import_status = 'failed', import_error = %s,"
            " import_finished_at = now()"
            " WHERE import_status = 'importing'"
            "   AND (%s::float8 IS NULL OR updated_at < now() - make_interval(secs => %s))"
            " RETURNING id", (error, stalled_for, stalled_for))
        return sorted(r[0] for r in rows)

    @defer.inlineCallbacks
    def cancel_import(self, list_id):
        """
        Abandon the import of a list (before, during, or after it when the
        operator discards the rows): status C{cancelled}, contacts deleted;
        the rejects stay for the report.

        @return: L{True} if it was cancelled now.
        """
        sources = C.statuses_leading_to(C.CANCELLED)

        @defer.inlineCallbacks
        def interaction(cursor):
            # Waits for a batch in progress (it locks the row), then deletes
            # in a new statement, which sees that batch's rows.
            yield cursor.execute(
                "UPDATE contact_lists SET import_status = 'cancelled',"
                " import_finished_at = now()"
                " WHERE id = %s AND import_status = ANY(%s) RETURNING id",
                (list_id, list(sources)))
            if not cursor.fetchall():
                return False
            yield cursor.execute("DELETE FROM contacts WHERE list_id = %s", (list_id,))
            return True

        return (yield self.pool.runInteraction(interaction))

    @defer.inlineCallbacks
    def accept_import(self, list_id):
        """
        The operator accepts the imported rows despite the rejects:
        C{imported} -> C{ready}.

        @return: the L{ContactList}.
        @raise ImportStateError: it is not waiting for that decision.
        """
        rows = yield self.pool.runQuery(
            "UPDATE contact_lists SET import_status = 'ready'"
            " WHERE id = %s AND import_status = 'imported' RETURNING id", (list_id,))
        if not rows:
            yield self._state_error(list_id, "there is no import waiting to be accepted")
        return (yield self.get(list_id))

    @defer.inlineCallbacks
    def clear_upload(self, list_id):
        """
        Forget the uploaded file of a list (once it is removed).
        """
        yield self.pool.runOperation(
            "UPDATE contact_lists SET upload_path = NULL WHERE id = %s", (list_id,))


def _message(error):
    diag = getattr(error, "diag", None)
    text = getattr(diag, "message_primary", None) or str(error)
    return " ".join(text.split())
