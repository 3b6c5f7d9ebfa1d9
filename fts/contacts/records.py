"""
A CSV file read record by record in bounded memory, with its problems
attached rather than raised.

L{RecordReader} reads blocks of bytes from a binary stream, cuts them at
line ends, decodes them (a whole block at once when it is clean, line by
line when it is not) and hands the lines to the C{csv} module.  What can go
wrong in a file becomes a L{Record} with a C{problem}, and reading goes on:

  - Bytes that are not valid in the encoding (or a NUL byte): the record
    holding them is marked C{bad_encoding}, naming the column and showing
    the bytes (C{Jos\\xe9}).
  - A quote that opens a value and is never closed would swallow the rest
    of the file into one value.  A record that runs over many lines
    (L{MAX_RECORD_LINES}, L{MAX_RECORD_CHARS}), reaches the end of the file
    inside quotes, or spans several lines yet has the wrong number of
    values, is taken to be that: its first line alone is reported (reason
    C{other}) and the lines after it are read again as new records, so
    nothing that follows is lost.

Record numbers count every record from 1, the header and blank lines
included (a record with a quoted line break counts once), as a spreadsheet
numbers rows.  Memory is bounded by the block size and the record limits,
whatever the file size.
"""

import codecs
import csv
import io
import re
from collections import deque

from fts.core.contacts import BAD_ENCODING, OTHER, decode

BLOCK_SIZE = 256 * 1024
MAX_RECORD_LINES = 100
#: Below the csv module's own field limit (131,072 characters).
MAX_RECORD_CHARS = 100_000

_INVISIBLE = re.compile("[\udc00\udc80-\udcff]")


def visible(text):
    """
    C{text} with undecodable bytes (kept as surrogate escapes) and NUL shown
    as C{\\xNN}.
    """
    if not _INVISIBLE.search(text):
        return text
    return _INVISIBLE.sub(lambda m: "\\x%02x" % (ord(m.group()) & 0xFF), text)


class _BadLine(str):
    """
    A line that held bytes invalid in the encoding, or NUL.
    """


class _Runaway(Exception):
    pass


class Record:
    """
    One record of the file.

    @ivar number: 1-based record number.
    @ivar cells: the values as parsed.
    @ivar problem: L{None}, or C{(reason_code, reason, column_index,
        value)} when the record cannot be used as read.
    """

    __slots__ = ("number", "cells", "lines", "problem")

    def __init__(self, number, cells, lines, problem=None):
        self.number = number
        self.cells = cells
        self.lines = lines
        self.problem = problem

    @property
    def raw(self):
        """
        The record as read, without its line end, bad bytes shown C{\\xNN}.
        """
        return visible("".join(self.lines).rstrip("\r\n"))


class _Lines:
    """
    The decoded lines of a stream, as the iterator the csv reader pulls
    from; remembers the lines of the record being read.
    """

    def __init__(self, stream, encoding, block_size):
        self._stream = stream
        self._encoding = encoding
        self._block_size = block_size
        self._ready = deque()
        self._pushed = deque()
        self._tail = b""
        self._first = True
        self._eof = False
        self.bytes_read = 0
        self.current = []
        self.current_chars = 0
        self.eof_in_record = False

    def start_record(self):
        self.current = []
        self.current_chars = 0
        self.eof_in_record = False

    def push_back(self, lines):
        self._pushed.extendleft(reversed(lines))

    @property
    def bytes_done(self):
        """
        Bytes of the stream handed out as lines or about to be.
        """
        return self.bytes_read - len(self._tail)

    def __iter__(self):
        return self

    def __next__(self):
        if self._pushed:
            line = self._pushed.popleft()
        else:
            while not self._ready:
                if not self._fill():
                    if self.current:
                        self.eof_in_record = True
                    raise StopIteration
            line = self._ready.popleft()
        self.current.append(line)
        self.current_chars += len(line)
        if len(self.current) > MAX_RECORD_LINES or self.current_chars > MAX_RECORD_CHARS:
            raise _Runaway()
        return line

    def _fill(self):
        if self._eof:
            return False
        data = self._stream.read(self._block_size)
        self.bytes_read += len(data)
        if self._first:
            self._first = False
            if self._encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8):]
        if not data:
            self._eof = True
            chunk, self._tail = self._tail, b""
        else:
            data = self._tail + data
            cut = data.rfind(b"\n")
            if cut < 0:
                # A lone CR ends a line too, unless it is the last byte read:
                # its LF may be in the next block.
                cut = data.rfind(b"\r", 0, len(data) - 1)
            if cut < 0 and len(data) <= MAX_RECORD_CHARS * 4:
                self._tail = data
                return True
            if cut < 0:
                cut = len(data) - 1
            chunk, self._tail = data[:cut + 1], data[cut + 1:]
        if chunk:
            self._split(chunk)
        return True

    def _split(self, chunk):
        try:
            text = decode(chunk, self._encoding)
        except UnicodeDecodeError:
            text = None
        if text is not None and "\x00" not in text:
            self._ready.extend(io.StringIO(text, newline="").readlines())
            return
        for raw in chunk.splitlines(keepends=True):
            try:
                line = decode(raw, self._encoding)
                if "\x00" not in line:
                    self._ready.append(line)
                    continue
            except UnicodeDecodeError:
                line = raw.decode("utf-8", "surrogateescape")
            self._ready.append(_BadLine(line.replace("\x00", "\udc00")))


