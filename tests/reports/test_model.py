"""
Tests for the pure parts of L{fts.reports}: the CSV layout, the menu labels,
report assembly from aggregate rows, the JSON form, figures and the text
summary.
"""

from datetime import UTC, datetime

from twisted.trial import unittest

from fts.reports.assemble import (
    RESULT_COLUMNS, assemble, csv_layout, fallback_layout, menu_options,
)
from fts.reports.export import csv_filename, encode_rows
from fts.reports.model import Row, report_from_dict, report_to_dict
from fts.reports.summary import summary_text

AT = datetime(2026, 1, 12, 17, 0, tzinfo=UTC)


def small_report(kind="final", contact_rows=None, call_rows=None, settings=None):
    """
    A report assembled from hand-written aggregate rows: 4 contacts, 3
    dialed, 2 answered (one machine), 5 calls.
    """
    header = {"campaign_id": 3, "name": "Small <one> & co", "state": "finalizing",
              "finish_reason": "expired", "timezone": "Europe/Paris",
              "settings": settings if settings is not None else {
                  "menu": {"options": [{"key": "1", "label": "Yes", "action": "record"}]}},
              "max_attempts": 2, "built_at": AT,
              "layout": csv_layout([{"name": "name"}, {"name": "tel", "type": "phone"}], 1)}
    totals = dict(contacts=4, dialed=3, answered=2, human=1, machine=1, notsure=0, amd_off=0,
                  opted_out=0, pressed_key=1, heard_full_message=2, not_final=0,
                  talk_seconds=50)
    contacts = contact_rows if contact_rows is not None else [
        {"dimension": "total", "value": None, **totals},
        {"dimension": "final_outcome", "value": "reached", "contacts": 2},
        {"dimension": "final_outcome", "value": "busy", "contacts": 1},
        {"dimension": "final_outcome", "value": "not_dialed", "contacts": 1},
        {"dimension": "option", "value": "1", "contacts": 1},
        {"dimension": "option", "value": "7", "contacts": 0},
        {"dimension": "option", "value": None, "contacts": 3},
        {"dimension": "attempts_used", "value": "0", "contacts": 1},
        {"dimension": "attempts_used", "value": "2", "contacts": 3},
    ]
    calls = call_rows if call_rows is not None else [
        {"dimension": "total", "value": None, "outcome": None, "calls": 5, "answered": 2,
         "machine": 1, "talk_seconds": 50},
        {"dimension": "outcome", "value": "answered", "outcome": None, "calls": 2,
         "contacts": 2},
        {"dimension": "outcome", "value": "busy", "outcome": None, "calls": 3, "contacts": 2},
        {"dimension": "attempt", "value": "1", "outcome": "busy", "calls": 3},
        {"dimension": "attempt", "value": "2", "outcome": "answered", "calls": 2},
        {"dimension": "hour", "value": "9", "outcome": "busy", "calls": 3},
        {"dimension": "hour", "value": "9", "outcome": "answered", "calls": 1},
        {"dimension": "hour", "value": "17", "outcome": "answered", "calls": 1},
        {"dimension": "option", "value": "1", "outcome": None, "calls": 1},
        {"dimension": "option", "value": "7", "outcome": None, "calls": 1},
        {"dimension": "amd", "value": "human", "outcome": None, "calls": 1},
        {"dimension": "amd", "value": "machine", "outcome": None, "calls": 1},
    ]
    return assemble(header, contacts, calls, 0, kind)


class LayoutTests(unittest.SynchronousTestCase):

    def test_list_columns_then_results(self):
        """The header is the list's columns in file order, then the result columns."""
        layout = csv_layout([{"name": "first"}, {"name": "Phone", "type": "phone"}], 1)
        self.assertEqual(layout.header, ("first", "Phone") + RESULT_COLUMNS)
        self.assertEqual(layout.phone_column, 1)

    def test_unnamed_and_phone_by_type(self):
        """Unnamed columns are column_N; without phone_column the phone-typed one is used."""
        layout = csv_layout([{"name": ""}, {}, {"name": "tel", "type": "phone"}], None)
        self.assertEqual((layout.list_columns, layout.phone_column),
                         (("column_1", "column_2", "tel"), 2))

    def test_no_phone_column(self):
        """A list without a phone column gets a leading phone column."""
        layout = csv_layout([{"name": "a"}], None)
        self.assertEqual((layout.list_columns, layout.phone_column), (("phone", "a"), 0))

    def test_collision(self):
        """A result column named like a list column is prefixed fts_ until unique."""
        layout = csv_layout([{"name": "keys"}, {"name": "fts_keys"}, {"name": "p"}], 2)
        self.assertEqual(layout.result_columns[3], "fts_fts_keys")
        self.assertEqual(len(set(layout.header)), len(layout.header))

    def test_fallback(self):
        """With no list, the archived field names follow a phone column, sorted."""
        layout = fallback_layout(["zeta", "alpha", "phone"])
        self.assertEqual(layout.list_columns, ("phone", "alpha", "zeta"))

    def test_filename(self):
        """Download names keep ASCII letters and digits of the campaign name."""
        self.assertEqual(csv_filename(7, "Été: rappels / 2026 !", "final"),
                         "campaign-7-t-rappels-2026-final.csv")
        self.assertEqual(csv_filename(7, "***", "live"), "campaign-7-live.csv")

    def test_header_encoding(self):
        """The header row is quoted only where a name needs it."""
        self.assertEqual(encode_rows([("a", "b,c", 'd"e')]), b'a,"b,c","d""e"\r\n')

    def test_formula_cells(self):
        """
        A cell a spreadsheet would run as a formula (=, +, -, @, tab, CR
        first) gets a single quote before it; a number with a sign, such
        as a phone number +15551234, does not.
        """
        self.assertEqual(
            encode_rows([('=HYPERLINK("http://x/","y")', "+15551234", "@A1", "-5",
                          "+1 (555) 010-0200", "-2+3", "\tx", "\rx", "+", None, "")]),
            b'"\'=HYPERLINK(""http://x/"",""y"")",+15551234,\'@A1,-5,+1 (555) 010-0200,'
            b'\'-2+3,\'\tx,"\'\rx",\'+,,\r\n')


