"""
A campaign through the whole daemon as C{fts.service} wires it: the CSV
importer, the campaign store, the dialer, the AMI client and the simulator
over real loopback sockets, the FastAGI call flow, the event writer, the
life-cycle sweeper and the finalization, down to the final report.
"""

import os
from pathlib import Path

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from fts import demo
from tests.support.campaigns import confirm_and_start, daemon_in_process
from tests.support.db import fresh_database

CONTACTS = 30


class CampaignEndToEndTests(unittest.TestCase):
    timeout = 180

    @defer.inlineCallbacks
    def setUp(self):
        dsn, drop = yield fresh_database()
        self.addCleanup(drop)
        self.data_dir = Path(os.path.abspath(self.mktemp()))
        self.root = yield daemon_in_process(self, dsn, {
            "FTS_PBX_SIM_SCALE": "0.01",
            "FTS_BACKUP_ENABLED": "no",
            "FTS_WEB_ADMIN_PASSWORD": "end-to-end",
        }, self.data_dir)
        self.store = self.root.getServiceNamed("db").store

    @defer.inlineCallbacks
    def wait_for_state(self, campaign_id, state, seconds):
        deadline = reactor.seconds() + seconds
        while True:
            campaign = yield self.store.campaigns.get(campaign_id)
            if campaign.state == state:
                return campaign
            if reactor.seconds() > deadline:
                raise AssertionError(f"campaign still {campaign.state}, not {state}")
            yield task.deferLater(reactor, 0.25, lambda: None)

    @defer.inlineCallbacks
    def test_demo_campaign_runs_to_its_report(self):
        """
        The demo list and campaign, confirmed and started, are dialed through
        the simulator until every contact is done; the campaign completes,
        is finalized, and its report counts every contact once.
        """
        imports = self.root.getServiceNamed("imports").imports
        # Without text-to-speech the demo reads each contact's number back
        # (the TTS path is covered by the call-flow tests).
        campaign_id = yield demo.create_demo(
            self.store, imports, self.data_dir, reactor,
            tts_available=False, contacts=CONTACTS, max_attempts=1)
        self.assertIsNotNone(campaign_id)
        again = yield demo.create_demo(self.store, imports, self.data_dir, reactor, False)
        self.assertIsNone(again, "the demo is created only into an empty database")

        yield confirm_and_start(self.store, campaign_id, "user:admin")
        yield self.wait_for_state(campaign_id, "finalized", 150)

        report = yield self.store.reports.snapshot(campaign_id)
        self.assertIsNotNone(report)
        dialer = self.root.dialer
        self.assertEqual(dialer.registry.total, 0)
        self.assertGreaterEqual(dialer.counts["answered"], 1)
        tally = self.root.getServiceNamed("pbx").simulator.tally.snapshot()
        self.assertEqual(tally["calls_placed"] if "calls_placed" in tally else tally["originates"],
                         CONTACTS)
