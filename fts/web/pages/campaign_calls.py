"""
The calls of a campaign in the panel and the API: reading the filters of
the calls table (outcome, digits of the number, a date range in the
campaign's timezone, test calls), the calls as plain values, and the CSV
download of the filtered calls, streamed page by page
(L{fts.db.calls.CallsQuery.oldest_after}) through the authenticated route
C{/campaigns/<id>/calls.csv}.

Also the test call from the campaign page (C{POST /campaigns/<id>/test-call},
operator): L{fts.dialer.test_calls.TestCallPlacer}, wired as the app's
C{test_calls}.
"""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fts.db.calls import CSV_HEADER, CSV_PAGE, OUTCOMES, CallFilter, CallsQuery
from fts.reports.export import encode_rows
from fts.web import downloads, security
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.routes import RouteTable

routes = RouteTable()

NOTICES = {"test-call-placed": "The test call was placed: the PBX accepted it. It is"
                               " listed below as a test call; reports never count it."}

_NUMBER_TEXT = re.compile(r"^[0-9 +().\-]{1,40}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TESTS = {"": None, "only": True, "exclude": False}


def timezone_of(campaign):
    """
    The campaign's schedule timezone (dates of the calls table), or UTC.
    """
    schedule = campaign.settings.schedule
    return (schedule.timezone if schedule is not None else None) or "UTC"


def calls_query(web):
    """
    The L{CallsQuery} on the app's database.
    """
    found = getattr(web.store, "calls", None)
    return found if found is not None else CallsQuery(web.store.pool)


def _day(text, label, problems, name):
    text = (text or "").strip()
    if not text:
        return None
    if not _DATE.match(text):
        problems[name] = f"{label} must be a date like 2026-05-28."
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems[name] = f"{label} is not a real date."
        return None


def read_filter(values, timezone):
    """
    The L{CallFilter} of the submitted C{values} (a mapping of texts:
    C{outcome}, C{phone}, C{date_from}, C{date_to}, C{tests}), dates taken
    as whole days in C{timezone}.

    @return: C{(CallFilter or None, {field: problem})}: the filter is
        L{None} when there is a problem.
    """
    problems = {}
    outcome = (values.get("outcome") or "").strip() or None
    if outcome is not None and outcome not in OUTCOMES:
        problems["outcome"] = "Choose an outcome: " + ", ".join(OUTCOMES) + "."
    phone = (values.get("phone") or "").strip() or None
    if phone is not None:
        digits = re.sub(r"[^0-9]", "", phone)
        if not _NUMBER_TEXT.match(phone) or not digits or len(digits) > 20:
            problems["phone"] = "Search the number by its digits (1 to 20 of them)."
        phone = digits
    tests = (values.get("tests") or "").strip()
    if tests not in TESTS:
        problems["tests"] = "Choose which calls: all, only test calls, or no test calls."
    first = _day(values.get("date_from"), "From", problems, "date_from")
    last = _day(values.get("date_to"), "To", problems, "date_to")
    if first and last and last < first:
        problems["date_to"] = "To must be on or after From."
    if problems:
        return None, problems
    tz = ZoneInfo(timezone or "UTC")
    since = datetime.combine(first, time(0), tz) if first else None
    until = datetime.combine(last + timedelta(days=1), time(0), tz) if last else None
    return CallFilter(outcome=outcome, phone=phone, since=since, until=until,
                      tests=TESTS.get(tests)), {}


def call_dict(row):
    """
    A call as plain values (the API's item, the page's row).
    """
    return {"id": row.id, "number": row.number, "test_call": row.is_test,
            "attempt": row.attempt, "outcome": row.status,
            "originated_at": row.originated_at, "answered_at": row.answered_at,
            "ended_at": row.ended_at, "talk_seconds": row.talk_seconds,
            "amd_verdict": row.amd_verdict, "keys": row.keys, "option_key": row.option_key,
            "opted_out": row.opted_out, "hangup_cause": row.hangup_cause, "pbx": row.pbx}


async def stream_csv(web, request, campaign, filters):
    """
    Answer C{request} with the CSV of the campaign's calls matching
    C{filters}, oldest first, read and written one page at a time.
    """
    query = calls_query(web)

    async def produce(write):
        await _wait(write(encode_rows([CSV_HEADER])))
        after = 0
        while True:
            rows = await query.oldest_after(campaign.id, filters, after, CSV_PAGE)
            if not rows:
                return
            await _wait(write(encode_rows(r.csv_values() for r in rows)))
            if len(rows) < CSV_PAGE:
                return
            after = rows[-1].id

    name = f"campaign-{campaign.id}-calls.csv"
    return await downloads.stream(request, b"text/csv; charset=utf-8", name, produce)


async def _wait(paused):
    if paused is not None:
        await paused


@routes.route("/campaigns/<int:campaign_id>/calls.csv")
@page()
async def calls_csv(web, request, caller, campaign_id):
    from fts.web.pages.campaigns import get_campaign

    campaign = await get_campaign(web, request, caller, campaign_id)
    form = Form(request)
    filters, problems = read_filter(form.values, timezone_of(campaign))
    if problems:
        return web.error_page(request, caller, 400, " ".join(problems.values()))
    return await stream_csv(web, request, campaign, filters)


@routes.route("/campaigns/<int:campaign_id>/test-call", methods=("POST",))
@page(security.OPERATOR)
async def test_call(web, request, caller, campaign_id):
    from fts.dialer.test_calls import InvalidNumber, TestCallRefused
    from fts.web.pages.campaigns import get_campaign, show_campaign

    await get_campaign(web, request, caller, campaign_id)
    form = Form(request)
    phone = form.text("phone", "Number", max_length=40)
    if form.errors:
        return await show_campaign(web, request, caller, campaign_id, status=400,
                                   test_errors=form.errors, test_phone=phone)
    if web.test_calls is None:
        return await show_campaign(web, request, caller, campaign_id, status=503,
                                   test_errors={"phone": "This daemon has no dialer: test"
                                                         " calls cannot be placed here."},
                                   test_phone=phone)
    try:
        placed = await web.test_calls.place(campaign_id, phone,
                                            actor=f"{caller.actor.kind}:{caller.actor.name}")
    except InvalidNumber as e:
        return await show_campaign(web, request, caller, campaign_id, status=400,
                                   test_errors={"phone": f"Number: {e}"}, test_phone=phone)
    except TestCallRefused as e:
        return await show_campaign(web, request, caller, campaign_id, status=409,
                                   test_errors={"phone": str(e)}, test_phone=phone)
    await web.audit.record(caller.actor, "campaign.test_call", "campaign", campaign_id,
                           {"number": placed.number, "call_id": placed.call_id})
    return web.see_other(request, f"/campaigns/{campaign_id}?notice=test-call-placed#calls")
