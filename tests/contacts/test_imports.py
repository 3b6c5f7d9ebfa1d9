"""
Tests for L{fts.contacts.imports.ContactImports} with a real PostgreSQL:
whole imports of files with bad rows, progress, cancel, the operator's
decision, and the rejected-rows report.
"""

import csv
import io
from pathlib import Path

from twisted.internet import defer, reactor

from fts.contacts import report
from fts.contacts.imports import ContactImports
from fts.core import contacts as C
from fts.core.contacts import Column, ImportFormat
from fts.db.contacts import ContactListError, ContactStore, ImportStateError
from tests.contacts.support import RULES, in_place
from tests.support.db import DatabaseTestCase

XSS = "<script>alert('x')</script>"
SQLI = "Robert'); DROP TABLE contacts; --"

# Row numbers are the file's (header = 1).  Batches of 4 rows put rows 2-5
# in the first batch and 6-10 (the blank line is not a row) in the second.
LINES = [
    b"first_name,phone,amount,due,at,tz",                       # 1
    "Zoé,06 12 34 56 78,12.50,25/03/2026,14:30,Europe/Paris".encode(),  # 2 accepted
    b"Bad,06 12,1,01/01/2026,10:00,UTC",                        # 3 invalid phone
    b"Short,0612345679",                                        # 4 column count
    b"Date,0612345680,1,31/02/2026,10:00,UTC",                  # 5 bad date
    b"Jos\xe9,0612345681,1,01/01/2026,10:00,UTC",               # 6 bad encoding
    b"Dup,+33 6 12 34 56 78,3,01/01/2026,10:00,UTC",            # 7 duplicate of 2
    b"",                                                         # 8 blank
    b"First,0612345690,4,02/01/2026,11:00,Asia/Tokyo",          # 9 accepted
    b"Again,0033 6 12 34 56 90,5,02/01/2026,11:00,UTC",         # 10 duplicate of 9
    ('"' + XSS.replace('"', '""') + '",0612345691,6,,,"' + SQLI + '"').encode(),  # 11 bad tz
    b"Time,0612345692,1,01/01/2026,25:00,UTC",                  # 12 bad time
    b"Num,0612345693,abc,01/01/2026,10:00,UTC",                 # 13 bad number
    ('"' + SQLI + '",0612345694,7,,,').encode(),                # 14 accepted
]
DATA = b"\r\n".join(LINES) + b"\r\n"
FORMAT = ImportFormat("utf-8", ",", True, (
    Column("first_name"), Column("phone", C.PHONE), Column("amount", C.NUMBER),
    Column("due", C.DATE), Column("at", C.TIME), Column("tz", C.TIMEZONE)))


class ImportTestCase(DatabaseTestCase):
    batch_rows = 4

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.contacts = ContactStore(self.pool)
        self.data_dir = Path(self.mktemp())
        self.imports = self.make_imports()

    def make_imports(self, **kwargs):
        kwargs.setdefault("batch_rows", self.batch_rows)
        kwargs.setdefault("slice_records", 3)
        return ContactImports(reactor, self.contacts, self.data_dir, RULES,
                              run_in_thread=in_place, **kwargs)

    @defer.inlineCallbacks
    def upload(self, data=DATA, name="Spring", imports=None):
        imports = imports or self.imports
        lst = yield self.contacts.create_list(name, source_filename="spring.csv")
        relative, absolute = imports.upload_path(lst.id)
        absolute.write_bytes(data)
        detected = yield imports.uploaded(lst.id, relative)
        return lst.id, detected

    @defer.inlineCallbacks
    def run_import(self, list_id, fmt=None, imports=None):
        run = yield (imports or self.imports).start(list_id, fmt)
        return (yield run.when_done())

    @defer.inlineCallbacks
    def all_rejects(self, list_id):
        page = yield self.contacts.rejects(list_id, limit=1000)
        return page.items

    @defer.inlineCallbacks
    def all_contacts(self, list_id):
        page = yield self.contacts.contacts(list_id, limit=1000)
        return page.items


