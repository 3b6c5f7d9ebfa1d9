"""
Contact-list CSV rules, pure: the import format (encoding, delimiter,
header, typed and named columns), the value types, the validation of one
row, the detection of a file's format from a sample, and the import status
life cycle.

Encodings.  C{utf-8} (a UTF-8 byte order mark is skipped) and C{latin-1}.
"Latin-1" is read as Windows-1252, the superset spreadsheets on Windows
write (C{0x80} is the euro sign, C{0x92} a curly apostrophe), with the five
bytes Windows-1252 leaves undefined read as Latin-1; so a Latin-1 file never
has an encoding error.  A UTF-8 file with bytes that are not UTF-8 has its
offending rows rejected (C{bad_encoding}), the rest is imported.

Column types and the values they accept (surrounding blanks ignored; an
empty cell is C{null} in the contact's fields, C{""} for text):

  - C{phone}: exactly one column; see L{fts.core.phones} (invalid ->
    C{invalid_phone}).
  - C{text}: anything.
  - C{number}: C{-1234}, C{1234.5}, C{1e3}; digit groups separated by
    blanks, C{'} or the other mark in groups of three (C{1 234,50},
    C{1,234.50}); one currency sign before or after (C{12.50 €}).  The
    decimal mark is C{.} or C{,} (column setting C{decimal}).  Stored as a
    JSON number (C{bad_number}).
  - C{date}: C{YYYY-MM-DD} (also with C{/} or C{.}), and C{DD/MM/YYYY} or
    C{MM/DD/YYYY} by the column setting C{date_order} (C{dmy} or C{mdy};
    separators C{/ . -}); a midnight time after the date (C{2026-03-01
    00:00:00}, as spreadsheets export dates) is allowed.  Years have four
    digits.  Stored as C{YYYY-MM-DD} (C{bad_date}).
  - C{time}: C{14:30}, C{14:30:15}, C{14h30}, C{14h}, and 12-hour C{2:30
    pm}, C{2pm}, C{2:30 p.m.}.  Stored as C{HH:MM:SS} (C{bad_time}).
  - C{timezone}: an IANA zone name (C{Europe/Paris}, C{America/New_York},
    C{UTC}), any letter case.  At most one column; it also fills the
    contact's C{timezone} (C{bad_timezone}).

Column names are the text-to-speech placeholders (C{{first_name}}): ASCII
identifiers (letters, digits, C{_}, not starting with a digit), unique.

Rows.  A row has as many values as the list has columns (extra empty values
at its end, a spreadsheet's trailing delimiters, are ignored); blank rows
are skipped.  Every problem of a row is reported, one L{RowProblem} each,
and a row with any problem is rejected whole.

Detection (L{sniff}) reads the first megabyte and proposes: the encoding
(a BOM or valid UTF-8 means UTF-8, else Latin-1); the delimiter (the one
giving the most rows the same number, above one, of values; on a tie tab,
then semicolon, then comma); a header when a first-row cell is text while
the cells below it are phones, numbers, dates or times; the phone column
(one whose header names a phone, else the one of valid, long numbers); and
the other types when at least 80 % of the sample fits (codes with a
leading zero or ten digits or more stay text).  The operator confirms or
changes each choice; L{sniff} detects again with the choices given fixed.
"""

import codecs
import csv
import datetime
import functools
import io
import re
import unicodedata
import zoneinfo
from typing import NamedTuple

import attr

from fts.core.phones import PhoneError, PhoneRules, normalise

# -- vocabularies (the CHECK constraints of 0001_initial.sql) ---------------

PHONE, TEXT, NUMBER, DATE, TIME, TIMEZONE = "phone", "text", "number", "date", "time", "timezone"
COLUMN_TYPES = (PHONE, TEXT, NUMBER, DATE, TIME, TIMEZONE)
ENCODINGS = ("utf-8", "latin-1")
DELIMITERS = (",", ";", "\t")
DATE_ORDERS = ("dmy", "mdy")
DECIMAL_MARKS = (".", ",")