class MenuTests(unittest.SynchronousTestCase):

    def test_settings_shape(self):
        """Options are read from menu.options, in keypad order."""
        settings = {"menu": {"options": [{"key": "#", "label": "Back", "action": "hangup"},
                                         {"key": "1", "label": "Yes", "action": "record"},
                                         {"key": "x", "label": "bad"}, "junk"]}}
        self.assertEqual(menu_options(settings),
                         (("1", "Yes", "record"), ("#", "Back", "hangup")))

    def test_keyed_shape_and_junk(self):
        """An options object keyed by key is read too; junk gives no options."""
        self.assertEqual(menu_options({"options": {"2": {"label": "Agent", "action": "dial"}}}),
                         (("2", "Agent", "dial"),))
        self.assertEqual(menu_options(None), ())
        self.assertEqual(menu_options({"menu": "nonsense"}), ())


class AssembleTests(unittest.SynchronousTestCase):

    def test_rows(self):
        """Aggregate rows become labelled rows, zeros filled in, unknown keys flagged."""
        report = small_report()
        self.assertEqual([(r.key, r.contacts) for r in report.final_outcomes if r.contacts],
                         [("reached", 2), ("busy", 1), ("not_dialed", 1)])
        self.assertEqual(list(report.options), [
            Row("1", "Yes", contacts=1, calls=1),
            Row("7", "Key 7 (not in the menu)", contacts=0, calls=1),
        ])
        self.assertEqual([(r.key, r.contacts) for r in report.attempts_used],
                         [("0", 1), ("1", 0), ("2", 3)])
        self.assertEqual([(r.key, r.calls, r.answered) for r in report.attempts],
                         [(1, 3, 0), (2, 2, 2)])
        self.assertEqual((report.hours[9].calls, report.hours[9].answered,
                          report.hours[9].outcomes), (4, 1, (("answered", 1), ("busy", 3))))
        self.assertEqual(report.hours[17].label, "17:00-17:59")
        self.assertEqual(len(report.hours), 24)
        self.assertEqual([(r.key, r.contacts, r.calls) for r in report.amd],
                         [("human", 1, 1), ("machine", 1, 1), ("notsure", 0, 0),
                          ("off", 0, 0)])

    def test_empty_campaign(self):
        """A campaign with no contact and no call gives zeros and no rates."""
        report = small_report(contact_rows=[], call_rows=[])
        self.assertEqual((report.contacts.contacts, report.calls.calls), (0, 0))
        self.assertIsNone(report.answer_rate)
        figures = {f.key: f for f in report.figures()}
        self.assertEqual((figures["answer_rate"].value, figures["answer_rate"].text()),
                         (None, "-"))
        self.assertEqual(len(report.attempts), 2)  # max_attempts

    def test_json_round_trip(self):
        """The JSON form reads back equal and carries the headline figures."""
        report = small_report()
        data = report_to_dict(report)
        self.assertEqual(data["format"], 1)
        self.assertEqual(data["built_at"], "2026-01-12T17:00:00+00:00")
        self.assertIn({"key": "answer_rate", "unit": "percent", "value": 66.7,
                       "label": "Answer rate (contacts answered / contacts dialed)"},
                      data["figures"])
        self.assertEqual(report_from_dict(data), report)

    def test_json_other_format(self):
        """Data of another format version is refused with a clear error."""
        data = report_to_dict(small_report())
        data["format"] = 99
        self.assertRaises(ValueError, report_from_dict, data)
        self.assertRaises(ValueError, report_from_dict, {"format": 1})


class SummaryTests(unittest.SynchronousTestCase):

    def test_text(self):
        """The summary says the campaign, the report kind and labelled numbers."""
        text = summary_text(small_report())
        self.assertTrue(text.startswith(
            'Campaign "Small <one> & co" (id 3): finished (expired), finalized.\n'
            "Final report, numbers as of 2026-01-12 18:00 (Europe/Paris).\n\nSummary\n"), text)
        self.assertIn("  Answer rate (contacts answered / contacts dialed)           66.7 %\n",
                      text)
        self.assertIn("  Average talk time per contact answered                      25.0 s\n",
                      text)
        self.assertIn("Unanswered calls per reason (calls / contacts)\n  Busy  3 / 2\n", text)
        self.assertIn("  7: Key 7 (not in the menu)  0 / 1\n", text)

    def test_live_text(self):
        """A live report says it is not final and lists contacts not final yet."""
        text = summary_text(small_report(kind="live"))
        self.assertIn("(id 3): finalizing (expired).\nLive report (the campaign is not"
                      " finalized yet)", text)
        self.assertIn("  Contacts not final yet ", text)