class ImportTests(ImportTestCase):
    @defer.inlineCallbacks
    def test_detected_format_stored(self):
        """
        An upload is detected and its proposed format stored, waiting for
        the operator.
        """
        list_id, detected = yield self.upload()
        self.assertEqual(detected.format(), FORMAT)
        lst = yield self.contacts.get(list_id)
        self.assertEqual((lst.import_status, lst.file_size, lst.format()),
                         ("uploaded", len(DATA), FORMAT))
        self.assertEqual(lst.placeholders, ("first_name", "amount", "due", "at", "tz"))

    @defer.inlineCallbacks
    def test_bad_rows_reported_exactly(self):
        """
        Every bad row is rejected with its row number, column, value and
        reason; duplicates point at the row kept, within a batch and across
        batches; the other rows are imported and the operator decides.
        """
        list_id, _ = yield self.upload()
        final = yield self.run_import(list_id)
        self.assertEqual(
            (final.import_status, final.total_rows, final.accepted_rows, final.rejected_rows,
             final.duplicate_rows, final.import_bytes_done, final.progress),
            ("imported", 12, 3, 7, 2, len(DATA), 1.0))
        rejects = yield self.all_rejects(list_id)
        self.assertEqual(
            [(r.row_number, r.column_index, r.column_name, r.value, r.reason_code,
              r.duplicate_of_row) for r in rejects],
            [(3, 1, "phone", "06 12", "invalid_phone", None),
             (4, None, None, None, "column_count", None),
             (5, 3, "due", "31/02/2026", "bad_date", None),
             (6, 0, "first_name", "Jos\\xe9", "bad_encoding", None),
             (7, 1, "phone", "+33 6 12 34 56 78", "duplicate", 2),
             (10, 1, "phone", "0033 6 12 34 56 90", "duplicate", 9),
             (11, 5, "tz", SQLI, "bad_timezone", None),
             (12, 4, "at", "25:00", "bad_time", None),
             (13, 2, "amount", "abc", "bad_number", None)])
        by_row = {r.row_number: r for r in rejects}
        self.assertEqual(by_row[3].reason, "too short: 5 digits, a phone number has at least 9")
        self.assertEqual(by_row[4].reason, "2 values where the list has 6 columns")
        self.assertEqual(by_row[5].reason,
                         "'31/02/2026' is not a date: February 2026 has no day 31")
        self.assertIn("not valid UTF-8 (\\xe9)", by_row[6].reason)
        self.assertEqual(by_row[7].reason, "same phone number as row 2 (33612345678), which "
                                           "is kept: the number is dialed once")
        self.assertEqual(by_row[4].raw, "Short,0612345679")
        self.assertEqual(by_row[6].raw, "Jos\\xe9,0612345681,1,01/01/2026,10:00,UTC")
        summary = yield self.contacts.reject_summary(list_id)
        self.assertEqual(summary, {"invalid_phone": 1, "column_count": 1, "bad_date": 1,
                                   "bad_encoding": 1, "duplicate": 2, "bad_timezone": 1,
                                   "bad_time": 1, "bad_number": 1})

        contacts = yield self.all_contacts(list_id)
        self.assertEqual(
            [(c.row_number, c.phone, c.phone_original, c.fields, c.timezone) for c in contacts],
            [(2, "33612345678", "06 12 34 56 78",
              {"first_name": "Zoé", "amount": 12.5, "due": "2026-03-25", "at": "14:30:00",
               "tz": "Europe/Paris"}, "Europe/Paris"),
             (9, "33612345690", "0612345690",
              {"first_name": "First", "amount": 4, "due": "2026-01-02", "at": "11:00:00",
               "tz": "Asia/Tokyo"}, "Asia/Tokyo"),
             (14, "33612345694", "0612345694",
              {"first_name": SQLI, "amount": 7, "due": None, "at": None, "tz": None}, None)])

    @defer.inlineCallbacks
    def test_hostile_cells_stored_verbatim(self):
        """
        Markup and SQL in cells are stored as they were written and did
        nothing: the tables are all there.
        """
        list_id, _ = yield self.upload()
        yield self.run_import(list_id)
        rows = yield self.pool.runQuery(
            "SELECT fields->>'first_name' FROM contacts WHERE list_id = %s ORDER BY row_number",
            (list_id,))
        self.assertIn((SQLI,), rows)
        rows = yield self.pool.runQuery(
            "SELECT raw FROM contact_import_rejects WHERE list_id = %s AND row_number = 11",
            (list_id,))
        self.assertIn(XSS.replace('"', '""'), rows[0][0])
        rows = yield self.pool.runQuery("SELECT to_regclass('contacts') IS NOT NULL")
        self.assertEqual(rows, [(True,)])

    @defer.inlineCallbacks
    def test_clean_file_ready_at_once(self):
        """
        A file without rejected rows is ready when imported (duplicates do
        not need a decision).
        """
        data = (b"phone,name\n0612345678,a\n0612345679,b\n+33612345678,c\n")
        list_id, detected = yield self.upload(data)
        final = yield self.run_import(list_id)
        self.assertEqual((final.import_status, final.accepted_rows, final.duplicate_rows,
                          final.rejected_rows, final.upload_path), ("ready", 2, 1, 0, None))
        self.assertFalse((self.data_dir / "uploads" / "contacts" / f"{list_id}.csv").exists())

    @defer.inlineCallbacks
    def test_nothing_accepted_fails(self):
        """
        An import where no row is accepted fails, saying why.
        """
        list_id, _ = yield self.upload(b"name,phone\na,0612345678\nb,x\nc,y\n")
        final = yield self.run_import(list_id, ImportFormat(
            "utf-8", ",", True, (Column("name", C.PHONE), Column("phone"))))
        self.assertEqual((final.import_status, final.import_error, final.rejected_rows),
                         ("failed", "no row could be imported; see the rejected rows", 3))

    @defer.inlineCallbacks
    def test_progress_written_per_batch(self):
        """
        Progress (bytes read) and counters are written with every batch,
        growing to the file size.
        """
        data = b"phone,n\n" + b"".join(b"06%08d,%d\n" % (i, i) for i in range(40))
        imports = self.make_imports(batch_rows=5, read_size=64)
        list_id, _ = yield self.upload(data, imports=imports)
        seen = []
        write = self.contacts.import_chunk

        @defer.inlineCallbacks
        def watched(*args):
            result = yield write(*args)
            lst = yield self.contacts.get(list_id)
            seen.append((lst.import_status, lst.import_bytes_done, lst.total_rows))
            return result

        self.contacts.import_chunk = watched
        final = yield self.run_import(list_id, imports=imports)
        # Eight full batches, then the end of the file (an empty last batch).
        self.assertEqual([s[2] for s in seen], [5, 10, 15, 20, 25, 30, 35, 40, 40])
        done = [s[1] for s in seen]
        self.assertEqual(done, sorted(done))
        self.assertTrue(0 < done[0] < len(data))
        self.assertEqual({s[0] for s in seen}, {"importing"})
        self.assertEqual((final.import_status, final.import_bytes_done), ("ready", len(data)))

    @defer.inlineCallbacks
    def test_running_progress_in_memory(self):
        """
        The running import is visible without a query, and gone when done.
        """
        list_id, _ = yield self.upload()
        run = yield self.imports.start(list_id)
        self.assertIs(self.imports.run(list_id), run)
        self.assertEqual(self.imports.running, [list_id])
        yield run.when_done()
        self.assertEqual((run.rows, run.bytes_done, run.batches), (12, len(DATA), 4))
        self.assertIsNone(self.imports.run(list_id))


