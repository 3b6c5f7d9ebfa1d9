"""
Tests for L{fts.core.contacts}: format detection, column types, row
validation, column names and the import life cycle.
"""

import codecs

from twisted.trial.unittest import SynchronousTestCase

from fts.core import contacts as C
from fts.core.contacts import Column, ImportFormat
from fts.core.phones import PhoneRules

FR = PhoneRules("33", 9, 15)
US = PhoneRules("1", 11, 11)

HEADER_ROWS = [
    ["Nom", "Prénom", "Téléphone", "Montant", "Échéance", "Heure", "Zone"],
    ["Dupont", "Zoé", "06 12 34 56 78", "12,50", "25/03/2026", "14h30", "Europe/Paris"],
    ["Martin", "Anaïs", "+33 6 11 22 33 44", "1 234,00", "15/04/2026", "9:00", "europe/paris"],
    ["Smith", "John", "0033 7 00 00 00 01", "0,99", "01/01/2027", "17:45", "UTC"],
]


def csv_bytes(rows, delimiter=",", encoding="utf-8", bom=False, newline="\r\n"):
    text = newline.join(delimiter.join(r) for r in rows) + newline
    data = text.encode("cp1252" if encoding == "latin-1" else encoding)
    return (codecs.BOM_UTF8 if bom else b"") + data