class RecordReader:
    """
    The records of a CSV stream (an iterator of L{Record}).

    @param stream: a binary file object (only C{read(n)} is used).
    @param expected: the number of values a record should have, if known;
        a multi-line record with another count is taken as an unclosed
        quote.
    """

    def __init__(self, stream, encoding, delimiter, expected=None, block_size=BLOCK_SIZE):
        self.encoding = encoding
        self.delimiter = delimiter
        self.expected = expected
        self._lines = _Lines(stream, encoding, block_size)
        self._reader = self._new_reader()
        self.number = 0

    def _new_reader(self):
        return csv.reader(self._lines, delimiter=self.delimiter)

    @property
    def bytes_done(self):
        return self._lines.bytes_done

    def __iter__(self):
        return self

    def __next__(self):
        lines = self._lines
        lines.start_record()
        try:
            cells = next(self._reader)
        except _Runaway:
            if len(lines.current) == 1:
                return self._too_long()
            return self._unclosed_quote()
        except csv.Error as e:
            if len(lines.current) > 1:
                return self._unclosed_quote()
            self._reader = self._new_reader()
            self.number += 1
            return Record(self.number, [], lines.current,
                          (OTHER, f"the row cannot be read as CSV: {e}", None, None))
        if len(lines.current) > 1 and (lines.eof_in_record or (
                self.expected is not None and len(cells) != self.expected)):
            return self._unclosed_quote()
        self.number += 1
        record = Record(self.number, cells, lines.current)
        for line in lines.current:
            if type(line) is _BadLine:
                record.problem = self._encoding_problem(cells)
                break
        return record

    def _too_long(self):
        self._reader = self._new_reader()
        self.number += 1
        return Record(self.number, [], self._lines.current, (
            OTHER, f"the row is longer than {MAX_RECORD_CHARS:,} characters", None, None))

    def _unclosed_quote(self):
        lines = self._lines
        first, rest = lines.current[0], lines.current[1:]
        lines.push_back(rest)
        self._reader = self._new_reader()
        self.number += 1
        cells = next(csv.reader([first], delimiter=self.delimiter), [])
        column = None
        for i, cell in enumerate(cells):
            if "\n" in cell or "\r" in cell:
                column = i
                break
        return Record(self.number, cells, [first], (
            OTHER, "a quote (\") opens a value that is not closed on this row; the row is "
                   "left out and the rows after it are read on their own", column, None))

    def _encoding_problem(self, cells):
        column, value = None, None
        for i, cell in enumerate(cells):
            if _INVISIBLE.search(cell):
                column, value = i, visible(cell)
                break
        text = "".join(self._lines.current)
        if "\udc00" in text:
            reason = ("a NUL byte (\\x00), which has no place in text: the file may not be "
                      "a CSV text file")
        else:
            shown = " ".join(sorted({"\\x%02x" % (ord(c) & 0xFF)
                                     for c in _INVISIBLE.findall(text)})[:5])
            reason = (f"bytes that are not valid UTF-8 ({shown}): the file may be Latin-1 "
                      "(Windows); choose that encoding, or save the file as UTF-8")
        return (BAD_ENCODING, reason, column, value)
