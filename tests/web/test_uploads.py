"""
Tests for L{fts.web.uploads}: multipart bodies read in blocks from the
request's body file, text fields before the file, the file part copied to
disk, limits, and names a client sends.
"""

import io
from pathlib import Path

from twisted.trial import unittest

from fts.web import uploads
from tests.web.support import multipart

BOUNDARY = b"fts-test-boundary-7d3a"


class MultipartTests(unittest.SynchronousTestCase):
    def body(self, *items):
        data, content_type = multipart(items)
        return io.BytesIO(data)

    def test_leading_fields_stop_at_the_file(self):
        """
        The text fields before the file part are read; the file and what
        follows it are not.
        """
        content = self.body(("csrf_token", None, b"tok"), ("name", None, "Zoé".encode()),
                            ("file", "a.csv", b"x" * 500_000), ("late", None, b"no"))
        fields = uploads.leading_fields(content, BOUNDARY)
        self.assertEqual(fields, {"csrf_token": b"tok", "name": "Zoé".encode()})

    def test_leading_fields_of_garbage(self):
        """
        A body that is not multipart gives no fields (and no error).
        """
        self.assertEqual(uploads.leading_fields(io.BytesIO(b"a=1&b=2"), BOUNDARY), {})

    def test_save_part_streams_the_file(self):
        """
        The file part is copied byte for byte, in blocks, even when it is
        larger than a block and holds boundary-like bytes and line breaks.
        """
        data = (b"--fts-test-boundary\r\n" + bytes(range(256)) * 5000 + b"\r\n\r\n--")
        content = self.body(("csrf_token", None, b"tok"), ("file", "../../home/x/list.csv",
                                                          data))
        target = Path(self.mktemp())
        saved = uploads.save_part(content, BOUNDARY, "file", target, 10 * len(data))
        self.assertEqual(target.read_bytes(), data)
        self.assertEqual((saved.filename, saved.size), ("list.csv", len(data)))

    def test_save_part_refusals(self):
        """
        No file part, an empty file, a file over the limit and a cut-off
        body are refused with a sentence, and nothing is left on disk.
        """
        cases = [
            (self.body(("name", None, b"x")), "Choose a file"),
            (self.body(("file", "a.csv", b"")), "a.csv is empty"),
            (self.body(("file", "a.csv", b"x" * 2000)), "larger than 1000 bytes"),
            (io.BytesIO(self.body(("file", "a.csv", b"x" * 300)).getvalue()[:200]),
             "cut off"),
        ]
        for content, message in cases:
            target = Path(self.mktemp())
            with self.assertRaises(uploads.UploadError) as caught:
                uploads.save_part(content, BOUNDARY, "file", target, 1000)
            self.assertIn(message, str(caught.exception))
            self.assertFalse(target.exists())

    def test_save_body(self):
        """
        A raw body is copied whole; empty or oversized bodies are refused.
        """
        target = Path(self.mktemp())
        saved = uploads.save_body(io.BytesIO(b"a,b\n1,2\n"), target, 100, "../../x.csv")
        self.assertEqual((target.read_bytes(), saved.filename), (b"a,b\n1,2\n", "x.csv"))
        for data in (b"", b"x" * 101):
            with self.assertRaises(uploads.UploadError):
                uploads.save_body(io.BytesIO(data), Path(self.mktemp()), 100)


class NameTests(unittest.SynchronousTestCase):
    def test_clean_filename(self):
        """
        Only the last component of a client's file name is kept, without
        control characters; nothing usable is None.
        """
        self.assertEqual(uploads.clean_filename("../../etc/passwd"), "passwd")
        self.assertEqual(uploads.clean_filename("C:\\x\\list.csv"), "list.csv")
        self.assertEqual(uploads.clean_filename("a\x00b\r\n.csv"), "ab.csv")
        for nothing in (None, "", "..", "/"):
            self.assertIsNone(uploads.clean_filename(nothing))

    def test_types(self):
        """
        Workbooks and other files are not CSV; sound files are checked by
        extension before they are converted.
        """
        self.assertIsNone(uploads.csv_type_problem("list.CSV"))
        self.assertIn("save it as CSV", uploads.csv_type_problem("list.xlsx"))
        self.assertIn("not a CSV file", uploads.csv_type_problem("list.pdf"))
        self.assertIsNone(uploads.audio_type_problem("hello.MP3"))
        self.assertIn("not a sound file", uploads.audio_type_problem("hello.m4a"))

    def test_human_size(self):
        """
        Sizes read as an operator expects.
        """
        self.assertEqual(uploads.human_size(512), "512 bytes")
        self.assertEqual(uploads.human_size(1536), "1.5 kB")
        self.assertEqual(uploads.human_size(2 * 1024 ** 3), "2 GB")