class SniffTests(SynchronousTestCase):
    def test_utf8_semicolon_header(self):
        """
        A UTF-8, semicolon-separated file with a header is detected with its
        columns named from the header and typed from the data.
        """
        d = C.sniff(csv_bytes(HEADER_ROWS, ";"), True, FR)
        self.assertEqual((d.encoding, d.bom, d.delimiter, d.has_header),
                         ("utf-8", False, ";", True))
        self.assertEqual(d.columns, (
            Column("nom"), Column("prenom"), Column("telephone", C.PHONE),
            Column("montant", C.NUMBER, decimal=","), Column("echeance", C.DATE),
            Column("heure", C.TIME), Column("zone", C.TIMEZONE)))
        self.assertEqual(d.phone_column, 2)
        self.assertEqual(d.header, tuple(HEADER_ROWS[0]))
        self.assertEqual(d.rows[0], (2, tuple(HEADER_ROWS[1])))
        self.assertEqual(d.notes, ())

    def test_utf8_bom(self):
        """
        A UTF-8 byte order mark is recognised and kept out of the first
        column's name.
        """
        d = C.sniff(csv_bytes(HEADER_ROWS, ",", bom=True), True, FR)
        self.assertEqual((d.encoding, d.bom, d.delimiter), ("utf-8", True, ","))
        self.assertEqual(d.columns[0].name, "nom")

    def test_latin1(self):
        """
        Bytes that are not UTF-8 (é as 0xE9) make the file Latin-1, read as
        Windows-1252 (0x80 is the euro sign).
        """
        rows = [r[:] for r in HEADER_ROWS]
        rows[1][0] = "Dupont €"
        data = csv_bytes(rows, "\t", encoding="latin-1")
        self.assertIn(b"\xe9", data)
        d = C.sniff(data, True, FR)
        self.assertEqual((d.encoding, d.delimiter, d.has_header), ("latin-1", "\t", True))
        self.assertEqual(d.header[1], "Prénom")
        self.assertEqual(d.rows[0][1][0], "Dupont €")

    def test_mostly_utf8_with_a_bad_byte(self):
        """
        A UTF-8 file with one stray byte stays UTF-8, with a note that those
        rows will be rejected.
        """
        data = csv_bytes(HEADER_ROWS) + b"Bad,Jos\xe9,0612345679,1,01/01/2026,10:00,UTC\r\n"
        d = C.sniff(data, True, FR)
        self.assertEqual(d.encoding, "utf-8")
        self.assertTrue(any("not valid UTF-8" in n for n in d.notes))

    def test_delimiters(self):
        """
        Comma, semicolon and tab are each detected, even when the data
        holds the other characters.
        """
        rows = [["name", "phone", "note"],
                ["Dupont, Jean", "0612345678", "a;b"],
                ["Martin; Anne", "0612345679", "c,d"],
                ["Lee", "0612345670", "e\tf"]]
        for delimiter in (",", ";", "\t"):
            quoted = [[f'"{c}"' if any(x in c for x in ",;\t") else c for c in r]
                      for r in rows]
            with self.subTest(delimiter=delimiter):
                d = C.sniff(csv_bytes(quoted, delimiter), True, FR)
                self.assertEqual(d.delimiter, delimiter)
                self.assertEqual(len(d.columns), 3)

    def test_decimal_commas_in_a_semicolon_file(self):
        """
        Decimal commas do not make the comma the delimiter.
        """
        rows = [["0612345678", "12,50"], ["0612345679", "3,10"], ["0612345670", "7,00"]]
        d = C.sniff(csv_bytes(rows, ";"), True, FR)
        self.assertEqual(d.delimiter, ";")
        self.assertEqual(d.columns[1], Column("column_2", C.NUMBER, decimal=","))

    def test_no_header(self):
        """
        A file whose first row is data has no header; the phone column is
        named phone and the others column_N.
        """
        d = C.sniff(csv_bytes(HEADER_ROWS[1:], ";"), True, FR)
        self.assertFalse(d.has_header)
        self.assertEqual(d.header, ())
        self.assertEqual([c.name for c in d.columns],
                         ["column_1", "column_2", "phone", "column_4", "column_5",
                          "column_6", "column_7"])
        self.assertEqual(d.rows[0], (1, tuple(HEADER_ROWS[1])))

    def test_single_column_of_numbers(self):
        """
        A DNC-style file of bare numbers, with or without a header, is one
        phone column.
        """
        numbers = [["0612345678"], ["0612345679"], ["+33 6 12 34 56 70"]]
        d = C.sniff(csv_bytes(numbers), True, FR)
        self.assertEqual((d.has_header, d.columns), (False, (Column("phone", C.PHONE),)))
        d = C.sniff(csv_bytes([["Numéro"]] + numbers), True, FR)
        self.assertEqual((d.has_header, d.columns), (True, (Column("numero", C.PHONE),)))

    def test_phone_column_by_header_name(self):
        """
        Of two columns of phone-like digits, the one whose header says
        phone is proposed.
        """
        rows = [["customer_id", "mobile"], ["5551234567", "5559876543"],
                ["5551234568", "5559876544"]]
        d = C.sniff(csv_bytes(rows), True, US)
        self.assertEqual(d.phone_column, 1)
        self.assertEqual(d.columns[0], Column("customer_id", C.TEXT))

    def test_no_phone_column(self):
        """
        Without any phone-like column the first column is proposed, with a
        note asking the operator to choose.
        """
        d = C.sniff(csv_bytes([["a", "b"], ["x", "y"]]), True, FR)
        self.assertEqual(d.phone_column, 0)
        self.assertTrue(any("choose the phone column" in n for n in d.notes))

    def test_codes_with_leading_zeros_stay_text(self):
        """
        Digits with a leading zero (postcodes, account numbers) are not
        proposed as numbers, which would drop the zero.
        """
        rows = [["phone", "zip"], ["0612345678", "01000"], ["0612345679", "75001"]]
        d = C.sniff(csv_bytes(rows), True, FR)
        self.assertEqual(d.columns[1], Column("zip", C.TEXT))

    def test_ambiguous_date_order(self):
        """
        Dates that read both ways are proposed day first (month first with
        the North American country code), with a note.
        """
        rows = [["phone", "when"], ["0612345678", "03/04/2026"], ["0612345679", "05/06/2026"]]
        d = C.sniff(csv_bytes(rows), True, FR)
        self.assertEqual(d.columns[1], Column("when", C.DATE, date_order="dmy"))
        self.assertTrue(any("could be day/month" in n for n in d.notes))
        rows = [["phone", "when"], ["5551234567", "03/04/2026"], ["5551234568", "05/06/2026"]]
        d = C.sniff(csv_bytes(rows), True, US)
        self.assertEqual(d.columns[1].date_order, "mdy")
        rows = [["phone", "when"], ["5551234567", "03/24/2026"], ["5551234568", "05/06/2026"]]
        d = C.sniff(csv_bytes(rows), True, FR)
        self.assertEqual(d.columns[1].date_order, "mdy")

    def test_incomplete_sample_ignores_the_cut_line(self):
        """
        The last, possibly cut, line of a sample that is not the whole file
        is ignored.
        """
        data = csv_bytes(HEADER_ROWS, ";") + b"Cut;Li"
        d = C.sniff(data, False, FR)
        self.assertEqual(len(d.rows), 3)
        self.assertEqual(d.notes, ())

    def test_choices_fixed_by_the_operator(self):
        """
        An encoding, delimiter or header choice given is kept, the rest is
        detected with it.
        """
        d = C.sniff(csv_bytes(HEADER_ROWS, ";"), True, FR, has_header=False)
        self.assertFalse(d.has_header)
        self.assertEqual(d.rows[0][0], 1)
        d = C.sniff(csv_bytes(HEADER_ROWS, ";"), True, FR, delimiter=",")
        self.assertEqual(d.delimiter, ",")
        d = C.sniff(csv_bytes(HEADER_ROWS, ";"), True, FR, encoding="latin-1")
        self.assertEqual(d.header[1], "PrÃ©nom")

    def test_not_csv(self):
        """
        Empty files, spreadsheets, UTF-16 and binary files are refused with
        what to do.
        """
        cases = [
            (b"", "empty"),
            (b"  \r\n", "empty"),
            (b"PK\x03\x04rest of a zip", "save it as CSV"),
            (codecs.BOM_UTF16_LE + "a,b\r\n".encode("utf-16-le"), "UTF-16"),
            ("phone\r\n0612345678\r\n".encode("utf-16-le"), "UTF-16"),
            (b"GIF89a" + bytes(range(256)) * 4, "binary"),
        ]
        for data, words in cases:
            with self.subTest(data=data[:10]):
                with self.assertRaises(C.FormatError) as caught:
                    C.sniff(data, True, FR)
                self.assertIn(words, str(caught.exception))

    def test_detected_format_is_usable(self):
        """
        The proposal is a format without problems, and the preview
        validates the sample rows with it.
        """
        d = C.sniff(csv_bytes(HEADER_ROWS, ";"), True, FR)
        self.assertEqual(C.format_problems(d.format()), [])
        preview = C.validate_sample(d.rows, d.format(), FR)
        self.assertEqual([p[3] for p in preview], [[], [], []])
        self.assertEqual(preview[1][2].fields, {
            "nom": "Martin", "prenom": "Anaïs", "montant": 1234, "echeance": "2026-04-15",
            "heure": "09:00:00", "zone": "Europe/Paris"})


