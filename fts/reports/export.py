"""
The CSV export of a campaign, streamed: one row per contact, the list's own
columns (by their real names, the phone column holding the number as
uploaded) then the result columns of L{fts.reports.assemble.RESULT_COLUMNS}.

Format (RFC 4180): UTF-8 without BOM, comma-separated, CRLF line ends.
The free-text columns (the list's own columns, the phone as uploaded, the
DNC list name) are always enclosed in double quotes, with their double
quotes doubled; the result columns (numbers, outcomes, keys, timestamps)
never need quoting and are written bare; the header is quoted only where a
name needs it.  Rows are in contact id order, which is the order of the
uploaded file.

The export reads pages of contacts (id ranges, formatted into CSV text by
PostgreSQL: L{fts.db.reports.ReportStore.csv_page}), two at once by
default, and writes them in order.  It is an L{IPushProducer}: a consumer
that pauses it (a slow HTTP client) stops the reading until it resumes, so
at most C{concurrency} + 1 pages are ever held in memory.

Consumers: a C{twisted.web} request (the panel and API download), a
L{FileTarget}, or a L{BytesTarget} (e-mail attachments, bounded).

Formula injection: cells a spreadsheet would run as formulas get a single
quote before them, by the one rule of L{fts.core.spreadsheet}: through
L{neutralise} for the header and every cell of the calls CSV of
L{fts.web.pages.campaign_calls}, and L{neutralise_sql} for the free-text
columns PostgreSQL formats (L{fts.db.reports}); the bare columns (digits,
outcomes, keys, timestamps) can never start a formula.
"""

import csv
import io
import os
from collections import deque

import attr
from twisted.internet import defer
from twisted.internet.interfaces import IConsumer, IPushProducer
from zope.interface import implementer

from fts.core.spreadsheet import PLAIN_NUMBER, neutralise

class ExportStopped(Exception):
    """
    The consumer stopped the export (the client went away, a size limit).
    """


class ExportTooLarge(ExportStopped):
    """
    The export grew past a L{BytesTarget}'s limit.
    """


@attr.frozen
class ExportResult:
    """
    What an export wrote: data rows (the header excluded) and bytes.
    """

    rows: int
    bytes: int


def neutralise_sql(expression):
    """
    The SQL text expression of L{neutralise} applied to C{expression}
    (text, not NULL): the cheap first-character test first, the regular
    expression only for the rare values it lets through.
    """
    return (f"CASE WHEN left({expression}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r')"
            f" AND {expression} !~ '{PLAIN_NUMBER}'"
            f" THEN '''' || {expression} ELSE {expression} END")


