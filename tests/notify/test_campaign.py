"""
Tests for L{fts.notify.campaign.CampaignNotifier}: the finished and
finalized e-mails of the report fixture's campaign, received by a real SMTP
server on loopback, and the job steps chained in the job runner.
"""

import email
import email.policy

from twisted.internet import defer, reactor, task
from twisted.logger import capturedLogs
from twisted.trial import unittest

from fts.db.reports import ReportStore
from fts.jobs.job import Job
from fts.jobs.runner import JobRunner
from fts.notify.campaign import CampaignNotifier, FinalReportMissing, campaign_id_of
from fts.notify.mailer import Mailer
from tests.notify.smtpserver import SMTPServer
from tests.notify.test_mailer import settings
from tests.reports import fixture
from tests.support.db import DatabaseTestCase


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


class CampaignNotifierTests(DatabaseTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        yield self.pool.runOperation(fixture.setup_sql())
        [(self.campaign,)] = yield self.pool.runQuery(
            "SELECT id FROM campaigns WHERE name = 'Payment reminders'")
        self.reports = ReportStore(self.pool)
        self.server = yield SMTPServer(reactor).start()
        self.addCleanup(self.server.stop)
        self.clock = task.Clock()
        self.clock.advance(1768239000)  # 2026-01-12 17:30:00 UTC

    def notifier(self, mail=None, **kwargs):
        mailer = Mailer(reactor, mail or settings(), endpoint=self.server.client_endpoint(),
                        tls_options=self.server.client_tls(), timeout=10)
        return CampaignNotifier(self.reports, mailer, self.clock,
                                base_url="https://fts.example.org/", **kwargs)

    def received(self):
        messages = self.server.inbox.messages
        self.assertEqual(len(messages), 2)  # one copy per recipient
        self.assertEqual(messages[0], messages[1])
        return parse(messages[0])

    @defer.inlineCallbacks
    def test_finalized_mail(self):
        """The finalized e-mail carries the final report summary and the final CSV."""
        yield self.pool.runOperation(fixture.archive_sql())
        yield self.reports.build_final(self.campaign)
        result = yield self.notifier().notify_finalized(self.campaign)
        self.assertEqual(result, {
            "campaign_id": self.campaign, "sent": True,
            "recipients": ["ops@example.org", "boss@example.org"], "csv_rows": 12,
            "csv_attached": True})
        message = self.received()
        self.assertEqual(
            (message["From"], message["To"], message["Subject"], message["Date"]),
            ("fts@example.org", "ops@example.org, boss@example.org",
             'FTS: final report of campaign "Payment reminders"',
             "Mon, 12 Jan 2026 17:30:00 +0000"))
        self.assertTrue(self.server.sessions[0].startedTLS)
        self.assertTrue(self.server.sessions[0].authenticated)
        text = message.get_body(("plain",)).get_content()
        self.assertTrue(text.startswith(
            'Campaign "Payment reminders" is finalized: its final report follows.\n'
            f"Panel: https://fts.example.org/campaigns/{self.campaign}\n"
            "Attached: the CSV export (12 contacts, one row each).\n\n"
            f'Campaign "Payment reminders" (id {self.campaign}): finished (completed),'
            " finalized.\n"
            "Final report, numbers as of "), text)
        for line in [
            "  Contacts in the campaign                                    12",
            "  Contacts answered                                           7",
            "  Calls (counted attempts)                                    16",
            "  Answer rate (contacts answered / contacts dialed)           70.0 %",
            "  Average talk time per contact answered                      35.3 s",
            "  Reached (answered)              6",
            "  1: Confirm payment   3 / 3",
            "  Busy            3 / 2",
            "  opt-outs  1",
        ]:
            self.assertIn(line + "\n", text)
        [attachment] = message.iter_attachments()
        self.assertEqual(attachment.get_filename(),
                         f"campaign-{self.campaign}-payment-reminders-final.csv")
        self.assertEqual(attachment.get_content_type(), "text/csv")
        self.assertEqual(attachment.get_payload(decode=True), fixture.EXPECTED_CSV)

    @defer.inlineCallbacks
    def test_finished_mail(self):
        """The finished e-mail carries the live report and the CSV as it stands."""
        result = yield self.notifier().notify_finished({"campaign_id": self.campaign})
        self.assertTrue(result["sent"])
        message = self.received()
        self.assertEqual(message["Subject"],
                         'FTS: campaign "Payment reminders" finished (completed)')
        text = message.get_body(("plain",)).get_content()
        self.assertIn("Live report (the campaign is not finalized yet)", text)
        self.assertIn("  Contacts not final yet", text)
        [attachment] = message.iter_attachments()
        self.assertEqual(attachment.get_filename(),
                         f"campaign-{self.campaign}-payment-reminders-live.csv")
        self.assertEqual(attachment.get_payload(decode=True), fixture.EXPECTED_CSV)

    @defer.inlineCallbacks
    def test_csv_too_large_not_attached(self):
        """A CSV over the attachment limit is left out and the message says so."""
        result = yield self.notifier(attachment_limit=500).notify_finished(self.campaign)
        self.assertEqual((result["csv_attached"], result["csv_rows"]), (False, None))
        message = self.received()
        self.assertEqual(list(message.iter_attachments()), [])
        self.assertIn("is not attached; download it from the panel.",
                      message.get_body(("plain",)).get_content())

    @defer.inlineCallbacks
    def test_finalized_without_report_fails(self):
        """notify_finalized fails (to be retried) while no final report exists."""
        yield self.assertFailure(self.notifier().notify_finalized(self.campaign),
                                 FinalReportMissing)
        self.assertEqual(self.server.inbox.messages, [])

    @defer.inlineCallbacks
    def test_no_smtp_host(self):
        """With no smtp_host the steps log why and succeed without sending."""
        with capturedLogs() as events:
            result = yield self.notifier(settings(smtp_host=None)).notify_finished(
                self.campaign)
        self.assertEqual(result, {"campaign_id": self.campaign, "sent": False,
                                  "reason": "[mail] smtp_host is empty (e-mail is off)"})
        self.assertEqual(
            [e["log_format"].format(**e) for e in events if "e-mailing" in e["log_format"]],
            [f"not e-mailing that campaign {self.campaign} was finished:"
             " [mail] smtp_host is empty (e-mail is off)"])
        self.assertEqual(self.server.sessions, [])

    @defer.inlineCallbacks
    def test_no_recipients(self):
        """With no recipients the steps succeed without sending."""
        result = yield self.notifier(settings(recipients=())).notify_finalized(self.campaign)
        self.assertEqual(result["reason"], "[mail] recipients is empty")
        self.assertEqual(self.server.sessions, [])

    @defer.inlineCallbacks
    def test_chained_in_job_runner(self):
        """build_final -> notify_finalized chains in the job runner, failures retried."""
        yield self.pool.runOperation(fixture.archive_sql())
        notifier = self.notifier()
        calls = []

        def flaky(snapshot):
            calls.append(snapshot)
            if len(calls) == 1:
                raise RuntimeError("SMTP away")
            return notifier.notify_finalized(snapshot)

        runner = JobRunner(reactor)
        runner.startService()
        self.addCleanup(runner.stopService)
        runner.add(Job("report-and-notify",
                       [lambda _: self.reports.build_final(self.campaign), flaky],
                       retries=2, retry_delay=0.01))
        record = yield runner.run_now("report-and-notify")
        self.flushLoggedErrors(RuntimeError)
        self.assertEqual((record.outcome, record.attempts), ("success", 2))
        self.assertEqual(record.result["csv_rows"], 12)
        self.assertEqual(len(self.server.inbox.messages), 2)


class CampaignIdTests(unittest.SynchronousTestCase):

    def test_inputs(self):
        """A step finds the campaign id in an int, a dict, or an object's attribute."""

        class Snapshot:
            campaign_id = 7

        self.assertEqual([campaign_id_of(7), campaign_id_of({"campaign_id": 7}),
                          campaign_id_of(Snapshot())], [7, 7, 7])
        self.assertRaises(ValueError, campaign_id_of, None)
        self.assertRaises(ValueError, campaign_id_of, True)
