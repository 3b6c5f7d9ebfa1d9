"""
The on-disk spool: where events go while PostgreSQL cannot take them.

A spool is a directory of append-only files C{spool-NNNNNNNN.log}, replayed
in number order.  Each line is one event::

    <crc32 of the JSON, 8 hex digits> <JSON array>\\n

with the JSON array C{[key, kind, campaign_id, call_id, occurred_at,
payload]} of L{fts.events.model.CallEvent.as_json}.  A line whose checksum
does not match or that does not end with a newline (a write torn by a crash
or a full disk) is skipped with a log line naming the file and the byte
offset; the lines after it are read as usual, since JSON text never holds a
raw newline.

Files are never appended to once another process or a failed write may have
left a torn tail in them: every L{Spool} starts a new file when it opens, and
after any write error.  A file is removed only once its events are durable
in PostgreSQL (the writer calls L{Spool.remove} after the replay).

Writes are grouped: records appended while a write is in flight are written
and fsync'd together by the next one (one fsync per group, not per event).
The write and fsync run in a thread (there is no asynchronous fsync), through
the C{run_blocking(f, *args) -> Deferred} callable given, e.g.
C{functools.partial(threads.deferToThreadPool, reactor, threadpool)}.
Exactly one blocking operation runs at a time, in the order requested.
"""

import os
import re
import zlib
from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger

from fts.events.model import CallEvent, InvalidEvent

log = Logger()

_NAME = re.compile(r"^spool-(\d{8})\.log$")
REJECTED = "rejected.log"


def encode(event):
    """
    The spool line of C{event} (bytes, newline included).
    """
    body = event.as_json().encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode(data, source="spool", base=0):
    """
    The records in C{data} (the bytes of a spool file), in order, and a
    list of problems (C{"<source> at byte N: what"}, N counted from C{base})
    for the lines skipped.

    A record is the JSON text of one event (L{CallEvent.as_json}, whose
    L{CallEvent.from_json} gives the event back), passed on as it is: the
    checksum proves it is the text that was written, and the event store
    takes that text, so a replay costs no JSON parsing here.
    """
    records, problems = [], []
    offset = 0
    end = len(data)
    crc32 = zlib.crc32
    while offset < end:
        newline = data.find(b"\n", offset)
        if newline < 0:
            problems.append(f"{source} at byte {base + offset}: incomplete last record"
                            f" ({end - offset} bytes, torn write), skipped")
            break
        if data[offset + 8:offset + 9] != b" " or newline - offset < 11:
            problems.append(f"{source} at byte {base + offset}: not a spool record, skipped")
        else:
            body = data[offset + 9:newline]
            try:
                expected = int(data[offset:offset + 8], 16)
            except ValueError:
                expected = None
            if expected != crc32(body):
                problems.append(f"{source} at byte {base + offset}: checksum mismatch"
                                f" (corrupt or torn record), skipped")
            else:
                try:
                    records.append(body.decode("utf-8"))
                except UnicodeDecodeError:
                    problems.append(f"{source} at byte {base + offset}: not UTF-8, skipped")
        offset = newline + 1
    return records, problems


