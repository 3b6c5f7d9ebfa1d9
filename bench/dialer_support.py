"""
What the dialer benchmarks share: an embedded PostgreSQL in a temporary
directory (default durability), a campaign of N contacts written set-based,
the PBX simulator in its own process (C{python -m fts.pbxsim}), and the
dialing stack of the daemon in this process (FastAGI server, AMI client,
L{AMILine}, event writer, L{Dialer}).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from twisted.internet import defer, reactor  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from fts.asterisk.agi.router import ScriptRouter  # noqa: E402
from fts.asterisk.agi.server import FastAGIServerFactory  # noqa: E402
from fts.asterisk.ami.client import AMIClient  # noqa: E402
from fts.db import migrate  # noqa: E402
from fts.db.dialing import DialingStore  # noqa: E402
from fts.db.embedded import EmbeddedPostgres, shared_buffers  # noqa: E402
from fts.db.events import EventStore  # noqa: E402
from fts.db.pool import Pool  # noqa: E402
from fts.dialer.amiline import AMILine  # noqa: E402
from fts.dialer.pacer import Dialer  # noqa: E402
from fts.events.writer import EventWriter, thread_runner  # noqa: E402


def metric(name, value, unit=""):
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def note(message):
    print(message, file=sys.stderr, flush=True)


def sleep(seconds):
    return deferLater(reactor, seconds, lambda: None)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(p * len(values)))]


class Database:
    """
    An embedded PostgreSQL with the FTS schema, in a temporary directory,
    with the daemon's memory settings.
    """

    @defer.inlineCallbacks
    def start(self, pool_size=6):
        self.base = tempfile.mkdtemp(prefix="fts-bench-dialer-")
        # Sized as the daemon sizes it ([database] embedded_shared_buffers = auto).
        self.pg = EmbeddedPostgres(reactor, os.path.join(self.base, "pg"), database="bench",
                                   settings={"shared_buffers": shared_buffers("auto")})
        yield self.pg.start()
        self.pool = Pool(reactor, self.pg.dsn(), size=pool_size)
        yield self.pool.start()
        yield migrate.apply(self.pool)
        return self

    @defer.inlineCallbacks
    def stop(self):
        self.pool.close()
        try:
            yield self.pg.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@defer.inlineCallbacks
def campaign(pool, contacts, max_channels=200, cps=1000, name="bench", retry=None,
             ring_timeout=30):
    """
    A running campaign, open all week, with C{contacts} contacts all due
    now, written set-based.  Returns its id.
    """
    rows = yield pool.runQuery(
        "INSERT INTO contact_lists (name) VALUES (%s) RETURNING id", (name,))
    list_id = rows[0][0]
    yield pool.runOperation(
        "INSERT INTO contacts (list_id, row_number, phone, phone_original)"
        " SELECT %s, g, (15550000000 + g)::text, (15550000000 + g)::text"
        " FROM generate_series(1, %s) g", (list_id, contacts))
    settings = {"retry": retry or {"busy": {"retry": False}, "no_answer": {"retry": False},
                                   "failed": {"retry": False}}}
    rows = yield pool.runQuery(
        "INSERT INTO campaigns (name, list_id, state, starts_at, ends_at, max_channels, cps,"
        " settings, ring_timeout_s)"
        " VALUES (%s, %s, 'running', now() - interval '1 day', now() + interval '30 days',"
        " %s, %s, %s, %s) RETURNING id",
        (name, list_id, max_channels, cps, json.dumps(settings), ring_timeout))
    campaign_id = rows[0][0]
    yield pool.runOperation(
        "INSERT INTO campaign_windows (campaign_id, weekday, from_time, to_time)"
        " SELECT %s, d, '00:00', '00:00' FROM generate_series(0, 6) d", (campaign_id,))
    yield pool.runOperation(
        "INSERT INTO campaign_contacts (campaign_id, contact_id, next_attempt_at)"
        " SELECT %s, id, now() - interval '1 minute' FROM contacts WHERE list_id = %s"
        " ORDER BY id", (campaign_id, list_id))
    yield pool.runOperation("ANALYZE campaign_contacts")
    yield pool.runOperation("ANALYZE contacts")
    return campaign_id


class Simulator:
    """
    C{python -m fts.pbxsim} in its own process.
    """

    def __init__(self, profile, agi_port, capacity=20000, scale=1.0):
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="fts-bench-sim-")
        path = os.path.join(self.directory, "callee.json")
        with open(path, "w") as f:
            json.dump(profile, f)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fts.pbxsim", "--ami", f"tcp:{self.port}:interface=127.0.0.1",
             "--agi", f"127.0.0.1:{agi_port}", "--scale", str(scale), "--callee-config", path,
             "--capacity", str(capacity), "--seed", "1", "--quiet"],
            cwd=ROOT, stdout=subprocess.PIPE)

    def stop(self):
        """
        Stop it; return its tally (JSON it prints on SIGTERM).
        """
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)
        try:
            return json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {}

    def cpu_seconds(self):
        try:
            with open(f"/proc/{self.process.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return float("nan")


def _hold(session):
    return session.when_hung_up()


def _nothing(session):
    return None


class Stack:
    """
    The daemon's dialing stack in this process, against a simulator
    process.
    """

    @defer.inlineCallbacks
    def start(self, db, profile, max_channels, cps, pbx_capacity, pbx_cps, scale=1.0,
              before_dialer=None):
        factory = FastAGIServerFactory(ScriptRouter({"call": _hold, "hangup": _nothing}),
                                       reactor, max_sessions=1000000)
        self.agi_port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1",
                                                 backlog=4096).listen(factory)
        self.sim = Simulator(profile, self.agi_port.getHost().port, capacity=pbx_capacity * 2,
                             scale=scale)
        self.client = AMIClient("sim", TCP4ClientEndpoint(reactor, "127.0.0.1", self.sim.port),
                                "fts", "fts", reactor, events="call", keepalive_interval=None,
                                retry_policy=lambda attempt: 0.1, max_in_flight=512,
                                action_timeout=30.0)
        self.client.startService()
        yield self.client.when_connected()
        self.line = AMILine(self.client, reactor, pbx_capacity, pbx_cps)
        if before_dialer is not None:
            before_dialer(self.line)
        self.writer = EventWriter(EventStore(db.pool), os.path.join(db.base, "spool"), reactor,
                                  thread_runner(reactor))
        yield self.writer.startService()
        self.dialer = Dialer(reactor, DialingStore(db.pool), self.writer, [self.line],
                             "bench", max_channels=max_channels, cps=cps)
        return self

    @defer.inlineCallbacks
    def stop(self):
        yield self.dialer.drain(5.0)
        self.dialer.deactivate()
        yield self.writer.stopService()
        yield self.client.stopService()
        tally = self.sim.stop()
        yield self.agi_port.stopListening()
        return tally


def run(main):
    """
    Run C{main()} (returning a Deferred) on the reactor, then exit.
    """
    status = []

    def go():
        d = defer.maybeDeferred(main)

        def failed(f):
            f.printTraceback(file=sys.stderr)
            status.append(1)

        d.addErrback(failed)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    return status[0] if status else 0


@defer.inlineCallbacks
def in_flight_spans(pool, campaign_id):
    """
    C{(sent, ended)} epoch seconds of every call of the campaign.
    """
    rows = yield pool.runQuery(
        "SELECT extract(epoch FROM e.occurred_at)::float8,"
        " extract(epoch FROM k.ended_at)::float8"
        " FROM calls k JOIN call_events e ON e.call_id = k.id AND e.kind = 'originate_sent'"
        " WHERE k.campaign_id = %s", (campaign_id,))
    return [tuple(r) for r in rows]


def occupancy(spans, start, end):
    """
    The time-average number of calls in flight over C{[start, end)}.
    """
    total = 0.0
    for sent, ended in spans:
        if ended is None:
            ended = end
        lo, hi = max(sent, start), min(ended, end)
        if hi > lo:
            total += hi - lo
    return total / (end - start)


def wall():
    return time.time()
