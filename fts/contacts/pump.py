"""
The loop shared by contact imports and DNC uploads.

The file is read in blocks off the reactor thread (a thread-pool call per
block: a read may wait on the disk).  Decoding, parsing and checking run
on the reactor thread, cooperatively: a slice of L{SLICE_RECORDS} records,
then back to the reactor (so /health, AMI and AGI traffic wait for one
slice at most, a few milliseconds), then the next slice.  A thread would not
help: the GIL lets one thread run Python at a time, and a worker thread
delays the reactor thread by up to the interpreter's switch interval each
time it wakes up.  The real parallelism is with PostgreSQL: each complete
batch is written with one statement, and the next batch is parsed while
that statement runs; at most one write is in flight.
"""

from functools import partial

from twisted.internet import defer, threads
from twisted.logger import Logger

from fts.contacts.batches import READ_SIZE

log = Logger()

DONE, STOPPED, VANISHED = "done", "stopped", "vanished"
#: Records parsed per reactor turn (about 1-2 ms of work on a slow core).
SLICE_RECORDS = 100


def thread_runner(reactor):
    """
    C{run(f, *args)} -> Deferred, running C{f} in the reactor's thread pool.
    """
    return partial(threads.deferToThreadPool, reactor, reactor.getThreadPool())


class Progress:
    """
    What a running import has done so far (read by the panel without a
    query).

    @ivar stopping: L{None}, or why the run should stop after the batch
        being written (C{"cancel"}, C{"shutdown"}).
    """

    def __init__(self, clock):
        self.clock = clock
        self.started = clock.seconds()
        self.bytes_done = 0
        self.rows = 0
        self.batches = 0
        self.stopping = None
        self.finished = False
        self.result = None
        self._waiting = []

    def note(self, batch):
        self.bytes_done = batch.bytes_done
        self.rows += batch.rows
        self.batches += 1

    @property
    def seconds(self):
        return self.clock.seconds() - self.started

    def when_done(self):
        """
        A new Deferred firing with the run's result when it ends.
        """
        if self.finished:
            return defer.succeed(self.result)
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    def finish(self, result):
        self.finished, self.result = True, result
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(result)


def _next_turn(reactor):
    d = defer.Deferred()
    reactor.callLater(0, d.callback, None)
    return d


@defer.inlineCallbacks
def pump(reactor, run_in_thread, path, batches, write, progress,
         slice_records=SLICE_RECORDS, read_size=READ_SIZE):
    """
    Read the file at C{path} into C{batches} and write every batch.

    @param batches: a L{fts.contacts.batches.ContactBatches} or
        L{fts.contacts.batches.DncBatches}.
    @param write: C{write(batch)} -> Deferred firing with whether the import
        is still wanted (L{False}: it was cancelled or deleted elsewhere).
    @return: a Deferred firing with L{DONE}, L{STOPPED} (C{progress.stopping}
        was set) or L{VANISHED} (C{write} returned L{False}).
    """
    stream = yield run_in_thread(open, path, "rb")
    writing = None
    try:
        while True:
            if progress.stopping is not None:
                if writing is not None:
                    outcome = yield _written(writing, progress)
                    writing = None
                    if outcome == VANISHED:
                        return outcome
                return STOPPED
            if batches.wants_data():
                block = yield run_in_thread(stream.read, read_size)
                batches.feed(block)
                continue
            batch = batches.step(slice_records)
            if batch is None:
                yield _next_turn(reactor)
                continue
            if writing is not None:
                outcome = yield _written(writing, progress)
                writing = None
                if outcome is not None:
                    return outcome
            writing = (write(batch), batch)
            if batch.last:
                outcome = yield _written(writing, progress, last=True)
                writing = None
                return outcome or DONE
    finally:
        if writing is not None:
            writing[0].addErrback(lambda f: log.failure("writing an abandoned batch", f))
        closing = run_in_thread(stream.close)
        closing.addErrback(lambda f: log.failure("closing an imported file", f))


@defer.inlineCallbacks
def _written(writing, progress, last=False):
    """
    Wait for a batch's write; the outcome that ends the run, or L{None}.
    """
    d, batch = writing
    wanted = yield d
    progress.note(batch)
    if not wanted:
        return VANISHED
    if progress.stopping is not None and not last:
        return STOPPED
    return None
