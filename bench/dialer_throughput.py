"""
Dialer benchmark: sustained originates per second with the limits wide
open.

The PBX simulator runs in its own process (C{python -m fts.pbxsim}, time
scale 1) and every callee is busy at once (OriginateResponse Failure
Reason 5, then the Hangups of both halves), so channels are freed as fast
as the PBX reports them and no FastAGI session is involved: what is
measured is the dialer's own pipeline -- claim (with the DNC check), calls
rows, Originate, OriginateResponse and Hangup classification, the three
events of each call (originate_sent, originate_accepted, hangup with the
final outcome) made durable by the real event writer with the derived
contact state -- on an embedded PostgreSQL with its default durability.
Limits: 10,000 channels everywhere, calls per second 100,000 globally and
per PBX, 9,999 for the campaign (the column's maximum).

Metrics: originates accepted per second over the measured window (target
>= 1,000/s), CPU of this process and of the simulator per originate.

    .venv/bin/python bench/dialer_throughput.py [--seconds 10] [--gc tuned|default]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from twisted.internet import defer, reactor  # noqa: E402

import dialer_support as B  # noqa: E402
from fts import gctuning  # noqa: E402


@defer.inlineCallbacks
def main(args):
    db = yield B.Database().start()
    contacts = int(args.expect * (args.seconds + args.warmup + 5))
    cid = yield B.campaign(db.pool, contacts, max_channels=10000, cps=9999)
    profile = {"outcomes": {"busy": 1}, "ring_seconds": 0}
    stack = yield B.Stack().start(db, profile, max_channels=10000, cps=100000,
                                  pbx_capacity=10000, pbx_cps=100000)
    if args.gc == "tuned":
        gctuning.tune(reactor)
    yield stack.dialer.activate()
    yield B.sleep(args.warmup)
    counts = stack.dialer.counts
    a0, e0, t0 = counts["accepted"], counts["ended"], time.perf_counter()
    cpu0, sim0 = os.times(), stack.sim.cpu_seconds()
    yield B.sleep(args.seconds)
    a1, e1, t1 = counts["accepted"], counts["ended"], time.perf_counter()
    cpu1, sim1 = os.times(), stack.sim.cpu_seconds()
    in_flight = stack.dialer.registry.total
    B.note("event writer: mode %s, counts %s" % (stack.writer.mode, stack.writer.counts))
    B.note("dialer counts: %s" % (stack.dialer.counts,))
    tally = yield stack.stop()
    rows = yield db.pool.runQuery(
        "SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER"
        " (WHERE status = 'in_flight') FROM campaign_contacts WHERE campaign_id = %s", (cid,))
    yield db.stop()
    elapsed = t1 - t0
    accepted = a1 - a0
    own = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    B.metric("originates_per_second", round(accepted / elapsed), "originates/s")
    B.metric("ends_per_second", round((e1 - e0) / elapsed), "calls/s")
    B.metric("in_flight_at_end_of_window", in_flight, "calls")
    B.metric("fts_cpu_per_originate", round(1e6 * own / max(accepted, 1)), "us")
    B.metric("fts_cpu", round(100 * own / elapsed), "% of a core")
    B.metric("simulator_cpu_per_originate", round(1e6 * (sim1 - sim0) / max(accepted, 1)),
             "us")
    B.metric("contacts_done", rows[0][0], "contacts")
    B.metric("contacts_left_in_flight", rows[0][1], "contacts")
    B.metric("cpus", os.cpu_count())
    B.metric("load_average_1m", round(os.getloadavg()[0], 2))
    B.note("simulator tally: %s" % (tally,))


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--expect", type=int, default=2500,
                        help="originates/s to provision contacts for")
    parser.add_argument("--gc", choices=("tuned", "default"), default="tuned")
    return parser.parse_args()


if __name__ == "__main__":
    options = parse()
    sys.exit(B.run(lambda: main(options)))