class ValueTests(SynchronousTestCase):
    def test_numbers(self):
        """
        Numbers are read with the column's decimal mark, digit groups and
        a currency sign; whole numbers stay integers.
        """
        cases = [("12", ".", 12), ("-12.5", ".", -12.5), ("1,234.50", ".", 1234.5),
                 ("1 234,50", ",", 1234.5), ("1.234,50", ",", 1234.5), ("12,5", ",", 12.5),
                 ("€12.50", ".", 12.5), ("12.50 €", ".", 12.5), ("1'000", ".", 1000),
                 ("1e3", ".", 1000.0), (".5", ".", 0.5), ("  ", ".", None)]
        for text, mark, expected in cases:
            with self.subTest(text=text):
                self.assertEqual(C.parse_number(text, mark), expected)

    def test_bad_numbers(self):
        """
        A cell that is not a number is C{bad_number}, with a hint when the
        other decimal mark would read it.
        """
        for text, mark, words in [("12,5", ".", "with ',' as the decimal mark"),
                                  ("abc", ".", "'abc' is not a number"),
                                  ("1.2.3", ",", "not a number"),
                                  ("nan", ".", "not a number"),
                                  ("1,23,4", ".", "not a number")]:
            with self.subTest(text=text):
                with self.assertRaises(C.ValueProblem) as caught:
                    C.parse_number(text, mark)
                self.assertEqual(caught.exception.code, C.BAD_NUMBER)
                self.assertIn(words, caught.exception.reason)

    def test_dates(self):
        """
        ISO dates and day/month or month/day dates (by the column's order)
        are stored as YYYY-MM-DD; a midnight time after them is allowed.
        """
        cases = [("2026-03-25", "dmy", "2026-03-25"), ("2026/3/5", "mdy", "2026-03-05"),
                 ("25/03/2026", "dmy", "2026-03-25"), ("03/25/2026", "mdy", "2026-03-25"),
                 ("5.3.2026", "dmy", "2026-03-05"), ("05-03-2026", "mdy", "2026-05-03"),
                 ("2026-03-25 00:00:00", "dmy", "2026-03-25"), ("29/02/2028", "dmy", "2028-02-29"),
                 ("", "dmy", None)]
        for text, order, expected in cases:
            with self.subTest(text=text):
                self.assertEqual(C.parse_date(text, order), expected)

    def test_bad_dates(self):
        """
        Impossible or unreadable dates are C{bad_date} with the reason.
        """
        cases = [("31/02/2026", "dmy", "February 2026 has no day 31"),
                 ("29/02/2026", "dmy", "February 2026 has no day 29"),
                 ("03/25/2026", "dmy", "no month 25"),
                 ("13/01/2026", "mdy", "change the column's date order"),
                 ("25/03/26", "dmy", "year with four digits"),
                 ("March 3rd", "dmy", "expected YYYY-MM-DD or DD/MM/YYYY"),
                 ("2026-03-25 14:00", "dmy", "not a date")]
        for text, order, words in cases:
            with self.subTest(text=text):
                with self.assertRaises(C.ValueProblem) as caught:
                    C.parse_date(text, order)
                self.assertEqual(caught.exception.code, C.BAD_DATE)
                self.assertIn(words, caught.exception.reason)

    def test_times(self):
        """
        24-hour, French and 12-hour times are stored as HH:MM:SS.
        """
        cases = [("14:30", "14:30:00"), ("9:05:07", "09:05:07"), ("14h30", "14:30:00"),
                 ("14h", "14:00:00"), ("2:30 pm", "14:30:00"), ("2pm", "14:00:00"),
                 ("12am", "00:00:00"), ("12:15 PM", "12:15:00"), ("7:00 a.m.", "07:00:00"),
                 ("0:00", "00:00:00"), ("", None)]
        for text, expected in cases:
            with self.subTest(text=text):
                self.assertEqual(C.parse_time(text), expected)

    def test_bad_times(self):
        """
        Impossible or unreadable times are C{bad_time}.
        """
        for text, words in [("25:00", "hours 0-23"), ("10:61", "minutes"),
                            ("13pm", "hour is 1 to 12"), ("noon", "expected HH:MM"),
                            ("14", "expected HH:MM")]:
            with self.subTest(text=text):
                with self.assertRaises(C.ValueProblem) as caught:
                    C.parse_time(text)
                self.assertEqual(caught.exception.code, C.BAD_TIME)
                self.assertIn(words, caught.exception.reason)

    def test_timezones(self):
        """
        IANA names are accepted in any case and stored as IANA spells them.
        """
        self.assertEqual(C.parse_timezone(" europe/PARIS "), "Europe/Paris")
        self.assertEqual(C.parse_timezone("UTC"), "UTC")
        self.assertIsNone(C.parse_timezone(""))
        with self.assertRaises(C.ValueProblem) as caught:
            C.parse_timezone("CET+1")
        self.assertEqual(caught.exception.code, C.BAD_TIMEZONE)
        self.assertIn("IANA name", caught.exception.reason)