INVALID_PHONE, COLUMN_COUNT, BAD_DATE, BAD_TIME, BAD_NUMBER = (
    "invalid_phone", "column_count", "bad_date", "bad_time", "bad_number")
BAD_TIMEZONE, BAD_ENCODING, DUPLICATE, OTHER = (
    "bad_timezone", "bad_encoding", "duplicate", "other")
REASON_CODES = (INVALID_PHONE, COLUMN_COUNT, BAD_DATE, BAD_TIME, BAD_NUMBER,
                BAD_TIMEZONE, BAD_ENCODING, DUPLICATE, OTHER)

UPLOADED, IMPORTING, IMPORTED, READY, FAILED, CANCELLED = (
    "uploaded", "importing", "imported", "ready", "failed", "cancelled")
#: Import status -> the statuses it may move to.  An import can be run again
#: (with a corrected format) until its rows are accepted.
IMPORT_TRANSITIONS = {
    UPLOADED: frozenset({IMPORTING, CANCELLED}),
    IMPORTING: frozenset({IMPORTED, READY, FAILED, CANCELLED}),
    IMPORTED: frozenset({IMPORTING, READY, CANCELLED}),
    FAILED: frozenset({IMPORTING, CANCELLED}),
    READY: frozenset(),
    CANCELLED: frozenset(),
}


def can_move(status, to):
    """
    Whether an import in C{status} may move to C{to}.
    """
    return to in IMPORT_TRANSITIONS.get(status, ())


def statuses_leading_to(to):
    """
    The statuses from which C{to} can be reached, sorted (for SQL guards).
    """
    return tuple(sorted(s for s, targets in IMPORT_TRANSITIONS.items() if to in targets))


def import_outcome(accepted, rejected):
    """
    Where a finished import goes: C{(status, error)}.  With no rejected
    row it is ready at once (duplicates are reported, not rejected: they are
    dialed once); with rejects the operator decides (C{imported}); with no
    accepted row at all it failed.
    """
    if accepted == 0:
        why = "; see the rejected rows" if rejected else ": the file has no data rows"
        return FAILED, "no row could be imported" + why
    if rejected:
        return IMPORTED, None
    return READY, None


# -- encodings --------------------------------------------------------------


def _windows_1252_table():
    chars = []
    for byte in range(256):
        try:
            chars.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(byte))
    return "".join(chars)


_LATIN_TABLE = _windows_1252_table()


def decode(data, encoding, errors="strict"):
    """
    C{data} as text in one of L{ENCODINGS} (C{latin-1} as described in the
    module docstring).
    """
    if encoding == "latin-1":
        return codecs.charmap_decode(data, "strict", _LATIN_TABLE)[0]
    return data.decode("utf-8", errors)


# -- columns and formats ----------------------------------------------------

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_NAME_LENGTH = 63


@attr.frozen
class Column:
    """
    One CSV column: its placeholder name and type.

    @ivar date_order: for dates not in ISO form, C{dmy} or C{mdy}.
    @ivar decimal: the decimal mark of numbers, C{.} or C{,}.
    """

    name: str
    type: str = TEXT
    date_order: str = "dmy"
    decimal: str = "."

    def as_json(self):
        """
        The object stored in C{contact_lists.columns}.
        """
        data = {"name": self.name, "type": self.type}
        if self.type == DATE:
            data["date_order"] = self.date_order
        if self.type == NUMBER:
            data["decimal"] = self.decimal
        return data

    @classmethod
    def from_json(cls, data):
        return cls(name=data.get("name", ""), type=data.get("type", TEXT),
                   date_order=data.get("date_order", "dmy"),
                   decimal=data.get("decimal", "."))


@attr.frozen
class ImportFormat:
    """
    How to read a file: what the operator confirmed.
    """

    encoding: str
    delimiter: str
    has_header: bool
    columns: tuple = attr.ib(converter=tuple)

    @property
    def phone_column(self):
        """
        Index of the phone column (the first, if the format is invalid).
        """
        for i, column in enumerate(self.columns):
            if column.type == PHONE:
                return i
        return None

    @property
    def timezone_column(self):
        for i, column in enumerate(self.columns):
            if column.type == TIMEZONE:
                return i
        return None

    def columns_json(self):
        return [c.as_json() for c in self.columns]


