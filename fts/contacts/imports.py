"""
Contact-list imports: from an uploaded file to a list campaigns can use.

The steps, as the panel and the API drive them:

 1. The panel creates the list (L{fts.db.contacts.ContactStore.create_list}),
    stores the upload at L{ContactImports.upload_path} and calls
    L{ContactImports.uploaded}, which detects the format (encoding,
    delimiter, header, phone column, column names and types) from the
    file's first megabyte and stores it as the proposal.
 2. The operator changes what needs changing; L{ContactImports.detect}
    re-detects with some choices fixed, L{ContactImports.preview} shows how
    the first rows would import with a format.
 3. L{ContactImports.start} stores the confirmed format and starts the
    import: status C{importing}, progress in C{import_bytes_done}.  The file
    is read in blocks in a thread, decoded, parsed and validated on the
    reactor thread a slice at a time (L{fts.contacts.pump}), and each batch
    is written with one statement while the next is parsed.
    L{ContactImports.cancel} stops it.
 4. At the end the list is C{ready} (no rejected row), C{imported} (rows
    rejected: the operator reads the report, then L{ContactImports.accept}
    or L{ContactImports.cancel}), or C{failed} (no row accepted, or an
    error).  Until the rows are accepted the format can be corrected and the
    import started again; the uploaded file is kept until then, and removed
    once the list is ready.
"""

import os
from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from fts.contacts import pump as P
from fts.contacts.batches import BATCH_ROWS, READ_SIZE, ContactBatches
from fts.core import contacts as C
from fts.db.contacts import ContactListError, ImportStateError

log = Logger()

#: Bytes read from the start of a file to detect its format.
SAMPLE_BYTES = 1024 * 1024
UPLOAD_DIRECTORY = Path("uploads") / "contacts"


def read_sample(path, size):
    """
    The first C{size} bytes of a file and whether they are all of it
    (blocking: run in a thread).
    """
    with open(path, "rb") as f:
        data = f.read(size)
        complete = not f.read(1)
    return data, complete


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _describe(failure):
    error = failure.value
    if isinstance(error, FileNotFoundError):
        return f"the uploaded file is missing ({error.filename}); upload it again"
    if isinstance(error, OSError):
        return f"the uploaded file cannot be read: {error.strerror or error}"
    text = " ".join(str(error).split()) or type(error).__name__
    return f"the import stopped on an error: {text}"


class ImportRun(P.Progress):
    """
    A running import: C{list_id}, C{bytes_done}, C{rows} read so far;
    C{when_done()} gives a Deferred firing with the final L{ContactList}
    (L{None} when the list was deleted meanwhile or the end could not be
    recorded).
    """

    def __init__(self, clock, list_id):
        super().__init__(clock)
        self.list_id = list_id


