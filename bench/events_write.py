"""
Event writer benchmark: events made durable per second, spool write and
replay rates, and emit-to-durable latency, on an embedded PostgreSQL with
its default durability (fsync and synchronous_commit on).

The PostgreSQL server is its own process; the writer runs on this process's
reactor with its production settings (batches of 500 or 20 ms, at most 5,000
events per statement) and a real thread pool for the spool's fsync.  Every
event names a real calls row, so the derived state (calls, campaign_contacts)
is written too.  Each call gets the eight events of an answered call:
originate_sent, originate_accepted, answered, amd, message_complete, key,
option, hangup (with its final outcome).  Events are built before the clock
starts: their cost is the emitter's, not the writer's.

Phases:

  1. throughput: a producer keeps up to ``--window`` events waiting and emits
     ``--events`` in all; events/s = events / (last durable - first emit).
  2. spool: the database "goes away" (the writer gets a closed pool) and
     ``--events`` are emitted: spool write rate (fsync'd, group commit);
     the writer is stopped, a new one starts on the same spool with the
     database back and replays it before its start completes: replay rate.
  3. latency: ``--rate`` events/s for ``--seconds`` via emit_durable, in
     ticks of 5 ms; p50/p99/max from emit to durable.

Output: ``metric: value unit`` lines.  The machine may be shared: with the
wall-clock rates, phases 1 and 2 report the CPU time spent per event by this
process and by the PostgreSQL server, and the rate that CPU time allows
(``*_per_cpu_second``), which does not depend on the other load.

    .venv/bin/python bench/events_write.py [--events 200000] [--rate 1000]
"""

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from twisted.internet import defer, task  # noqa: E402
from twisted.python.threadpool import ThreadPool  # noqa: E402

from fts.db import migrate  # noqa: E402
from fts.db.embedded import EmbeddedPostgres  # noqa: E402
from fts.db.events import EventStore  # noqa: E402
from fts.db.pool import Pool  # noqa: E402
from fts.events import model as M  # noqa: E402
from fts.events.writer import EventWriter, thread_runner  # noqa: E402

T0 = 1_800_000_000.0
EVENTS_PER_CALL = 8


def metric(name, value, unit):
    print(f"{name}: {value} {unit}", flush=True)


class CpuMeter:
    """
    CPU seconds used by this process and by the whole PostgreSQL server
    (the postmaster and its children): unlike wall-clock rates, these do not
    depend on what else the machine is running.
    """

    def __init__(self, pg_directory):
        self.postmaster = int(open(os.path.join(pg_directory, "postmaster.pid")).readline())
        self.tick = os.sysconf("SC_CLK_TCK")

    def _server(self):
        total = 0
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(name) == self.postmaster or int(fields[1]) == self.postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / self.tick

    def _own(self):
        t = os.times()
        return t.user + t.system

    def start(self):
        self.begin = (self._own(), self._server())

    def report(self, prefix, events):
        own, server = self._own() - self.begin[0], self._server() - self.begin[1]
        metric(f"{prefix}_writer_cpu_per_event", round(1e6 * own / events, 1), "us")
        metric(f"{prefix}_postgres_cpu_per_event", round(1e6 * server / events, 1), "us")
        metric(f"{prefix}_per_cpu_second", round(events / (own + server)), "events/s")


@defer.inlineCallbacks
def make_calls(pool, n, tag):
    """
    C{n} contacts in flight, each with its calls row (id = contact id);
    returns C{(campaign_id, [call ids])}.  Fixture SQL, set-based.
    """
    rows = yield pool.runQuery(
        "INSERT INTO contact_lists (name) VALUES (%s) RETURNING id", (tag,))
    list_id = rows[0][0]
    yield pool.runOperation(
        "INSERT INTO contacts (list_id, row_number, phone, phone_original)"
        " SELECT %s, g, (15550000000 + g)::text, '+' || (15550000000 + g)::text"
        " FROM generate_series(1, %s) g", (list_id, n))
    rows = yield pool.runQuery(
        "INSERT INTO campaigns (name, list_id) VALUES (%s, %s) RETURNING id", (tag, list_id))
    campaign_id = rows[0][0]
    yield pool.runOperation(
        "INSERT INTO campaign_contacts (campaign_id, contact_id, status, in_flight_call_id,"
        " claimed_at, claimed_by) SELECT %s, id, 'in_flight', id, now(), 'bench'"
        " FROM contacts WHERE list_id = %s", (campaign_id, list_id))
    yield pool.runOperation(
        "INSERT INTO calls (id, campaign_id, contact_id, campaign_contact_id, channel_id,"
        " number_dialed) SELECT cc.contact_id, %s, cc.contact_id, cc.id,"
        " 'fts-' || cc.contact_id, ct.phone FROM campaign_contacts cc"
        " JOIN contacts ct ON ct.id = cc.contact_id WHERE cc.campaign_id = %s",
        (campaign_id, campaign_id))
    rows = yield pool.runQuery(
        "SELECT id FROM calls WHERE campaign_id = %s ORDER BY id", (campaign_id,))
    return campaign_id, [r[0] for r in rows]


