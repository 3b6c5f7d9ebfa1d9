"""
Tests for L{fts.events.spool}: the record format, torn and corrupt
records, and the spool directory's files.
"""

import os
import zlib
from pathlib import Path

from twisted.internet import defer, reactor
from twisted.python.threadpool import ThreadPool
from twisted.trial import unittest

from fts.events import spool as S
from fts.events.model import CallEvent
from fts.events.writer import thread_runner
from tests.events.support import ManualRunner, events, run_now


def parsed(records):
    return [CallEvent.from_json(r) for r in records]


class RecordTests(unittest.SynchronousTestCase):
    def test_round_trip(self):
        """
        Encoded events decode to the same events, in order.
        """
        written = events(5) + [CallEvent("x", "hangup", 3, None, 1.5, {"cause": "ü\n\"x"})]
        records, problems = S.decode(b"".join(map(S.encode, written)))
        self.assertEqual((parsed(records), problems), (written, []))

    def test_record_is_event_json(self):
        """
        A record is the event's own JSON text, after its checksum.
        """
        event = events(1)[0]
        line = S.encode(event)
        body = event.as_json().encode()
        self.assertEqual(line, b"%08x %s\n" % (zlib.crc32(body), body))

    def test_torn_tail(self):
        """
        A last record cut short (a torn write) is skipped and reported with
        its byte offset; the complete records before it are kept.
        """
        good = events(3)
        data = b"".join(map(S.encode, good))
        torn = S.encode(events(1, start=4)[0])[:-7]
        records, problems = S.decode(data + torn, source="spool-00000001.log")
        self.assertEqual(parsed(records), good)
        self.assertEqual(len(problems), 1)
        self.assertIn("spool-00000001.log at byte %d" % len(data), problems[0])
        self.assertIn("torn", problems[0])

    def test_corrupt_record_skipped(self):
        """
        A record whose checksum does not match, or a line that is not a
        record at all, is skipped; the records after it are kept.
        """
        first, second, third = events(3)
        bad = bytearray(S.encode(second))
        bad[20] ^= 0x01
        data = S.encode(first) + bytes(bad) + b"garbage\n" + S.encode(third)
        records, problems = S.decode(data)
        self.assertEqual(parsed(records), [first, third])
        self.assertEqual(len(problems), 2)
        self.assertIn("checksum mismatch", problems[0])
        self.assertIn("not a spool record", problems[1])

    def test_decode_events(self):
        """
        decode_events parses records into events.
        """
        written = events(2)
        found, problems = S.decode_events(b"".join(map(S.encode, written)))
        self.assertEqual((found, problems), (written, []))