FORMAT = ImportFormat("utf-8", ",", True, (
    Column("name"), Column("phone", C.PHONE), Column("amount", C.NUMBER),
    Column("due", C.DATE), Column("at", C.TIME), Column("tz", C.TIMEZONE)))


class RowValidatorTests(SynchronousTestCase):
    def setUp(self):
        self.validator = C.RowValidator(FORMAT, FR)

    def test_valid_row(self):
        """
        A valid row gives the normalised phone, the phone as written, the
        typed fields and the time zone.
        """
        row, problems = self.validator.check(
            7, [" Zoé ", " 06 12 34 56 78 ", "12.5", "25/03/2026", "9h", "Europe/Paris"])
        self.assertEqual(problems, [])
        self.assertEqual(row, C.ValidRow(
            7, "33612345678", "06 12 34 56 78",
            {"name": "Zoé", "amount": 12.5, "due": "2026-03-25", "at": "09:00:00",
             "tz": "Europe/Paris"}, "Europe/Paris"))

    def test_empty_optional_cells(self):
        """
        Empty typed cells are null and empty text is ""; only the phone is
        required.
        """
        row, problems = self.validator.check(2, ["", "0612345678", "", "", "", ""])
        self.assertEqual(problems, [])
        self.assertEqual(row.fields, {"name": "", "amount": None, "due": None, "at": None,
                                      "tz": None})
        self.assertIsNone(row.timezone)

    def test_wrong_column_count(self):
        """
        A row with too few or too many values is one C{column_count}
        problem.
        """
        for cells, words in [(["a", "0612345678"], "2 values where the list has 6 columns"),
                             (["a", "0612345678", "1", "", "", "", "x"],
                              "7 values where the list has 6 columns")]:
            with self.subTest(cells=cells):
                row, problems = self.validator.check(3, cells)
                self.assertIsNone(row)
                self.assertEqual(problems, [C.RowProblem(3, None, None, None,
                                                         C.COLUMN_COUNT, words)])

    def test_trailing_empty_cells_allowed(self):
        """
        Empty values after the last column (a spreadsheet's trailing
        delimiters) are ignored.
        """
        row, problems = self.validator.check(3, ["a", "0612345678", "1", "", "", "", "", " "])
        self.assertEqual(problems, [])
        self.assertEqual(row.phone, "33612345678")

    def test_every_problem_of_a_row(self):
        """
        Each bad value of a row is reported with its column, value and
        reason.
        """
        row, problems = self.validator.check(
            9, ["x", "06 12", "1O", "31/02/2026", "25:00", "Mars/Olympus"])
        self.assertIsNone(row)
        self.assertEqual([(p.row_number, p.column_index, p.column_name, p.value, p.reason_code)
                          for p in problems],
                         [(9, 1, "phone", "06 12", C.INVALID_PHONE),
                          (9, 2, "amount", "1O", C.BAD_NUMBER),
                          (9, 3, "due", "31/02/2026", C.BAD_DATE),
                          (9, 4, "at", "25:00", C.BAD_TIME),
                          (9, 5, "tz", "Mars/Olympus", C.BAD_TIMEZONE)])
        self.assertEqual(problems[3].reason,
                         "'25:00' is not a time of day (hours 0-23, minutes and seconds 0-59)")

    def test_repeated_values_same_answer(self):
        """
        A value seen before (remembered) gives the same result, good or bad.
        """
        for _ in range(3):
            row, problems = self.validator.check(2, ["a", "0612345678", "1", "01/01/2026",
                                                     "10:00", "UTC"])
            self.assertEqual(row.fields["due"], "2026-01-01")
            row, problems = self.validator.check(3, ["a", "0612345678", "1", "32/01/2026",
                                                     "10:00", "UTC"])
            self.assertEqual([p.reason_code for p in problems], [C.BAD_DATE])

    def test_hostile_text_kept_verbatim(self):
        """
        Markup and SQL in text cells are data: kept exactly (bar the
        surrounding blanks).
        """
        payloads = ["<script>alert(1)</script>", "'); DROP TABLE contacts; --",
                    "{phone} {{x}} %s %(a)s", "=HYPERLINK(\"http://x\")"]
        for payload in payloads:
            row, problems = self.validator.check(2, [payload, "0612345678", "", "", "", ""])
            self.assertEqual(row.fields["name"], payload)


