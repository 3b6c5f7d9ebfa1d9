"""
Cells a spreadsheet would run as formulas (OWASP "CSV Injection").

A spreadsheet opening a CSV file runs a cell starting with C{=}, C{+},
C{-} or C{@} (or with a tab or a carriage return) as a formula, and
uploaded values, list names or a PBX's hangup text can hold anything.
Every CSV FTS writes passes such a cell through L{neutralise}: a single
quote before it (C{=HYPERLINK(...)} becomes C{'=HYPERLINK(...)}), which
spreadsheets show as text.  One exception: a value that is only a sign
then digits and phone punctuation (spaces, parentheses, dots, dashes),
such as C{+15551234}, C{+1 (555) 010-0200} or C{-5}, cannot call anything
and is left as it is, so phone numbers and negative numbers stay intact.
"""

import re

__all__ = ["FORMULA_STARTS", "PLAIN_NUMBER", "neutralise"]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: A signed number or phone number (a POSIX regular expression that
#: PostgreSQL's C{~} reads the same way).
PLAIN_NUMBER = r"^[+-]?[0-9][0-9 ().-]*$"
_PLAIN_NUMBER_RE = re.compile(PLAIN_NUMBER)


def neutralise(value):
    """
    C{value} (text or L{None}) made safe to open in a spreadsheet: a
    single quote before a value a spreadsheet would run as a formula;
    anything else unchanged.
    """
    if value and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER_RE.match(value):
        return "'" + value
    return value
