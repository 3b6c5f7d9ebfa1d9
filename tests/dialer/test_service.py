"""
Tests for L{fts.dialer.service.DialerService}: leadership by advisory lock,
standby, takeover, and the graceful stop.
"""

import attr
from twisted.internet import defer, reactor

from fts import health as H
from fts.dialer.service import DialerService
from tests.dialer import stack
from tests.dialer import support as S
from tests.support.db import DatabaseTestCase


@attr.s
class Settings:
    max_channels = attr.ib(default=50)
    cps = attr.ib(default=1000.0)
    dial_string = attr.ib(default="Local/{number}@fts-callee")
    shutdown_grace = attr.ib(default=2.0)


class StandbyTests(DatabaseTestCase):
    pool_size = 4
    timeout = 30

    @defer.inlineCallbacks
    def service(self, name, line, health=None):
        events = S.DirectEvents(self.pool)
        service = DialerService(reactor, self.pool, events, [line], Settings(),
                                health=health, instance_id=name, standby_retry=0.1,
                                heartbeat_interval=0.2)
        yield service.startService()
        self.addCleanup(lambda: service.running and service.stopService())
        return service

    def campaign(self, **kwargs):
        return S.campaign(self.pool, due=0, starts_at=S.at(1e9), ends_at=S.at(4e9), **kwargs)

    def claimers(self, cid):
        d = self.pool.runQuery(
            "SELECT DISTINCT claimed_by FROM campaign_contacts"
            " WHERE campaign_id = %s AND status = 'in_flight'", (cid,))
        return d.addCallback(lambda rows: sorted(r[0] for r in rows))

    @defer.inlineCallbacks
    def test_one_dials_other_takes_over(self):
        """
        Of two daemons on one database only the holder of the dialer lock
        dials; when it dies the other takes over within a second, adopts the
        calls still up and dials on, and no contact is ever in flight twice.
        """
        cid, _ = yield self.campaign(contacts=20, max_channels=4)
        line = S.FakeLine()
        health = H.Health(clock=reactor)
        first = yield self.service("first", line, health)
        yield stack.wait_until(lambda: first.role == "leader")
        second = yield self.service("second", line)
        yield stack.wait_until(lambda: len(line.live) == 4)
        yield stack.sleep(0.3)
        self.assertEqual(second.role, "standby")
        self.assertEqual((yield self.claimers(cid)), ["first"])
        self.assertEqual(health.component("dialer").details["role"], "leader")
        rows = yield first.store.instances()
        self.assertEqual(sorted((r[0], r[1]) for r in rows),
                         [("first", True), ("second", False)])
        # The first daemon dies: its session (and lock) goes with it.
        first._cancel()
        first.running = False
        first.dialer.deactivate()
        first.lock.drop()
        died = reactor.seconds()
        yield stack.wait_until(lambda: second.role == "leader" and second.dialer.active)
        self.assertLess(reactor.seconds() - died, 1.0)
        self.assertEqual(second.dialer.registry.total, 4)
        for channel_id in list(line.live):
            line.end(channel_id, reason=3, cause=19)
        yield stack.wait_until(lambda: len(line.live) == 4 and len(line.requests) == 8)
        yield stack.wait_until(lambda: self.claimers(cid).addCallback(
            lambda c: c == ["second"]))
        yield first.events.idle()
        yield second.events.idle()
        rows = yield self.pool.runQuery(
            "SELECT count(*), count(DISTINCT campaign_contact_id) FROM calls"
            " WHERE campaign_id = %s AND ended_at IS NULL AND accepted_at IS NOT NULL", (cid,))
        self.assertEqual(tuple(rows[0]), (4, 4))

    @defer.inlineCallbacks
    def test_stop_waits_for_calls(self):
        """
        Stopping places no new call, gives back claimed contacts, waits for
        the calls in flight (up to the grace), and releases the lock.
        """
        cid, _ = yield self.campaign(contacts=10, max_channels=2)
        line = S.FakeLine()
        service = yield self.service("only", line)
        yield stack.wait_until(lambda: len(line.live) == 2)
        stopping = service.stopService()
        yield stack.sleep(0.1)
        self.assertNoResult(stopping)
        for channel_id in list(line.live):
            line.end(channel_id, reason=3, cause=19)
        yield stopping
        yield service.events.idle()
        self.assertEqual(len(line.requests), 2)
        rows = yield self.pool.runQuery(
            "SELECT count(*) FROM campaign_contacts WHERE status = 'in_flight'")
        self.assertEqual(rows[0][0], 0)
        other = yield self.service("next", S.FakeLine())
        yield stack.wait_until(lambda: other.role == "leader")