class FormatTests(SynchronousTestCase):
    def test_valid_format(self):
        """
        A format with one phone column and unique identifier names is
        usable.
        """
        self.assertEqual(C.format_problems(FORMAT), [])
        self.assertEqual(FORMAT.phone_column, 1)
        self.assertEqual(FORMAT.timezone_column, 5)

    def test_problems(self):
        """
        Every problem of a format is listed, in operator language.
        """
        fmt = ImportFormat("utf-16", "|", True, (
            Column("first name"), Column("2nd"), Column("a", C.PHONE), Column("a", C.PHONE),
            Column("z1", C.TIMEZONE), Column("z2", C.TIMEZONE), Column("x", "money"),
            Column("d", C.DATE, date_order="ymd")))
        problems = C.format_problems(fmt)
        for words in ["encoding 'utf-16'", "delimiter '|'",
                      "column 1: column name 'first name' cannot be a placeholder",
                      "column 2: column name '2nd'", "columns 3 and 4 are both named 'a'",
                      "columns 3, 4 are all typed phone", "columns 5, 6 are all typed timezone",
                      "unknown type 'money'", "date order must be dmy or mdy"]:
            with self.subTest(words=words):
                self.assertTrue(any(words in p for p in problems), (words, problems))

    def test_no_phone_column(self):
        """
        A format without a phone column asks for one.
        """
        fmt = ImportFormat("utf-8", ",", False, (Column("a"),))
        self.assertEqual(C.format_problems(fmt),
                         ["choose the column that holds the phone numbers"])

    def test_placeholder_names(self):
        """
        Header cells become identifier names: accents dropped, other
        characters as _, a leading digit prefixed.
        """
        cases = [("Prénom client", "prenom_client"), ("E-mail", "e_mail"),
                 ("  Amount (€) ", "amount"), ("2nd phone", "column_2nd_phone"),
                 ("日本", "column_3"), ("", "column_3"), ("x" * 80, "x" * 63)]
        for text, expected in cases:
            with self.subTest(text=text):
                name = C.placeholder_name(text, "column_3")
                self.assertEqual(name, expected)
                self.assertIsNone(C.name_problem(name))

    def test_unique_names(self):
        """
        Repeated names get _2, _3 suffixes.
        """
        self.assertEqual(C.unique_names(["a", "b", "a", "a", "a_2"]),
                         ["a", "b", "a_2", "a_3", "a_2_2"])

    def test_column_json(self):
        """
        Columns round-trip through the JSON stored in contact_lists.columns.
        """
        for column in FORMAT.columns + (Column("n", C.NUMBER, decimal=","),
                                        Column("d", C.DATE, date_order="mdy")):
            self.assertEqual(Column.from_json(column.as_json()), column)
        self.assertEqual(Column("d", C.DATE).as_json(),
                         {"name": "d", "type": "date", "date_order": "dmy"})


