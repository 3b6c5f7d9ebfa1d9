"""
Benchmark: latency of the dashboard and a campaign page while 1,000 calls
are in flight and the call registry churns.

Not a test (trial does not collect it).  Run:

    .venv/bin/python -m tests.web.bench_panel [requests] [concurrency]

It starts the embedded test PostgreSQL, a real campaign store with a
running campaign, a call registry holding 1,000 calls in flight across 10
campaigns and 2 PBXes that ends and replaces 200 calls a second, 5 live
dashboards (server-sent events), and the panel on a loopback port; then it
times GET / and GET /campaigns/<id> over HTTP with a logged-in session.
The client runs on the same reactor as the server, so its own work is in
the numbers (they are an upper bound).  The daemon's dialer and simulator
are not wired in yet, so the calls are registry entries, not simulated
calls; this measures the panel's side of the cost.
"""

import sys
import time
from datetime import timedelta

import treq
from twisted.internet import defer, endpoints, task
from twisted.web.client import HTTPConnectionPool

from fts import health as H
from fts.db.audit import Actor
from fts.db.campaigns import CampaignStore
from fts.db.pool import Pool
from fts.db.store import Store
from fts.dialer.registry import ActiveCall, CallRegistry
from fts.web import security
from fts.web.app import AdminApp
from fts.web.limits import LimitedSite
from tests.lifecycle import fixtures as F
from tests.support import db

IN_FLIGHT = 1000
CHURN_PER_SECOND = 200


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Churn:
    """
    Keeps C{IN_FLIGHT} calls in the registry, replacing some every tick.
    """

    def __init__(self, reactor, registry):
        self.reactor = reactor
        self.registry = registry
        self.next_id = 1
        for _ in range(IN_FLIGHT):
            self.add()

    def add(self):
        call_id = self.next_id
        self.next_id += 1
        call = ActiveCall.claimed(self.reactor, call_id, 1 + call_id % 10, call_id, call_id,
                                  "1555%07d" % call_id)
        self.registry.add(call)
        self.registry.place(call, "pbx%d" % (call_id % 2), self.reactor.seconds())

    def tick(self):
        for call in list(self.registry)[:CHURN_PER_SECOND // 10]:
            if call_id_even(call):
                call.answered_at = self.reactor.seconds()
            self.registry.end(call, self.reactor.seconds())
            self.add()


def call_id_even(call):
    return call.call_id % 2 == 0


@defer.inlineCallbacks
def main(reactor, requests=2000, concurrency=10):
    dsn, drop = yield db.fresh_database()
    pool = Pool(reactor, dsn, size=6)
    yield pool.start()
    try:
        store = Store(pool)
        store.campaigns = CampaignStore(pool, reactor)
        health = H.Health(reactor)
        for name in ("db", "web", "pbx"):
            health.component(name).set(H.UP)
        registry = CallRegistry()
        churn = Churn(reactor, registry)
        ticking = task.LoopingCall(churn.tick)
        ticking.clock = reactor
        ticking.start(0.1)
        app = AdminApp(health=health, store=store, calls=registry, clock=reactor)
        account = yield app.auth.create_account("bench", "admin", "x", Actor.system("bench"))
        token = security.new_token()
        now = app.authenticator.now()
        yield app.auth.create_session(account.id, security.token_hash(token), "c", now,
                                      now + timedelta(hours=1))
        campaign_id = yield F.campaign_in(store.campaigns, pool, "running")
        port = yield endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            LimitedSite(app.resource(), reactor=reactor))
        base = f"http://127.0.0.1:{port.getHost().port}"
        connections = HTTPConnectionPool(reactor, persistent=True)
        connections.maxPersistentPerHost = concurrency + 6
        cookies = {"fts_session": token}
        streams = [treq.get(base + "/dashboard/events", cookies=cookies, pool=connections,
                            unbuffered=True) for _ in range(5)]
        for path in ("/", f"/campaigns/{campaign_id}"):
            check = yield treq.get(base + path, cookies=cookies, pool=connections)
            assert check.code == 200, (path, check.code)
            yield check.content()
            timings = []

            @defer.inlineCallbacks
            def worker(count):
                for _ in range(count):
                    started = time.perf_counter()
                    response = yield treq.get(base + path, cookies=cookies, pool=connections)
                    yield response.content()
                    timings.append((time.perf_counter() - started) * 1000)

            yield defer.gatherResults([worker(requests // concurrency)
                                       for _ in range(concurrency)])
            print(f"GET {path:<16} n={len(timings)} concurrency={concurrency}"
                  f" in_flight={registry.total}"
                  f" p50={percentile(timings, 50):.1f}ms p90={percentile(timings, 90):.1f}ms"
                  f" p99={percentile(timings, 99):.1f}ms max={max(timings):.1f}ms")
        ticking.stop()
        app.live.close()
        for stream in streams:
            stream.cancel()
        yield connections.closeCachedConnections()
        yield port.stopListening()
    finally:
        pool.close()
        yield drop()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    task.react(lambda reactor: main(reactor, *args))
