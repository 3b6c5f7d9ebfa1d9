"""
Benchmark: finalization of a campaign of 1,000,000 contacts and 2,500,000
calls, end to end, on an embedded PostgreSQL.

This process starts an embedded PostgreSQL (production settings: fsync on;
a larger shared_buffers and max_wal_size, as a server holding such campaigns
would have) in a temporary directory, migrates it, and generates the data
set-based in SQL:

  - a ready contact list of N contacts (two fields each);
  - a campaign created and confirmed through L{CampaignStore} (the confirm
    fills campaign_contacts with one INSERT ... SELECT) and started;
  - calls in the order a dialer makes them (every first attempt, then the
    second ones, then the third): 60 % of contacts have 3 attempts, 30 % 2,
    10 % 1 (2.5 calls per contact); the last attempt answered (30 %, a fifth
    of them by a machine, a third with key 1, the whole message heard),
    busy, no answer, congestion or failed; 1 % of contacts skipped for DNC
    at their last claim (opted out meanwhile); 5 % still pending with a
    retry due (they end exhausted);
  - optionally call events (C{--events-per-call}, default 0);
  - then ANALYZE, as autovacuum would have done during the campaign.

Then it cancels the campaign and times the finalization as the daemon runs
it (L{CampaignFinalizer}: begin finalizing, wait for calls in flight (none),
archive, report, purge, finalized) on the default reactor.  The report step
uses C{fts.db.reports.ReportStore(pool).build_final} when that module exists,
else none (said on stderr).  While it runs, a C{LoopingCall} samples the
process's resident memory (/proc/self/statm) and how late the reactor runs.

    python bench/finalize_1m.py                     # 1,000,000 contacts
    python bench/finalize_1m.py --contacts 100000   # quicker

Prints "metric: value unit" lines; details go to stderr.  Target: <= 60 s,
memory flat (no Python object per row).  Besides the wall-clock time it
prints the CPU time the PostgreSQL server and this process used during the
finalization, and the machine's load average, because on a shared machine
the wall-clock time mostly measures the neighbours.
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_SETTINGS = {"shared_buffers": "512MB", "max_wal_size": "8GB", "work_mem": "64MB",
               "maintenance_work_mem": "256MB", "checkpoint_timeout": "30min"}

CONTACTS_SQL = """
INSERT INTO contacts (list_id, row_number, phone, phone_original, fields)
SELECT %(list)s, i + 1, (15550000000 + i)::text, '+' || (15550000000 + i)::text,
       jsonb_build_object('first_name', 'name' || i, 'amount', i %% 1000)
  FROM generate_series(1, %(n)s) AS i
"""

# n = position of the contact in the campaign (0-based); k = n % 10 decides
# the attempts (3 for k < 6, 2 for k < 9, else 1), m = (n / 10) % 10 the
# last attempt's outcome.
_SHAPE = """
    SELECT cc.id AS cc_id, cc.contact_id, n,
           CASE WHEN n %% 10 < 6 THEN 3 WHEN n %% 10 < 9 THEN 2 ELSE 1 END AS tries,
           CASE WHEN (n / 10) %% 10 < 3 THEN 'answered' WHEN (n / 10) %% 10 < 5 THEN 'busy'
                WHEN (n / 10) %% 10 < 8 THEN 'no_answer' WHEN (n / 10) %% 10 = 8 THEN 'congestion'
                ELSE 'failed' END AS last,
           n %% 100 = 42 AS dnc, n %% 20 = 7 AS pending
      FROM (SELECT cc.id, cc.contact_id, cc.id - f.first AS n
              FROM campaign_contacts cc,
                   (SELECT min(id) AS first FROM campaign_contacts
                     WHERE campaign_id = %(c)s) f
             WHERE cc.campaign_id = %(c)s) cc
