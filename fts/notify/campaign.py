"""
The campaign e-mails, as job steps:

  - C{notify_finished(campaign_id)}: the campaign finished (completed,
    expired or cancelled); the live report (or the final one, if the
    campaign was finalized meanwhile) and the CSV as it stands;
  - C{notify_finalized(campaign_id)}: the final report and the final CSV.

Each step takes the campaign id, or the previous step's result when chained
(anything with a C{campaign_id} attribute or key, such as a
L{ReportSnapshot} or another notify step's result), and returns a dict for
the job's record that carries C{campaign_id} on, so steps chain.

With no C{[mail] smtp_host} (or no recipients) a step logs one line saying
so and succeeds without sending.  Any other problem (database, SMTP) fails
the step, and the job runner retries it.

The CSV is attached when it is at most C{attachment_limit} bytes; a larger
one is not attached and the message says where to download it.
"""

from datetime import UTC, datetime

from twisted.internet import defer
from twisted.logger import Logger

from fts.notify.message import Attachment, build_message
from fts.reports.export import ExportTooLarge, csv_filename, export_csv_bytes
from fts.reports.model import FINAL
from fts.reports.summary import summary_text

log = Logger()

#: Largest CSV attached to an e-mail (bytes); mail servers commonly refuse
#: messages over 10-25 MB, and base64 adds a third.
ATTACHMENT_LIMIT = 10 * 1024 * 1024


class FinalReportMissing(Exception):
    """
    notify_finalized ran before the campaign's final report was built.
    """


def campaign_id_of(value):
    """
    The campaign id in a step's input: an int, or something with a
    C{campaign_id} attribute or key.

    @raise ValueError: no campaign id in it.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict) and isinstance(value.get("campaign_id"), int):
        return value["campaign_id"]
    found = getattr(value, "campaign_id", None)
    if isinstance(found, int):
        return found
    raise ValueError(f"no campaign id in the step input {value!r}")


class CampaignNotifier:
    """
    @param reports: the L{fts.db.reports.ReportStore}.
    @param mailer: a L{fts.notify.mailer.Mailer}.
    @param clock: for the C{Date} header (an C{IReactorTime}).
    @param base_url: the panel's public URL (C{[web] base_url}), for links.
    """

    def __init__(self, reports, mailer, clock, base_url=None,
                 attachment_limit=ATTACHMENT_LIMIT):
        self.reports = reports
        self.mailer = mailer
        self.clock = clock
        self.base_url = (base_url or "").rstrip("/") or None
        self.attachment_limit = attachment_limit

    def notify_finished(self, campaign):
        """
        E-mail that a campaign finished.  A job step.
        """
        return self._notify(campaign_id_of(campaign), "finished")

    def notify_finalized(self, campaign):
        """
        E-mail the final report of a campaign.  A job step.
        """
        return self._notify(campaign_id_of(campaign), "finalized")

    def _skip(self, campaign_id, event, reason):
        log.info("not e-mailing that campaign {campaign} was {event}: {reason}",
                 campaign=campaign_id, event=event, reason=reason)
        return {"campaign_id": campaign_id, "sent": False, "reason": reason}

    @defer.inlineCallbacks
    def _notify(self, campaign_id, event):
        if not self.mailer.configured:
            return self._skip(campaign_id, event,
                              "[mail] smtp_host is empty (e-mail is off)")
        recipients = self.mailer.recipients
        if not recipients:
            return self._skip(campaign_id, event, "[mail] recipients is empty")
        if event == "finalized":
            snapshot = yield self.reports.snapshot(campaign_id, FINAL)
            if snapshot is None:
                raise FinalReportMissing(
                    f"campaign {campaign_id} has no final report yet")
            report = snapshot.report
        else:
            report = yield self.reports.current(campaign_id)
        attachments, note, rows = [], None, None
        try:
            data, exported = yield export_csv_bytes(self.reports, campaign_id,
                                                    limit=self.attachment_limit)
        except ExportTooLarge:
            note = (f"The CSV export is larger than {self.attachment_limit // (1024 * 1024)}"
                    " MB, so it is not attached; download it from the panel.")
        else:
            rows = exported.rows
            attachments.append(Attachment(
                csv_filename(campaign_id, report.campaign_name, report.kind), data,
                "text/csv"))
        message = build_message(
            self.mailer.settings.sender, recipients, self._subject(report, event),
            self._body(report, event, note, rows), attachments, self._now())
        yield self.mailer.send(message, recipients)
        log.info("e-mailed that campaign {campaign} ({name}) was {event} to {recipients}"
                 " ({attached})", campaign=campaign_id, name=report.campaign_name,
                 event=event, recipients=", ".join(recipients),
                 attached=f"CSV of {rows} contacts attached" if attachments
                 else "CSV not attached")
        return {"campaign_id": campaign_id, "sent": True, "recipients": list(recipients),
                "csv_rows": rows, "csv_attached": bool(attachments)}

    def _now(self):
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    def _subject(self, report, event):
        name = report.campaign_name
        if event == "finalized":
            return f'FTS: final report of campaign "{name}"'
        reason = f" ({report.finish_reason})" if report.finish_reason else ""
        return f'FTS: campaign "{name}" finished{reason}'

    def _body(self, report, event, note, rows):
        lines = []
        if event == "finalized":
            lines.append(f'Campaign "{report.campaign_name}" is finalized: its final'
                         " report follows.")
        else:
            lines.append(f'Campaign "{report.campaign_name}" has finished; it will be'
                         " finalized once no call is in flight.")
        if self.base_url:
            lines.append(f"Panel: {self.base_url}/campaigns/{report.campaign_id}")
        if note:
            lines.append(note)
        elif rows is not None:
            lines.append(f"Attached: the CSV export ({rows} contacts, one row each).")
        return "\n".join(lines) + "\n\n" + summary_text(report)
