"""
Batches of validated rows, each ready for one SQL statement.

A L{ContactBatches} (or L{DncBatches}) is fed the file's bytes in blocks
(L{feed}, read off the reactor thread by the caller) and parses them in
small steps (L{step}), so that the reactor thread can do the decoding,
parsing and checking cooperatively, a slice at a time, between its other
work.  It asks for more bytes (L{wants_data}) while less than
L{LOOKAHEAD} bytes are buffered, which is more than one record can ever
consume (see L{fts.contacts.records}), so a record is never parsed from a
partial buffer.

A batch carries its rows and its rejects as JSON text, one parameter each
for the store's statement; rows are encoded a few hundred at a time as they
are checked, so no single step runs long.
"""

import json
from collections import deque

import attr

from fts.contacts.records import MAX_RECORD_CHARS, RecordReader
from fts.core.contacts import RowValidator, is_blank
from fts.core.phones import PhoneError

BATCH_ROWS = 2000
#: Rows encoded to JSON per call.
ENCODE_ROWS = 250
#: Bytes read from the file at a time.
READ_SIZE = 256 * 1024
#: Bytes kept buffered ahead of the parser: a record uses at most about
#: four bytes per character of MAX_RECORD_CHARS plus one read.
LOOKAHEAD = 4 * MAX_RECORD_CHARS + 2 * READ_SIZE
#: Longest raw record or value kept in a reject.
MAX_REJECT_TEXT = 10_000

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                           check_circular=False).encode


def _clip(text):
    if text is not None and len(text) > MAX_REJECT_TEXT:
        return text[:MAX_REJECT_TEXT] + "…"
    return text


class NeedData(Exception):
    """
    The parser ran out of buffered bytes before the end of the file (the
    caller did not honour L{_Batches.wants_data}).
    """


class _Buffer:
    """
    The stream L{RecordReader} reads: blocks fed in advance.
    """

    def __init__(self):
        self._blocks = deque()
        self.available = 0
        self.eof = False

    def feed(self, block):
        if not block:
            self.eof = True
            return
        self._blocks.append(block)
        self.available += len(block)

    def read(self, size):
        if not self._blocks:
            if self.eof:
                return b""
            raise NeedData("the import read past the bytes buffered")
        block = self._blocks.popleft()
        self.available -= len(block)
        return block


@attr.frozen
class Batch:
    """
    The next rows of a file.

    @ivar rows_json: a JSON array of accepted rows (shape depends on the
        kind of import).
    @ivar rejects_json: a JSON array of rejects.
    @ivar rows: data rows read (blank records and the header excluded).
    @ivar candidates: rows in C{rows_json}.
    @ivar rejected_rows: rows rejected (a row with two problems counts once).
    @ivar bytes_done: bytes of the file read so far.
    @ivar last: no rows follow.
    """

    rows_json: str
    rejects_json: str
    rows: int
    candidates: int
    rejected_rows: int
    bytes_done: int
    last: bool