"""

# One statement per attempt number, so the calls are inserted in the order a
# dialer makes them (all first attempts, then the second ones...) without a
# sort of millions of rows.
CALLS_SQL = """
INSERT INTO calls (campaign_id, contact_id, campaign_contact_id, attempt, channel_id,
                   number_dialed, originated_at, accepted_at, answered_at, ended_at, outcome,
                   amd_verdict, keys, option_key, talk_seconds, heard_full_message)
SELECT %(c)s, s.contact_id, s.cc_id, %(a)s, 'fts-' || s.cc_id || '-' || %(a)s, '15550000000',
       t, t, CASE WHEN o = 'answered' THEN t END, t + interval '25 seconds', o,
       CASE WHEN o = 'answered' THEN CASE WHEN s.n %% 5 = 0 THEN 'machine' ELSE 'human' END END,
       CASE WHEN o = 'answered' AND s.n %% 3 = 0 THEN '1' ELSE '' END,
       CASE WHEN o = 'answered' AND s.n %% 3 = 0 THEN '1' END,
       CASE WHEN o = 'answered' THEN 20 + s.n %% 40 END,
       o = 'answered'
  FROM (""" + _SHAPE + """) s
  CROSS JOIN LATERAL (SELECT CASE WHEN %(a)s = s.tries THEN s.last ELSE 'no_answer' END AS o,
                             timestamptz '2026-06-01 09:00Z' + (%(a)s * interval '1 hour')
                             + (s.n * interval '10 ms') AS t) x
 WHERE %(a)s <= s.tries
"""

CONTACT_STATE_SQL = """
UPDATE campaign_contacts cc SET
    status = CASE WHEN s.pending AND NOT s.dnc THEN 'pending' ELSE 'done' END,
    attempts = s.tries,
    last_outcome = s.last,
    next_attempt_at = now(),
    final_outcome = CASE
        WHEN s.dnc THEN 'dnc_skipped'
        WHEN s.pending THEN NULL
        WHEN s.last = 'answered' THEN 'reached'
        WHEN s.tries = 3 THEN 'exhausted'
        WHEN s.last = 'busy' THEN 'busy'
        WHEN s.last = 'no_answer' THEN 'no_answer'
        ELSE 'failed' END,
    dnc_list_id = CASE WHEN s.dnc THEN (SELECT id FROM dnc_lists WHERE builtin) END,
    finished_at = CASE WHEN s.pending AND NOT s.dnc THEN NULL ELSE now() END
  FROM (""" + _SHAPE + """) s
 WHERE cc.id = s.cc_id
"""

EVENTS_SQL = """
INSERT INTO call_events (idempotency_key, call_id, campaign_id, kind, payload, occurred_at)
SELECT k.channel_id || ':' || e, k.id, k.campaign_id, 'hangup', '{}'::jsonb, k.ended_at
  FROM calls k CROSS JOIN generate_series(1, %(per)s) AS e
 WHERE k.campaign_id = %(c)s
 ORDER BY k.id, e