def call_events(campaign_id, call_ids):
    """
    The eight events of an answered call, for each call, call after call.
    """
    out = []
    for call_id in call_ids:
        def ev(seq, kind, at, **payload):
            return M.CallEvent(key=M.idempotency_key(call_id, seq), kind=kind,
                               campaign_id=campaign_id, call_id=call_id,
                               occurred_at=T0 + at, payload=payload)
        out += [
            ev("originate_sent", M.ORIGINATE_SENT, 0, channel_id=f"fts-{call_id}",
               pbx="pbx1", number="15550000000"),
            ev("originate_accepted", M.ORIGINATE_ACCEPTED, 0.01),
            ev("answered", M.ANSWERED, 4),
            ev(1, M.AMD, 6, verdict="human", cause="HUMAN-300-300"),
            ev(2, M.MESSAGE_COMPLETE, 20),
            ev(3, M.KEY, 21, key="1"),
            ev(4, M.OPTION, 21, key="1", action="record"),
            ev("hangup", M.HANGUP, 25, cause=16, cause_text="Normal Clearing",
               outcome="answered", final_outcome="reached"),
        ]
    return out


MAX_BATCH = 5000


def writer_for(reactor, store, spool_dir, threadpool):
    return EventWriter(store, spool_dir, reactor, thread_runner(reactor, threadpool),
                       max_batch=MAX_BATCH)


