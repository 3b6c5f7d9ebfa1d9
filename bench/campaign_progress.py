"""
Campaign page benchmark: what the campaign page and its live feed read
from the database for one campaign of 1,000,000 contacts (40 % done, 1,000
in flight, 400,000 calls), on an embedded PostgreSQL.

Measures the progress query as it was (three counts, each a pass over the
campaign's rows, plus the archive count) and as it is (one pass, the
archive only when no working row is left), the live report build
(L{fts.db.reports.ReportStore.current}), and what the feed of one watched
campaign costs the database per minute with the reuse rules of
L{fts.web.campaign_feed} (progress kept max(1 s, 20 x its cost), report
rebuilt every max(10 s, 20 x its cost); before: progress every 2 s tick
and per page view, report every 10 s).

    .venv/bin/python bench/campaign_progress.py [--contacts 1000000] [--runs 7]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from twisted.internet import defer  # noqa: E402

import dialer_support as B  # noqa: E402
from fts.db.calls import CallsQuery  # noqa: E402
from fts.db.reports import ReportStore  # noqa: E402

OLD_PROGRESS = """
SELECT (SELECT count(*) FROM campaign_contacts
         WHERE campaign_id = %(campaign)s AND status = 'pending'),
       (SELECT count(*) FROM campaign_contacts
         WHERE campaign_id = %(campaign)s AND status = 'in_flight'),
       (SELECT count(*) FROM campaign_contacts WHERE campaign_id = %(campaign)s),
       (SELECT count(*) FROM campaign_contacts_archive WHERE campaign_id = %(campaign)s)
"""


@defer.inlineCallbacks
def timed(runs, call):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        yield call()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


@defer.inlineCallbacks
def main(args):
    db = yield B.Database().start()
    try:
        pool = db.pool
        started = time.perf_counter()
        cid = yield B.campaign(pool, args.contacts, name="progress")
        done = int(args.contacts * 0.4)
        yield pool.runOperation(
            "UPDATE campaign_contacts SET status = 'done', attempts = 1,"
            " final_outcome = CASE WHEN id %% 3 = 0 THEN 'reached' ELSE 'no_answer' END,"
            " last_outcome = CASE WHEN id %% 3 = 0 THEN 'answered' ELSE 'no_answer' END,"
            " last_attempt_at = now(), finished_at = now()"
            " WHERE campaign_id = %s AND id <= (SELECT min(id) FROM campaign_contacts"
            " WHERE campaign_id = %s) + %s", (cid, cid, done - 1))
        yield pool.runOperation(
            "UPDATE campaign_contacts SET status = 'in_flight', claimed_at = now()"
            " WHERE campaign_id = %s AND status = 'pending' AND id <= (SELECT min(id)"
            " FROM campaign_contacts WHERE campaign_id = %s AND status = 'pending') + 999",
            (cid, cid))
        yield pool.runOperation(
            "INSERT INTO calls (campaign_id, contact_id, campaign_contact_id, attempt,"
            " channel_id, number_dialed, originated_at, accepted_at, answered_at, ended_at,"
            " outcome, talk_seconds)"
            " SELECT cc.campaign_id, cc.contact_id, cc.id, 1, 'b-' || cc.id, '1555', now(),"
            " now(), CASE WHEN cc.final_outcome = 'reached' THEN now() END, now(),"
            " cc.last_outcome, CASE WHEN cc.final_outcome = 'reached' THEN 20 END"
            " FROM campaign_contacts cc WHERE cc.campaign_id = %s AND cc.status = 'done'",
            (cid,))
        yield pool.runOperation("VACUUM ANALYZE campaign_contacts")
        yield pool.runOperation("VACUUM ANALYZE calls")
        B.note(f"loaded in {time.perf_counter() - started:.0f} s")
        query, reports = CallsQuery(pool), ReportStore(pool)
        progress = yield query.progress(cid)
        B.metric("contacts", progress.total)
        B.metric("done", progress.done)
        B.metric("in_flight", progress.in_flight)
        old = yield timed(args.runs, lambda: pool.runQuery(OLD_PROGRESS, {"campaign": cid}))
        new = yield timed(args.runs, lambda: query.progress(cid))
        report = yield timed(max(1, args.runs // 3), lambda: reports.current(cid))
        B.metric("progress_before_p50", round(1000 * old, 1), "ms")
        B.metric("progress_after_p50", round(1000 * new, 1), "ms")
        B.metric("live_report_build_p50", round(1000 * report, 1), "ms")
        # Database time per minute for one watched campaign (feed tick 2 s,
        # no page views besides the feed).
        before = 60 / 2 * old + 60 / 10 * report
        after = 60 / max(2.0, 1.0, 20 * new) * new + 60 / max(10.0, 20 * report) * report
        B.metric("feed_db_seconds_per_minute_before", round(before, 2), "s")
        B.metric("feed_db_seconds_per_minute_after", round(after, 2), "s")
        B.metric("load_average_1m", round(os.getloadavg()[0], 2))
    finally:
        yield db.stop()


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    return parser.parse_args()


if __name__ == "__main__":
    options = parse()
    sys.exit(B.run(lambda: main(options)))
