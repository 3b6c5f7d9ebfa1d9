"""
Tests for L{fts.contacts.batches}: bytes fed in, checked batches out, a
few records per step.
"""

import json

from twisted.trial.unittest import SynchronousTestCase

from fts.contacts import batches as B
from fts.core import contacts as C
from fts.core.contacts import Column, ImportFormat
from fts.core.phones import PhoneRules

RULES = PhoneRules("33", 9, 15)
FORMAT = ImportFormat("utf-8", ",", True, (
    Column("name"), Column("phone", C.PHONE), Column("amount", C.NUMBER)))
DATA = (b"name,phone,amount\n"
        b"Zoe,06 12 34 56 78,1.5\n"
        b"\n"
        b"Bad,0612,x\n"
        b"Li,0612345679,2\n"
        b"Short,0612345670\n"
        b"Max,+33 6 12 34 56 71,\n")


def drain(batches, data, step=2, block=5):
    """
    Feed C{data} in blocks of C{block} bytes when asked, step until the end;
    the batches made.
    """
    out, offset = [], 0
    while not batches.finished:
        if batches.wants_data():
            batches.feed(data[offset:offset + block])
            offset += block
            continue
        batch = batches.step(step)
        if batch is not None:
            out.append(batch)
    return out


class ContactBatchesTests(SynchronousTestCase):
    def test_batches(self):
        """
        Rows are checked and grouped; each batch carries its rows and
        rejects as JSON, its counts and the bytes read; the header and blank
        lines are not rows.
        """
        batches = drain(B.ContactBatches(FORMAT, RULES, batch_rows=3), DATA)
        self.assertEqual([(b.rows, b.candidates, b.rejected_rows, b.last) for b in batches],
                         [(3, 2, 1, False), (2, 1, 1, True)])
        self.assertEqual(json.loads(batches[0].rows_json), [
            [2, "33612345678", "06 12 34 56 78", {"name": "Zoe", "amount": 1.5}, None],
            [5, "33612345679", "0612345679", {"name": "Li", "amount": 2}, None]])
        self.assertEqual(json.loads(batches[0].rejects_json), [
            [4, 1, "phone", "0612", "invalid_phone",
             "too short: 5 digits, a phone number has at least 9", "Bad,0612,x"],
            [4, 2, "amount", "x", "bad_number", "'x' is not a number (decimal mark '.')",
             "Bad,0612,x"]])
        self.assertEqual(json.loads(batches[1].rejects_json), [
            [6, None, None, None, "column_count", "2 values where the list has 3 columns",
             "Short,0612345670"]])
        self.assertEqual(json.loads(batches[1].rows_json)[0][:3],
                         [7, "33612345671", "+33 6 12 34 56 71"])
        self.assertEqual(batches[-1].bytes_done, len(DATA))
        self.assertLess(batches[0].bytes_done, len(DATA))

    def test_step_size_and_block_size_do_not_matter(self):
        """
        The same batches come out however the bytes and steps are cut.
        """
        expected = drain(B.ContactBatches(FORMAT, RULES, batch_rows=2), DATA, 100, 10_000)
        for step, block in [(1, 1), (3, 7), (1000, 2)]:
            with self.subTest(step=step, block=block):
                got = drain(B.ContactBatches(FORMAT, RULES, batch_rows=2), DATA, step, block)
                self.assertEqual([(b.rows_json, b.rejects_json, b.rows) for b in got],
                                 [(b.rows_json, b.rejects_json, b.rows) for b in expected])

    def test_bad_encoding_record(self):
        """
        A record that could not be decoded is a reject with its column and
        bytes shown.
        """
        data = b"name,phone,amount\nJos\xe9,0612345678,1\n"
        [batch] = drain(B.ContactBatches(FORMAT, RULES), data, block=1000)
        [reject] = json.loads(batch.rejects_json)
        self.assertEqual(reject[:5], [2, 0, "name", "Jos\\xe9", "bad_encoding"])
        self.assertEqual(batch.candidates, 0)

    def test_empty_file(self):
        """
        A file with only a header gives one last, empty batch.
        """
        [batch] = drain(B.ContactBatches(FORMAT, RULES), b"name,phone,amount\n")
        self.assertEqual((batch.rows, batch.rows_json, batch.last), (0, "[]", True))

    def test_wants_data_before_parsing(self):
        """
        Stepping while more bytes are wanted parses nothing; stepping after
        the end is an error.
        """
        batches = B.ContactBatches(FORMAT, RULES)
        self.assertTrue(batches.wants_data())
        self.assertIsNone(batches.step(10))
        batches.feed(DATA)
        batches.feed(b"")
        self.assertFalse(batches.wants_data())
        self.assertTrue(batches.step(100).last)
        self.assertRaises(ValueError, batches.step, 1)


class DncBatchesTests(SynchronousTestCase):
    def test_phone_column_only(self):
        """
        A DNC file's phone column is normalised; other columns are ignored;
        short rows and invalid numbers are rejected with the reason.
        """
        fmt = ImportFormat("utf-8", ";", False, (Column("note"), Column("phone", C.PHONE)))
        data = b"x;06 12 34 56 78\ny;+33612345679;extra\nz\nw;abc\n"
        [batch] = drain(B.DncBatches(fmt, RULES), data, block=1000)
        self.assertEqual(json.loads(batch.rows_json), [
            [1, "33612345678", "06 12 34 56 78"], [2, "33612345679", "+33612345679"]])
        self.assertEqual(json.loads(batch.rejects_json), [
            [3, "z", "no phone number: the row has 1 value and the phone is column 2"],
            [4, "abc", "'abc' is not a phone number: it contains 'a'"]])
        self.assertEqual((batch.rows, batch.candidates, batch.rejected_rows), (4, 2, 2))
