"""
Tests for creating and editing campaigns and templates through the JSON API
(L{fts.web.api.campaign_edit}) on the real campaign store.
"""

from twisted.internet import defer

from fts.core.campaign import settings_to_dict
from fts.core.lifecycle import State, Trigger
from fts.web import security
from tests.lifecycle import fixtures as F
from tests.web.support import SYSTEM, PanelTestCase

XSS = "<script>alert('x')</script>"
SQLI = "Robert'); DROP TABLE campaigns; --"


class CampaignApiEditTests(PanelTestCase):
    with_campaigns = True

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.list_id = yield F.contact_list(self.pool, ["15551000", "15551001"])
        self.tokens = {}
        for role in ("operator", "viewer"):
            token, prefix = security.new_api_token()
            yield self.app.auth.create_token(f"{role}-token", self.users[role].id,
                                             security.token_hash(token), prefix, role, None,
                                             SYSTEM)
            self.tokens[role] = token
        self.http = self.client()

    def call(self, method, path, body=None, role="operator"):
        return self.http.request(method, "/api/v1" + path, body=body,
                                 token=self.tokens.get(role))

    def valid(self, **changes):
        list_id = changes.pop("list_id", self.list_id)
        return settings_to_dict(F.settings(list_id, **changes))

    @defer.inlineCallbacks
    def count_campaigns(self):
        return (yield self.count("campaigns"))

    @defer.inlineCallbacks
    def test_create_valid_then_confirm(self):
        """
        An operator token creates a draft from settings JSON: 201 with the
        campaign, its settings and no problems; it can be confirmed; the
        creation is audited with the token.
        """
        result = yield self.call("POST", "/campaigns", {"settings": self.valid(),
                                                         "description": "API made"})
        self.assertEqual(result.code, 201, result.text)
        answer = result.json()
        self.assertEqual((answer["campaign"]["state"], answer["campaign"]["description"],
                          answer["problems"]), ("draft", "API made", []))
        self.assertEqual(answer["settings"], self.valid())
        cid = answer["campaign"]["id"]
        yield self.store.campaigns.transition(cid, Trigger.CONFIRM, "api:operator-token")
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.SCHEDULED)
        rows = yield self.pool.runQuery(
            "SELECT actor_name, action, object_id FROM audit_log WHERE action LIKE 'campaign%'")
        self.assertEqual(rows, [("api:operator-token", "campaign.create", str(cid))])

    @defer.inlineCallbacks
    def test_malformed_settings_refused(self):
        """
        Malformed settings, and values the database cannot hold, are a 422
        listing every problem at its field path; nothing is stored.
        """
        data = self.valid()
        data["pacing"]["cps"] = "fast"
        data["schedule"]["windows"][1]["start"] = "9h"
        data["bogus"] = 1
        result = yield self.call("POST", "/campaigns", {"settings": data})
        self.assertEqual(result.code, 422)
        problems = {p["field"]: p["problem"] for p in result.json()["error"]["problems"]}
        self.assertEqual(set(problems), {"settings.pacing.cps",
                                         "settings.schedule.windows[1].start",
                                         "settings.bogus"})
        self.assertIn("Expected a time like 09:30", problems["settings.schedule.windows[1].start"])
        data = self.valid(name="")
        data["schedule"]["timezone"] = "Mars/Olympus"
        data["schedule"]["end"] = "2025-01-01T00:00"
        data["pacing"]["ring_timeout"] = 1
        result = yield self.call("POST", "/campaigns", {"settings": data})
        self.assertEqual(result.code, 422)
        fields = [p["field"] for p in result.json()["error"]["problems"]]
        self.assertEqual(fields, ["settings.name", "settings.schedule.timezone",
                                  "settings.schedule.end", "settings.pacing.ring_timeout"])
        for body in ({}, {"settings": "x"}, {"settings": self.valid(), "extra": 1},
                     {"settings": self.valid(list_id=999999)}):
            result = yield self.call("POST", "/campaigns", body)
            self.assertEqual(result.code, 422, body)
        missing_list = result.json()["error"]["problems"]
        self.assertEqual(missing_list[0]["field"], "settings.list_id")
        bad_json = yield self.http.request("POST", "/api/v1/campaigns", body=b"{nope",
                                           token=self.tokens["operator"])
        self.assertEqual(bad_json.code, 400)
        self.assertEqual((yield self.count_campaigns()), 0)

    @defer.inlineCallbacks
    def test_invalid_draft_stored_unless_strict(self):
        """
        A readable but unconfirmable draft is stored with its problems
        listed; with strict it is a 422 and nothing is stored.
        """
        data = self.valid(message=())
        data["caller_id"]["number"] = "12"
        strict = yield self.call("POST", "/campaigns", {"settings": data, "strict": True})
        self.assertEqual(strict.code, 422)
        self.assertEqual({p["field"] for p in strict.json()["error"]["problems"]},
                         {"settings.caller_id.number", "settings.message"})
        self.assertEqual((yield self.count_campaigns()), 0)
        result = yield self.call("POST", "/campaigns", {"settings": data})
        self.assertEqual(result.code, 201)
        self.assertEqual({p["field"] for p in result.json()["problems"]},
                         {"settings.caller_id.number", "settings.message"})

    @defer.inlineCallbacks
    def test_put_and_patch(self):
        """
        PUT replaces a draft's settings, PATCH merges into them; both are
        audited; a campaign that left draft answers 409 and is unchanged.
        """
        created = yield self.call("POST", "/campaigns", {"settings": self.valid()})
        cid = created.json()["campaign"]["id"]
        patched = yield self.call("PATCH", f"/campaigns/{cid}", {
            "settings": {"pacing": {"max_channels": 3}, "caller_id": {"name": "Clinic"},
                         "dial_string": None},
            "description": SQLI})
        self.assertEqual(patched.code, 200, patched.text)
        settings = (yield self.store.campaigns.get(cid)).settings
        self.assertEqual((settings.pacing.max_channels, settings.pacing.cps,
                          settings.caller_id.name, settings.caller_id.number,
                          settings.dial_string), (3, 1.0, "Clinic", "15550000", ""))
        self.assertEqual((yield self.store.campaigns.get(cid)).description, SQLI)
        self.assertEqual([p["field"] for p in patched.json()["problems"]],
                         ["settings.dial_string"])
        bad = yield self.call("PATCH", f"/campaigns/{cid}",
                              {"settings": {"retry": {"max_attempts": 0}}})
        self.assertEqual((bad.code, bad.json()["error"]["problems"][0]["field"]),
                         (422, "settings.retry.max_attempts"))
        self.assertEqual((yield self.store.campaigns.get(cid)).settings, settings)
        replaced = yield self.call("PUT", f"/campaigns/{cid}",
                                   {"settings": {"name": XSS, "list_id": self.list_id}})
        self.assertEqual(replaced.code, 200)
        campaign = yield self.store.campaigns.get(cid)
        self.assertEqual((campaign.name, campaign.settings.pacing.max_channels,
                          campaign.settings.message), (XSS, 10, ()))
        read = yield self.call("GET", f"/campaigns/{cid}/settings", role="viewer")
        self.assertEqual(read.json()["settings"]["name"], XSS)
        running = yield F.campaign_in(self.store.campaigns, self.pool, "running")
        for method in ("PUT", "PATCH"):
            refused = yield self.call(method, f"/campaigns/{running}",
                                      {"settings": {"name": "Nope"}})
            self.assertEqual((refused.code, refused.json()["error"]["code"]),
                             (409, "conflict"))
        self.assertEqual((yield self.store.campaigns.get(running)).name, "Reminders")
        self.assertEqual((yield self.call("PATCH", "/campaigns/999999", {})).code, 404)
        rows = yield self.pool.runQuery(
            "SELECT action FROM audit_log WHERE action LIKE 'campaign%' ORDER BY id")
        self.assertEqual([r[0] for r in rows],
                         ["campaign.create", "campaign.update", "campaign.update"])

    @defer.inlineCallbacks
    def test_delete(self):
        """
        A draft can be deleted (it leaves the list, the deletion is audited);
        a running campaign cannot (409 with the reason, nothing changed);
        templates and unknown ids are not campaigns (404).
        """
        draft = yield F.campaign_in(self.store.campaigns, self.pool, "draft")
        running = yield F.campaign_in(self.store.campaigns, self.pool, "running")
        template = yield self.store.campaigns.save_as_template(draft, "user:alice")
        result = yield self.call("DELETE", f"/campaigns/{draft}")
        self.assertEqual((result.code, result.json()), (200, {"deleted": draft}))
        self.assertEqual((yield self.store.campaigns.get(draft)).state, State.DELETED)
        listed = yield self.call("GET", "/campaigns")
        self.assertEqual([c["id"] for c in listed.json()["items"]], [running])
        refused = yield self.call("DELETE", f"/campaigns/{running}")
        self.assertEqual(refused.code, 409)
        self.assertIn("running", refused.json()["error"]["message"])
        self.assertEqual((yield self.store.campaigns.get(running)).state, State.RUNNING)
        for other in (template.id, 999999):
            missing = yield self.call("DELETE", f"/campaigns/{other}")
            self.assertEqual(missing.code, 404, other)
        rows = yield self.pool.runQuery(
            "SELECT action, object_id FROM audit_log WHERE action = 'campaign.delete'")
        self.assertEqual(rows, [("campaign.delete", str(draft))])

    @defer.inlineCallbacks
    def test_viewer_and_anonymous_refused(self):
        """
        Without a token every endpoint answers 401; a viewer token may read
        templates and settings but changes nothing.
        """
        cid = yield F.campaign_in(self.store.campaigns, self.pool, "draft")
        template = yield self.store.campaigns.save_as_template(cid, "user:alice")
        calls = [("POST", "/campaigns", {"settings": self.valid()}),
                 ("PUT", f"/campaigns/{cid}", {"settings": self.valid()}),
                 ("PATCH", f"/campaigns/{cid}", {"settings": {"name": "x"}}),
                 ("POST", "/templates", {"campaign_id": cid}),
                 ("DELETE", f"/templates/{template.id}", None),
                 ("DELETE", f"/campaigns/{cid}", None),
                 ("POST", f"/templates/{template.id}/campaigns",
                  {"name": "x", "list_id": self.list_id})]
        before = yield self.count_campaigns()
        for method, path, body in calls:
            anonymous = yield self.call(method, path, body, role=None)
            self.assertEqual(anonymous.code, 401, path)
            viewer = yield self.call(method, path, body, role="viewer")
            self.assertEqual((viewer.code, viewer.json()["error"]["code"]),
                             (403, "forbidden"), path)
        self.assertEqual((yield self.count_campaigns()), before)
        listed = yield self.call("GET", "/templates", role="viewer")
        self.assertEqual([t["id"] for t in listed.json()["items"]], [template.id])

    @defer.inlineCallbacks
    def test_templates(self):
        """
        Templates are saved from a campaign or from settings, listed, used
        to create a campaign on a list, and deleted.
        """
        cid = yield F.campaign_in(self.store.campaigns, self.pool, "running")
        saved = yield self.call("POST", "/templates", {"campaign_id": cid, "name": "Base"})
        self.assertEqual(saved.code, 201, saved.text)
        tid = saved.json()["campaign"]["id"]
        self.assertEqual((saved.json()["campaign"]["is_template"],
                          saved.json()["settings"]["list_id"],
                          saved.json()["settings"]["schedule"]["start"]),
                         (True, None, None))
        data = self.valid(list_id=None)
        data["schedule"].update(start=None, end=None)
        fresh = yield self.call("POST", "/templates", {"settings": data, "name": XSS})
        self.assertEqual((fresh.code, fresh.json()["campaign"]["name"]), (201, XSS))
        both = yield self.call("POST", "/templates", {"settings": data, "campaign_id": cid})
        self.assertEqual(both.code, 422)
        with_list = yield self.call("POST", "/templates", {"settings": self.valid()})
        self.assertEqual(with_list.code, 422)
        listed = yield self.call("GET", "/templates?limit=1")
        self.assertEqual((listed.json()["total"], len(listed.json()["items"])), (2, 1))

        bad = yield self.call("POST", f"/templates/{tid}/campaigns",
                              {"name": " ", "list_id": self.list_id,
                               "start": "2026-06-02T10:00", "end": "2026-06-01T10:00+02:00"})
        self.assertEqual(bad.code, 422)
        self.assertEqual([p["field"] for p in bad.json()["error"]["problems"]],
                         ["name", "end"])
        made = yield self.call("POST", f"/templates/{tid}/campaigns", {
            "name": "June", "list_id": self.list_id, "start": "2026-06-01T08:00",
            "end": "2026-12-01T08:00"})
        self.assertEqual(made.code, 201, made.text)
        self.assertEqual((made.json()["campaign"]["name"], made.json()["campaign"]["list_id"],
                          made.json()["problems"]), ("June", self.list_id, []))
        not_template = yield self.call("POST", f"/templates/{cid}/campaigns",
                                       {"name": "x", "list_id": self.list_id})
        self.assertEqual(not_template.code, 404)
        no_list = yield self.call("POST", f"/templates/{tid}/campaigns",
                                  {"name": "x", "list_id": 999999})
        self.assertEqual((no_list.code, no_list.json()["error"]["problems"][0]["field"]),
                         (422, "list_id"))
        deleted = yield self.call("DELETE", f"/templates/{tid}")
        self.assertEqual(deleted.code, 200)
        self.assertEqual((yield self.call("DELETE", f"/templates/{tid}")).code, 404)
        listed = yield self.call("GET", "/templates")
        self.assertEqual(listed.json()["total"], 1)

    @defer.inlineCallbacks
    def test_openapi_lists_endpoints(self):
        """
        The OpenAPI document describes the new endpoints.
        """
        document = (yield self.http.get("/api/v1/openapi.json")).json()
        paths = document["paths"]
        self.assertIn("post", paths["/api/v1/campaigns"])
        self.assertEqual({"put", "patch"} <= set(paths["/api/v1/campaigns/{campaign_id}"]),
                         True)
        self.assertIn("post", paths["/api/v1/templates/{template_id}/campaigns"])
