"""
CSV uploads into DNC lists, streamed like contact imports (see
L{fts.contacts.pump}): each batch is written with one statement
(L{fts.db.dnc.DncStore.upload_chunk}).

Only the phone column is read (the format is detected as for contacts;
the operator may name another column); other columns are ignored.  Rows
whose number is invalid, or which are cut short, are rejected with the
reason; numbers already in the list are counted, not rejected.  Nothing
waits for the operator: the numbers are in the list as soon as their
batch is written, so an upload cancelled halfway keeps what it added.
"""

from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from fts.contacts import pump as P
from fts.contacts.batches import BATCH_ROWS, READ_SIZE, DncBatches
from fts.contacts.imports import SAMPLE_BYTES, read_sample
from fts.core import contacts as C

log = Logger()


class UploadRun(P.Progress):
    """
    A running DNC upload: C{import_id}, C{list_id}, progress; C{when_done()}
    fires with the final L{fts.db.dnc.DncImport}.
    """

    def __init__(self, clock, import_id, list_id):
        super().__init__(clock)
        self.import_id = import_id
        self.list_id = list_id


class DncUploads:
    """
    Runs the DNC uploads of one daemon.

    @param store: the L{fts.db.dnc.DncStore}.
    @param run_in_thread: as for L{fts.contacts.imports.ContactImports}.
    """

    def __init__(self, reactor, store, rules, run_in_thread=None, batch_rows=BATCH_ROWS,
                 sample_bytes=SAMPLE_BYTES, slice_records=P.SLICE_RECORDS, read_size=READ_SIZE):
        self.reactor = reactor
        self.store = store
        self.rules = rules
        self.run_in_thread = run_in_thread or P.thread_runner(reactor)
        self.batch_rows = batch_rows
        self.sample_bytes = sample_bytes
        self.slice_records = slice_records
        self.read_size = read_size
        self._runs = {}

    @defer.inlineCallbacks
    def detect(self, path, encoding=None, delimiter=None, has_header=None):
        """
        The format of a DNC file (its C{phone_column} is the one read).

        @rtype: L{fts.core.contacts.Detected}
        @raise fts.core.contacts.FormatError: not a CSV file.
        """
        sample, complete = yield self.run_in_thread(read_sample, Path(path), self.sample_bytes)
        return (yield self.run_in_thread(C.sniff, sample, complete, self.rules,
                                         encoding, delimiter, has_header))

    def run(self, import_id):
        return self._runs.get(import_id)

    @defer.inlineCallbacks
    def start(self, list_id, path, fmt=None, source_filename=None, created_by=None,
              added_by=None):
        """
        Start adding the numbers of a CSV file to a DNC list.

        @param fmt: the format (only encoding, delimiter, header and the
            phone column matter); L{None} to use the detected one.
        @param added_by: the actor name stored on each entry.
        @return: a Deferred firing with the L{UploadRun} once the upload is
            recorded; the caller may remove the file after
            C{run.when_done()} has fired.
        """
        path = Path(path)
        if fmt is None:
            fmt = (yield self.detect(path)).format()
        if fmt.phone_column is None:
            raise ValueError("choose the column that holds the phone numbers")
        size = yield self.run_in_thread(lambda: path.stat().st_size)
        upload = yield self.store.begin_upload(list_id, source_filename or path.name, size,
                                               created_by)
        run = UploadRun(self.reactor, upload.id, list_id)
        self._runs[upload.id] = run
        log.info("uploading {path} into DNC list {list_id} (upload {import_id})",
                 path=str(path), list_id=list_id, import_id=upload.id)
        d = self._run(run, path, fmt, added_by, source_filename or path.name)
        d.addErrback(lambda f: log.failure("DNC upload {import_id}", f, import_id=upload.id))
        d.addCallback(lambda result: (self._runs.pop(upload.id, None), run.finish(result)))
        return run

    @defer.inlineCallbacks
    def _run(self, run, path, fmt, added_by, filename):
        @defer.inlineCallbacks
        def write(batch):
            counts = yield self.store.upload_chunk(run.import_id, batch, added_by=added_by,
                                                   note=f"uploaded from {filename}")
            return counts.importing

        try:
            batches = DncBatches(fmt, self.rules, self.batch_rows)
            outcome = yield P.pump(self.reactor, self.run_in_thread, path, batches, write, run,
                                   slice_records=self.slice_records,
                                   read_size=self.read_size)
        except Exception:
            error = Failure().value
            text = " ".join(str(error).split()) or type(error).__name__
            log.error("DNC upload {import_id} failed: {error}", import_id=run.import_id,
                      error=text)
            yield self.store.fail_upload(run.import_id, f"the upload stopped on an error: {text}")
            return (yield self.store.upload(run.import_id))
        if outcome == P.DONE:
            yield self.store.finish_upload(run.import_id)
        elif outcome == P.STOPPED and run.stopping == "cancel":
            yield self.store.cancel_upload(run.import_id)
        elif outcome == P.STOPPED:
            yield self.store.fail_upload(run.import_id, "the daemon stopped during the upload; "
                                                        "upload the file again")
        final = yield self.store.upload(run.import_id)
        log.info("DNC upload {import_id} {status}: {added} added, {present} already listed, "
                 "{rejected} rejected of {total} rows", import_id=run.import_id,
                 status=final.status, added=final.added_rows,
                 present=final.already_present_rows, rejected=final.rejected_rows,
                 total=final.total_rows)
        return final

    @defer.inlineCallbacks
    def cancel(self, import_id):
        """
        Stop an upload after its current batch; the numbers already added
        stay.  Returns whether it was running.
        """
        run = self._runs.get(import_id)
        if run is None:
            return (yield self.store.cancel_upload(import_id))
        run.stopping = "cancel"
        yield run.when_done()
        return True

    @defer.inlineCallbacks
    def stop(self):
        """
        Stop every running upload (marked failed) and wait for them.
        """
        runs = list(self._runs.values())
        for run in runs:
            run.stopping = "shutdown"
        yield defer.DeferredList([r.when_done() for r in runs])
