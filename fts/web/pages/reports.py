"""
Reports: the list of campaigns with a report (live ones while they run,
final ones with their snapshot's numbers), one campaign's report with its
SVG charts and every breakdown as a table, the CSV export (one row per
contact, streamed) and the plain-text summary.

A campaign that is running, paused, finished or finalizing has a live
report (computed from its working rows when the page is opened); a
finalized one has its final snapshot, which outlives the purge.  Drafts,
scheduled campaigns and templates have none.  Every route is read-only and
open to viewers; the files are served only through these authenticated
routes, named by FTS (never by the request).
"""

from markupsafe import Markup
from twisted.internet.error import ConnectionDone
from twisted.logger import Logger

from fts.db.report_index import LIVE_STATES, ReportIndex
from fts.db.reports import UnknownCampaign
from fts.reports.charts import report_charts
from fts.reports.export import CsvExport, ExportStopped, csv_filename
from fts.reports.model import FINAL, LIVE
from fts.reports.summary import summary_text
from fts.web import downloads
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.pages import pending
from fts.web.routes import RouteTable

log = Logger()
routes = RouteTable()
PER_PAGE = 25
LIVE_LIMIT = 100


class ReportUnavailable(Exception):
    """
    No report can be shown: C{status} (404, 409) and the reason in words.
    """

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def report_index(web):
    """
    The L{ReportIndex} of the panel's database.
    """
    return getattr(web.store, "report_index", None) or ReportIndex(web.store.pool)


async def campaign_of(web, campaign_id):
    """
    The L{fts.db.report_index.CampaignRef} of a campaign that has a report.

    @raise ReportUnavailable: no such campaign, a template, or one that
        has no report (yet, or any more).
    """
    ref = await report_index(web).campaign(campaign_id)
    if ref is None:
        raise ReportUnavailable(404, "There is no such campaign.")
    if ref.is_template:
        raise ReportUnavailable(404, "A template has no report: it is never dialed.")
    if ref.final_built_at is None and ref.state not in LIVE_STATES:
        if ref.state == "finalized":
            raise ReportUnavailable(409, "This campaign is finalized but its final report"
                                         " is missing.")
        raise ReportUnavailable(409, f"A {ref.state} campaign has no report yet: its report"
                                     " starts when it runs.")
    return ref


async def campaign_report(web, campaign_id):
    """
    C{(ref, report)}: the final report of a finalized campaign, else the
    live one.

    @raise ReportUnavailable: see L{campaign_of}.
    """
    ref = await campaign_of(web, campaign_id)
    reports = web.store.reports
    if ref.final_built_at is not None:
        snapshot = await reports.snapshot(campaign_id, FINAL)
        if snapshot is not None:
            return ref, snapshot.report
    try:
        report = await reports.live(campaign_id)
    except UnknownCampaign:
        raise ReportUnavailable(404, "There is no such campaign.")
    return ref, report


def file_name(ref, extension):
    """
    The download name of a campaign's report file (ASCII, from FTS).
    """
    kind = FINAL if ref.final_built_at is not None else LIVE
    return csv_filename(ref.id, ref.name, kind)[:-len(".csv")] + extension


async def stream_csv(web, request, ref):
    """
    Answer C{request} with the CSV export of campaign C{ref}, streamed
    page by page (the export pauses while the client is slower than the
    database, and stops when it goes away).
    """
    downloads.attachment(request, b"text/csv; charset=utf-8", file_name(ref, ".csv"))
    export = CsvExport(web.store.reports, ref.id, request)
    request.notifyFinish().addErrback(lambda _: export.stopProducing())
    try:
        await export.start()
    except (ExportStopped, ConnectionDone):
        return b""
    except Exception:
        # Part of the file may be sent: cut the connection so the browser
        # reports a failed download instead of keeping a truncated file.
        log.failure("exporting the CSV of campaign {campaign}", campaign=ref.id)
        transport = getattr(getattr(request, "channel", None), "transport", None)
        if transport is not None:
            transport.abortConnection()
    return b""


def send_summary(request, ref, report):
    """
    Answer C{request} with the plain-text summary as a download.
    """
    downloads.attachment(request, b"text/plain; charset=utf-8", file_name(ref, ".txt"))
    return summary_text(report).encode("utf-8")


def outcome_text(row, labels):
    """
    A series row's split by attempt outcome in words: C{"Answered 6, Busy 2"}.
    """
    return ", ".join(f"{labels.get(key, key)} {calls}" for key, calls in row.outcomes)


def page_context(ref, report):
    """
    What C{report.html} shows: the report, its charts (SVG built by
    L{report_charts}, every label escaped there) and the outcome labels.
    """
    charts = {name: Markup(svg) for name, svg in report_charts(report).items()}
    labels = {row.key: row.label for row in report.call_outcomes}
    return {"ref": ref, "report": report, "charts": charts, "labels": labels,
            "outcome_text": outcome_text, "is_final": report.kind == FINAL}


async def _show(web, request, caller, campaign_id, respond):
    if web.store is None:
        return await pending.show(web, request, caller, "reports")
    try:
        ref, report = await campaign_report(web, campaign_id)
    except ReportUnavailable as e:
        return web.error_page(request, caller, e.status, e.message)
    return respond(ref, report)


@routes.route("/reports")
@page()
async def reports_page(web, request, caller):
    if web.store is None:
        return await pending.show(web, request, caller, "reports")
    form = Form(request)
    number = form.integer("page", "Page", low=1, high=100000, required=False) or 1
    index = report_index(web)
    live = await index.list("live", limit=LIVE_LIMIT)
    live_total = await index.count("live")
    total = await index.count("final")
    final = await index.list("final", limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    return web.render(request, caller, "reports.html", section="reports", live=live,
                      live_total=live_total, final=final, total=total, page=number,
                      pages=max(1, -(-total // PER_PAGE)), errors=form.errors)


@routes.route("/campaigns/<int:campaign_id>/report")
@page()
async def report_page(web, request, caller, campaign_id):
    return await _show(web, request, caller, campaign_id, lambda ref, report: web.render(
        request, caller, "report.html", section="reports", **page_context(ref, report)))


@routes.route("/campaigns/<int:campaign_id>/report.txt")
@page()
async def report_summary(web, request, caller, campaign_id):
    return await _show(web, request, caller, campaign_id,
                       lambda ref, report: send_summary(request, ref, report))


@routes.route("/campaigns/<int:campaign_id>/report.csv")
@page()
async def report_csv(web, request, caller, campaign_id):
    if web.store is None:
        return await pending.show(web, request, caller, "reports")
    try:
        ref = await campaign_of(web, campaign_id)
    except ReportUnavailable as e:
        return web.error_page(request, caller, e.status, e.message)
    return await stream_csv(web, request, ref)