def decode_events(data, source="spool", base=0):
    """
    Like L{decode}, with the records parsed into L{CallEvent}s (records
    that do not parse are reported as problems).
    """
    records, problems = decode(data, source, base)
    events = []
    for record in records:
        try:
            events.append(CallEvent.from_json(record))
        except InvalidEvent as e:
            problems.append(f"{source}: {e}")
    return events, problems


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """
    The spool directory of one event writer.

    Use: L{open} once, then L{append} records (L{encode}d lines); L{seal}
    to start a new file and learn which files to replay; L{read} and
    L{remove} those; L{close} at the end.

    @ivar directory: the spool directory (created if missing).
    """

    def __init__(self, directory, run_blocking):
        self.directory = Path(directory)
        self._run_blocking = run_blocking
        self._index = None  # number of the file appends go to
        self._file = None  # its open file object (used in the worker only)
        self._file_index = None
        self._active_records = 0  # records written to the active file
        self._queue = []  # [(lines, Deferred)] waiting for the next write
        self._writing = False
        self._operations = defer.DeferredLock()

    # --- helpers running in the worker thread ---------------------------

    def _scan(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = sorted(int(m.group(1)) for m in map(_NAME.match, os.listdir(self.directory)) if m)
        return numbers

    def _write(self, index, data):
        if self._file is None or self._file_index != index:
            if self._file is not None:
                self._file.close()
            path = self.path(index)
            self._file = open(path, "ab")
            self._file_index = index
            _fsync_directory(self.directory)
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())

    def _close_file(self):
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None

    def _read(self, path, offset, size, parse):
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(size + 1)
        at_end = len(data) <= size
        if not at_end:
            data = data[:size]
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                # A "line" longer than a whole read: garbage.  Skip it.
                return [], [f"{path.name} at byte {offset}: no record boundary in"
                            f" {size} bytes, skipped"], offset + size, False
            data = data[:cut]
        records, problems = (decode_events if parse else decode)(
            data, source=path.name, base=offset)
        return records, problems, offset + len(data), at_end

    def _remove(self, path):
        if self._file is not None and Path(self._file.name) == path:
            self._close_file()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        _fsync_directory(self.directory)

    def _append_rejected(self, data):
        with open(self.directory / REJECTED, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    # --- the API, on the reactor thread ---------------------------------

    def _blocking(self, f, *args):
        """
        Run C{f(*args)} in the worker after every operation requested before.
        """
        return self._operations.run(self._run_blocking, f, *args)

    def path(self, index):
        return self.directory / ("spool-%08d.log" % index)

    @defer.inlineCallbacks
    def open(self):
        """
        Create the directory if needed and find the files left by an earlier
        run; appends go to a new file after them.

        @return: a Deferred firing with the paths left over, oldest first.
        """
        numbers = yield self._blocking(self._scan)
        self._index = (numbers[-1] + 1) if numbers else 1
        self._active_records = 0
        return [self.path(n) for n in numbers]

    @property
    def busy(self):
        """
        Whether records are queued or being written.
        """
        return self._writing or bool(self._queue)

    @property
    def holds_records(self):
        """
        Whether the file being appended to, or the queue, holds records.
        """
        return self._active_records > 0 or self.busy

    def append(self, lines):
        """
        Append C{lines} (bytes, each an L{encode}d record).

        @return: a Deferred firing once they are written and fsync'd, or
            failing with the C{OSError} of the write (the spool then moves
            to a new file; the caller still holds the events and may append
            them again).
        """
        d = defer.Deferred()
        self._queue.append((lines, d))
        if not self._writing:
            self._write_queued()
        return d

    def _write_queued(self):
        queued, self._queue = self._queue, []
        if not queued:
            self._writing = False
            return
        self._writing = True
        data = b"".join(b"".join(lines) for lines, _ in queued)
        records = sum(len(lines) for lines, _ in queued)
        index = self._index

        def written(_):
            if index == self._index:
                self._active_records += records
            for _, d in queued:
                d.callback(None)

        def failed(failure):
            log.error("could not write {records} events to the spool file {path}: {error};"
                      " later events go to a new file",
                      records=records, path=str(self.path(index)), error=failure.value)
            if index == self._index:
                self._index += 1
                self._active_records = 0
            for _, d in queued:
                d.errback(failure)

        d = self._blocking(self._write, index, data)
        d.addCallbacks(written, failed)
        d.addBoth(lambda _: self._write_queued())
        d.addErrback(lambda f: log.failure("spool write bookkeeping", f))

    @defer.inlineCallbacks
    def seal(self):
        """
        Stop appending to the current file: later appends go to a new one.

        @return: a Deferred firing, once the writes to the sealed file are
            done, with the paths of every spool file before the new one that
            exists, oldest first.
        """
        if self._active_records or self._writing:
            self._index += 1
            self._active_records = 0
        # Wait for the write in flight (to the sealed file) to finish.
        yield self._blocking(lambda: None)
        numbers = yield self._blocking(self._scan)
        return [self.path(n) for n in numbers if n < self._index]

    def read(self, path, offset=0, size=4 * 1024 * 1024, parse=False):
        """
        The records of the file at C{path} from byte C{offset}, reading at
        most about C{size} bytes (whole lines only, except at the end).

        @return: a Deferred firing with C{(records, problems, next_offset,
            at_end)}: see L{decode} (with C{parse}, the records are
            L{CallEvent}s, see L{decode_events}); read on from
            C{next_offset} until C{at_end}.
        """
        return self._blocking(self._read, Path(path), offset, size, parse)

    def remove(self, path):
        """
        Delete a replayed file (and make the deletion durable).
        """
        return self._blocking(self._remove, Path(path))

    def reject(self, records):
        """
        Keep records (event JSON texts) PostgreSQL refused in
        C{rejected.log}, in the spool format, for an operator to look at:
        never replayed, never lost.
        """
        lines = []
        for record in records:
            body = record.encode("utf-8")
            lines.append(b"%08x %s\n" % (zlib.crc32(body), body))
        return self._blocking(self._append_rejected, b"".join(lines))

    def close(self):
        """
        Close the file being appended to, after the writes requested.
        """
        return self._blocking(self._close_file)