def name_problem(name):
    """
    Why C{name} cannot be a column name, or L{None}.
    """
    if not name:
        return "a column needs a name"
    if len(name) > MAX_NAME_LENGTH:
        return f"column name {name!r} is longer than {MAX_NAME_LENGTH} characters"
    if not _NAME.match(name):
        return (f"column name {name!r} cannot be a placeholder: use letters a-z, digits "
                "and _, not starting with a digit (for example first_name)")
    return None


def format_problems(fmt):
    """
    Every reason C{fmt} cannot be used, as sentences (empty: usable).
    """
    problems = []
    if fmt.encoding not in ENCODINGS:
        problems.append(f"encoding {fmt.encoding!r}: choose utf-8 or latin-1")
    if fmt.delimiter not in DELIMITERS:
        problems.append(f"delimiter {fmt.delimiter!r}: choose comma, semicolon or tab")
    if not fmt.columns:
        problems.append("the file has no columns")
    seen = {}
    for i, column in enumerate(fmt.columns, 1):
        problem = name_problem(column.name)
        if problem:
            problems.append(f"column {i}: {problem}")
        elif column.name in seen:
            problems.append(f"columns {seen[column.name]} and {i} are both named "
                            f"{column.name!r}: names must be unique")
        else:
            seen[column.name] = i
        if column.type not in COLUMN_TYPES:
            problems.append(f"column {i} ({column.name}): unknown type {column.type!r}; "
                            "choose text, number, date, time or timezone")
        if column.date_order not in DATE_ORDERS:
            problems.append(f"column {i} ({column.name}): date order must be dmy or mdy")
        if column.decimal not in DECIMAL_MARKS:
            problems.append(f"column {i} ({column.name}): decimal mark must be . or ,")
    phones = [i for i, c in enumerate(fmt.columns, 1) if c.type == PHONE]
    if fmt.columns and not phones:
        problems.append("choose the column that holds the phone numbers")
    if len(phones) > 1:
        problems.append(f"columns {', '.join(map(str, phones))} are all typed phone: "
                        "choose one phone column, type the others text")
    zones = [i for i, c in enumerate(fmt.columns, 1) if c.type == TIMEZONE]
    if len(zones) > 1:
        problems.append(f"columns {', '.join(map(str, zones))} are all typed timezone: "
                        "a contact has one time zone")
    return problems


