"""
Do-not-call lists: the lists, their numbers, the built-in opt-outs list and
CSV uploads into a list.

Numbers are normalised with the configured L{fts.core.phones.PhoneRules}
before they are stored or looked up, exactly as contacts are, so the
dial-time check compares like with like.  The dial-time check itself is part
of the dialer's claim statement; L{DncStore.check} answers the operator's
"is this number listed, and where".

An upload writes each batch with one statement (L{DncStore.upload_chunk}):
new numbers are added with C{ON CONFLICT DO NOTHING}, numbers already in
the list (or repeated in the file) are counted as already present, rejects
are stored for the report, and the upload's counters and progress move, only
while the upload is still C{importing}.
"""

import re

import attr
import psycopg2.errors
from twisted.internet import defer

from fts.core.phones import PhoneError
from fts.db.contacts import Page, like_pattern

SOURCES = ("upload", "manual", "api", "opt_out_key", "api_opt_out")


class DncError(Exception):
    """
    A DNC operation was refused; C{str()} is for the operator.
    """


class DncListInUse(DncError):
    """
    The list is honoured by a campaign that is not finalized, or is the
    built-in list.
    """


@attr.frozen
class DncList:
    """
    A C{dnc_lists} row, with its number of entries.
    """

    id: int
    name: str
    description: object
    builtin: bool
    created_by: object
    created_at: object
    entries: int


@attr.frozen
class DncEntry:
    list_id: int
    phone: str
    phone_original: object
    source: str
    added_at: object
    added_by: object
    source_campaign_id: object
    source_call_id: object
    note: object


@attr.frozen
class DncImport:
    """
    A C{dnc_imports} row: one CSV upload into a list.
    """

    id: int
    list_id: int
    source_filename: object
    file_size: object
    status: str
    bytes_done: int
    total_rows: int
    added_rows: int
    already_present_rows: int
    rejected_rows: int
    error: object
    created_by: object
    started_at: object
    finished_at: object

    @property
    def progress(self):
        if self.status == "done":
            return 1.0
        if not self.file_size:
            return None
        return min(1.0, self.bytes_done / self.file_size)


@attr.frozen
class DncReject:
    id: int
    import_id: int
    row_number: int
    value: object
    reason: str


@attr.frozen
class UploadCounts:
    """
    An upload's counters after a batch; C{importing} is L{False} when it was
    cancelled meanwhile (nothing was written).
    """

    importing: bool
    total_rows: int = 0
    added_rows: int = 0
    already_present_rows: int = 0
    rejected_rows: int = 0


_LIST = """
    SELECT l.id, l.name, l.description, l.builtin, l.created_by, l.created_at,
           (SELECT count(*) FROM dnc_entries e WHERE e.list_id = l.id)
      FROM dnc_lists l"""
_ENTRY = """
    SELECT list_id, phone, phone_original, source, added_at, added_by,
           source_campaign_id, source_call_id, note
      FROM dnc_entries"""
_IMPORT = """
    SELECT id, list_id, source_filename, file_size, status, bytes_done, total_rows,
           added_rows, already_present_rows, rejected_rows, error, created_by,
           started_at, finished_at
      FROM dnc_imports"""

_UPLOAD_CHUNK = """
WITH imp AS (
    SELECT id, list_id FROM dnc_imports
     WHERE id = %(import)s AND status = 'importing'
       FOR UPDATE
),
input AS (
    SELECT (e->>0)::int AS row_number, e->>1 AS phone, e->>2 AS phone_original
      FROM jsonb_array_elements(%(rows)s::jsonb) AS e
),
ins AS (
    INSERT INTO dnc_entries (list_id, phone, phone_original, source, added_by, note)
    SELECT imp.list_id, i.phone, i.phone_original, 'upload', %(added_by)s, %(note)s
      FROM input i CROSS JOIN imp
     ORDER BY i.row_number
    ON CONFLICT (list_id, phone) DO NOTHING
    RETURNING 1
),
bad AS (
    INSERT INTO dnc_import_rejects (import_id, row_number, value, reason)
    SELECT imp.id, (r->>0)::int, r->>1, r->>2
      FROM jsonb_array_elements(%(rejects)s::jsonb) AS r CROSS JOIN imp
    RETURNING 1
)
UPDATE dnc_imports d
   SET total_rows = d.total_rows + %(read)s,
       added_rows = d.added_rows + (SELECT count(*) FROM ins),
       already_present_rows = d.already_present_rows + %(candidates)s
                              - (SELECT count(*) FROM ins),
       rejected_rows = d.rejected_rows + %(rejected)s,
       bytes_done = %(bytes)s
  FROM imp
 WHERE d.id = imp.id
RETURNING d.total_rows, d.added_rows, d.already_present_rows, d.rejected_rows
"""


