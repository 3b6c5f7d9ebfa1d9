"""
Report benchmark: the CSV export of a finalized 1,000,000-contact campaign,
and building its final report.

On a fresh embedded PostgreSQL (pgserver, under var/bench-report-PID,
removed at the end; durability off while generating), it creates set-based
(INSERT ... SELECT generate_series) a contact list with six columns, its
contacts, a campaign in finalizing state, the campaign_contacts_archive rows
finalization would leave (a mix of outcomes, AMD verdicts, keys, talk
times) and one call per dialed contact.  Then:

  1. builds the final report (ReportStore.build_final: the GROUPING SETS
     aggregates over the archive and the calls, the snapshot insert);
  2. streams the CSV through fts.reports.export into /dev/null (or
     --output FILE), timing from the first query to the last byte, and
     checks the row count; the process's peak RSS shows that the export
     does not hold the CSV in memory.  The CPU time of the PostgreSQL
     processes and of this one during the export gives rows per CPU
     second, which (unlike rows/s) does not depend on what else the
     machine is running.

Output: ``metric: value unit`` lines.

    .venv/bin/python bench/report_csv.py [--contacts 1000000] [--output FILE]
                                         [--keep DIR] [--concurrency 2]
"""

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import psutil
from twisted.internet import defer, task

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fts.db import embedded, migrate  # noqa: E402
from fts.db.pool import Pool  # noqa: E402
from fts.db.reports import ReportStore  # noqa: E402
from fts.reports.export import FileTarget, export_csv  # noqa: E402

SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            "shared_buffers": "256MB", "max_wal_size": "4GB"}

COLUMNS = ('[{"name": "first_name", "type": "text"}, {"name": "last_name", "type": "text"},'
           ' {"name": "Phone", "type": "phone"}, {"name": "amount", "type": "number"},'
           ' {"name": "due", "type": "date"}, {"name": "city", "type": "text"}]')

SETTINGS_JSON = ('{"menu": {"options": [{"key": "1", "action": "record", "label": "Confirm"},'
                 ' {"key": "2", "action": "dial", "label": "Agent"},'
                 ' {"key": "9", "action": "opt_out", "label": "Stop"}]}}')

GENERATE = """
INSERT INTO contact_lists (name, columns, phone_column, encoding, delimiter, has_header,
                           import_status, total_rows, accepted_rows)
VALUES ('bench', %(columns)s, 2, 'utf-8', ',', true, 'ready', %(n)s, %(n)s);

INSERT INTO contacts (list_id, row_number, phone, phone_original, fields)
SELECT (SELECT id FROM contact_lists WHERE name = 'bench'), i + 1,
       (33600000000 + i)::text, '06 ' || lpad(i::text, 8, '0'),
       jsonb_build_object(
           'first_name', 'First' || i,
           'last_name', 'Last, ' || (i %% 1000),
           'amount', (i %% 10000) / 100.0,
           'due', (date '2026-02-01' + (i %% 60))::text,
           'city', (ARRAY['Paris', 'Lyon', 'Saint-Étienne', 'Nice "Côte"'])[1 + i %% 4])
  FROM generate_series(1, %(n)s) i;

INSERT INTO campaigns (name, state, finish_reason, list_id, timezone, starts_at, ends_at,
                       settings, max_attempts)
SELECT 'bench campaign', 'finalizing', 'completed', id, 'Europe/Paris',
       '2026-01-12 08:00+01', '2026-01-19 18:00+01', %(settings)s, 3
  FROM contact_lists WHERE name = 'bench';

INSERT INTO campaign_contacts_archive (
    campaign_id, contact_id, row_number, phone, phone_original, fields, final_outcome,
    amd_verdict, attempts, keys, option_key, opted_out, talk_seconds, heard_full_message,
    first_attempt_at, last_attempt_at, answered, last_outcome)
SELECT cp.id, c.id, c.row_number, c.phone, c.phone_original, c.fields, o.final,
       CASE WHEN o.final IN ('reached', 'opted_out')
            THEN (ARRAY['human', 'human', 'machine', 'notsure'])[1 + c.id %% 4] END,
       CASE WHEN o.final IN ('not_dialed', 'dnc_skipped') THEN 0 ELSE 1 + c.id %% 3 END,
       CASE WHEN o.final = 'opted_out' THEN '9'
            WHEN o.final = 'reached' AND c.id %% 2 = 0 THEN '1' ELSE '' END,
       CASE WHEN o.final = 'opted_out' THEN '9'
            WHEN o.final = 'reached' AND c.id %% 2 = 0 THEN '1' END,
       o.final = 'opted_out',
       CASE WHEN o.final IN ('reached', 'opted_out') THEN 5 + c.id %% 90 ELSE 0 END,
       o.final = 'reached' AND c.id %% 3 <> 0,
       CASE WHEN o.final NOT IN ('not_dialed', 'dnc_skipped')
            THEN timestamptz '2026-01-12 07:00+00' + (c.id %% 600000) * interval '1 second' END,
       CASE WHEN o.final NOT IN ('not_dialed', 'dnc_skipped')
            THEN timestamptz '2026-01-12 07:00+00' + (c.id %% 600000) * interval '1 second' END,
       o.final IN ('reached', 'opted_out'),
       CASE WHEN o.final IN ('reached', 'opted_out') THEN 'answered'
            WHEN o.final IN ('busy', 'no_answer', 'invalid_number') THEN o.final
            WHEN o.final = 'exhausted' THEN 'no_answer' END
  FROM contacts c
  JOIN campaigns cp ON cp.name = 'bench campaign'
  CROSS JOIN LATERAL (SELECT (ARRAY['reached', 'reached', 'reached', 'reached', 'busy',
                                    'no_answer', 'exhausted', 'opted_out', 'invalid_number',
                                    'not_dialed', 'dnc_skipped'])[1 + c.id %% 11] AS final) o;
"""