class SpoolTests(unittest.TestCase):
    def setUp(self):
        self.directory = Path(self.mktemp())

    def spool(self, runner=run_now):
        return S.Spool(self.directory, runner)

    def files(self):
        return sorted(p.name for p in self.directory.iterdir() if p.name.startswith("spool-"))

    @defer.inlineCallbacks
    def test_append_seal_read_remove(self):
        """
        Appended records land in one file; after a seal, appends go to a
        new file; the sealed file reads back in order, in pieces, and is
        removed on request.
        """
        spool = self.spool()
        self.assertEqual((yield spool.open()), [])
        first, second = events(3), events(2, start=4)
        yield spool.append([S.encode(e) for e in first[:2]])
        yield spool.append([S.encode(first[2])])
        self.assertTrue(spool.holds_records)
        sealed = yield spool.seal()
        self.assertEqual([p.name for p in sealed], ["spool-00000001.log"])
        self.assertFalse(spool.holds_records)
        yield spool.append([S.encode(e) for e in second])
        self.assertEqual(self.files(), ["spool-00000001.log", "spool-00000002.log"])

        found, offset, at_end = [], 0, False
        while not at_end:
            records, problems, offset, at_end = yield spool.read(sealed[0], offset, size=200)
            self.assertEqual(problems, [])
            found.extend(parsed(records))
        self.assertEqual(found, first)
        yield spool.remove(sealed[0])
        self.assertEqual(self.files(), ["spool-00000002.log"])

    @defer.inlineCallbacks
    def test_seal_without_records(self):
        """
        Sealing a spool that holds nothing starts no new file and returns
        nothing to replay.
        """
        spool = self.spool()
        yield spool.open()
        self.assertEqual((yield spool.seal()), [])
        self.assertEqual(self.files(), [])

    @defer.inlineCallbacks
    def test_reopen_never_appends_to_old_file(self):
        """
        A new spool on a directory with files left over reports them, and
        appends to a new file after them, never to one that may end with a
        torn record.
        """
        self.directory.mkdir()
        (self.directory / "spool-00000003.log").write_bytes(S.encode(events(1)[0]) + b"0123")
        spool = self.spool()
        left = yield spool.open()
        self.assertEqual([p.name for p in left], ["spool-00000003.log"])
        yield spool.append([S.encode(events(1, start=2)[0])])
        self.assertEqual(self.files(), ["spool-00000003.log", "spool-00000004.log"])
        sealed = yield spool.seal()
        self.assertEqual([p.name for p in sealed], ["spool-00000003.log", "spool-00000004.log"])

    @defer.inlineCallbacks
    def test_group_commit(self):
        """
        Records appended while a write is in flight are written together by
        the next write, after the first, in order.
        """
        runner = ManualRunner()
        spool = self.spool(runner)
        opened = spool.open()
        runner.step()
        yield opened
        a, b, c = events(3)
        done_a = spool.append([S.encode(a)])
        done_b = spool.append([S.encode(b)])
        done_c = spool.append([S.encode(c)])
        self.assertEqual(len(runner.waiting), 1)
        runner.step()
        yield done_a
        self.assertNoResult(done_b)
        self.assertEqual(len(runner.waiting), 1)
        runner.step()
        yield defer.gatherResults([done_b, done_c])
        self.assertEqual(runner.waiting, [])
        data = (self.directory / "spool-00000001.log").read_bytes()
        self.assertEqual(data, b"".join(S.encode(e) for e in (a, b, c)))

    @defer.inlineCallbacks
    def test_write_failure_moves_to_new_file(self):
        """
        A failed write fails its appends and later appends go to a new file.
        """
        self.directory.mkdir()
        spool = self.spool()
        yield spool.open()
        # The file it would write to cannot be opened.
        (self.directory / "spool-00000001.log").mkdir()
        yield self.assertFailure(spool.append([S.encode(events(1)[0])]), OSError)
        self.flushLoggedErrors()
        yield spool.append([S.encode(events(1)[0])])
        records, _, _, _ = yield spool.read(self.directory / "spool-00000002.log")
        self.assertEqual(parsed(records), events(1))

    @defer.inlineCallbacks
    def test_reject(self):
        """
        Rejected records are kept in rejected.log in the spool format.
        """
        spool = self.spool()
        yield spool.open()
        yield spool.reject([e.as_json() for e in events(2)])
        found, problems = S.decode_events((self.directory / S.REJECTED).read_bytes())
        self.assertEqual((found, problems), (events(2), []))
        self.assertEqual(self.files(), [])

    @defer.inlineCallbacks
    def test_in_a_thread(self):
        """
        With a real thread pool the writes are fsync'd off the reactor
        thread and read back in order.
        """
        pool = ThreadPool(minthreads=1, maxthreads=1, name="spool-test")
        pool.start()
        self.addCleanup(pool.stop)
        spool = self.spool(thread_runner(reactor, pool))
        yield spool.open()
        written = events(100)
        yield defer.gatherResults([spool.append([S.encode(e)]) for e in written])
        sealed = yield spool.seal()
        records, problems, _, at_end = yield spool.read(sealed[0])
        self.assertEqual((parsed(records), problems, at_end), (written, [], True))
        yield spool.close()
        self.assertTrue(os.path.getsize(sealed[0]) > 0)