class DecisionTests(ImportTestCase):
    @defer.inlineCallbacks
    def test_accept(self):
        """
        Accepting an imported list makes it ready and removes the upload.
        """
        list_id, _ = yield self.upload()
        lst = yield self.run_import(list_id)
        path = self.data_dir / lst.upload_path
        self.assertTrue(path.exists())
        ready = yield self.imports.accept(list_id)
        self.assertEqual((ready.import_status, ready.upload_path), ("ready", None))
        self.assertFalse(path.exists())
        yield self.assertFailure(self.imports.accept(list_id), ImportStateError)
        yield self.assertFailure(self.imports.start(list_id), ImportStateError)

    @defer.inlineCallbacks
    def test_discard(self):
        """
        Discarding an imported list deletes its contacts and keeps the
        rejected rows for the report.
        """
        list_id, _ = yield self.upload()
        yield self.run_import(list_id)
        self.assertTrue((yield self.imports.cancel(list_id)))
        lst = yield self.contacts.get(list_id)
        self.assertEqual(lst.import_status, "cancelled")
        self.assertEqual((yield self.all_contacts(list_id)), ())
        self.assertEqual(len((yield self.all_rejects(list_id))), 9)
        self.assertFalse((yield self.imports.cancel(list_id)))

    @defer.inlineCallbacks
    def test_import_again_with_a_corrected_format(self):
        """
        Until accepted, an import can run again with another format; the
        first attempt's rows and rejects are replaced.
        """
        list_id, _ = yield self.upload()
        yield self.run_import(list_id)
        columns = list(FORMAT.columns)
        columns[2:] = [Column("amount"), Column("due"), Column("at"), Column("tz")]
        final = yield self.run_import(list_id, ImportFormat("utf-8", ",", True, columns))
        self.assertEqual((final.import_status, final.accepted_rows, final.rejected_rows,
                          final.duplicate_rows), ("imported", 7, 3, 2))
        rejects = yield self.all_rejects(list_id)
        self.assertEqual([r.row_number for r in rejects], [3, 4, 6, 7, 10])

    @defer.inlineCallbacks
    def test_bad_format_refused(self):
        """
        A format with problems is refused before anything starts.
        """
        list_id, _ = yield self.upload()
        bad = ImportFormat("utf-8", ",", True, (Column("first name"),) + FORMAT.columns[1:])
        failure = yield self.assertFailure(self.imports.start(list_id, bad), ContactListError)
        self.assertIn("'first name' cannot be a placeholder", str(failure))
        lst = yield self.contacts.get(list_id)
        self.assertEqual(lst.import_status, "uploaded")

    @defer.inlineCallbacks
    def test_start_twice_refused(self):
        """
        A list being imported cannot be started again.
        """
        list_id, _ = yield self.upload()
        run = yield self.imports.start(list_id)
        yield self.assertFailure(self.imports.start(list_id), ImportStateError)
        yield run.when_done()

    @defer.inlineCallbacks
    def test_missing_file_fails_clearly(self):
        """
        An import whose file has gone fails, saying so.
        """
        list_id, _ = yield self.upload()
        lst = yield self.contacts.get(list_id)
        (self.data_dir / lst.upload_path).unlink()
        final = yield self.run_import(list_id)
        self.assertEqual(final.import_status, "failed")
        self.assertIn("the uploaded file is missing", final.import_error)
        self.assertIn("upload it again", final.import_error)

    @defer.inlineCallbacks
    def test_preview(self):
        """
        The preview shows how the first rows import with a format.
        """
        list_id, _ = yield self.upload()
        preview = yield self.imports.preview(list_id, FORMAT)
        self.assertEqual([(n, [p.reason_code for p in problems])
                          for n, _, _, problems in preview[:4]],
                         [(2, []), (3, ["invalid_phone"]), (4, ["column_count"]),
                          (5, ["bad_date"])])

    @defer.inlineCallbacks
    def test_detect_again_with_a_choice(self):
        """
        Detecting again with the operator's choice fixed stores the new
        proposal.
        """
        list_id, _ = yield self.upload()
        detected = yield self.imports.detect(list_id, has_header=False)
        self.assertFalse(detected.has_header)
        lst = yield self.contacts.get(list_id)
        self.assertFalse(lst.has_header)