class DncStore:
    """
    The SQL of DNC lists.

    @param rules: the L{fts.core.phones.PhoneRules} numbers are normalised
        with.
    """

    def __init__(self, pool, rules):
        self.pool = pool
        self.rules = rules

    # -- lists ---------------------------------------------------------------

    @defer.inlineCallbacks
    def lists(self):
        """
        Every list, the built-in one first, then by name.
        """
        rows = yield self.pool.runQuery(_LIST + " ORDER BY l.builtin DESC, l.name")
        return [DncList(*r) for r in rows]

    @defer.inlineCallbacks
    def get(self, list_id):
        rows = yield self.pool.runQuery(_LIST + " WHERE l.id = %s", (list_id,))
        return DncList(*rows[0]) if rows else None

    @defer.inlineCallbacks
    def builtin(self):
        """
        The built-in opt-outs list.
        """
        rows = yield self.pool.runQuery(_LIST + " WHERE l.builtin")
        return DncList(*rows[0])

    @defer.inlineCallbacks
    def create_list(self, name, description=None, created_by=None):
        """
        A new, empty list.

        @raise DncError: the name is empty or taken.
        """
        name = (name or "").strip()
        if not name:
            raise DncError("a DNC list needs a name")
        try:
            rows = yield self.pool.runQuery(
                "INSERT INTO dnc_lists (name, description, created_by) VALUES (%s, %s, %s)"
                " RETURNING id", (name, description, created_by))
        except psycopg2.errors.UniqueViolation:
            raise DncError(f"there is already a DNC list named {name!r}") from None
        return (yield self.get(rows[0][0]))

    @defer.inlineCallbacks
    def rename(self, list_id, name, description=None):
        """
        Change a list's name and description; L{False} if there is no list.
        """
        name = (name or "").strip()
        if not name:
            raise DncError("a DNC list needs a name")
        try:
            rows = yield self.pool.runQuery(
                "UPDATE dnc_lists SET name = %s, description = %s WHERE id = %s RETURNING id",
                (name, description, list_id))
        except psycopg2.errors.UniqueViolation:
            raise DncError(f"there is already a DNC list named {name!r}") from None
        return bool(rows)

    @defer.inlineCallbacks
    def delete_list(self, list_id):
        """
        Delete a list and its numbers.  Links from finalized campaigns are
        removed first; a campaign not finalized keeps its lists.

        @return: L{False} if there was no list.
        @raise DncListInUse: it is the built-in list, or a campaign that is
            not finalized honours it.
        """

        @defer.inlineCallbacks
        def interaction(cursor):
            yield cursor.execute(
                "DELETE FROM campaign_dnc_lists cd USING campaigns c"
                " WHERE cd.campaign_id = c.id AND cd.dnc_list_id = %s"
                "   AND c.state IN ('finalized', 'deleted')", (list_id,))
            yield cursor.execute("DELETE FROM dnc_lists WHERE id = %s RETURNING id", (list_id,))
            return bool(cursor.fetchall())

        try:
            return (yield self.pool.runInteraction(interaction))
        except psycopg2.errors.RestrictViolation as e:
            raise DncListInUse(_message(e)) from None
        except psycopg2.errors.ForeignKeyViolation:
            rows = yield self.pool.runQuery(
                "SELECT l.name, c.id, c.name, c.state FROM campaign_dnc_lists cd"
                "  JOIN campaigns c ON c.id = cd.campaign_id"
                "  JOIN dnc_lists l ON l.id = cd.dnc_list_id"
                " WHERE cd.dnc_list_id = %s ORDER BY c.id LIMIT 1", (list_id,))
            if not rows:
                raise DncListInUse(f"DNC list {list_id} is in use") from None
            name, cid, cname, state = rows[0]
            raise DncListInUse(
                f"DNC list {list_id} ({name!r}) is honoured by campaign {cid} ({cname!r}), "
                f"which is {state}; it can be deleted once that campaign is finalized"
            ) from None

    # -- numbers --------------------------------------------------------------

    @defer.inlineCallbacks
    def add(self, list_id, text, source="manual", added_by=None, note=None):
        """
        Add a number to a list (nothing changes if it is there already).

        @return: C{(DncEntry, added)}: the entry, and whether it is new.
        @raise fts.core.phones.PhoneError: C{text} is not a phone number.
        @raise DncError: there is no such list.
        """
        if source not in SOURCES:
            raise ValueError(f"unknown DNC source {source!r}")
        phone = self.rules.normalise(text)
        try:
            rows = yield self.pool.runQuery(
                "INSERT INTO dnc_entries (list_id, phone, phone_original, source, added_by, note)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (list_id, phone) DO NOTHING"
                " RETURNING phone", (list_id, phone, text.strip(), source, added_by, note))
        except psycopg2.errors.ForeignKeyViolation:
            raise DncError(f"there is no DNC list {list_id}") from None
        entry = yield self.entry(list_id, phone)
        return entry, bool(rows)

    @defer.inlineCallbacks
    def entry(self, list_id, phone):
        """
        The entry of a normalised number in a list, or L{None}.
        """
        rows = yield self.pool.runQuery(_ENTRY + " WHERE list_id = %s AND phone = %s",
                                        (list_id, phone))
        return DncEntry(*rows[0]) if rows else None

    def _lookup_forms(self, text):
        """
        The stored forms C{text} may have: normalised now, and its bare
        digits (entries stored under other rules).
        """
        forms = []
        try:
            forms.append(self.rules.normalise(text))
        except PhoneError:
            pass
        digits = re.sub(r"\D", "", text or "")
        if digits and digits not in forms:
            forms.append(digits)
        return forms

    @defer.inlineCallbacks
    def remove(self, list_id, text):
        """
        Remove a number from a list.

        @return: whether it was there.
        """
        forms = self._lookup_forms(text)
        if not forms:
            return False
        rows = yield self.pool.runQuery(
            "DELETE FROM dnc_entries WHERE list_id = %s AND phone = ANY(%s) RETURNING phone",
            (list_id, forms))
        return bool(rows)

    @defer.inlineCallbacks
    def check(self, text, list_ids=None):
        """
        The lists holding a number.

        @param list_ids: only these lists; L{None} for every list.
        @return: the L{DncList}s (the built-in one first), empty if none.
        @raise fts.core.phones.PhoneError: C{text} is not a phone number.
        """
        phone = self.rules.normalise(text)
        rows = yield self.pool.runQuery(
            _LIST + " WHERE EXISTS (SELECT 1 FROM dnc_entries e"
                    "               WHERE e.list_id = l.id AND e.phone = %s)"
                    "   AND (%s::bigint[] IS NULL OR l.id = ANY(%s::bigint[]))"
                    " ORDER BY l.builtin DESC, l.name",
            (phone, list_ids and list(list_ids), list_ids and list(list_ids)))
        return [DncList(*r) for r in rows]

    @defer.inlineCallbacks
    def opt_out(self, phone, campaign_id=None, call_id=None, source="api_opt_out",
                added_by="api", note=None):
        """
        Put a number on the built-in opt-outs list (idempotent: a number
        already there keeps its first entry).

        @param source: C{api_opt_out} or C{opt_out_key} (a key press).
        @return: whether the number is new on the list.
        @raise fts.core.phones.PhoneError: C{phone} is not a phone number.
        """
        if source not in ("api_opt_out", "opt_out_key"):
            raise ValueError(f"an opt-out comes from api_opt_out or opt_out_key, not {source!r}")
        normalised = self.rules.normalise(phone)
        rows = yield self.pool.runQuery(
            "INSERT INTO dnc_entries (list_id, phone, phone_original, source, added_by,"
            "                         source_campaign_id, source_call_id, note)"
            " SELECT id, %s, %s, %s, %s, %s, %s, %s FROM dnc_lists WHERE builtin"
            " ON CONFLICT (list_id, phone) DO NOTHING RETURNING phone",
            (normalised, phone.strip(), source, added_by, campaign_id, call_id, note))
        return bool(rows)

    @defer.inlineCallbacks
    def entries(self, list_id, search=None, limit=100, after=None):
        """
        A page of a list's numbers in numeric order.

        @param search: digits matching anywhere in the number.
        @param after: the C{after} of the previous L{Page}.
        """
        digits = re.sub(r"\D", "", search or "")
        rows = yield self.pool.runQuery(
            _ENTRY + " WHERE list_id = %s AND phone > %s"
                     "   AND (%s = '' OR phone LIKE %s)"
                     " ORDER BY phone LIMIT %s",
            (list_id, after or "", digits, like_pattern(digits), limit))
        items = tuple(DncEntry(*r) for r in rows)
        return Page(items, items[-1].phone if len(items) == limit else None)

    # -- uploads ----------------------------------------------------------------

    @defer.inlineCallbacks
    def begin_upload(self, list_id, source_filename=None, file_size=None, created_by=None):
        """
        Record the start of a CSV upload into a list.

        @rtype: L{DncImport}
        @raise DncError: there is no such list.
        """
        try:
            rows = yield self.pool.runQuery(
                "INSERT INTO dnc_imports (list_id, source_filename, file_size, created_by)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (list_id, source_filename, file_size, created_by))
        except psycopg2.errors.ForeignKeyViolation:
            raise DncError(f"there is no DNC list {list_id}") from None
        return (yield self.upload(rows[0][0]))

    @defer.inlineCallbacks
    def upload_chunk(self, import_id, batch, added_by=None, note=None):
        """
        Write one L{fts.contacts.batches.Batch} of a DNC upload.

        @rtype: L{UploadCounts}
        """
        rows = yield self.pool.runQuery(_UPLOAD_CHUNK, {
            "import": import_id, "rows": batch.rows_json, "rejects": batch.rejects_json,
            "read": batch.rows, "candidates": batch.candidates,
            "rejected": batch.rejected_rows, "bytes": batch.bytes_done,
            "added_by": added_by, "note": note})
        if not rows:
            return UploadCounts(False)
        return UploadCounts(True, *rows[0])

    @defer.inlineCallbacks
    def _end_upload(self, import_id, status, error=None):
        rows = yield self.pool.runQuery(
            "UPDATE dnc_imports SET status = %s, error = %s, finished_at = now(),"
            " bytes_done = CASE WHEN %s = 'done' THEN coalesce(file_size, bytes_done)"
            "              ELSE bytes_done END"
            " WHERE id = %s AND status = 'importing' RETURNING id",
            (status, error, status, import_id))
        return bool(rows)

    def finish_upload(self, import_id):
        """
        Mark an upload done; L{False} if it was not running.
        """
        return self._end_upload(import_id, "done")

    def fail_upload(self, import_id, error):
        return self._end_upload(import_id, "failed", error)

    def cancel_upload(self, import_id):
        """
        Stop an upload.  Numbers it already added stay in the list (they
        cannot be told from numbers that were there before).
        """
        return self._end_upload(import_id, "cancelled")

    @defer.inlineCallbacks
    def fail_interrupted_uploads(self, stalled_for=None,
                                 error="the daemon stopped during the upload; "
                                       "upload the file again"):
        """
        Mark uploads left C{importing} by a daemon that stopped as C{failed}.

        @param stalled_for: only those started this many seconds ago or more
            (uploads record no time of progress); L{None}: all of them.
        """
        rows = yield self.pool.runQuery(
            "UPDATE dnc_imports SET status = 'failed', error = %s, finished_at = now()"
            " WHERE status = 'importing'"
            "   AND (%s::float8 IS NULL OR started_at < now() - make_interval(secs => %s))"
            " RETURNING id", (error, stalled_for, stalled_for))
        return sorted(r[0] for r in rows)

    @defer.inlineCallbacks
    def upload(self, import_id):
        rows = yield self.pool.runQuery(_IMPORT + " WHERE id = %s", (import_id,))
        return DncImport(*rows[0]) if rows else None

    @defer.inlineCallbacks
    def uploads(self, list_id, limit=20):
        """
        The latest uploads into a list, newest first.
        """
        rows = yield self.pool.runQuery(
            _IMPORT + " WHERE list_id = %s ORDER BY id DESC LIMIT %s", (list_id, limit))
        return [DncImport(*r) for r in rows]

    @defer.inlineCallbacks
    def upload_rejects(self, import_id, limit=100, after=None):
        """
        A page of an upload's rejected rows, by row number.
        """
        row, rid = after or (0, 0)
        rows = yield self.pool.runQuery(
            "SELECT id, import_id, row_number, value, reason FROM dnc_import_rejects"
            " WHERE import_id = %s AND (row_number, id) > (%s, %s)"
            " ORDER BY row_number, id LIMIT %s", (import_id, row, rid, limit))
        items = tuple(DncReject(*r) for r in rows)
        last = items[-1] if len(items) == limit else None
        return Page(items, (last.row_number, last.id) if last else None)


def _message(error):
    diag = getattr(error, "diag", None)
    text = getattr(diag, "message_primary", None) or str(error)
    return " ".join(text.split())
