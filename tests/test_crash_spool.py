"""
Crash safety of the event spool: a real C{twistd -n fts} dialing a
simulated campaign loses its PostgreSQL, so the events of the calls in
flight go to the spool; it is then killed with SIGKILL.  Restarted with the
database back, it replays the spool before writing anything new: every
event the spool held is stored, once, and the state derived from the events
counts none twice.
"""

import os
from pathlib import Path

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from fts.db.pool import Pool
from fts.db.store import Store
from fts.events import spool as S
from tests.support.campaigns import Daemons, running_campaign
from tests.support.outage import StoppablePostgres

CONTACTS = 300

ENV = {
    "FTS_PBX_SIM_SCALE": "0.02",
    "FTS_BACKUP_ENABLED": "no",
    "FTS_TTS_ENGINE": "none",
}


def sleep(seconds):
    return task.deferLater(reactor, seconds, lambda: None)


class SpoolCrashTests(Daemons, unittest.TestCase):
    ENV = ENV
    timeout = 90

    @defer.inlineCallbacks
    def setUp(self):
        self.pg = StoppablePostgres(self)
        self.dsn = yield self.pg.start()
        self.base = Path(os.path.abspath(self.mktemp()))
        self.base.mkdir(parents=True)
        self.data_dir = self.base / "daemon"
        self.spool_dir = self.data_dir / "spool" / "events"
        self.daemons = []
        yield self.connect()

    @defer.inlineCallbacks
    def connect(self):
        self.pool = Pool(reactor, self.dsn, size=1)
        yield self.pool.start()
        self.addCleanup(self.pool.close)
        self.store = Store(self.pool, tts_available=False,
                           default_dial_string="Local/{number}@fts-callee")

    def daemon(self):
        """A daemon on the test's database, always with the same data directory."""
        return self.start_daemon(self.data_dir)

    def create_campaign(self):
        return running_campaign(self.store, self.base / "import", CONTACTS, name="spool",
                                max_attempts=1, max_channels=10, cps=20.0)

    def spooled(self):
        """
        The events the spool holds (records torn by the kill are skipped:
        their write was never reported durable).
        """
        found = []
        for path in sorted(self.spool_dir.glob("spool-*.log")):
            events, _ = S.decode_events(path.read_bytes(), source=path.name)
            found += events
        return found

    @defer.inlineCallbacks
    def wait_for(self, predicate, what, seconds=45):
        deadline = reactor.seconds() + seconds
        while True:
            result = yield defer.maybeDeferred(predicate)
            if result:
                return result
            if reactor.seconds() > deadline:
                self.fail(f"{what}: not within {seconds} s\n" + self.logs())
            yield sleep(0.05)

    @defer.inlineCallbacks
    def test_spooled_events_replayed_once_after_sigkill(self):
        """
        Killed with events in its spool, the daemon replays them when it
        starts again: all are stored, none twice, and the calls and contacts
        derived from them count each once.
        """
        campaign_id = yield self.create_campaign()
        first = self.daemon()
        yield first.health(timeout=60)
        yield self.wait_for(
            lambda: self.scalar("SELECT count(*) FROM call_events").addCallback(
                lambda n: n >= 40), "events stored")

        # The database goes away: the calls in flight spool their events.
        self.pool.close()
        yield self.pg.stop()
        yield self.wait_for(lambda: len(self.spooled()) >= 20, "events spooled")
        code = yield first.kill()
        self.assertIsNone(code, "the daemon was killed, not ended")
        spooled = self.spooled()
        # The same fact may be spooled twice (answered, seen by the dialer
        # and by the call flow): one key, stored once.
        keys = {event.key for event in spooled}

        yield self.pg.start()
        yield self.connect()
        stored_before = yield self.scalar(
            "SELECT count(*) FROM call_events WHERE idempotency_key = ANY(%s)", (list(keys),))

        second = self.daemon()
        yield second.health(timeout=60)
        yield self.wait_for(lambda: not self.spooled() and not list(
            self.spool_dir.glob("spool-*.log")), "spool replayed")
        code, body = yield second.health()
        details = body["components"]["events"]["details"]
        self.assertEqual(details["replayed"], len(spooled), details)
        self.assertGreaterEqual(details["duplicates"],
                                stored_before + len(spooled) - len(keys), details)
        self.assertEqual((details["rejected"], details["skipped"]), (0, 0), details)

        # Stop dialing, so that the checks see a log nobody writes.
        yield self.store.campaigns.transition(campaign_id, "pause", "user:test")
        code = yield second.terminate()
        self.assertEqual(code, 0, second.text()[-6000:])

        rows = yield self.pool.runQuery(
            "SELECT idempotency_key, count(*) FROM call_events"
            " WHERE idempotency_key = ANY(%s) GROUP BY 1", (list(keys),))
        self.assertEqual(dict(rows), dict.fromkeys(keys, 1), "every spooled event, once")
        # The derived state counts each event once.
        not_matching = yield self.scalar(
            "SELECT count(*) FROM calls c LEFT JOIN LATERAL ("
            "    SELECT string_agg(e.payload->>'key', '' ORDER BY e.id) AS keys"
            "      FROM call_events e WHERE e.call_id = c.id AND e.kind = 'key') k ON true"
            " WHERE c.campaign_id = %s AND c.keys <> coalesce(k.keys, '')", (campaign_id,))
        self.assertEqual(not_matching, 0)
        wrong_attempts = yield self.scalar(
            "SELECT count(*) FROM campaign_contacts cc JOIN ("
            "    SELECT c.campaign_contact_id, count(e.id) AS accepted FROM calls c"
            "      LEFT JOIN call_events e ON e.call_id = c.id"
            "                             AND e.kind = 'originate_accepted'"
            "     GROUP BY 1) a ON a.campaign_contact_id = cc.id"
            " WHERE cc.campaign_id = %s AND cc.attempts <> a.accepted", (campaign_id,))
        self.assertEqual(wrong_attempts, 0)
        ended_in_spool = {e.call_id for e in spooled if e.kind in ("hangup", "originate_failed")}
        not_ended = yield self.scalar(
            "SELECT count(*) FROM calls WHERE id = ANY(%s) AND ended_at IS NULL",
            (list(ended_in_spool),))
        self.assertEqual(not_ended, 0, "the ends in the spool are applied")