class LifeCycleTests(SynchronousTestCase):
    def test_transitions(self):
        """
        An import may run again until its rows are accepted; ready and
        cancelled are final.
        """
        self.assertTrue(C.can_move(C.UPLOADED, C.IMPORTING))
        self.assertTrue(C.can_move(C.IMPORTED, C.IMPORTING))
        self.assertTrue(C.can_move(C.FAILED, C.IMPORTING))
        self.assertTrue(C.can_move(C.IMPORTED, C.READY))
        self.assertFalse(C.can_move(C.READY, C.IMPORTING))
        self.assertFalse(C.can_move(C.CANCELLED, C.IMPORTING))
        self.assertFalse(C.can_move(C.UPLOADED, C.READY))
        self.assertEqual(C.statuses_leading_to(C.IMPORTING),
                         ("failed", "imported", "uploaded"))

    def test_outcome(self):
        """
        Without rejects an import is ready; with some the operator decides;
        with no row accepted it failed.
        """
        self.assertEqual(C.import_outcome(10, 0), (C.READY, None))
        self.assertEqual(C.import_outcome(10, 2), (C.IMPORTED, None))
        self.assertEqual(C.import_outcome(0, 2),
                         (C.FAILED, "no row could be imported; see the rejected rows"))
        self.assertEqual(C.import_outcome(0, 0),
                         (C.FAILED, "no row could be imported: the file has no data rows"))

    def test_latin1_is_windows_1252(self):
        """
        Latin-1 is read as Windows-1252, with its undefined bytes as
        Latin-1.
        """
        self.assertEqual(C.decode(b"\x80 \x92 \xe9 \x81", "latin-1"), "€ ’ é \x81")
