"""
Tests for the campaign actions of the JSON API: confirm as a job, schedule,
cancel pending calls, stats, the calls list and CSV, and a single call now;
each with its authentication, role and bad-input refusals.
"""

from datetime import UTC, datetime, timedelta

from twisted.internet import defer

from fts.core.lifecycle import State
from tests.dialer import support as S
from tests.web.campaign_support import CampaignCase


class ScheduleTests(CampaignCase):
    @defer.inlineCallbacks
    def test_scheduled_campaign_moves(self):
        """
        A scheduled campaign's start moves to the instant given (with its
        offset); it stays scheduled; the change is audited.
        """
        cid = yield self.campaign("scheduled")
        token = yield self.token("operator")
        result = yield self.client().request(
            "POST", f"/api/v1/campaigns/{cid}/schedule", token=token,
            body={"at": "2026-06-10T09:00:00+02:00"})
        self.assertEqual(result.code, 200)
        campaign = yield self.store.campaigns.get(cid)
        self.assertEqual(campaign.starts_at, datetime(2026, 6, 10, 7, tzinfo=UTC))
        self.assertEqual(campaign.state, State.SCHEDULED)
        self.assertEqual((yield self.count("audit_log", "action = 'campaign.schedule'")), 1)

    @defer.inlineCallbacks
    def test_draft_after_delay(self):
        """
        A draft scheduled after a delay gets that start and is confirmed by
        the job (202 with the queued operation).
        """
        cid = yield self.campaign("draft")
        token = yield self.token("operator")
        result = yield self.client().request(
            "POST", f"/api/v1/campaigns/{cid}/schedule", token=token,
            body={"after_seconds": 3600})
        self.assertEqual(result.code, 202)
        self.assertEqual(result.json()["action"]["kind"], "confirm")
        yield self.action_done(cid)
        campaign = yield self.store.campaigns.get(cid)
        self.assertEqual(campaign.state, State.SCHEDULED)
        expected = datetime.fromtimestamp(self.clock.seconds(), UTC) + timedelta(hours=1)
        self.assertEqual(campaign.starts_at, expected.replace(microsecond=0))

    @defer.inlineCallbacks
    def test_bad_input(self):
        """
        Both or neither of at / after_seconds, a malformed or naive time, a
        negative delay: 422 naming the field; nothing changes.
        """
        cid = yield self.campaign("scheduled")
        before = (yield self.store.campaigns.get(cid)).starts_at
        token = yield self.token("operator")
        client = self.client()
        for body, field in (({}, "at"), ({"at": "2026-06-10T09:00Z", "after_seconds": 5}, "at"),
                            ({"at": "tomorrow<script>"}, "at"),
                            ({"at": "2026-06-10T09:00:00"}, "at"),
                            ({"after_seconds": -1}, "after_seconds"),
                            ({"after_seconds": "soon"}, "after_seconds")):
            result = yield client.request("POST", f"/api/v1/campaigns/{cid}/schedule",
                                          token=token, body=body)
            self.assertEqual(result.code, 422, body)
            self.assertIn(field, [p["field"] for p in result.json()["error"]["problems"]])
        self.assertEqual((yield self.store.campaigns.get(cid)).starts_at, before)
        self.assertEqual((yield self.count("audit_log", "action = 'campaign.schedule'")), 0)

    @defer.inlineCallbacks
    def test_refused(self):
        """
        A running campaign cannot be scheduled (409), a start after the end
        is refused (409), a viewer is refused (403), no token is 401.
        """
        running = yield self.campaign("running")
        scheduled = yield self.campaign("scheduled")
        operator, viewer = (yield self.token("operator")), (yield self.token("viewer"))
        client = self.client()
        path = "/api/v1/campaigns/{}/schedule"
        conflict = yield client.request("POST", path.format(running), token=operator,
                                        body={"after_seconds": 60})
        self.assertEqual(conflict.code, 409)
        late = yield client.request("POST", path.format(scheduled), token=operator,
                                    body={"at": "2027-01-01T00:00:00Z"})
        self.assertEqual(late.code, 409)
        self.assertIn("before the campaign's end", late.json()["error"]["message"])
        self.assertEqual((yield client.request("POST", path.format(scheduled), token=viewer,
                                               body={"after_seconds": 60})).code, 403)
        self.assertEqual((yield client.request("POST", path.format(scheduled),
                                               body={"after_seconds": 60})).code, 401)
        self.assertEqual((yield client.request("POST", path.format(999999), token=operator,
                                               body={"after_seconds": 60})).code, 404)
        self.assertEqual((yield self.count("audit_log", "action = 'campaign.schedule'")), 0)