class ContactImports:
    """
    Runs the imports of one daemon.

    @param store: the L{fts.db.contacts.ContactStore}.
    @param data_dir: the daemon's data directory; uploads are kept under
        C{uploads/contacts/} in it, and stored relative to it.
    @param rules: the L{fts.core.phones.PhoneRules}.
    @param run_in_thread: C{run(f, *args)} -> Deferred for file reads and
        format detection; default the reactor's thread pool (tests may run
        it in place).
    @param slice_records: records parsed per reactor turn.
    @param read_size: bytes read from the file at a time.
    """

    def __init__(self, reactor, store, data_dir, rules, run_in_thread=None,
                 batch_rows=BATCH_ROWS, sample_bytes=SAMPLE_BYTES,
                 slice_records=P.SLICE_RECORDS, read_size=READ_SIZE):
        self.reactor = reactor
        self.store = store
        self.data_dir = Path(data_dir)
        self.rules = rules
        self.run_in_thread = run_in_thread or P.thread_runner(reactor)
        self.batch_rows = batch_rows
        self.sample_bytes = sample_bytes
        self.slice_records = slice_records
        self.read_size = read_size
        self._runs = {}

    # -- files -------------------------------------------------------------------

    def upload_path(self, list_id):
        """
        Where the panel stores the upload of a list: C{(relative, absolute)}
        (the directory exists once this returns).
        """
        relative = UPLOAD_DIRECTORY / f"{int(list_id)}.csv"
        absolute = self.data_dir / relative
        absolute.parent.mkdir(parents=True, exist_ok=True)
        return str(relative), absolute

    def _absolute(self, stored):
        path = Path(stored)
        return path if path.is_absolute() else self.data_dir / path

    # -- detection ---------------------------------------------------------------

    @defer.inlineCallbacks
    def uploaded(self, list_id, path, source_filename=None):
        """
        Note the uploaded file of a new list and detect its format.

        @param path: the file, relative to the data directory (as
            L{upload_path} gives it) or absolute.
        @return: a Deferred firing with the L{fts.core.contacts.Detected}.
        @raise fts.core.contacts.FormatError: not a CSV file.
        """
        absolute = self._absolute(path)
        if self.data_dir.resolve() not in absolute.resolve().parents:
            raise ValueError(f"{path}: uploads are kept inside the data directory")
        size = yield self.run_in_thread(os.path.getsize, absolute)
        yield self.store.set_upload(list_id, str(path), size, source_filename)
        return (yield self.detect(list_id))

    @defer.inlineCallbacks
    def detect(self, list_id, encoding=None, delimiter=None, has_header=None):
        """
        Detect the format of a list's file, with the choices given fixed,
        and store it as the list's proposed format.

        @rtype: L{fts.core.contacts.Detected}
        """
        lst = yield self._list(list_id)
        detected = yield self._sniff(lst, encoding, delimiter, has_header)
        if not C.format_problems(detected.format()):
            yield self.store.set_format(list_id, detected.format())
        return detected

    @defer.inlineCallbacks
    def preview(self, list_id, fmt):
        """
        How the first rows of a list's file import with C{fmt}:
        C{[(row_number, cells, ValidRow or None, [RowProblem])]}.
        """
        lst = yield self._list(list_id)
        detected = yield self._sniff(lst, fmt.encoding, fmt.delimiter, fmt.has_header)
        return C.validate_sample(detected.rows, fmt, self.rules)

    @defer.inlineCallbacks
    def _sniff(self, lst, encoding, delimiter, has_header):
        if not lst.upload_path:
            raise ImportStateError(f"contact list {lst.id} has no uploaded file")
        sample, complete = yield self.run_in_thread(
            read_sample, self._absolute(lst.upload_path), self.sample_bytes)
        return (yield self.run_in_thread(C.sniff, sample, complete, self.rules,
                                         encoding, delimiter, has_header))

    @defer.inlineCallbacks
    def _list(self, list_id):
        lst = yield self.store.get(list_id)
        if lst is None:
            raise ContactListError(f"there is no contact list {list_id}")
        return lst

    # -- the import ------------------------------------------------------------

    def run(self, list_id):
        """
        The running L{ImportRun} of a list, or L{None}.
        """
        return self._runs.get(list_id)

    @property
    def running(self):
        return sorted(self._runs)

    @defer.inlineCallbacks
    def start(self, list_id, fmt=None):
        """
        Start importing a list, with C{fmt} (stored first) or the format
        already stored.

        @return: a Deferred firing with the L{ImportRun} once the list is
            C{importing}; C{run.when_done()} fires when the import ends.
        @raise ContactListError: the format is not usable, or the list's
            status does not allow an import (L{ImportStateError}).
        """
        if list_id in self._runs:
            raise ImportStateError(f"contact list {list_id} is already being imported")
        if fmt is not None:
            yield self.store.set_format(list_id, fmt)
        lst = yield self.store.begin_import(list_id)
        run = ImportRun(self.reactor, list_id)
        self._runs[list_id] = run
        log.info("importing contact list {list_id} ({name}) from {path}, {size} bytes",
                 list_id=list_id, name=lst.name, path=lst.upload_path, size=lst.file_size)
        d = self._run(run, lst)
        d.addErrback(lambda f: log.failure("contact list {list_id} import", f, list_id=list_id))
        d.addCallback(lambda result: (self._runs.pop(list_id, None), run.finish(result)))
        return run

    @defer.inlineCallbacks
    def _run(self, run, lst):
        fmt = lst.format()
        phone_index = fmt.phone_column
        phone_name = fmt.columns[phone_index].name
        path = self._absolute(lst.upload_path)

        @defer.inlineCallbacks
        def write(batch):
            result = yield self.store.import_chunk(lst.id, batch, phone_index, phone_name)
            return result.importing

        try:
            batches = ContactBatches(fmt, self.rules, self.batch_rows)
            outcome = yield P.pump(self.reactor, self.run_in_thread, path, batches, write, run,
                                   slice_records=self.slice_records,
                                   read_size=self.read_size)
        except Exception:
            error = _describe(Failure())
            log.error("contact list {list_id} import failed: {error}",
                      list_id=lst.id, error=error)
            yield self.store.fail_import(lst.id, error)
            return (yield self.store.get(lst.id))
        if outcome == P.STOPPED and run.stopping == "cancel":
            yield self.store.cancel_import(lst.id)
            log.info("contact list {list_id} import cancelled after {rows} rows",
                     list_id=lst.id, rows=run.rows)
        elif outcome == P.STOPPED:
            yield self.store.fail_import(lst.id, "the daemon stopped during the import; "
                                                 "start the import again")
        elif outcome == P.DONE:
            final = yield self.store.finish_import(lst.id)
            if final is not None:
                seconds = max(run.seconds, 1e-6)
                log.info("contact list {list_id} imported: {accepted} accepted, {rejected} "
                         "rejected, {duplicates} duplicates of {total} rows in {seconds:.1f} s"
                         " ({rate:.0f} rows/s); status {status}",
                         list_id=lst.id, accepted=final.accepted_rows,
                         rejected=final.rejected_rows, duplicates=final.duplicate_rows,
                         total=final.total_rows, seconds=seconds,
                         rate=final.total_rows / seconds, status=final.import_status)
                if final.import_status == C.READY:
                    yield self._forget_file(final)
        return (yield self.store.get(lst.id))

    @defer.inlineCallbacks
    def cancel(self, list_id):
        """
        Cancel a list's import, running or finished but not accepted
        (discarding its rows; the rejects stay for the report).

        @return: a Deferred firing with whether it was cancelled.
        """
        run = self._runs.get(list_id)
        if run is not None:
            run.stopping = "cancel"
            yield run.when_done()
            current = yield self.store.get(list_id)
            return current is not None and current.import_status == C.CANCELLED
        return (yield self.store.cancel_import(list_id))

    @defer.inlineCallbacks
    def accept(self, list_id):
        """
        Accept an imported list despite its rejects (C{imported} ->
        C{ready}); the uploaded file is then removed.

        @rtype: L{fts.db.contacts.ContactList}
        """
        lst = yield self.store.accept_import(list_id)
        yield self._forget_file(lst)
        return (yield self.store.get(list_id))

    @defer.inlineCallbacks
    def _forget_file(self, lst):
        if lst.upload_path:
            yield self.run_in_thread(_remove, self._absolute(lst.upload_path))
            yield self.store.clear_upload(lst.id)

    @defer.inlineCallbacks
    def delete(self, list_id):
        """
        Delete a list and its uploaded file.

        @return: whether there was a list.
        @raise fts.db.contacts.ListInUse: a campaign not finalized uses it.
        """
        deleted = yield self.store.delete(list_id)
        if deleted is None:
            return False
        if deleted.upload_path:
            yield self.run_in_thread(_remove, self._absolute(deleted.upload_path))
        return True

    @defer.inlineCallbacks
    def stop(self):
        """
        Stop every running import after its current batch (they are marked
        failed: "start the import again") and wait for them.
        """
        runs = list(self._runs.values())
        for run in runs:
            run.stopping = "shutdown"
        yield defer.DeferredList([r.when_done() for r in runs])