class CancelTests(ImportTestCase):
    batch_rows = 2

    @defer.inlineCallbacks
    def test_cancel_while_importing(self):
        """
        Cancelling a running import stops it after the batch being written;
        the list is cancelled and its contacts deleted.
        """
        list_id, _ = yield self.upload()
        write = self.contacts.import_chunk
        batches = []

        def first_then_cancel(*args):
            batches.append(args[1])
            if len(batches) == 1:
                cancelled.append(self.imports.cancel(list_id))
            return write(*args)

        cancelled = []
        self.contacts.import_chunk = first_then_cancel
        run = yield self.imports.start(list_id)
        final = yield run.when_done()
        self.assertTrue((yield cancelled[0]))
        self.assertEqual(len(batches), 1)
        self.assertEqual(final.import_status, "cancelled")
        self.assertEqual((yield self.all_contacts(list_id)), ())

    @defer.inlineCallbacks
    def test_cancelled_elsewhere(self):
        """
        An import cancelled through the store (another request, another
        daemon) stops at its next batch, writing nothing more.
        """
        list_id, _ = yield self.upload()
        write = self.contacts.import_chunk
        calls = []

        @defer.inlineCallbacks
        def cancel_after_first(*args):
            calls.append(1)
            result = yield write(*args)
            if len(calls) == 1:
                yield self.contacts.cancel_import(list_id)
            return result

        self.contacts.import_chunk = cancel_after_first
        final = yield self.run_import(list_id)
        self.assertEqual(len(calls), 2)
        self.assertEqual(final.import_status, "cancelled")
        self.assertEqual((yield self.all_contacts(list_id)), ())

    @defer.inlineCallbacks
    def test_stop_marks_failed(self):
        """
        Stopping the daemon stops running imports; they are failed, to be
        started again.
        """
        list_id, _ = yield self.upload()
        run = yield self.imports.start(list_id)
        yield self.imports.stop()
        final = yield run.when_done()
        self.assertEqual(final.import_status, "failed")
        self.assertIn("daemon stopped", final.import_error)
        final = yield self.run_import(list_id)
        self.assertEqual(final.import_status, "imported")