class ConfirmAndCancelPendingTests(CampaignCase):
    @defer.inlineCallbacks
    def test_confirm_is_a_job(self):
        """
        The API's confirm answers 202 at once; the job confirms; the stats
        show the operation's outcome.
        """
        cid = yield self.campaign("draft")
        token = yield self.token("operator")
        client = self.client()
        result = yield client.request("POST", f"/api/v1/campaigns/{cid}/confirm", token=token)
        self.assertEqual(result.code, 202)
        self.assertIn(result.json()["state"], ("queued", "running"))
        yield self.action_done(cid)
        stats = (yield client.get(f"/api/v1/campaigns/{cid}/stats", token=token)).json()
        self.assertEqual((stats["state"], stats["action"]["state"]), ("scheduled", "succeeded"))
        self.assertEqual(stats["progress"]["pending"], 2)
        again = yield client.request("POST", f"/api/v1/campaigns/{cid}/confirm", token=token)
        self.assertEqual(again.code, 409)

    @defer.inlineCallbacks
    def test_cancel_pending(self):
        """
        Cancel-pending answers 202 and the job closes the pending contacts;
        a draft is refused; a viewer cannot.
        """
        cid = yield self.campaign("running")
        draft = yield self.campaign("draft")
        operator, viewer = (yield self.token("operator")), (yield self.token("viewer"))
        client = self.client()
        self.assertEqual((yield client.request(
            "POST", f"/api/v1/campaigns/{cid}/cancel-pending", token=viewer)).code, 403)
        result = yield client.request("POST", f"/api/v1/campaigns/{cid}/cancel-pending",
                                      token=operator)
        self.assertEqual(result.code, 202)
        yield self.action_done(cid)
        stats = (yield client.get(f"/api/v1/campaigns/{cid}/stats", token=viewer)).json()
        self.assertEqual(stats["progress"], {"total": 2, "done": 2, "pending": 0,
                                             "in_flight": 0, "archived": False,
                                             "percent_done": 100.0})
        self.assertEqual(stats["report"]["final_outcomes"]["not_dialed"], 2)
        self.assertEqual((yield client.request(
            "POST", f"/api/v1/campaigns/{draft}/cancel-pending", token=operator)).code, 409)


class CallsApiTests(CampaignCase):
    @defer.inlineCallbacks
    def test_calls_pages_and_filters(self):
        """
        Calls come newest first by keyset, filtered; a viewer may read.
        """
        cid, ids = yield self.with_calls()
        token = yield self.token("viewer")
        client = self.client()
        seen, before = [], None
        while True:
            path = f"/api/v1/campaigns/{cid}/calls?limit=2"
            if before:
                path += f"&before={before}"
            page = (yield client.get(path, token=token)).json()
            self.assertEqual(page["total"], 4)
            seen += [c["id"] for c in page["items"]]
            before = page["next_before"]
            if before is None:
                break
        self.assertEqual(seen, sorted(ids, reverse=True))
        busy = (yield client.get(f"/api/v1/campaigns/{cid}/calls?outcome=busy",
                                 token=token)).json()
        self.assertEqual([c["id"] for c in busy["items"]], [ids[1]])
        tests = (yield client.get(f"/api/v1/campaigns/{cid}/calls?tests=only",
                                  token=token)).json()
        self.assertEqual([(c["id"], c["test_call"]) for c in tests["items"]], [(ids[3], True)])

    @defer.inlineCallbacks
    def test_bad_filters(self):
        """
        Bad filters and hostile text are 422 naming each field.
        """
        cid, _ = yield self.with_calls()
        token = yield self.token("viewer")
        result = yield self.client().get(
            f"/api/v1/campaigns/{cid}/calls?phone=%27%20OR%201%3D1--&date_from=2026-02-30"
            "&outcome=bogus", token=token)
        self.assertEqual(result.code, 422)
        fields = {p["field"] for p in result.json()["error"]["problems"]}
        self.assertEqual(fields, {"outcome"})  # enum checked first by the framework
        result = yield self.client().get(
            f"/api/v1/campaigns/{cid}/calls?phone=%3Cscript%3E&date_from=2026-02-30",
            token=token)
        self.assertEqual(result.code, 422)
        fields = {p["field"] for p in result.json()["error"]["problems"]}
        self.assertEqual(fields, {"phone", "date_from"})
        self.assertEqual((yield self.client().get(f"/api/v1/campaigns/{cid}/calls")).code, 401)

    @defer.inlineCallbacks
    def test_stats_exclude_test_calls(self):
        """
        The stats count the campaign's calls but never its test call.
        """
        cid, _ = yield self.with_calls()
        token = yield self.token("viewer")
        stats = (yield self.client().get(f"/api/v1/campaigns/{cid}/stats", token=token)).json()
        self.assertEqual(stats["report"]["figures"]["calls"], 3)
        self.assertEqual(stats["report"]["call_outcomes"]["answered"], 1)

    @defer.inlineCallbacks
    def test_calls_csv(self):
        """
        The API streams the calls as CSV with the same filters.
        """
        cid, ids = yield self.with_calls()
        token = yield self.token("viewer")
        result = yield self.client().get(f"/api/v1/campaigns/{cid}/calls.csv?outcome=busy",
                                         token=token)
        self.assertEqual(result.code, 200)
        lines = result.text.split("\r\n")
        self.assertEqual([line.split(",")[0] for line in lines[1:-1]], [str(ids[1])])


