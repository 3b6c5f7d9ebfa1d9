"""
API: campaign reports (JSON, CSV streamed, plain-text summary) and
recycling.

A report is the final snapshot of a finalized campaign, else the live
report of a running, paused, finished or finalizing one; other campaigns
have none (409).  Recycling takes a finalized campaign's contacts whose
outcomes are chosen into a new draft; C{dry_run} only counts them.
"""

from fts.core.recycling import RecycleChoice
from fts.reports.model import report_to_dict
from fts.web import security
from fts.web.api.framework import API, ApiError, Download, Field, Reply, invalid
from fts.web.pages import recycling, reports
from fts.web.pages.campaigns import campaign_store, summary

CAMPAIGN_ID = Field("campaign_id", "integer", required=True)
TAGS = ["reports"]


def _need_store(web, campaigns=False):
    if web.store is None or (campaigns and campaign_store(web) is None):
        raise ApiError(503, "unavailable", "Reports are not available in this daemon yet.")


async def _report(web, campaign_id):
    _need_store(web)
    try:
        return await reports.campaign_report(web, campaign_id)
    except reports.ReportUnavailable as e:
        raise ApiError(e.status, "not_found" if e.status == 404 else "conflict", e.message)


@API.endpoint("GET", "/campaigns/{campaign_id}/report", "The campaign's report",
              role=security.VIEWER, params=[CAMPAIGN_ID], tags=TAGS,
              description="The final report of a finalized campaign, else the live report"
                          " (kind says which). Counts labelled contacts are distinct"
                          " contacts; calls are counted attempts. 409 for a campaign that"
                          " has no report (draft, scheduled).")
async def get_report(web, request, caller, campaign_id):
    ref, report = await _report(web, campaign_id)
    return report_to_dict(report)


@API.endpoint("GET", "/campaigns/{campaign_id}/report.csv",
              "The campaign's report as CSV, one row per contact", role=security.VIEWER,
              params=[CAMPAIGN_ID], tags=TAGS, produces="text/csv",
              description="The list's own columns by their real names, then the result"
                          " columns. Streamed.")
async def get_report_csv(web, request, caller, campaign_id):
    _need_store(web)
    try:
        ref = await reports.campaign_of(web, campaign_id)
    except reports.ReportUnavailable as e:
        raise ApiError(e.status, "not_found" if e.status == 404 else "conflict", e.message)
    return Download(lambda request: reports.stream_csv(web, request, ref))


@API.endpoint("GET", "/campaigns/{campaign_id}/report.txt",
              "The campaign's report summary as plain text", role=security.VIEWER,
              params=[CAMPAIGN_ID], tags=TAGS, produces="text/plain")
async def get_report_text(web, request, caller, campaign_id):
    ref, report = await _report(web, campaign_id)

    async def send(request):
        return reports.send_summary(request, ref, report)

    return Download(send)


@API.endpoint("POST", "/campaigns/{campaign_id}/recycle",
              "Recycle a finalized campaign's contacts into a new draft",
              role=security.OPERATOR, params=[CAMPAIGN_ID], status=201, tags=TAGS,
              body=[Field("choices", "array", items="string",
                          description="Final outcomes to take: "
                                      + ", ".join(c.value for c in RecycleChoice) + "."),
                    Field("keys", "array", items="string",
                          description="Take contacts who pressed any of these keys"
                                      " (0-9, * and #)."),
                    Field("name", "string", max_length=recycling.NAME_LIMIT,
                          description="The new campaign's name (default: the source's"
                                      " name and \"(recycled)\")."),
                    Field("dry_run", "boolean",
                          description="Only count the contacts that would be taken.")],
              description="Answers 201 with the new draft and the number of contacts"
                          " taken; with dry_run, 200 with the count only. 409 when the"
                          " campaign is not finalized, 422 when the choice is invalid or"
                          " matches no contact.")
async def recycle_campaign(web, request, caller, campaign_id, body):
    _need_store(web, campaigns=True)
    choices, keys = body.get("choices", []), body.get("keys", [])
    problems = [(name, "must be a list of text") for name, values in
                (("choices", choices), ("keys", keys))
                if not all(isinstance(v, str) for v in values)]
    name = body.get("name", "").strip()
    if "name" in body and not name:
        problems.append(("name", "must not be empty"))
    if problems:
        raise invalid(problems)
    selection, problems = recycling.read_selection(choices, keys)
    if problems:
        raise invalid(problems)
    try:
        ref = await recycling.source_of(web, campaign_id)
        if body.get("dry_run"):
            contacts = await recycling.count_matching(web, campaign_id, selection)
            return Reply(200, {"campaign_id": campaign_id, "contacts": contacts,
                                  "dry_run": True})
        made, contacts = await recycling.recycle(web, caller, ref, selection, name)
    except recycling.RecycleRefused as e:
        code = {404: "not_found", 409: "conflict"}.get(e.status, "invalid")
        raise ApiError(e.status, code, e.message, e.problems)
    return Reply(201, {"campaign": summary(made), "contacts": contacts})
