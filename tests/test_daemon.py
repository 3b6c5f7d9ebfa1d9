"""
End-to-end tests of the C{twistd fts} process itself: start on the embedded
defaults, answer /health, stop cleanly on SIGTERM.
"""

import os

from twisted.internet import defer, reactor
from twisted.trial import unittest

from fts.db import embedded
from tests.support.daemon import ROOT, Daemon


class DaemonTests(unittest.TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def test_start_health_and_sigterm(self):
        """
        A daemon on the embedded defaults answers GET /health with 200 and
        every component's state; SIGTERM makes it exit 0 and stop its
        PostgreSQL.
        """
        data_dir = os.path.abspath(self.mktemp())
        # Relative to the daemon's working directory, as `make run` gives it.
        daemon = Daemon(reactor, os.path.relpath(data_dir, ROOT))
        daemon.start()
        try:
            code, body = yield daemon.health()
            while body["status"] != "ok" or "created the demo" not in daemon.text():
                code, body = yield daemon.health()
        finally:
            status = yield daemon.terminate()
        self.assertEqual(code, 200, daemon.text())
        self.assertEqual(body["components"]["db"]["state"], "up")
        pbx = body["components"]["pbx"]
        self.assertEqual(pbx["state"], "up")
        self.assertTrue(pbx["details"]["simulated"])
        self.assertEqual(pbx["details"]["servers"]["sim"]["status"], "connected")
        self.assertEqual(body["components"]["agi"]["state"], "up")
        self.assertEqual(body["components"]["events"]["state"], "up")
        self.assertEqual(status, 0, daemon.text())
        self.assertIsNone(embedded.running_postmaster(os.path.join(data_dir, "pg")))
        self.assertIn("first run: created user admin with password", daemon.text())
        self.assertIn("SIMULATED PBX", daemon.text())
        self.assertIn("created the demo list (300 contacts)", daemon.text())

    @defer.inlineCallbacks
    def test_bad_config_exits_nonzero(self):
        """
        A bad configuration value stops start-up with a non-zero status and
        one line naming the key; nothing is started.
        """
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write("[dialer]\nmax_channels = -3\n")
        data_dir = os.path.abspath(self.mktemp())
        daemon = Daemon(reactor, data_dir, args=["--config", path])
        status = yield daemon.start()
        self.assertNotEqual(status, 0)
        self.assertIn(f"fts: configuration error: {path}:[dialer] max_channels = '-3': "
                      "expected a whole number from 1 to 1000000", daemon.text())
        self.assertFalse(os.path.exists(os.path.join(data_dir, "pg")))
