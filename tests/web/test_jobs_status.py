"""
Tests for the jobs page and API, the system status page and the dashboard
with its live feed.
"""

import json

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial import unittest
from twisted.web.test.requesthelper import DummyRequest

from fts import config as C
from fts import health as H
from fts.dialer.registry import ActiveCall, CallRegistry
from fts.jobs.job import Job
from fts.jobs.runner import JobRunner
from fts.jobs.schedule import Interval
from fts.web import security
from fts.web.live import CallRates, LiveFeed
from tests.web.support import SYSTEM, PanelTestCase


class JobsTests(PanelTestCase):
    def make_app(self, **kwargs):
        self.ran = []
        self.runner = JobRunner(self.clock)
        self.runner.add(Job("cleanup", [self.ran.append], schedule=Interval(3600),
                            description="Deletes old rows"))
        self.runner.startService()
        self.addCleanup(self.runner.stopService)
        return super().make_app(jobs=self.runner, **kwargs)

    @defer.inlineCallbacks
    def test_page(self):
        """
        The jobs page lists each job with its schedule and next run, and
        the jobs the database knows of from earlier runs.
        """
        yield self.store.jobs.register("backup", "daily at 03:00")
        client = yield self.logged_in("viewer")
        page = yield client.get("/jobs")
        self.assertEqual(page.code, 200)
        self.assertIn("cleanup", page.text)
        self.assertIn("Deletes old rows", page.text)
        self.assertIn("daily at 03:00", page.text)
        self.assertNotIn("Run now", page.text)

    @defer.inlineCallbacks
    def test_run_now(self):
        """
        An admin runs a job now from the page: it runs in the runner, the
        page redirects at once, and the action is audited.
        """
        client = yield self.logged_in("admin")
        self.assertIn("Run now", (yield client.get("/jobs")).text)
        result = yield client.post("/jobs/cleanup/run")
        self.assertEqual(result.code, 303)
        self.assertEqual(self.ran, [None])
        entries, _ = yield self.app.audit.entries(object_type="job")
        self.assertEqual((entries[0].action, entries[0].object_id), ("job.run_now", "cleanup"))
        page = yield client.get("/jobs?notice=job-started")
        self.assertIn("The job has been started", page.text)
        self.assertIn("success", page.text)

    @defer.inlineCallbacks
    def test_unknown_job(self):
        """
        Running a job that does not exist is a 404 and runs nothing.
        """
        client = yield self.logged_in("admin")
        self.assertEqual((yield client.post("/jobs/nope/run")).code, 404)
        self.assertEqual(self.ran, [])

    @defer.inlineCallbacks
    def test_api(self):
        """
        The API lists jobs and runs one (202) with an admin token; an
        unknown job is a structured 404.
        """
        token, prefix = security.new_api_token()
        yield self.app.auth.create_token("t", self.users["admin"].id,
                                         security.token_hash(token), prefix, "admin", None,
                                         SYSTEM)
        client = self.client()
        listed = yield client.get("/api/v1/jobs", token=token)
        self.assertEqual([j["name"] for j in listed.json()["items"]], ["cleanup"])
        result = yield client.post("/api/v1/jobs/cleanup/run", token=token, form=None)
        self.assertEqual((result.code, result.json()), (202, {"job": "cleanup", "started": True}))
        self.assertEqual(self.ran, [None])
        missing = yield client.request("POST", "/api/v1/jobs/nope/run", token=token)
        self.assertEqual((missing.code, missing.json()["error"]["code"]), (404, "not_found"))


class StatusTests(PanelTestCase):
    def make_app(self, **kwargs):
        config = C.load(environ={"FTS_MAIL_PASSWORD": "hunter2-secret",
                                 "FTS_WEB_ADMIN_PASSWORD": "first-admin-pw"})
        return super().make_app(config=config, **kwargs)

    @defer.inlineCallbacks
    def test_admin_sees_masked_config(self):
        """
        Admins see components, versions and the configuration with every
        secret masked.
        """
        self.health.component("pbx", critical=False).set(H.DOWN, error="no PBX <yet>")
        client = yield self.logged_in("admin")
        page = yield client.get("/status")
        self.assertEqual(page.code, 200)
        self.assertIn("no PBX &lt;yet&gt;", page.text)
        self.assertIn("twisted", page.text)
        self.assertIn("PostgreSQL", page.text)
        self.assertIn("smtp_host", page.text)
        self.assertNotIn("hunter2-secret", page.text)
        self.assertNotIn("first-admin-pw", page.text)
        self.assertIn("********", page.text)

    @defer.inlineCallbacks
    def test_viewer_no_config(self):
        """
        A viewer sees the status but not the configuration.
        """
        client = yield self.logged_in("viewer")
        page = yield client.get("/status")
        self.assertIn("Only admins see the configuration", page.text)
        self.assertNotIn("smtp_host", page.text)


def call(clock, call_id, campaign_id, pbx=None, answered=False):
    active = ActiveCall.claimed(clock, call_id, campaign_id, call_id, call_id, "15550001")
    return active


