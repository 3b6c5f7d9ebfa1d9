"""
Dialer benchmark: channel occupancy and refill latency.

The PBX simulator runs in its own process (C{python -m fts.pbxsim}, time
scale 1): every callee answers at once and hangs up after C{--hold}
seconds.  This process runs the daemon's dialing stack: the FastAGI server
(answered calls are held until the callee hangs up), the AMI client,
L{AMILine}, the event writer and the L{Dialer}, on an embedded PostgreSQL
with its default durability.  The global channel limit is C{--limit}; the
campaign's and the PBX's are wider, and the calls-per-second limits are
wide open, so the channel limit is what binds.

Metrics, measured after a warm-up:

  - occupancy: time-average of calls in flight (from each call's
    C{originate_sent} event to its end, read from the database) over the
    limit; target >= 99 % with a 0.5 s hold and a limit of 200;
  - refill latency: from a call's end reaching the dialer (the C{;1} Hangup
    read by L{AMILine}) to the next Originate handed to the AMI client;
    target p99 <= 5 ms.

    .venv/bin/python bench/dialer_occupancy.py [--limit 200] [--hold 0.5] [--seconds 20]
        [--gc tuned|default]
"""

import argparse
import bisect
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from twisted.internet import defer, reactor, task  # noqa: E402

import dialer_support as B  # noqa: E402
from fts import gctuning  # noqa: E402
from fts.dialer import line as L  # noqa: E402


@defer.inlineCallbacks
def main(args):
    db = yield B.Database().start()
    rate = args.limit / args.hold
    contacts = int(rate * (args.seconds + args.warmup + 5) * 1.2)
    cid = yield B.campaign(db.pool, contacts, max_channels=args.limit * 5, cps=9999)
    profile = {"outcomes": {"answered": 1}, "ring_seconds": 0,
               "behaviours": {"hold": {"weight": 1, "hangup_after": args.hold}}}
    ends, originates = [], []

    def watch(line):
        def progress(line, p):
            if p.kind == L.ENDED:
                ends.append(time.perf_counter())

        line.on_progress(progress)
        original = line.originate

        def originate(request):
            originates.append(time.perf_counter())
            return original(request)

        line.originate = originate

    stack = yield B.Stack().start(db, profile, max_channels=args.limit, cps=100000,
                                  pbx_capacity=args.limit * 2, pbx_cps=100000,
                                  before_dialer=watch)
    samples = []
    sampler = task.LoopingCall(lambda: samples.append(stack.dialer.registry.total))
    if args.gc == "tuned":
        gctuning.tune(reactor)
    yield stack.dialer.activate()
    yield B.sleep(args.warmup)
    start_wall, start_perf = time.time(), time.perf_counter()
    cpu0, sim0 = os.times(), stack.sim.cpu_seconds()
    sampler.start(0.01)
    yield B.sleep(args.seconds)
    sampler.stop()
    end_wall, end_perf = time.time(), time.perf_counter()
    cpu1, sim1 = os.times(), stack.sim.cpu_seconds()
    tally = yield stack.stop()
    spans = yield B.in_flight_spans(db.pool, cid)
    yield db.stop()

    occupancy = B.occupancy(spans, start_wall, end_wall)
    B.metric("limit", args.limit, "calls")
    B.metric("hold", args.hold, "s")
    B.metric("occupancy", round(100 * occupancy / args.limit, 2), "%")
    B.metric("occupancy_mean_calls", round(occupancy, 1), "calls")
    B.metric("occupancy_sampled_min", min(samples), "calls")
    B.metric("calls_per_second", round(sum(1 for s, _ in spans
                                           if start_wall <= s < end_wall) / args.seconds),
             "calls/s")
    latencies = []
    for t in ends:
        if not (start_perf <= t < end_perf):
            continue
        i = bisect.bisect_left(originates, t)
        if i < len(originates):
            latencies.append(originates[i] - t)
    B.metric("refill_samples", len(latencies), "ends")
    B.metric("refill_latency_p50", round(1000 * B.percentile(latencies, 0.50), 2), "ms")
    B.metric("refill_latency_p99", round(1000 * B.percentile(latencies, 0.99), 2), "ms")
    B.metric("refill_latency_max", round(1000 * max(latencies), 2), "ms")
    own = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    B.metric("fts_cpu", round(100 * own / args.seconds), "% of a core")
    B.metric("simulator_cpu", round(100 * (sim1 - sim0) / args.seconds), "% of a core")
    B.metric("load_average_1m", round(os.getloadavg()[0], 2))
    B.note("simulator tally: %s" % (tally,))


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--hold", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--gc", choices=("tuned", "default"), default="tuned",
                        help="the daemon's GC settings (fts.gctuning), or Python's")
    return parser.parse_args()


if __name__ == "__main__":
    options = parse()
    sys.exit(B.run(lambda: main(options)))
