"""
Tests for L{fts.contacts.records}: a CSV stream read record by record,
problems attached and nothing after them lost.
"""

import io
import random

from twisted.trial.unittest import SynchronousTestCase

from fts.contacts import records as R


def read(data, encoding="utf-8", delimiter=",", expected=None, block_size=R.BLOCK_SIZE):
    reader = R.RecordReader(io.BytesIO(data), encoding, delimiter, expected=expected,
                            block_size=block_size)
    return list(reader), reader


class RecordReaderTests(SynchronousTestCase):
    def test_numbers_count_every_record(self):
        """
        Records are numbered from 1 counting the header and blank lines; a
        quoted line break stays inside its record.
        """
        data = b'name,phone\r\nJean,0612\r\n\r\n"Anne\r\nMarie",0613\r\nLi,0614'
        records, reader = read(data)
        self.assertEqual([(r.number, r.cells) for r in records], [
            (1, ["name", "phone"]), (2, ["Jean", "0612"]), (3, []),
            (4, ["Anne\r\nMarie", "0613"]), (5, ["Li", "0614"])])
        self.assertTrue(all(r.problem is None for r in records))
        self.assertEqual(records[3].raw, '"Anne\r\nMarie",0613')
        self.assertEqual(reader.bytes_done, len(data))

    def test_line_endings(self):
        """
        LF, CRLF and old Mac CR line ends all end records.
        """
        for newline in (b"\n", b"\r\n", b"\r"):
            with self.subTest(newline=newline):
                records, _ = read(newline.join([b"a,1", b"b,2", b"c,3"]) + newline)
                self.assertEqual([r.cells for r in records],
                                 [["a", "1"], ["b", "2"], ["c", "3"]])

    def test_bom_skipped(self):
        """
        A UTF-8 byte order mark is not part of the first value.
        """
        records, _ = read(b"\xef\xbb\xbfname;phone\n", delimiter=";")
        self.assertEqual(records[0].cells, ["name", "phone"])

    def test_bad_utf8_rejected_and_reading_goes_on(self):
        """
        A record with bytes that are not UTF-8 carries a bad_encoding
        problem naming the column and showing the bytes; the next records
        are read normally, in the same block.
        """
        data = "Zoé,0612\nJos".encode() + b"\xe9,0613\n" + "Anaïs,0614\n".encode()
        records, _ = read(data)
        self.assertEqual([r.cells for r in records][0], ["Zoé", "0612"])
        self.assertIsNone(records[0].problem)
        code, reason, column, value = records[1].problem
        self.assertEqual((code, column, value), ("bad_encoding", 0, "Jos\\xe9"))
        self.assertIn("not valid UTF-8 (\\xe9)", reason)
        self.assertIn("Latin-1", reason)
        self.assertEqual(records[1].raw, "Jos\\xe9,0613")
        self.assertEqual((records[2].cells, records[2].problem), (["Anaïs", "0614"], None))

    def test_nul_byte(self):
        """
        A NUL byte marks its record bad_encoding, in Latin-1 too.
        """
        records, _ = read(b"a,1\nb\x00,2\nc,3\n", encoding="latin-1")
        self.assertEqual(records[1].problem[0], "bad_encoding")
        self.assertIn("NUL byte", records[1].problem[1])
        self.assertEqual(records[1].problem[3], "b\\x00")
        self.assertEqual([r.cells for r in records if r.problem is None],
                         [["a", "1"], ["c", "3"]])

    def test_unclosed_quote_at_the_end(self):
        """
        A quote never closed before the end of the file costs only its own
        line: the lines after it are read again as records.
        """
        data = b'a,1\n"b,2\nc,3\nd,4\n'
        records, _ = read(data)
        self.assertEqual([(r.number, r.cells, r.problem and r.problem[0]) for r in records], [
            (1, ["a", "1"], None), (2, ["b,2\n"], "other"), (3, ["c", "3"], None),
            (4, ["d", "4"], None)])
        self.assertIn("not closed on this row", records[1].problem[1])
        self.assertEqual(records[1].raw, '"b,2')

    def test_unclosed_quote_with_expected_width(self):
        """
        A record spanning lines with the wrong number of values is taken as
        an unclosed quote when the width is known.
        """
        data = b'a,1\n"b,2\nc,3\nd"x,4,5\ne,5\n'
        records, _ = read(data, expected=2)
        self.assertEqual([(r.cells, r.problem and r.problem[0]) for r in records], [
            (["a", "1"], None), (["b,2\n"], "other"), (["c", "3"], None),
            (['d"x', "4", "5"], None), (["e", "5"], None)])
        # A quoted line break with the right number of values is data.
        records, _ = read(b'a,1\n"b\nc",2\n', expected=2)
        self.assertEqual([r.cells for r in records], [["a", "1"], ["b\nc", "2"]])

    def test_runaway_quote_in_a_big_file(self):
        """
        A quote opening a value that runs over many lines does not swallow
        them: its line is reported and every following row is read.
        """
        lines = [b"row%d,%d" % (i, i) for i in range(1000)]
        lines[10] = b'"row10,10'
        records, _ = read(b"\n".join(lines) + b"\n")
        self.assertEqual(len(records), 1000)
        self.assertEqual(records[10].problem[0], "other")
        self.assertEqual([r.cells for r in records[11:13]], [["row11", "11"], ["row12", "12"]])

    def test_too_long_row(self):
        """
        A row longer than the limit is reported, not read into memory
        without end.
        """
        data = b"a,1\n" + b"x" * (R.MAX_RECORD_CHARS + 10) + b",2\nb,3\n"
        records, _ = read(data)
        self.assertEqual(records[1].problem[0], "other")
        self.assertIn("longer than", records[1].problem[1])
        self.assertEqual(records[-1].cells, ["b", "3"])

    def test_block_size_does_not_matter(self):
        """
        The same records come out whatever the block size, even when blocks
        cut characters, lines and quoted values apart.
        """
        rng = random.Random(7)
        rows = []
        for i in range(200):
            name = rng.choice(["Zoé", "Jean-Luc", '"Multi\nline"', '"a ""quoted"" word"',
                               "O'Brien", "日本"])
            rows.append(f"{name},06{i:08d},{rng.randrange(100)}")
        data = ("\r\n".join(rows) + "\r\n").encode() + b"bad\xff,1,2\r\n"
        expected = [(r.number, r.cells, r.problem) for r in read(data)[0]]
        for size in (1, 2, 3, 7, 64, 1000):
            with self.subTest(size=size):
                got = [(r.number, r.cells, r.problem) for r in read(data, block_size=size)[0]]
                self.assertEqual(got, expected)

    def test_visible(self):
        """
        Undecodable bytes and NUL are shown as \\xNN, other text unchanged.
        """
        self.assertEqual(R.visible("Jos\udce9 \udc00 é"), "Jos\\xe9 \\x00 é")