class CallNowTests(CampaignCase):
    @defer.inlineCallbacks
    def test_call_now(self):
        """
        POST /calls places a test call with the campaign's message: 201 with
        its id; recorded as a test call; audited.
        """
        yield self.dialing_now()
        cid = yield self.campaign("draft")
        token = yield self.token("operator")
        result = yield self.client().request("POST", "/api/v1/calls", token=token,
                                             body={"phone": "+1 555 010 0200",
                                                   "campaign_id": cid})
        self.assertEqual(result.code, 201)
        call = result.json()
        self.assertEqual((call["number"], call["test_call"]), ("15550100200", True))
        [request] = self.line.requests
        self.assertEqual(request.call_id, call["call_id"])
        self.assertEqual((yield self.count("calls", "is_test_call")), 1)
        self.assertEqual((yield self.count("audit_log", "action = 'campaign.test_call'")), 1)
        self.line.end(request.channel_id, reason=4, answered=True)
        yield S.settle(self.clock, self.dialing, self.events)

    @defer.inlineCallbacks
    def test_refusals(self):
        """
        A number that cannot be dialed (or hostile text) is 422 at C{phone},
        an unknown campaign 404, no line up 503, a viewer 403, missing
        fields 422; no call is placed or stored.
        """
        yield self.dialing_now()
        cid = yield self.campaign("draft")
        operator, viewer = (yield self.token("operator")), (yield self.token("viewer"))
        client = self.client()

        def post(body, token=operator):
            return client.request("POST", "/api/v1/calls", token=token, body=body)

        for phone in ("<script>alert(1)</script>", "12", "'; DROP TABLE calls; --"):
            bad = yield post({"phone": phone, "campaign_id": cid})
            self.assertEqual(bad.code, 422, phone)
            self.assertEqual(bad.json()["error"]["problems"][0]["field"], "phone")
        self.assertEqual((yield post({"phone": "5550100200", "campaign_id": 999999})).code,
                         404)
        missing = yield post({})
        self.assertEqual(missing.code, 422)
        self.assertEqual({p["field"] for p in missing.json()["error"]["problems"]},
                         {"phone", "campaign_id"})
        self.assertEqual((yield post({"phone": "5550100200", "campaign_id": cid},
                                     token=viewer)).code, 403)
        self.line.set_connected(False)
        down = yield post({"phone": "5550100200", "campaign_id": cid})
        self.assertEqual(down.code, 503)
        self.assertIn("No PBX line is up", down.json()["error"]["message"])
        self.assertEqual(self.line.requests, [])
        self.assertEqual((yield self.count("calls")), 0)

    @defer.inlineCallbacks
    def test_openapi_lists_actions(self):
        """
        The OpenAPI document lists the new endpoints.
        """
        document = (yield self.client().get("/api/v1/openapi.json")).json()
        for path in ("/campaigns/{campaign_id}/schedule",
                     "/campaigns/{campaign_id}/cancel-pending",
                     "/campaigns/{campaign_id}/stats", "/campaigns/{campaign_id}/calls",
                     "/calls"):
            self.assertTrue("/api/v1" + path in document["paths"], path)