CALLS = """
INSERT INTO calls (campaign_id, contact_id, attempt, channel_id, number_dialed, originated_at,
                   accepted_at, answered_at, ended_at, outcome, amd_verdict, keys, option_key,
                   opted_out, talk_seconds, heard_full_message)
SELECT a.campaign_id, a.contact_id, 1, 'fts-bench-' || a.contact_id, a.phone,
       a.last_attempt_at, a.last_attempt_at,
       CASE WHEN a.answered THEN a.last_attempt_at END,
       a.last_attempt_at + interval '30 seconds', a.last_outcome, a.amd_verdict, a.keys,
       a.option_key, a.opted_out, CASE WHEN a.answered THEN a.talk_seconds END,
       a.heard_full_message
  FROM campaign_contacts_archive a
 WHERE a.attempts > 0;
"""


def metric(name, value, unit=""):
    print(("%s: %s %s" % (name, value, unit)).rstrip(), flush=True)


def server_cpu_seconds(directory):
    """
    CPU time (user + system) used so far by the cluster's processes.
    """
    pid = embedded.running_postmaster(directory)
    if pid is None:
        return 0.0
    total = 0.0
    postmaster = psutil.Process(pid)
    for process in [postmaster, *postmaster.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@defer.inlineCallbacks
def main(reactor, args):
    if args.keep:
        directory = Path(args.keep).resolve()
    else:
        directory = HERE.parent / "var" / ("bench-report-%d" % os.getpid())
    server = embedded.EmbeddedPostgres(reactor, directory, database="bench",
                                       settings=SETTINGS, fast_init=True)
    pool = None
    try:
        dsn = yield server.start()
        pool = Pool(reactor, dsn, size=args.concurrency + 1)
        yield pool.start()
        yield migrate.apply(pool)
        [(existing,)] = yield pool.runQuery("SELECT count(*) FROM campaigns")
        if not existing:
            started = time.monotonic()
            yield pool.runOperation(GENERATE, {"n": args.contacts, "columns": COLUMNS,
                                               "settings": SETTINGS_JSON})
            if not args.no_calls:
                yield pool.runOperation(CALLS)
            yield pool.runOperation("VACUUM ANALYZE")
            metric("generate_seconds", "%.1f" % (time.monotonic() - started), "s")
        [(campaign,)] = yield pool.runQuery("SELECT id FROM campaigns")
        [(contacts,)] = yield pool.runQuery("SELECT count(*) FROM campaign_contacts_archive")
        [(calls,)] = yield pool.runQuery("SELECT count(*) FROM calls")
        metric("contacts", contacts, "contacts")
        metric("calls", calls, "calls")

        reports = ReportStore(pool)
        yield pool.runOperation("DELETE FROM report_snapshots")
        started = time.monotonic()
        snapshot = yield reports.build_final(campaign)
        metric("final_report_seconds", "%.2f" % (time.monotonic() - started), "s")
        assert snapshot.report.contacts.contacts == contacts, snapshot.report.contacts
        started = time.monotonic()
        yield reports.live(campaign)
        metric("live_report_seconds_no_working_rows", "%.2f" % (time.monotonic() - started),
               "s")

        rss_before = rss_mb()
        load_before = os.getloadavg()[0]
        server_cpu, client_cpu = server_cpu_seconds(directory), time.process_time()
        with open(args.output, "wb") as out:
            started = time.monotonic()
            result = yield export_csv(reports, campaign, FileTarget(out),
                                      concurrency=args.concurrency)
            elapsed = time.monotonic() - started
        assert result.rows == contacts, result
        metric("csv_concurrency", args.concurrency, "pages")
        metric("csv_rows", result.rows, "rows")
        metric("csv_bytes", result.bytes, "bytes")
        metric("csv_seconds", "%.2f" % elapsed, "s")
        metric("csv_rows_per_second", "%d" % (result.rows / elapsed), "rows/s")
        metric("csv_megabytes_per_second", "%.1f" % (result.bytes / elapsed / 1e6), "MB/s")
        server_cpu = server_cpu_seconds(directory) - server_cpu
        client_cpu = time.process_time() - client_cpu
        metric("csv_server_cpu", "%.2f" % server_cpu, "s")
        metric("csv_client_cpu", "%.2f" % client_cpu, "s")
        metric("csv_rows_per_cpu_second", "%d" % (result.rows / (server_cpu + client_cpu)),
               "rows/s")
        metric("load_average_1min", "%.1f / %.1f (before / after the export, %d CPUs)"
               % (load_before, os.getloadavg()[0], os.cpu_count()))
        metric("peak_rss_before_export", "%.0f" % rss_before, "MB")
        metric("peak_rss_after_export", "%.0f" % rss_mb(), "MB")
    finally:
        if pool is not None:
            pool.close()
        if server.running:
            yield server.stop()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--output", default="/dev/null", help="where the CSV goes")
    parser.add_argument("--no-calls", action="store_true", help="do not generate calls")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="CSV pages read at once (default %(default)s, as in FTS)")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the cluster in DIR (reused by the next run with the same"
                             " DIR: no generation)")
    task.react(main, [parser.parse_args()])
