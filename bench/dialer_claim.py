"""
Dialer benchmark: the time to claim the next batch of contacts, in a
campaign of 10,000 contacts and in one of 1,000,000, on an embedded
PostgreSQL with its default durability.

The claim is the statement the dialer runs (L{DialingStore.claim}: due
contacts in order through the partial index, C{FOR UPDATE SKIP LOCKED},
the DNC check on the same rows against the built-in list and the
campaign's lists, reserving each call's id); the calls rows are written by
a second statement (L{DialingStore.prepare}).  Both are timed, one batch
after another, as the dialer runs them, with 20,000 numbers on a DNC list
the campaign honours, after the load has settled (VACUUM ANALYZE,
CHECKPOINT).  Target: claim <= 5 ms per batch of 100, and flat from 10,000
to 1,000,000 contacts.

    .venv/bin/python bench/dialer_claim.py [--batch 100] [--batches 80]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from twisted.internet import defer  # noqa: E402

import dialer_support as B  # noqa: E402
from fts.db.dialing import DialingStore, as_datetime  # noqa: E402


@defer.inlineCallbacks
def measure(db, size, args):
    started = time.perf_counter()
    cid = yield B.campaign(db.pool, size, name="claim-%d-%d" % (size, time.time_ns()))
    rows = yield db.pool.runQuery(
        "INSERT INTO dnc_lists (name) VALUES (%s) RETURNING id", ("bench-%d" % (cid,),))
    dnc = rows[0][0]
    yield db.pool.runOperation(
        "INSERT INTO dnc_entries (list_id, phone, source) SELECT %s,"
        " (15550000000 + g * 50)::text, 'upload' FROM generate_series(1, 20000) g", (dnc,))
    yield db.pool.runOperation("INSERT INTO campaign_dnc_lists VALUES (%s, %s)", (cid, dnc))
    # As after an import has settled: hint bits set, statistics current,
    # the bulk load's dirty pages written.
    for table in ("contacts", "campaign_contacts", "dnc_entries"):
        yield db.pool.runOperation("VACUUM ANALYZE %s" % (table,))
    yield db.pool.runOperation("CHECKPOINT")
    B.note("campaign of %d contacts ready in %.1f s" % (size, time.perf_counter() - started))
    store = DialingStore(db.pool)
    claims, prepares, skipped, claimed = [], [], 0, 0
    for _ in range(args.batches):
        now = as_datetime(time.time())
        t0 = time.perf_counter()
        got = yield store.claim(cid, args.batch, "bench", now)
        t1 = time.perf_counter()
        calls = [(r.call_id, r.contact_id, r.id, r.phone) for r in got if r.status == "in_flight"]
        skipped += len(got) - len(calls)
        claimed += len(got)
        yield store.prepare(cid, calls, [], None, now)
        t2 = time.perf_counter()
        claims.append(t1 - t0)
        prepares.append(t2 - t1)
    return claims, prepares, skipped, claimed


@defer.inlineCallbacks
def main(args):
    db = yield B.Database().start()
    try:
        for size in args.sizes:
            label = f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"
            claims, prepares, skipped, claimed = yield measure(db, size, args)
            B.metric(f"claimed_{label}", claimed, "contacts")
            for name, values in (("claim", claims), ("calls_rows", prepares)):
                B.metric(f"{name}_{label}_p50", round(1000 * B.percentile(values, 0.5), 2), "ms")
                B.metric(f"{name}_{label}_p99", round(1000 * B.percentile(values, 0.99), 2),
                         "ms")
            B.metric(f"claim_{label}_mean", round(1000 * sum(claims) / len(claims), 2), "ms")
            B.metric(f"dnc_skipped_{label}", skipped, "contacts")
        B.metric("batch", args.batch, "contacts")
        B.metric("load_average_1m", round(os.getloadavg()[0], 2))
    finally:
        yield db.stop()


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=80,
                        help="batches claimed in each campaign (80 x 100 stays within 10,000)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000],
                        help="campaign sizes, measured in this order")
    return parser.parse_args()


if __name__ == "__main__":
    options = parse()
    sys.exit(B.run(lambda: main(options)))