class ReportTests(ImportTestCase):
    @defer.inlineCallbacks
    def test_rejects_csv(self):
        """
        The report is a UTF-8 CSV (with BOM) of every problem in row order,
        in pages; formula-like cells are neutralised.
        """
        list_id, _ = yield self.upload()
        yield self.run_import(list_id)
        chunks = []
        count = yield report.write_contact_rejects(self.contacts, list_id, chunks.append,
                                                   page_size=4)
        self.assertEqual(count, 9)
        self.assertEqual(len(chunks), 4)
        data = b"".join(chunks)
        self.assertTrue(data.startswith(b"\xef\xbb\xbfrow,column,value,reason"))
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        self.assertEqual(rows[0], list(report.CONTACT_HEADER))
        self.assertEqual(rows[1][:5], ["3", "phone", "06 12", "too short: 5 digits, a phone "
                                       "number has at least 9", "invalid_phone"])
        self.assertEqual(rows[5][:6], ["7", "phone", "+33 6 12 34 56 78",
                                       rows[5][3], "duplicate", "2"])
        self.assertEqual(rows[2][1], "")

    @defer.inlineCallbacks
    def test_rejects_csv_by_reason(self):
        """
        The report can be limited to one reason.
        """
        list_id, _ = yield self.upload()
        yield self.run_import(list_id)
        chunks = []
        count = yield report.write_contact_rejects(self.contacts, list_id, chunks.append,
                                                   reason_code="duplicate")
        self.assertEqual(count, 2)

    def test_spreadsheet_safe(self):
        """
        Cells a spreadsheet would evaluate get an apostrophe; signed
        numbers and phone numbers stay as they are.
        """
        self.assertEqual([report.spreadsheet_safe(v) for v in
                          ["=1+1", "+33", "-2", "@x", "+1+cmd", "-2+3", "ok", None, 5]],
                         ["'=1+1", "+33", "-2", "'@x", "'+1+cmd", "'-2+3", "ok", "", "5"])


class ThreadPoolTests(ImportTestCase):
    @defer.inlineCallbacks
    def test_default_thread_pool(self):
        """
        By default file reads and detection run in the reactor's thread
        pool, with the same result.
        """
        imports = ContactImports(reactor, self.contacts, self.data_dir, RULES, batch_rows=4)
        list_id, detected = yield self.upload(imports=imports)
        self.assertEqual(detected.format(), FORMAT)
        final = yield self.run_import(list_id, imports=imports)
        self.assertEqual((final.import_status, final.accepted_rows, final.rejected_rows,
                          final.duplicate_rows), ("imported", 3, 7, 2))