@defer.inlineCallbacks
def throughput(reactor, pool, spool_dir, threadpool, n, window, cpu):
    campaign_id, calls = yield make_calls(pool, n // EVENTS_PER_CALL, "throughput")
    events = call_events(campaign_id, calls)
    writer = writer_for(reactor, EventStore(pool), spool_dir, threadpool)
    yield writer.startService()
    gc.collect()
    done = defer.Deferred()
    state = {"next": 0}
    cpu.start()
    start = time.perf_counter()

    def produce():
        i = state["next"]
        room = window - writer.pending
        if room > 0 and i < len(events):
            for event in events[i:i + room]:
                writer.emit(event)
            state["next"] = i + room
        if state["next"] < len(events):
            reactor.callLater(0.001, produce)
        else:
            writer.flush().chainDeferred(done)

    produce()
    yield done
    elapsed = time.perf_counter() - start
    cpu.report("events_durable", len(events))
    counts = dict(writer.counts)
    yield writer.stopService()
    rows = yield pool.runQuery(
        "SELECT count(*) FILTER (WHERE keys = '1' AND outcome = 'answered'"
        " AND attempt = 1 AND talk_seconds = 21) FROM calls WHERE campaign_id = %s",
        (campaign_id,))
    metric("events_durable_per_second", round(len(events) / elapsed), "events/s")
    metric("events_durable_total", len(events), "events")
    metric("events_mean_batch", round(counts["written"] / max(1, counts["statements"])),
           "events/statement")
    metric("calls_derived_ok", f"{rows[0][0]}/{len(calls)}", "calls")


@defer.inlineCallbacks
def spool_and_replay(reactor, pool, dsn, spool_dir, threadpool, n, cpu):
    campaign_id, calls = yield make_calls(pool, n // EVENTS_PER_CALL, "replay")
    events = call_events(campaign_id, calls)
    down = Pool(reactor, dsn, size=1)
    yield down.start()
    down.close()
    writer = writer_for(reactor, EventStore(down), spool_dir, threadpool)
    yield writer.startService()
    gc.collect()
    start = time.perf_counter()
    for event in events:
        writer.emit(event)
    yield writer.flush()
    elapsed = time.perf_counter() - start
    spooled = writer.counts["spooled"]
    yield writer.stopService()
    size = sum(p.stat().st_size for p in spool_dir.glob("spool-*.log"))
    metric("spool_write_per_second", round(spooled / elapsed), "events/s")
    metric("spool_bytes_per_event", round(size / max(1, spooled)), "bytes")

    writer = writer_for(reactor, EventStore(pool), spool_dir, threadpool)
    gc.collect()
    cpu.start()
    start = time.perf_counter()
    yield writer.startService()
    elapsed = time.perf_counter() - start
    replayed = writer.counts["replayed"]
    cpu.report("spool_replay", replayed)
    yield writer.stopService()
    rows = yield pool.runQuery(
        "SELECT count(*) FROM call_events WHERE campaign_id = %s", (campaign_id,))
    metric("spool_replay_per_second", round(replayed / elapsed), "events/s")
    metric("spool_replayed_total", f"{rows[0][0]}/{len(events)}", "events")


@defer.inlineCallbacks
def latency(reactor, pool, spool_dir, threadpool, rate, seconds):
    n = rate * seconds
    campaign_id, calls = yield make_calls(pool, n // EVENTS_PER_CALL + 1, "latency")
    events = call_events(campaign_id, calls)[:n]
    writer = writer_for(reactor, EventStore(pool), spool_dir, threadpool)
    yield writer.startService()
    gc.collect()
    tick = 0.005
    per_tick = max(1, round(rate * tick))
    latencies = []
    waits = []
    state = {"next": 0}

    def emit_tick():
        i = state["next"]
        for event in events[i:i + per_tick]:
            emitted = time.perf_counter()
            d = writer.emit_durable(event)
            d.addCallback(lambda _, t=emitted: latencies.append(time.perf_counter() - t))
            waits.append(d)
        state["next"] = i + per_tick
        if state["next"] >= len(events):
            loop.stop()

    loop = task.LoopingCall(emit_tick)
    loop.clock = reactor
    started = time.perf_counter()
    yield loop.start(tick)
    yield defer.gatherResults(waits)
    elapsed = time.perf_counter() - started
    yield writer.stopService()
    latencies.sort()

    def pct(p):
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    metric("latency_rate", round(len(latencies) / elapsed), "events/s")
    metric("latency_p50", pct(0.50), "ms")
    metric("latency_p99", pct(0.99), "ms")
    metric("latency_max", round(1000 * latencies[-1], 1), "ms")


@defer.inlineCallbacks
def main(reactor, options):
    base = tempfile.mkdtemp(prefix="fts-bench-events-")
    pg = EmbeddedPostgres(reactor, os.path.join(base, "pg"), database="bench")
    yield pg.start()
    threadpool = ThreadPool(minthreads=1, maxthreads=2, name="spool")
    threadpool.start()
    pool = Pool(reactor, pg.dsn(), size=2)
    try:
        yield pool.start()
        yield migrate.apply(pool)
        metric("cpus", os.cpu_count(), "")
        metric("load_average_1m", os.getloadavg()[0], "")
        from pathlib import Path

        spool_root = Path(base) / "spool"
        cpu = CpuMeter(pg.directory)
        if options.phase in ("all", "throughput"):
            yield throughput(reactor, pool, spool_root / "t", threadpool, options.events,
                             options.window, cpu)
        if options.phase in ("all", "spool"):
            yield spool_and_replay(reactor, pool, pg.dsn(), spool_root / "s", threadpool,
                                   options.events, cpu)
        if options.phase in ("all", "latency"):
            yield latency(reactor, pool, spool_root / "l", threadpool, options.rate,
                          options.seconds)
    finally:
        pool.close()
        threadpool.stop()
        yield pg.stop()
        shutil.rmtree(base, ignore_errors=True)


def run():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", default="all", choices=["all", "throughput", "spool", "latency"])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--window", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--max-batch", type=int, default=MAX_BATCH)
    options = parser.parse_args()
    globals()["MAX_BATCH"] = options.max_batch
    task.react(main, [options])


if __name__ == "__main__":
    run()
