"""
Tests for C{GET /health}, in memory with StubTreq.
"""

import json

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial import unittest

from fts import health as H
from fts.web.app import AdminApp


class HealthRouteTests(unittest.SynchronousTestCase):
    def setUp(self):
        self.health = H.Health(Clock())
        self.treq = StubTreq(AdminApp(health=self.health).resource())

    def get(self):
        response = self.successResultOf(self.treq.get("http://fts/health"))
        body = json.loads(self.successResultOf(response.content()))
        return response, body

    def test_every_component(self):
        """
        /health lists every component with state, since and last error,
        as JSON with HTTP 200 when the daemon can work.
        """
        self.health.component("db").set(H.UP)
        self.health.component("pbx", critical=False).set(H.DOWN, error="no PBX")
        response, body = self.get()
        self.assertEqual(response.code, 200)
        self.assertEqual(response.headers.getRawHeaders("content-type"), ["application/json"])
        self.assertEqual(body["status"], "degraded")
        self.assertEqual(body["components"]["db"]["state"], "up")
        self.assertEqual(body["components"]["pbx"]["last_error"], "no PBX")

    def test_down_is_503(self):
        """
        A critical component down makes /health answer 503.
        """
        self.health.component("db").set(H.DOWN, error="refused")
        response, body = self.get()
        self.assertEqual(response.code, 503)
        self.assertEqual(body["status"], "down")
