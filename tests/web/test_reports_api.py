"""
Tests for the report and recycling endpoints of the JSON API
(L{fts.web.api.reports}).
"""

from twisted.internet import defer

from fts.db.campaigns import CampaignStore
from tests.lifecycle import fixtures as F
from tests.reports import fixture
from tests.web import reports_support as R
from tests.web.test_api import ApiTestCase


class ReportApiTests(ApiTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.campaign = yield R.payment_reminders(self.pool)
        self.viewer = yield self.token("viewer")

    @defer.inlineCallbacks
    def test_token_required(self):
        """
        Without a token every report endpoint answers 401 and sends nothing
        of the report.
        """
        client = self.client()
        for suffix in ("report", "report.csv", "report.txt"):
            result = yield client.get(f"/api/v1/campaigns/{self.campaign}/{suffix}")
            self.assertEqual(result.code, 401, suffix)
            self.assertEqual(result.json()["error"]["code"], "unauthenticated")
            self.assertNotIn(b"Alice", result.body)

    @defer.inlineCallbacks
    def test_final_report_json(self):
        """
        A viewer reads the final report as JSON, with its figures.
        """
        yield R.finalize(self.store, self.pool, self.campaign)
        result = yield self.client().get(f"/api/v1/campaigns/{self.campaign}/report",
                                         token=self.viewer)
        self.assertEqual(result.code, 200)
        data = result.json()
        self.assertEqual((data["kind"], data["campaign_name"], data["format"]),
                         ("final", "Payment reminders", 1))
        self.assertEqual((data["contacts"]["contacts"], data["contacts"]["answered"],
                          data["calls"]["calls"]), (12, 7, 16))
        figures = {f["key"]: f["value"] for f in data["figures"]}
        self.assertEqual((figures["answer_rate"], figures["talk_seconds"]), (70.0, 247))

    @defer.inlineCallbacks
    def test_live_report_json(self):
        """
        Before finalization the report is the live one.
        """
        result = yield self.client().get(f"/api/v1/campaigns/{self.campaign}/report",
                                         token=self.viewer)
        self.assertEqual((result.code, result.json()["kind"]), (200, "live"))

    @defer.inlineCallbacks
    def test_csv_and_text(self):
        """
        The CSV is streamed byte for byte as the hand-computed file; the
        summary is plain text; both are attachments.
        """
        yield R.finalize(self.store, self.pool, self.campaign)
        client = self.client()
        result = yield client.get(f"/api/v1/campaigns/{self.campaign}/report.csv",
                                  token=self.viewer)
        self.assertEqual(result.code, 200)
        self.assertEqual(result.header("content-type"), "text/csv; charset=utf-8")
        self.assertEqual(
            result.header("content-disposition"),
            f'attachment; filename="campaign-{self.campaign}-payment-reminders-final.csv"')
        self.assertEqual(result.body, fixture.EXPECTED_CSV)
        result = yield client.get(f"/api/v1/campaigns/{self.campaign}/report.txt",
                                  token=self.viewer)
        self.assertEqual(result.code, 200)
        self.assertEqual(result.header("content-type"), "text/plain; charset=utf-8")
        self.assertIn("Final report, numbers as of", result.text)

    @defer.inlineCallbacks
    def test_refused(self):
        """
        Unknown campaigns, templates and campaigns without a report get a
        structured error and no file.
        """
        campaigns = CampaignStore(self.pool, self.clock)
        draft = yield F.campaign_in(campaigns, self.pool, "draft")
        template = yield campaigns.save_as_template(draft, F.USER, name="Tpl")
        client = self.client()
        for suffix in ("report", "report.csv", "report.txt"):
            for campaign, code, error in ((999999, 404, "not_found"),
                                          (template.id, 404, "not_found"),
                                          (draft, 409, "conflict")):
                result = yield client.get(f"/api/v1/campaigns/{campaign}/{suffix}",
                                          token=self.viewer)
                self.assertEqual(result.code, code, (campaign, suffix))
                self.assertEqual(result.json()["error"]["code"], error)
                self.assertIsNone(result.header("content-disposition"))
            for path in (f"/api/v1/campaigns/x1/{suffix}",
                         f"/api/v1/campaigns/{self.campaign}/{suffix}/../../etc/passwd",
                         f"/api/v1/campaigns/{self.campaign}/..%2F{suffix}"):
                result = yield client.get(path, token=self.viewer)
                self.assertEqual(result.code, 404, path)
                self.assertEqual(result.json()["error"]["code"], "not_found")

    @defer.inlineCallbacks
    def test_in_openapi(self):
        """
        The endpoints are described in the OpenAPI document.
        """
        document = (yield self.client().get("/api/v1/openapi.json")).json()
        paths = document["paths"]
        self.assertIn("get", paths["/api/v1/campaigns/{campaign_id}/report"])
        self.assertIn("text/csv", str(paths["/api/v1/campaigns/{campaign_id}/report.csv"]))
        self.assertIn("post", paths["/api/v1/campaigns/{campaign_id}/recycle"])


class RecycleApiTests(ApiTestCase):

    with_campaigns = True

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.source, self.phones = yield R.finalized_with_archive(
            self.store.campaigns, self.store.reports, self.pool)
        self.operator = yield self.token("operator")
        self.path = f"/api/v1/campaigns/{self.source}/recycle"

    @defer.inlineCallbacks
    def stored(self):
        counts = []
        for table in ("campaigns", "contact_lists", "contacts", "audit_log"):
            counts.append((yield self.count(table)))
        return counts

    @defer.inlineCallbacks
    def test_recycle(self):
        """
        An operator's token recycles: 201 with the new draft and the number
        of contacts taken, which a dry run announced; the change is audited.
        """
        client = self.client()
        body = {"choices": ["busy", "no_answer"], "keys": ["1"], "name": "Again"}
        dry = yield client.post(self.path, body={**body, "dry_run": True},
                                token=self.operator)
        self.assertEqual((dry.code, dry.json()),
                         (200, {"campaign_id": self.source, "contacts": 3, "dry_run": True}))
        result = yield client.post(self.path, body=body, token=self.operator)
        self.assertEqual(result.code, 201)
        data = result.json()
        self.assertEqual((data["contacts"], data["campaign"]["name"],
                          data["campaign"]["state"]), (3, "Again", "draft"))
        made = yield self.store.campaigns.get(data["campaign"]["id"])
        self.assertEqual((yield R.list_phones(self.pool, made.list_id)),
                         [self.phones[n] for n in (0, 1, 3)])
        entries, _ = yield self.app.audit.entries(object_type="campaign", object_id=made.id)
        self.assertEqual([(e.action, e.actor_name) for e in entries],
                         [("campaign.recycle", "api:t")])

    @defer.inlineCallbacks
    def test_refused(self):
        """
        Viewer tokens, bad bodies, choices matching nothing, unknown and
        unfinished campaigns are refused with a structured error, and
        nothing is created.
        """
        viewer = yield self.token("viewer")
        running = yield F.campaign_in(self.store.campaigns, self.pool, "running")
        before = yield self.stored()
        client = self.client()
        for path, token, body, code, error, problems in (
                (self.path, viewer, {"choices": ["busy"]}, 403, "forbidden", []),
                (self.path, None, {"choices": ["busy"]}, 401, "unauthenticated", []),
                (self.path, self.operator, {}, 422, "invalid",
                 [{"field": "choices",
                   "problem": "Pick at least one outcome or key to recycle."}]),
                (self.path, self.operator, {"choices": ["bogus"], "keys": ["A"]}, 422,
                 "invalid", ["choices", "keys"]),
                (self.path, self.operator, {"choices": [1]}, 422, "invalid", ["choices"]),
                (self.path, self.operator, {"choices": "busy"}, 422, "invalid", ["choices"]),
                (self.path, self.operator, {"choices": ["busy"], "name": " "}, 422,
                 "invalid", ["name"]),
                (self.path, self.operator, {"choices": ["busy"], "name": "x" * 201}, 422,
                 "invalid", ["name"]),
                (self.path, self.operator, {"choices": ["busy"], "evil": 1}, 422, "invalid",
                 ["evil"]),
                (self.path, self.operator, {"keys": ["9"]}, 422, "invalid", ["choices"]),
                (self.path, self.operator, b"{nope", 400, "malformed_json", []),
                ("/api/v1/campaigns/999999/recycle", self.operator, {"choices": ["busy"]},
                 404, "not_found", []),
                (f"/api/v1/campaigns/{running}/recycle", self.operator,
                 {"choices": ["busy"]}, 409, "conflict", [])):
            result = yield client.post(path, body=body, token=token)
            self.assertEqual(result.code, code, body)
            error_body = result.json()["error"]
            self.assertEqual(error_body["code"], error, body)
            if problems and isinstance(problems[0], dict):
                self.assertEqual(error_body["problems"], problems)
            else:
                self.assertEqual([p["field"] for p in error_body["problems"]], problems, body)
        self.assertEqual((yield self.stored()), before)
