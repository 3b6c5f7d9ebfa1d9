"""
Durability through a real PostgreSQL outage, in one process: the daemon as
C{fts.service} wires it (the dialer, the AMI client and the PBX simulator
over loopback, the FastAGI call flow, the event writer) on a PostgreSQL
server of the test's own, which the test stops in the middle of a campaign
and starts again.

What must hold: while PostgreSQL is away the events of the calls in flight
go to the spool and the dialer places no new call, by itself; when it
returns the spool is replayed and the dialer dials again, by itself; at the
end the event log holds exactly what happened -- per kind, what the
simulator counted -- and the derived state counts nothing twice.
"""

import os
from pathlib import Path

from twisted.internet import defer
from twisted.trial import unittest

from fts.events import writer as W
from tests.dialer.stack import sleep, wait_until
from tests.support.campaigns import daemon_in_process, running_campaign
from tests.support.outage import StoppablePostgres

CONTACTS = 400
CHANNELS = 10
CPS = 25.0


class OutageDuringCampaignTests(unittest.TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def setUp(self):
        self.pg = StoppablePostgres(self)
        dsn = yield self.pg.start()
        self.data_dir = Path(os.path.abspath(self.mktemp()))
        self.root = yield daemon_in_process(self, dsn, {
            "FTS_PBX_SIM_SCALE": "0.01",
            "FTS_PBX_SIM_SEED": "5",
            "FTS_BACKUP_ENABLED": "no",
            "FTS_TTS_ENGINE": "none",
            "FTS_WEB_ADMIN_PASSWORD": "outage-test",
        }, self.data_dir)
        self.db = self.root.getServiceNamed("db")
        self.store = self.db.store
        self.writer = self.root.getServiceNamed("events")
        self.dialer = self.root.dialer
        self.tally = self.root.getServiceNamed("pbx").simulator.tally

    def create_campaign(self):
        """
        A running campaign on C{CONTACTS} contacts, one attempt each, which
        reads a field of the contact as digits (no text-to-speech) and has
        the demo's menu (1: record, 9: opt out).
        """
        return running_campaign(
            self.store, self.data_dir / "test", CONTACTS, name="outage", max_attempts=1,
            imports=self.root.getServiceNamed("imports").imports, max_channels=CHANNELS,
            cps=CPS)

    @defer.inlineCallbacks
    def stored_events(self):
        rows = yield self.db.pool.runQuery("SELECT count(*) FROM call_events")
        return rows[0][0]

    @defer.inlineCallbacks
    def test_outage_spooled_paused_replayed_resumed(self):
        """
        PostgreSQL stopped while a campaign dials: the calls in flight end
        with their events spooled, the dialer stops placing calls on its
        own, and when PostgreSQL is back the spool is replayed and dialing
        resumes on its own.  Afterwards the event log matches the
        simulator's tally kind by kind, every event emitted is stored once,
        and the calls and contacts derived from the events agree with them.
        """
        durability = []
        self.writer.on_durability_change(
            lambda accepting: durability.append((accepting, self.dialer.counts["placed"])))
        campaign_id = yield self.create_campaign()

        # Dialing, and events reaching the database.
        yield wait_until(lambda: self.stored_events().addCallback(lambda n: n >= 40))
        self.assertTrue(self.writer.accepting_calls)

        # PostgreSQL goes away in the middle of the campaign.
        yield self.pg.stop()
        yield wait_until(lambda: not self.writer.accepting_calls)
        self.assertEqual(self.writer.mode, W.SPOOLING)
        (paused, placed_at_pause), = durability
        self.assertFalse(paused)
        # The calls in flight end; their events are fsync'd to the spool.
        yield wait_until(lambda: self.dialer.registry.total == 0)
        yield self.writer.flush()
        spooled = self.writer.counts["spooled"]
        self.assertGreater(spooled, 0)
        self.assertTrue(list((self.data_dir / "spool" / "events").glob("spool-*.log")))
        # Long enough for the dialer to have dialed dozens of calls: it
        # places none, and the health says why.
        yield sleep(1.0)
        self.assertEqual(self.dialer.counts["placed"], placed_at_pause)
        self.assertFalse(self.dialer.health_details()["accepting_events"])
        self.assertEqual(self.writer.counts["spooled"], spooled)

        # PostgreSQL comes back: replay, then dialing again, by themselves.
        yield self.pg.start()
        yield wait_until(lambda: self.writer.accepting_calls, timeout=30)
        self.assertEqual(self.writer.mode, W.DIRECT)
        self.assertEqual([accepting for accepting, _ in durability], [False, True])
        self.assertEqual(self.writer.counts["replayed"], spooled)
        self.assertEqual(list((self.data_dir / "spool" / "events").glob("spool-*.log")), [])
        yield wait_until(lambda: self.dialer.counts["placed"] >= placed_at_pause + 20,
                         timeout=30)

        # Stop the campaign (so it is not finalized, which purges its
        # events) and let the calls in flight end.
        yield self.store.campaigns.transition(campaign_id, "pause", "user:test")
        yield wait_until(lambda: self.dialer.registry.total == 0)
        yield self.writer.flush()

        yield self.check_log(campaign_id)

    @defer.inlineCallbacks
    def check_log(self, campaign_id):
        pool = self.db.pool
        counts = self.writer.counts
        self.assertEqual((counts["rejected"], counts["skipped"]), (0, 0))
        rows = yield pool.runQuery(
            "SELECT kind, count(*) FROM call_events WHERE campaign_id = %s GROUP BY kind",
            (campaign_id,))
        kinds = dict(rows)
        total = sum(kinds.values())
        # Every emission is accounted for: stored directly, or spooled and
        # replayed; duplicates (the same fact emitted twice, e.g. answered
        # by the dialer and by the call flow) are stored once.
        all_rows = yield pool.runQuery("SELECT count(*) FROM call_events")
        self.assertEqual(all_rows[0][0],
                         counts["written"] + counts["replayed"] - counts["duplicates"])

        tally = self.tally
        # A refused call may have two end events (the channel's hangup and
        # the failed OriginateResponse): the first one ends it.  Calls
        # claimed but never sent (the dialer lost its leadership connection
        # in the outage and settled them when it took it back) end with
        # originate_failed and are not the simulator's.
        rows = yield pool.runQuery(
            "SELECT count(DISTINCT e.call_id) FROM call_events e"
            " WHERE e.campaign_id = %s AND e.kind IN ('hangup', 'lost', 'originate_failed')"
            "   AND EXISTS (SELECT 1 FROM call_events s WHERE s.call_id = e.call_id"
            "                  AND s.kind = 'originate_sent')", (campaign_id,))
        ended = rows[0][0]
        self.assertEqual(
            {"originate_sent": kinds.get("originate_sent", 0),
             "originate_accepted": kinds.get("originate_accepted", 0),
             "answered": kinds.get("answered", 0),
             "ended": ended,
             "key": kinds.get("key", 0)},
            tally.expected_events(),
            f"stored per kind {kinds}, simulator tally {tally.snapshot()}")
        self.assertEqual(self.dialer.counts["placed"], tally.originates)

        # The derived state counts each event once.
        rows = yield pool.runQuery(
            "SELECT count(*) FILTER (WHERE c.ended_at IS NULL),"
            "       count(*) FILTER (WHERE c.keys <> coalesce(k.keys, '')),"
            "       count(*) FILTER (WHERE c.answered_at IS NOT NULL)"
            "  FROM calls c LEFT JOIN LATERAL ("
            "    SELECT string_agg(e.payload->>'key', '' ORDER BY e.id) AS keys"
            "      FROM call_events e WHERE e.call_id = c.id AND e.kind = 'key') k ON true"
            " WHERE c.campaign_id = %s", (campaign_id,))
        not_ended, keys_wrong, answered = rows[0]
        self.assertEqual((not_ended, keys_wrong, answered), (0, 0, kinds.get("answered", 0)))
        rows = yield pool.runQuery(
            "SELECT count(*) FILTER (WHERE cc.attempts <> a.accepted), sum(cc.attempts)"
            "  FROM campaign_contacts cc JOIN ("
            "    SELECT c.campaign_contact_id, count(e.id) AS accepted FROM calls c"
            "      LEFT JOIN call_events e ON e.call_id = c.id"
            "                             AND e.kind = 'originate_accepted'"
            "     GROUP BY 1) a ON a.campaign_contact_id = cc.id"
            " WHERE cc.campaign_id = %s", (campaign_id,))
        wrong_attempts, attempts = rows[0]
        self.assertEqual((wrong_attempts, attempts),
                         (0, kinds.get("originate_accepted", 0)))
        self.assertGreater(total, 100)