def encode_rows(rows):
    """
    CSV bytes of C{rows} (sequences of text or L{None}), CRLF-terminated,
    every value passed through L{neutralise}.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [neutralise(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def csv_filename(campaign_id, campaign_name, kind):
    """
    The download name: C{campaign-7-spring-reminders-final.csv} (ASCII
    letters, digits and dashes from the name, at most 40 of them).
    """
    slug = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in campaign_name)
    slug = "-".join(part for part in slug.split("-") if part)[:40].strip("-")
    return f"campaign-{campaign_id}{'-' + slug if slug else ''}-{kind}.csv"


@implementer(IPushProducer)
class CsvExport:
    """
    One export of one campaign into one consumer.

    Pages are id ranges: the store finds each range's upper bound with a
    cheap index query, then up to C{concurrency} pages are read at once
    (each on its own pooled connection, so PostgreSQL formats them on as
    many cores) and written in order.

    @param reports: the L{fts.db.reports.ReportStore} (or anything with its
        C{csv_plan}, C{csv_boundary} and C{csv_page}).
    @param page_size: contacts per page (default: the store's).
    @param concurrency: pages read at once (at most that many pooled
        connections are used, plus one for the page bounds).
    """

    def __init__(self, reports, campaign_id, consumer, page_size=None, concurrency=2):
        self.reports = reports
        self.campaign_id = campaign_id
        self.consumer = consumer
        self.page_size = page_size
        self.concurrency = max(concurrency, 1)
        self.rows = 0
        self.bytes = 0
        self._paused = False
        self._resumed = None
        self._stopped = False

    # IPushProducer
    def pauseProducing(self):
        self._paused = True

    def resumeProducing(self):
        self._paused = False
        waiting, self._resumed = self._resumed, None
        if waiting is not None:
            waiting.callback(None)

    def stopProducing(self):
        self._stopped = True
        waiting, self._resumed = self._resumed, None
        if waiting is not None:
            waiting.errback(ExportStopped(f"export of campaign {self.campaign_id} stopped"))

    def _write(self, data):
        self.consumer.write(data)
        self.bytes += len(data)

    def _check_stopped(self):
        if self._stopped:
            raise ExportStopped(f"export of campaign {self.campaign_id} stopped")

    def _boundary(self, plan, after):
        if self.page_size is None:
            return self.reports.csv_boundary(plan, after)
        return self.reports.csv_boundary(plan, after, self.page_size)

    @defer.inlineCallbacks
    def start(self):
        """
        Write the whole CSV into the consumer (which is left open).

        @return: a Deferred firing with an L{ExportResult}, or failing with
            L{ExportStopped} if the consumer stopped it.
        """
        plan = yield self.reports.csv_plan(self.campaign_id)
        self.consumer.registerProducer(self, True)
        pages = deque()  # Deferreds of the pages being read, in order
        after, last_range = 0, False
        try:
            self._write(encode_rows([plan.layout.header]))
            self._check_stopped()
            while True:
                while not last_range and len(pages) < self.concurrency:
                    upto = yield self._boundary(plan, after)
                    pages.append(self.reports.csv_page(plan, after, upto))
                    last_range, after = upto is None, upto
                if not pages:
                    break
                page = yield pages.popleft()
                self._check_stopped()
                self._write(page.text.encode("utf-8"))
                self.rows += page.rows
                self._check_stopped()
                if self._paused:
                    self._resumed = defer.Deferred()
                    yield self._resumed
        finally:
            for pending in pages:  # an error left pages being read
                pending.addErrback(lambda failure: None)
            self.consumer.unregisterProducer()
        return ExportResult(rows=self.rows, bytes=self.bytes)


def export_csv(reports, campaign_id, consumer, page_size=None, concurrency=2):
    """
    Stream the CSV of a campaign into C{consumer} (an L{IConsumer}, e.g. a
    C{twisted.web} request; it is not finished or closed here).

    @return: a Deferred firing with an L{ExportResult}.
    """
    return CsvExport(reports, campaign_id, consumer, page_size, concurrency).start()


@implementer(IConsumer)
class FileTarget:
    """
    A consumer writing into an open binary file.  Writes are synchronous:
    fine for a local disk (a page is about a megabyte).
    """

    def __init__(self, file):
        self.file = file

    def registerProducer(self, producer, streaming):
        pass

    def unregisterProducer(self):
        pass

    def write(self, data):
        self.file.write(data)


@implementer(IConsumer)
class BytesTarget:
    """
    A consumer collecting the bytes in memory, up to C{limit} bytes (then
    it stops the producer; the export fails with L{ExportTooLarge}).
    """

    def __init__(self, limit=None):
        self.limit = limit
        self.chunks = []
        self.size = 0
        self.producer = None
        self.exceeded = False

    def registerProducer(self, producer, streaming):
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None

    def write(self, data):
        if self.exceeded:
            return
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            self.exceeded = True
            self.chunks = []
            if self.producer is not None:
                self.producer.stopProducing()
            return
        self.chunks.append(data)

    def value(self):
        return b"".join(self.chunks)


@defer.inlineCallbacks
def export_csv_bytes(reports, campaign_id, limit=None, page_size=None):
    """
    The CSV of a campaign as bytes, or fail with L{ExportTooLarge} once it
    passes C{limit} bytes.

    @return: a Deferred firing with C{(bytes, ExportResult)}.
    """
    target = BytesTarget(limit)
    try:
        result = yield export_csv(reports, campaign_id, target, page_size)
    except ExportStopped:
        if target.exceeded:
            raise ExportTooLarge(
                f"the CSV of campaign {campaign_id} is larger than {limit} bytes") from None
        raise
    return target.value(), result


@defer.inlineCallbacks
def export_csv_file(reports, campaign_id, path, page_size=None):
    """
    Write the CSV of a campaign to C{path} atomically: into C{path}.partial,
    then renamed over C{path} once complete (a failed export leaves no
    file).

    @return: a Deferred firing with an L{ExportResult}.
    """
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as file:
            result = yield export_csv(reports, campaign_id, FileTarget(file), page_size)
        os.replace(partial, path)
    except BaseException:
        try:
            os.unlink(partial)
        except FileNotFoundError:
            pass
        raise
    return result