def placeholder_name(text, fallback):
    """
    A valid column name made from a header cell (C{"Prénom client"} ->
    C{"prenom_client"}), or C{fallback} when nothing usable is left.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if not name:
        return fallback
    if name[0].isdigit():
        name = "column_" + name
    return name[:MAX_NAME_LENGTH].rstrip("_")


def unique_names(names):
    """
    C{names} with repeats suffixed C{_2}, C{_3}… so all are unique.
    """
    used, result = set(), []
    for name in names:
        candidate, n = name, 1
        while candidate in used:
            n += 1
            suffix = f"_{n}"
            candidate = name[:MAX_NAME_LENGTH - len(suffix)] + suffix
        used.add(candidate)
        result.append(candidate)
    return result


# -- value types ------------------------------------------------------------


class ValueProblem(ValueError):
    """
    A cell does not hold a value of its column's type.

    @ivar code: the reason code (C{bad_date}, …).
    @ivar reason: a sentence for the operator.
    """

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


_GROUP_BLANKS = str.maketrans("", "", " \u00a0\u202f\u2009'")
_CURRENCY = "€$£¥"
_SIMPLE_NUMBER = re.compile(r"-?\d{1,15}(?:[.,]\d{1,15})?\Z")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_GROUPED = {".": re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"),
            ",": re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")}


def _number_or_none(text, decimal):
    s = text.translate(_GROUP_BLANKS)
    if s[:1] in _CURRENCY:
        s = s[1:]
    elif s[-1:] in _CURRENCY:
        s = s[:-1]
    if _GROUPED[decimal].match(s):
        s = s.replace("," if decimal == "." else ".", "")
    if decimal == ",":
        if "." in s:
            return None
        s = s.replace(",", ".", 1)
    if not _PLAIN_NUMBER.match(s):
        return None
    if "." in s or "e" in s or "E" in s:
        value = float(s)
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return value
    return int(s)


def parse_number(text, decimal="."):
    """
    The number in C{text} (int when whole and written without decimals),
    L{None} for an empty cell.

    @raise ValueProblem: C{bad_number}.
    """
    text = text.strip()
    if not text:
        return None
    # Fast path: plain digits with an optional sign and decimals.
    if _SIMPLE_NUMBER.match(text):
        if decimal in text:
            return float(text.replace(",", ".")) if decimal == "," else float(text)
        if "." not in text and "," not in text:
            return int(text)
    value = _number_or_none(text, decimal)
    if value is None:
        other = "," if decimal == "." else "."
        hint = ""
        if _number_or_none(text, other) is not None:
            hint = (f"; with {other!r} as the decimal mark it would be a number: "
                    "change the column's decimal mark")
        raise ValueProblem(BAD_NUMBER, f"{text!r} is not a number "
                                       f"(decimal mark {decimal!r}){hint}")
    return value


_ISO_DATE = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[ T]0?0:00(?::00(?:\.0+)?)?)?$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([-/.])(\d{1,2})\2(\d+)(?:[ T]0?0:00(?::00(?:\.0+)?)?)?$")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _date_shape(date_order):
    return "DD/MM/YYYY" if date_order == "dmy" else "MM/DD/YYYY"


def parse_date(text, date_order="dmy"):
    """
    The date in C{text} as C{YYYY-MM-DD}, L{None} for an empty cell.

    @raise ValueProblem: C{bad_date}.
    """
    text = text.strip()
    if not text:
        return None
    match = _ISO_DATE.match(text)
    if match:
        year, month, day = int(match.group(1)), int(match.group(3)), int(match.group(4))
    else:
        match = _NUMERIC_DATE.match(text)
        if not match:
            raise ValueProblem(BAD_DATE, f"{text!r} is not a date: expected YYYY-MM-DD "
                                         f"or {_date_shape(date_order)}")
        a, b, year_text = int(match.group(1)), int(match.group(3)), match.group(4)
        if len(year_text) != 4:
            raise ValueProblem(BAD_DATE, f"{text!r}: write the year with four digits "
                                         f"({_date_shape(date_order)})")
        year = int(year_text)
        day, month = (a, b) if date_order == "dmy" else (b, a)
    if not 1 <= month <= 12:
        hint = ""
        if match.re is _NUMERIC_DATE and 1 <= day <= 12:
            hint = (f"; if it is {_date_shape('mdy' if date_order == 'dmy' else 'dmy')},"
                    " change the column's date order")
        raise ValueProblem(BAD_DATE, f"{text!r} is not a date: there is no month {month}{hint}")
    try:
        value = datetime.date(year, month, day)
    except ValueError:
        raise ValueProblem(BAD_DATE, f"{text!r} is not a date: {_MONTHS[month - 1]} "
                                     f"{year} has no day {day}") from None
    return value.isoformat()


_AMPM = re.compile(r"^(.*?)\s*([ap])\.?\s*m\.?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$|^(\d{1,2})h(\d{2})?$")


def parse_time(text):
    """
    The time of day in C{text} as C{HH:MM:SS}, L{None} for an empty cell.

    @raise ValueProblem: C{bad_time}.
    """
    original = text.strip()
    if not original:
        return None
    lowered = original.lower()
    half = None
    ampm = _AMPM.match(lowered)
    if ampm:
        lowered, half = ampm.group(1), ampm.group(2)
    match = _CLOCK.match(lowered)
    if match:
        if match.group(1) is not None:
            hour, minute = int(match.group(1)), int(match.group(2))
            second = int(match.group(3) or 0)
        else:
            hour, minute, second = int(match.group(4)), int(match.group(5) or 0), 0
    elif half and lowered.isdigit() and len(lowered) <= 2:
        hour, minute, second = int(lowered), 0, 0
    else:
        raise ValueProblem(BAD_TIME, f"{original!r} is not a time: expected HH:MM, "
                                     "HH:MM:SS or 2:30 pm")
    if half:
        if not 1 <= hour <= 12:
            raise ValueProblem(BAD_TIME, f"{original!r} is not a time: with am/pm "
                                         "the hour is 1 to 12")
        hour = hour % 12 + (12 if half == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueProblem(BAD_TIME, f"{original!r} is not a time of day "
                                     "(hours 0-23, minutes and seconds 0-59)")
    return f"{hour:02d}:{minute:02d}:{second:02d}"


@functools.lru_cache(maxsize=None)
def _zones():
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def parse_timezone(text):
    """
    The IANA zone name in C{text} (as IANA spells it), L{None} for an empty
    cell.

    @raise ValueProblem: C{bad_timezone}.
    """
    text = text.strip()
    if not text:
        return None
    name = _zones().get(text.lower())
    if name is None:
        raise ValueProblem(BAD_TIMEZONE, f"{text!r} is not a time zone name: use an IANA "
                                         "name such as Europe/Paris or America/New_York")
    return name


def converter(column):
    """
    The function turning a cell of C{column} into its stored value (for
    columns other than the phone).
    """
    if column.type == NUMBER:
        return functools.partial(parse_number, decimal=column.decimal)
    if column.type == DATE:
        return functools.partial(parse_date, date_order=column.date_order)
    if column.type == TIME:
        return parse_time
    if column.type == TIMEZONE:
        return parse_timezone
    return str.strip


#: Distinct values remembered per typed column by L{RowValidator}.
CACHE_VALUES = 20_000


def _returning_problem(convert):
    """
    C{convert} returning its L{ValueProblem} instead of raising it.
    """

    def run(cell):
        try:
            return convert(cell)
        except ValueProblem as e:
            return e.with_traceback(None)

    return run


# -- one row ------------------------------------------------------------------


@attr.frozen
class RowProblem:
    """
    Why a row was rejected (one per problem; a row may have several).

    @ivar row_number: 1-based record number in the file, header included.
    @ivar column_index: 0-based, or L{None} when not about one column.
    """

    row_number: int
    column_index: object
    column_name: object
    value: object
    reason_code: str
    reason: str

    def as_json(self, raw=None):
        return [self.row_number, self.column_index, self.column_name, self.value,
                self.reason_code, self.reason, raw]


_MISS = object()


class ValidRow(NamedTuple):
    """
    A row accepted by L{RowValidator}: what becomes a C{contacts} row.
    """

    row_number: int
    phone: str
    phone_original: str
    fields: dict
    timezone: object


def is_blank(cells):
    """
    Whether a record holds nothing (a blank line, or only delimiters):
    such records are skipped, not rejected.
    """
    for cell in cells:
        if cell and not cell.isspace():
            return False
    return True


class RowValidator:
    """
    Checks and converts the rows of one import.

    Extra cells at the end of a row are allowed when they are empty (a
    spreadsheet's trailing delimiters); any other count is C{column_count}.
    """

    def __init__(self, fmt, rules=None):
        rules = rules or PhoneRules()
        self.expected = len(fmt.columns)
        self.phone_index = fmt.phone_column
        self.phone_name = fmt.columns[self.phone_index].name
        self._normalise = functools.partial(
            normalise, default_country_code=rules.default_country_code,
            min_digits=rules.min_digits, max_digits=rules.max_digits)
        tz = fmt.timezone_column
        self._tz_name = None if tz is None else fmt.columns[tz].name
        # (index, name, convert, remembered results or None).  Dates, times,
        # zones and amounts repeat a lot in a list: the results of the first
        # CACHE_VALUES distinct cells of a column are remembered.
        self._others = [
            (i, c.name, str.strip, None) if c.type == TEXT
            else (i, c.name, _returning_problem(converter(c)), {})
            for i, c in enumerate(fmt.columns) if i != self.phone_index]

    def check(self, row_number, cells):
        """
        @return: C{(ValidRow, [])}, or C{(None, [RowProblem, …])}.
        """
        if len(cells) != self.expected:
            if len(cells) < self.expected or not is_blank(cells[self.expected:]):
                n = len(cells)
                return None, [RowProblem(
                    row_number, None, None, None, COLUMN_COUNT,
                    f"{n} value{'s' if n != 1 else ''} where the list has "
                    f"{self.expected} columns")]
            cells = cells[:self.expected]
        problems = None
        original = cells[self.phone_index].strip()
        try:
            phone = self._normalise(original)
        except PhoneError as e:
            phone = None
            problems = [RowProblem(row_number, self.phone_index, self.phone_name, original,
                                   INVALID_PHONE, e.reason)]
        fields = {}
        for i, name, convert, cache in self._others:
            cell = cells[i]
            if cache is None:
                value = convert(cell)
            else:
                value = cache.get(cell, _MISS)
                if value is _MISS:
                    value = convert(cell)
                    if len(cache) < CACHE_VALUES:
                        cache[cell] = value
            if type(value) is ValueProblem:
                if problems is None:
                    problems = []
                problems.append(RowProblem(row_number, i, name, cells[i].strip(),
                                           value.code, value.reason))
            else:
                fields[name] = value
        if problems:
            return None, problems
        timezone = None if self._tz_name is None else fields[self._tz_name]
        return ValidRow(row_number, phone, original, fields, timezone), []


# -- detection ----------------------------------------------------------------


class FormatError(ValueError):
    """
    The file cannot be read as a CSV of contacts; C{str()} says why and
    what to do, for the operator.
    """


@attr.frozen
class Detected:
    """
    The format proposed for a file, for the operator to confirm or change.

    @ivar columns: proposed L{Column}s (the phone column typed C{phone}).
    @ivar header: the header cells as written, or C{()}.
    @ivar rows: the first data rows, as C{(row_number, cells)}.
    @ivar notes: sentences the operator should read before confirming.
    """

    encoding: str
    bom: bool
    delimiter: str
    has_header: bool
    columns: tuple
    header: tuple
    rows: tuple
    notes: tuple

    @property
    def phone_column(self):
        return self.format().phone_column

    def format(self):
        return ImportFormat(self.encoding, self.delimiter, self.has_header, self.columns)


SNIFF_RECORDS = 200
PREVIEW_ROWS = 20
_PHONE_WORDS = re.compile(r"phone|tel|mobile|portable|cell|gsm|msisdn|numero|number|fon")


def sniff(sample, complete, rules=None, encoding=None, delimiter=None, has_header=None):
    """
    Detect the format of a file from its first bytes.

    @param sample: the first bytes of the file (a megabyte is plenty).
    @param complete: whether C{sample} is the whole file (else its last,
        possibly cut, line is ignored).
    @param encoding: the operator's choice, or L{None} to detect it; same
        for C{delimiter} and C{has_header}.
    @raise FormatError: the file is empty or not CSV text.
    """
    rules = rules or PhoneRules()
    _refuse_non_csv(sample)
    bom = sample.startswith(codecs.BOM_UTF8)
    body = sample[len(codecs.BOM_UTF8):] if bom else sample
    if not complete and b"\n" in body:
        body = body[:body.rindex(b"\n") + 1]
    notes = []
    if encoding is None:
        encoding, note = _detect_encoding(body, bom)
        if note:
            notes.append(note)
    text = decode(body, encoding, "replace")
    if delimiter is None:
        delimiter = _detect_delimiter(text)
    records = [(n, r) for n, r in _records(text, delimiter) if not is_blank(r)]
    if not records:
        raise FormatError("the file has no rows")
    counts = {}
    for _, cells in records:
        counts[len(cells)] = counts.get(len(cells), 0) + 1
    width = max(counts, key=lambda k: (counts[k], k))
    if len(counts) > 1:
        odd = len(records) - counts[width]
        notes.append(f"{odd} of the first {len(records)} rows do not have {width} values; "
                     "check the delimiter (they will be rejected)")
    if has_header is None:
        has_header = _looks_like_header(records, width, rules)
    header = tuple(records[0][1]) if has_header else ()
    data = records[1:] if has_header else records
    columns_cells = [[cells[j] for _, cells in data if len(cells) == width]
                     for j in range(width)]
    phone_index, phone_note = _phone_column(columns_cells, header, rules)
    if phone_note:
        notes.append(phone_note)
    if header:
        names = [placeholder_name(header[j] if j < len(header) else "", f"column_{j + 1}")
                 for j in range(width)]
    else:
        names = ["phone" if j == phone_index else f"column_{j + 1}" for j in range(width)]
    names = unique_names(names)
    columns = []
    for j in range(width):
        if j == phone_index:
            columns.append(Column(names[j], PHONE))
        else:
            column, note = _guess_column(names[j], columns_cells[j], delimiter, rules)
            if note:
                notes.append(note)
            columns.append(column)
    return Detected(encoding=encoding, bom=bom, delimiter=delimiter, has_header=has_header,
                    columns=tuple(columns), header=header,
                    rows=tuple((n, tuple(c)) for n, c in data[:PREVIEW_ROWS]),
                    notes=tuple(notes))


def _refuse_non_csv(sample):
    if not sample.strip():
        raise FormatError("the file is empty")
    if sample.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise FormatError("this is a spreadsheet workbook (xlsx, xls or ods), not a CSV file:"
                          " save it as CSV (UTF-8) and upload that")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
            sample[:1000].count(b"\x00") > len(sample[:1000]) // 4):
        raise FormatError("this file is UTF-16 text: save it as CSV UTF-8 (or Latin-1)"
                          " and upload that")
    if b"\x00" in sample[:65536]:
        raise FormatError("this file holds binary data (NUL bytes), not CSV text")


def _detect_encoding(body, bom):
    try:
        body.decode("utf-8")
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    # Valid multi-byte sequences hardly ever occur by chance in Latin-1 text.
    if bom or (good and good >= bad):
        return "utf-8", ("some bytes are not valid UTF-8: the rows holding them will be "
                         "rejected (or choose Latin-1 if the whole file is Latin-1)")
    return "latin-1", None


def _records(text, delimiter, limit=SNIFF_RECORDS):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out = []
    number = 0
    try:
        for cells in reader:
            number += 1
            out.append((number, cells))
            if number >= limit:
                break
    except csv.Error:
        pass
    return out


def _detect_delimiter(text):
    best, best_key = ",", None
    # On a tie the rarer character in ordinary text wins.
    for rank, delimiter in enumerate(("\t", ";", ",")):
        counts = [len(r) for _, r in _records(text, delimiter) if not is_blank(r)]
        if not counts:
            continue
        mode = max(set(counts), key=lambda k: (counts.count(k), k))
        if mode < 2:
            continue
        share = counts.count(mode) / len(counts)
        key = (round(share, 2), mode, -rank)
        if best_key is None or key > best_key:
            best, best_key = delimiter, key
    return best


def _kind(cell, rules):
    """
    What a cell looks like: C{empty}, C{phone}, C{value} (number, date,
    time) or C{text}.
    """
    cell = cell.strip()
    if not cell:
        return "empty"
    try:
        rules.normalise(cell)
        return "phone"
    except PhoneError:
        pass
    for check in (lambda c: parse_number(c, "."), lambda c: parse_number(c, ","),
                  parse_date, parse_time):
        try:
            check(cell)
            return "value"
        except ValueProblem:
            pass
    return "text"


def _looks_like_header(records, width, rules):
    first = records[0][1]
    rest = [cells for _, cells in records[1:] if len(cells) == width]
    if not rest:
        return all(_kind(c, rules) == "text" for c in first)
    for j, cell in enumerate(first[:width]):
        if _kind(cell, rules) != "text":
            continue
        kinds = [_kind(cells[j], rules) for cells in rest]
        filled = [k for k in kinds if k != "empty"]
        if filled and sum(k != "text" for k in filled) >= 0.8 * len(filled):
            return True
    return False


def _phone_column(columns_cells, header, rules):
    best, best_key = None, None
    for j, cells in enumerate(columns_cells):
        filled = [c for c in cells if c.strip()]
        if not filled:
            continue
        valid = []
        for cell in filled:
            try:
                valid.append(rules.normalise(cell))
            except PhoneError:
                pass
        share = len(valid) / len(filled)
        if share < 0.5:
            continue
        length = sum(map(len, valid)) / len(valid)
        hint = bool(j < len(header) and _PHONE_WORDS.search(
            placeholder_name(header[j], "").replace("_", "")))
        key = (hint, share >= 0.8 and length >= 7, share, length, -j)
        if best_key is None or key > best_key:
            best, best_key = j, key
    if best is None:
        return 0, ("no column looks like phone numbers: choose the phone column "
                   "(its rows will be rejected if the numbers are invalid)")
    return best, None


#: Share of a sample's values that must fit a type for it to be proposed.
TYPE_SHARE = 0.8


def _guess_column(name, cells, delimiter, rules):
    filled = [c.strip() for c in cells if c.strip()]
    if not filled:
        return Column(name, TEXT), None

    def fitting(parse):
        n = 0
        for cell in filled:
            try:
                parse(cell)
                n += 1
            except ValueProblem:
                pass
        return n

    def proposal(column, fit, note=None):
        misfits = len(filled) - fit
        if misfits:
            extra = (f"column {name}: {misfits} of the first {len(filled)} values are not "
                     f"a valid {column.type}; those rows will be rejected unless the "
                     "column is typed text")
            note = f"{note}; {extra}" if note else extra
        return column, note

    def enough(fit):
        return fit >= TYPE_SHARE * len(filled)

    fit = fitting(parse_timezone)
    if enough(fit):
        return proposal(Column(name, TIMEZONE), fit)
    if sum(1 for c in filled if _ISO_DATE.match(c) or _NUMERIC_DATE.match(c)) >= (
            TYPE_SHARE * len(filled)):
        dmy = fitting(functools.partial(parse_date, date_order="dmy"))
        mdy = fitting(functools.partial(parse_date, date_order="mdy"))
        if enough(max(dmy, mdy)):
            note = None
            if dmy == mdy and any(_NUMERIC_DATE.match(c) for c in filled):
                order = "mdy" if rules.default_country_code == "1" else "dmy"
                example = next(c for c in filled if _NUMERIC_DATE.match(c))
                note = (f"column {name}: dates such as {example!r} could be day/month or "
                        f"month/day; read as {_date_shape(order)}: check")
            else:
                order = "dmy" if dmy >= mdy else "mdy"
            return proposal(Column(name, DATE, date_order=order), max(dmy, mdy), note)
    fit = fitting(parse_time)
    if enough(fit):
        return proposal(Column(name, TIME), fit)
    # Leading zeros and long runs of digits are codes (postcode, account,
    # customer id, a second phone), not quantities: as numbers they would
    # lose their zeros, or their digits past 15.
    if any((c.lstrip("+-")[:1] == "0" and c.lstrip("+-")[1:2].isdigit())
           or (c.isdigit() and len(c) >= 10) or sum(ch.isdigit() for ch in c) > 15
           for c in filled):
        return Column(name, TEXT), None
    marks = (",", ".") if delimiter == ";" else (".", ",")
    best = max(marks, key=lambda m: fitting(functools.partial(parse_number, decimal=m)))
    fit = fitting(functools.partial(parse_number, decimal=best))
    if enough(fit):
        return proposal(Column(name, NUMBER, decimal=best), fit)
    return Column(name, TEXT), None


def validate_sample(detected_rows, fmt, rules=None):
    """
    The rows of a L{Detected} as an import with C{fmt} would take them:
    C{[(row_number, cells, ValidRow or None, [RowProblem])]}, for the
    wizard's preview.
    """
    validator = RowValidator(fmt, rules)
    out = []
    for number, cells in detected_rows:
        row, problems = validator.check(number, list(cells))
        out.append((number, tuple(cells), row, problems))
    return out