class _Batches:
    def __init__(self, fmt, batch_rows, expected):
        self._buffer = _Buffer()
        self._reader = RecordReader(self._buffer, fmt.encoding, fmt.delimiter,
                                    expected=expected)
        self._skip_header = fmt.has_header
        self._batch_rows = batch_rows
        self._finished = False
        self._reset()

    def _reset(self):
        self._parts, self._pending, self._rejects = [], [], []
        self._read = self._rejected = self._candidates = 0

    def wants_data(self):
        """
        Whether L{feed} should be called before the next L{step}.
        """
        return not self._buffer.eof and self._buffer.available < LOOKAHEAD

    def feed(self, block):
        """
        Add the next bytes of the file; C{b""} means the end of the file.
        """
        self._buffer.feed(block)

    @property
    def finished(self):
        return self._finished

    def step(self, records):
        """
        Parse and check up to C{records} more records.

        @return: a L{Batch} when one is complete (or the file ended), else
            L{None} (call again, after L{feed} if L{wants_data}).
        @raise NeedData: called while L{wants_data} said more was needed.
        """
        if self._finished:
            raise ValueError("the file has been read to the end")
        buffer, reader, batch_rows = self._buffer, self._reader, self._batch_rows
        for _ in range(records):
            if self._read >= batch_rows:
                return self._batch(last=False)
            if buffer.available < LOOKAHEAD and not buffer.eof:
                return None
            try:
                record = next(reader)
            except StopIteration:
                self._finished = True
                return self._batch(last=True)
            cells = record.cells
            if (record.problem is None and (not cells or not cells[0] or cells[0].isspace())
                    and is_blank(cells)):
                continue
            if self._skip_header:
                self._skip_header = False
                continue
            self._read += 1
            if record.problem is not None:
                code, reason, column, value = record.problem
                self._rejects.append(self._reject(record, column, _clip(value), code, reason))
                self._rejected += 1
            elif not self._check(record):
                self._rejected += 1
            elif len(self._pending) >= ENCODE_ROWS:
                self._flush()
        if self._read >= self._batch_rows:
            return self._batch(last=False)
        return None

    def _flush(self):
        if self._pending:
            self._parts.append(_encode(self._pending)[1:-1])
            self._candidates += len(self._pending)
            self._pending = []

    def _batch(self, last):
        self._flush()
        batch = Batch(
            rows_json="[" + ",".join(self._parts) + "]",
            rejects_json="[" + ",".join(self._rejects) + "]",
            rows=self._read, candidates=self._candidates, rejected_rows=self._rejected,
            bytes_done=self._reader.bytes_done, last=last)
        self._reset()
        return batch


class ContactBatches(_Batches):
    """
    Batches of a contact list import.  Rows: C{[row_number, phone,
    phone_original, fields, timezone]}; rejects: C{[row_number,
    column_index, column_name, value, reason_code, reason, raw]}.
    """

    def __init__(self, fmt, rules, batch_rows=BATCH_ROWS):
        super().__init__(fmt, batch_rows, expected=len(fmt.columns))
        self._validator = RowValidator(fmt, rules)
        self._names = [c.name for c in fmt.columns]

    def _reject(self, record, column, value, code, reason):
        name = self._names[column] if column is not None and column < len(self._names) else None
        return _encode([record.number, column, name, value, code, reason, _clip(record.raw)])

    def _check(self, record):
        row, problems = self._validator.check(record.number, record.cells)
        if row is None:
            raw = _clip(record.raw)
            for p in problems:
                self._rejects.append(_encode([p.row_number, p.column_index, p.column_name,
                                              _clip(p.value), p.reason_code, p.reason, raw]))
            return False
        self._pending.append(row)
        return True


class DncBatches(_Batches):
    """
    Batches of a DNC list upload: only the phone column is read.  Rows:
    C{[row_number, phone, phone_original]}; rejects: C{[row_number, value,
    reason]}.
    """

    def __init__(self, fmt, rules, batch_rows=BATCH_ROWS):
        super().__init__(fmt, batch_rows, expected=None)
        self._index = fmt.phone_column
        self._normalise = rules.normalise

    def _reject(self, record, column, value, code, reason):
        return _encode([record.number, value if value is not None else _clip(record.raw),
                        reason])

    def _check(self, record):
        cells = record.cells
        if len(cells) <= self._index:
            self._rejects.append(_encode([
                record.number, _clip(record.raw),
                f"no phone number: the row has {len(cells)} value"
                f"{'s' if len(cells) != 1 else ''} and the phone is column {self._index + 1}"]))
            return False
        original = cells[self._index].strip()
        try:
            phone = self._normalise(original)
        except PhoneError as e:
            self._rejects.append(_encode([record.number, _clip(original), e.reason]))
            return False
        self._pending.append((record.number, phone, original))
        return True