class DashboardTests(PanelTestCase):
    def make_app(self, **kwargs):
        self.calls = CallRegistry()
        return super().make_app(calls=self.calls, **kwargs)

    def place(self, call_id, campaign_id, pbx):
        active = call(self.clock, call_id, campaign_id)
        self.calls.add(active)
        self.calls.place(active, pbx, self.clock.seconds())
        return active

    @defer.inlineCallbacks
    def test_calls_in_flight(self):
        """
        The dashboard shows calls in flight in total, per campaign and per
        PBX, calls per second and the answer rate.
        """
        self.health.component("pbx", critical=False).set(H.UP)
        for n in range(3):
            self.place(n + 1, 7, "sim")
        ended = self.place(10, 8, "sim")
        ended.answered_at = self.clock.seconds()
        self.calls.end(ended, self.clock.seconds())
        client = yield self.logged_in("viewer")
        data = (yield client.get("/dashboard/snapshot.json")).json()
        self.assertEqual(data["calls"]["total"], 3)
        self.assertEqual(data["calls"]["per_campaign"], [{"campaign": 7, "calls": 3}])
        self.assertEqual(data["calls"]["per_pbx"], [{"pbx": "sim", "calls": 3}])
        self.assertEqual(data["calls"]["cps"], 0.4)
        self.assertEqual(data["calls"]["answer_rate"], 1.0)
        self.assertEqual(data["pbx"][0]["state"], "up")
        page = yield client.get("/")
        self.assertIn('id="calls-total">3<', page.text)
        self.assertIn("100.0 %", page.text)

    @defer.inlineCallbacks
    def test_without_dialer(self):
        """
        Without the dialer the dashboard says there are no call figures
        rather than showing zeros.
        """
        self.app = super().make_app()
        client = yield self.logged_in("viewer")
        page = yield client.get("/")
        self.assertIn("The dialer is not running", page.text)
        self.assertIn('id="calls-total">—<', page.text)


class CallRatesTests(unittest.SynchronousTestCase):
    def test_window(self):
        """
        Calls per second count originates of the last 10 s; the answer rate
        forgets calls ended more than 5 minutes ago.
        """
        clock = Clock()
        rates = CallRates(clock)
        first = call(clock, 1, 1)
        first.originated_at, first.answered_at = 0.0, 1.0
        rates.ended(first)
        clock.advance(5)
        second = call(clock, 2, 1)
        second.originated_at = 4.0
        rates.ended(second)
        self.assertEqual(rates.summary(), {"cps": 0.2, "answer_rate": 0.5, "ended": 2})
        clock.advance(298)
        self.assertEqual(rates.summary(), {"cps": 0.0, "answer_rate": 0.0, "ended": 1})
        clock.advance(10)
        self.assertEqual(rates.summary()["answer_rate"], None)


class LiveFeedTests(unittest.SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.built = 0
        self.feed = LiveFeed(self.clock, self.snapshot, interval=2.0)

    def snapshot(self):
        self.built += 1
        return {"n": self.built, "text": "</script>"}

    def events(self, request):
        text = b"".join(request.written).decode()
        return [json.loads(line[len("data: "):]) for line in text.splitlines()
                if line.startswith("data: ")]

    def test_stream(self):
        """
        A subscriber gets a snapshot at once and one every interval, as
        server-sent events.
        """
        request = DummyRequest([b""])
        self.feed.subscribe(request)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"),
                         [b"text/event-stream; charset=utf-8"])
        self.clock.advance(2)
        self.clock.advance(2)
        self.assertEqual([e["n"] for e in self.events(request)], [1, 2, 3])

    def test_shared_and_stops(self):
        """
        Many subscribers share one snapshot per tick; with none left, the
        feed stops building.
        """
        first, second = DummyRequest([b""]), DummyRequest([b""])
        d1, d2 = self.feed.subscribe(first), self.feed.subscribe(second)
        self.clock.advance(2)
        self.assertEqual(self.built, 2)
        self.assertEqual(self.events(second)[-1]["n"], 2)
        for d in (d1, d2):
            d.cancel()
            self.failureResultOf(d, defer.CancelledError)
        self.assertEqual(len(self.feed), 0)
        self.clock.advance(10)
        self.assertEqual(self.built, 2)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_close(self):
        """
        Closing ends every stream (the daemon is stopping).
        """
        request = DummyRequest([b""])
        done = self.feed.subscribe(request)
        self.feed.close()
        self.assertEqual(self.successResultOf(done), b"")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_limit(self):
        """
        Past the subscriber limit a stream is refused with 503.
        """
        feed = LiveFeed(self.clock, self.snapshot, max_subscribers=1)
        feed.subscribe(DummyRequest([b""]))
        refused = DummyRequest([b""])
        feed.subscribe(refused)
        self.assertEqual(refused.responseCode, 503)

    def test_failing_snapshot(self):
        """
        A snapshot that fails is logged and the feed keeps going.
        """
        outcomes = iter([ValueError("boom"), {"n": 2}])

        def snapshot():
            value = next(outcomes)
            if isinstance(value, Exception):
                raise value
            return value

        feed = LiveFeed(self.clock, snapshot)
        request = DummyRequest([b""])
        feed.subscribe(request)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        self.clock.advance(2)
        self.assertEqual(self.events(request), [{"n": 2}])