"""


def server_cpu_seconds(directory):
    """CPU seconds used so far by the PostgreSQL server (postmaster and its children)."""
    postmaster = int((Path(directory) / "postmaster.pid").read_text().split()[0])
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(pid) == postmaster or int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(args):
    from datetime import datetime
    from datetime import time as wall_time

    from twisted.internet import defer, reactor, task

    from fts.core.campaign import CallerId, CampaignSettings, Schedule, TextPart, Window
    from fts.core.lifecycle import Trigger
    from fts.db import migrate
    from fts.db.campaigns import CampaignStore
    from fts.db.embedded import EmbeddedPostgres
    from fts.db.finalization import FinalizationStore
    from fts.db.pool import Pool
    from fts.lifecycle.finalizer import CampaignFinalizer
    from fts.lifecycle.settings import LifecycleSettings

    work = Path(tempfile.mkdtemp(prefix="fts-bench-finalize-"))
    results = {}

    def log(message):
        print(message, file=sys.stderr, flush=True)

    @defer.inlineCallbacks
    def timed(what, d_factory):
        start = time.perf_counter()
        result = yield d_factory()
        log(f"{what}: {time.perf_counter() - start:.1f} s")
        return result

    @defer.inlineCallbacks
    def main():
        pg = EmbeddedPostgres(reactor, work / "pg", database="fts", settings=PG_SETTINGS)
        dsn = yield pg.start()
        pool = Pool(reactor, dsn, size=4)
        try:
            yield pool.start()
            yield migrate.apply(pool)
            campaigns = CampaignStore(pool, reactor)
            rows = yield pool.runQuery(
                "INSERT INTO contact_lists (name, columns, encoding, delimiter, has_header,"
                " phone_column, import_status) VALUES ('bench', '[{\"name\": \"phone\","
                " \"type\": \"phone\"}, {\"name\": \"first_name\", \"type\": \"text\"},"
                " {\"name\": \"amount\", \"type\": \"number\"}]', 'utf-8', ',', true, 0,"
                " 'ready') RETURNING id")
            list_id = rows[0][0]
            yield timed("contacts generated", lambda: pool.runOperation(
                CONTACTS_SQL, {"list": list_id, "n": args.contacts}))
            settings = CampaignSettings(
                name="Bench", list_id=list_id, caller_id=CallerId("15550000", "FTS"),
                message=(TextPart("Hello {first_name}"),),
                schedule=Schedule("UTC", datetime(2026, 1, 1), datetime(2036, 1, 1),
                                  tuple(Window(d, wall_time(0), wall_time(0)) for d in range(7))),
                dial_string="PJSIP/{number}@trunk")
            campaign = yield campaigns.create(settings, "bench")
            cid = campaign.id
            start = time.perf_counter()
            yield campaigns.transition(cid, Trigger.CONFIRM, "bench")
            results["confirm_seconds"] = time.perf_counter() - start
            log(f"confirmed (campaign_contacts filled): {results['confirm_seconds']:.1f} s")
            yield campaigns.transition(cid, Trigger.START, "bench")
            for attempt in (1, 2, 3):
                yield timed(f"calls of attempt {attempt} generated", lambda a=attempt: (
                    pool.runOperation(CALLS_SQL, {"c": cid, "a": a})))
            yield timed("contact states set", lambda: pool.runOperation(
                CONTACT_STATE_SQL, {"c": cid}))
            if args.events_per_call:
                yield timed("call events generated", lambda: pool.runOperation(
                    EVENTS_SQL, {"c": cid, "per": args.events_per_call}))
            yield timed("vacuum analyze", lambda: pool.runOperation(
                "VACUUM ANALYZE contacts, campaign_contacts, calls, call_events"))
            counts = yield pool.runQuery(
                "SELECT (SELECT count(*) FROM campaign_contacts WHERE campaign_id = %(c)s),"
                " (SELECT count(*) FROM calls WHERE campaign_id = %(c)s),"
                " (SELECT count(*) FROM call_events WHERE campaign_id = %(c)s)", {"c": cid})
            contacts, calls, events = counts[0]
            log(f"campaign {cid}: {contacts} contacts, {calls} calls, {events} events")
            yield campaigns.transition(cid, Trigger.CANCEL, "bench")

            try:
                from fts.db.reports import ReportStore
                builder = ReportStore(pool).build_final
                log("report step: fts.db.reports.ReportStore.build_final")
            except ImportError:
                builder = None
                log("report step: fts.db.reports is not there yet; no report built")
            settings_used = LifecycleSettings(parallelism=args.parallelism)
            finalizer = CampaignFinalizer(
                campaigns, FinalizationStore(pool, skip_fk_checks=args.skip_fk_checks),
                reactor, hangup=lambda channel: None,
                report_builder=builder, settings=settings_used)

            samples, lags = [], []
            expected = [reactor.seconds() + 0.05]

            def sample():
                now = reactor.seconds()
                lags.append(max(0.0, now - expected[0]) * 1000)
                expected[0] = now + 0.05
                samples.append(rss_mb())

            sampler = task.LoopingCall(sample)
            sampler.clock = reactor
            rss_before = rss_mb()
            sampler.start(0.05, now=True)
            server_before = server_cpu_seconds(work / "pg")
            client_before = time.process_time()
            load_before = os.getloadavg()[0]
            start = time.perf_counter()
            yield timed("begin finalizing", lambda: finalizer.begin(cid))
            summary = None
            for step in finalizer.steps(cid):
                name = step.func.__name__
                summary = yield timed(f"step {name}", lambda step=step: step(summary))
            elapsed = time.perf_counter() - start
            server_cpu = server_cpu_seconds(work / "pg") - server_before
            client_cpu = time.process_time() - client_before
            sampler.stop()
            state = yield pool.runQuery(
                "SELECT c.state, p.archived_rows, p.purged_calls, p.purged_contacts,"
                " (SELECT count(*) FROM campaign_contacts_archive WHERE campaign_id = c.id),"
                " (SELECT count(*) FROM report_snapshots WHERE campaign_id = c.id)"
                " FROM campaigns c JOIN campaign_finalizations p ON p.campaign_id = c.id"
                " WHERE c.id = %s", (cid,))
            log(f"after: state, archived, purged calls, purged contacts, archive rows,"
                f" snapshots = {state[0]}")
            outcomes = yield pool.runQuery(
                "SELECT final_outcome, count(*) FROM campaign_contacts_archive"
                " WHERE campaign_id = %s GROUP BY 1 ORDER BY 2 DESC", (cid,))
            log("final outcomes: " + ", ".join(f"{o} {n}" for o, n in outcomes))
            results.update(
                seconds=elapsed, contacts=contacts, calls=calls, events=events,
                rss_before=rss_before, rss_peak=max(samples), rss_max=max(samples) - rss_before,
                ru_maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                lag_max=max(lags) if lags else 0.0, state=state[0][0],
                server_cpu=server_cpu, client_cpu=client_cpu,
                load=(load_before + os.getloadavg()[0]) / 2, lanes=settings_used.parallelism,
                skip_fk=args.skip_fk_checks)
            report(results)
        finally:
            pool.close()
            yield pg.stop()

    def done(result):
        shutil.rmtree(work, ignore_errors=True)
        return result

    task.react(lambda _reactor: main().addBoth(done))


def report(r):
    """Print the metrics."""
    print(f"finalize_1m_contacts: {r['contacts']} contacts")
    print(f"finalize_1m_calls: {r['calls']} calls")
    print(f"finalize_1m_events: {r['events']} events")
    print(f"finalize_1m_seconds: {r['seconds']:.1f} s")
    print(f"finalize_1m_server_cpu: {r['server_cpu']:.1f} s")
    print(f"finalize_1m_client_cpu: {r['client_cpu']:.1f} s")
    print(f"finalize_1m_parallelism: {r['lanes']} statements")
    print(f"finalize_1m_skip_fk_checks: {int(r['skip_fk'])} flag")
    print(f"finalize_1m_machine_load: {r['load']:.1f} runnable")
    print(f"finalize_1m_rss_before: {r['rss_before']:.1f} MB")
    print(f"finalize_1m_rss_peak: {r['rss_peak']:.1f} MB")
    print(f"finalize_1m_rss_growth: {r['rss_max']:.1f} MB")
    print(f"finalize_1m_reactor_lag_max: {r['lag_max']:.1f} ms")
    print(f"finalize_1m_confirm_seconds: {r['confirm_seconds']:.1f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events-per-call", type=int, default=0)
    parser.add_argument("--with-fk-checks", dest="skip_fk_checks", action="store_false",
                        help="FinalizationStore(skip_fk_checks=False)")
    parser.add_argument("--parallelism", type=int, default=2,
                        help="archive/purge statements at once (LifecycleSettings.parallelism)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
