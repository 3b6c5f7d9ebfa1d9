"""
Benchmark: a 1,000,000-row contact CSV imported through the real importer
into an embedded PostgreSQL, while the reactor keeps answering.

This process generates the CSV (seven columns: names, phone, amount, date,
time, time zone; one row in a thousand with an invalid phone and one in a
thousand repeating an earlier phone, so the reject and duplicate paths run),
starts an embedded PostgreSQL (production settings: fsync on) in a temporary
directory, migrates it, serves a C{/health} resource on the reactor, and
runs L{fts.contacts.imports.ContactImports} (detect, then import) on the
default reactor.  During the import:

  - a C{LoopingCall} every 10 ms records how late it runs (reactor lag);
  - a separate prober process requests C{/health} every 10 ms over a
    keep-alive connection and records each response time;

and the same two measures are taken for a few seconds before the import,
with the reactor idle, as the machine's own baseline.  The CPU time of
this process and of the PostgreSQL server during the import, and the load
average, are printed too: on a shared machine they say how much of the
wall time was ours.

    python bench/import_1m.py                 # 1,000,000 rows
    python bench/import_1m.py --rows 200000   # quicker

Prints "metric: value unit" lines; details go to stderr.  Targets: import
<= 60 s, /health p99 <= 50 ms.
"""

import argparse
import json
import os
import random
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST = ["Jean", "Marie", "Zoé", "Ahmed", "Li", "Olga", "José", "Anne-Sophie", "Kofi", "Sven"]
LAST = ["Dupont", "Martin", "Nguyễn", "O'Brien", "Müller", "García", "Smith", "Kowalski"]
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC", "Africa/Lagos"]


def generate(path, rows, seed=1):
    """
    Write the CSV; returns (bytes, invalid rows, duplicate rows).
    """
    rng = random.Random(seed)
    invalid = duplicates = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("first_name,last_name,phone,amount,due_date,appointment,timezone\r\n")
        lines = []
        for i in range(rows):
            kind = i % 1000
            if kind == 500:
                phone = "06 12 ab 34"
                invalid += 1
            elif kind == 999 and i > 1000:
                phone = "06 %08d" % (i - 1)
                duplicates += 1
            else:
                phone = "06 %08d" % i
            lines.append("%s,%s,%s,%d.%02d,%02d/%02d/2026,%d:%02d,%s\r\n" % (
                rng.choice(FIRST), rng.choice(LAST), phone, rng.randrange(5000),
                rng.randrange(100), 1 + i % 28, 1 + i % 12, 8 + i % 10, i % 60,
                ZONES[i % len(ZONES)]))
            if len(lines) == 10000:
                f.write("".join(lines))
                lines = []
        f.write("".join(lines))
    return os.path.getsize(path), invalid, duplicates


def probe(port, interval):
    """
    The prober process: GET /health every C{interval} s until stdin closes,
    then print the response times (ms) as JSON.
    """
    import select
    import threading

    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"
    times = []
    print("ready", flush=True)
    while not stop.is_set():
        start = time.perf_counter()
        sock.sendall(request)
        data = b""
        while True:
            select.select([sock], [], [])
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("health server closed the connection")
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(body) >= length:
                    break
        times.append((time.time(), (time.perf_counter() - start) * 1000))
        rest = interval - (time.perf_counter() - start)
        if rest > 0:
            stop.wait(rest)
    print(json.dumps(times), flush=True)


def server_cpu(directory):
    """
    CPU seconds used so far by the PostgreSQL server of C{directory} (the
    postmaster and its children).
    """
    try:
        postmaster = int((Path(directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster or ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(args):
    from twisted.internet import defer, protocol, reactor, task
    from twisted.web import resource as web_resource
    from twisted.web.server import Site

    from fts import health as H
    from fts.contacts.imports import ContactImports
    from fts.core.phones import PhoneRules
    from fts.db import migrate
    from fts.db.contacts import ContactStore
    from fts.db.embedded import EmbeddedPostgres
    from fts.db.pool import Pool

    work = Path(tempfile.mkdtemp(prefix="fts-bench-import-"))
    results = {}

    class HealthResource(web_resource.Resource):
        isLeaf = True

        def __init__(self, health):
            super().__init__()
            self.health = health

        def render_GET(self, request):
            request.setHeader(b"content-type", b"application/json")
            return json.dumps(self.health.report()).encode()

    class Prober(protocol.ProcessProtocol):
        def __init__(self):
            self.out = b""
            self.ready = defer.Deferred()
            self.ended = defer.Deferred()

        def outReceived(self, data):
            self.out += data
            if b"ready\n" in self.out and not self.ready.called:
                self.ready.callback(None)

        def errReceived(self, data):
            sys.stderr.write(data.decode(errors="replace"))

        def processEnded(self, reason):
            self.ended.callback(None)

    @defer.inlineCallbacks
    def main():
        t = time.perf_counter()
        csv_path = work / "data" / "uploads" / "contacts" / "bench.csv"
        csv_path.parent.mkdir(parents=True)
        size, invalid, dups = generate(csv_path, args.rows)
        print(f"generated {args.rows} rows, {size / 1e6:.1f} MB in "
              f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
        pg = EmbeddedPostgres(reactor, work / "pg", database="fts")
        dsn = yield pg.start()
        pool = Pool(reactor, dsn, size=4)
        try:
            yield pool.start()
            yield migrate.apply(pool)
            health = H.Health(reactor)
            health.component("db").set(H.UP)
            port = reactor.listenTCP(0, Site(HealthResource(health)), interface="127.0.0.1")
            prober = Prober()
            reactor.spawnProcess(
                prober, sys.executable,
                [sys.executable, __file__, "--probe", str(port.getHost().port)],
                env=os.environ.copy())
            yield prober.ready

            lags = []
            expected = [reactor.seconds() + 0.01]

            def tick():
                now = reactor.seconds()
                lags.append(max(0.0, now - expected[0]) * 1000)
                expected[0] = now + 0.01

            ticker = task.LoopingCall(tick)
            ticker.clock = reactor
            ticker.start(0.01, now=False)
            # The same measures with nothing to do: what the machine gives.
            yield task.deferLater(reactor, args.idle, lambda: None)
            idle_lags, lags[:] = lags[:], []

            store = ContactStore(pool)
            imports = ContactImports(reactor, store, work / "data",
                                     PhoneRules("33", 6, 15), batch_rows=args.batch_rows,
                                     slice_records=args.slice_records)
            lst = yield store.create_list("bench 1M", source_filename="bench.csv")
            cpu_start = (time.process_time(), server_cpu(work / "pg"), os.getloadavg()[0])
            wall_start = time.time()
            start = time.perf_counter()
            detected = yield imports.uploaded(lst.id, "uploads/contacts/bench.csv")
            detect_s = time.perf_counter() - start
            progress_seen = []

            def watch():
                run = imports.run(lst.id)
                if run is not None:
                    progress_seen.append(run.bytes_done)

            watcher = task.LoopingCall(watch)
            watcher.clock = reactor
            watcher.start(1.0, now=False)
            run_ = yield imports.start(lst.id)
            final = yield run_.when_done()
            elapsed = time.perf_counter() - start
            wall_end = time.time()
            cpu_end = (time.process_time(), server_cpu(work / "pg"), os.getloadavg()[0])
            watcher.stop()
            ticker.stop()
            prober.transport.closeStdin()
            yield prober.ended
            probes = json.loads(prober.out.split(b"ready\n", 1)[1])
            health_ms = [ms for at, ms in probes if wall_start <= at <= wall_end]
            idle_health = [ms for at, ms in probes if at < wall_start]
            yield port.stopListening()
            results.update(
                rows=args.rows, seconds=elapsed, detect_s=detect_s, status=final.import_status,
                accepted=final.accepted_rows, rejected=final.rejected_rows,
                duplicates=final.duplicate_rows, total=final.total_rows,
                expected=(invalid, dups), lags=lags, health=health_ms,
                idle_lags=idle_lags, idle_health=idle_health,
                python_cpu=cpu_end[0] - cpu_start[0], server_cpu=cpu_end[1] - cpu_start[1],
                load=(cpu_start[2], cpu_end[2]),
                columns=[(c.name, c.type) for c in detected.columns],
                progress_updates=len(progress_seen), size=size)
        finally:
            pool.close()
            yield pg.stop()

    def done(result):
        if isinstance(result, Exception) or hasattr(result, "printTraceback"):
            result.printTraceback()
        reactor.stop()

    reactor.callWhenRunning(lambda: main().addBoth(done))
    reactor.run()
    shutil.rmtree(work, ignore_errors=True)
    if not results:
        raise SystemExit("the benchmark did not complete")
    r = results
    print(f"columns detected: {r['columns']}", file=sys.stderr)
    print(f"status {r['status']}: {r['accepted']} accepted, {r['rejected']} rejected "
          f"(expected {r['expected'][0]}), {r['duplicates']} duplicates "
          f"(expected {r['expected'][1]}) of {r['total']} rows; "
          f"{r['progress_updates']} progress readings", file=sys.stderr)
    print(f"reactor lag samples {len(r['lags'])}, health requests {len(r['health'])}",
          file=sys.stderr)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"import_rows: {r['rows']} rows")
    print(f"import_file: {r['size'] / 1e6:.1f} MB")
    print(f"import_seconds: {r['seconds']:.1f} s")
    print(f"import_rate: {r['rows'] / r['seconds']:.0f} rows/s")
    print(f"detect_seconds: {r['detect_s']:.2f} s")
    print(f"reactor_lag_p50: {percentile(r['lags'], 50):.1f} ms")
    print(f"reactor_lag_p99: {percentile(r['lags'], 99):.1f} ms")
    print(f"reactor_lag_max: {max(r['lags']):.1f} ms")
    print(f"health_p50: {percentile(r['health'], 50):.1f} ms")
    print(f"health_p99: {percentile(r['health'], 99):.1f} ms")
    print(f"health_max: {max(r['health']):.1f} ms")
    print(f"idle_reactor_lag_p99: {percentile(r['idle_lags'], 99):.1f} ms")
    print(f"idle_health_p99: {percentile(r['idle_health'], 99):.1f} ms")
    print(f"python_cpu: {r['python_cpu']:.1f} s")
    print(f"postgres_cpu: {r['server_cpu']:.1f} s")
    print(f"load_average: {r['load'][0]:.1f} -> {r['load'][1]:.1f} ({os.cpu_count()} CPUs)")
    print(f"peak_rss: {rss:.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=2000)
    parser.add_argument("--slice-records", type=int, default=100)
    parser.add_argument("--idle", type=float, default=3.0,
                        help="seconds of idle measurement before the import")
    parser.add_argument("--probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args.probe, 0.01)
    else:
        run(args)


if __name__ == "__main__":
    main()
