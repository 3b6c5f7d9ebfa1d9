"""
Tests for the campaign pages and API on the real campaign store.
"""

from twisted.internet import defer

from fts.core.lifecycle import State
from fts.db.campaigns import CampaignStore
from fts.dialer.registry import CallRegistry
from fts.web import security
from tests.lifecycle import fixtures as F
from tests.web.support import SYSTEM, PanelTestCase


class CampaignPagesTests(PanelTestCase):
    def make_app(self, **kwargs):
        self.store.campaigns = CampaignStore(self.pool, self.clock)
        return super().make_app(calls=CallRegistry(), **kwargs)

    def campaign(self, state, **changes):
        return F.campaign_in(self.store.campaigns, self.pool, state, **changes)

    @defer.inlineCallbacks
    def test_list_filter_and_escape(self):
        """
        The list shows campaigns filtered by state and name, with hostile
        names shown as text.
        """
        yield self.campaign("running", name="<b>Loud</b> reminders")
        yield self.campaign("draft", name="Quiet survey")
        client = yield self.logged_in("viewer")
        page = yield client.get("/campaigns?state=running")
        self.assertEqual(page.code, 200)
        self.assertIn("&lt;b&gt;Loud&lt;/b&gt; reminders", page.text)
        self.assertNotIn("Quiet survey", page.text)
        page = yield client.get("/campaigns?q=quiet")
        self.assertIn("Quiet survey", page.text)
        bad = yield client.get("/campaigns?state=bogus")
        self.assertIn("Choose a state", bad.text)

    @defer.inlineCallbacks
    def test_pause_resume_cancel(self):
        """
        An operator pauses, resumes and cancels from the campaign page; each
        move is in the campaign's history with who made it.
        """
        cid = yield self.campaign("running")
        client = yield self.logged_in("operator")
        page = yield client.get(f"/campaigns/{cid}")
        self.assertIn(">Pause</button>", page.text)
        self.assertNotIn(">Resume</button>", page.text)
        for move, state in (("pause", State.PAUSED), ("resume", State.RUNNING),
                            ("cancel", State.FINISHED)):
            result = yield client.post(f"/campaigns/{cid}/{move}", {"note": "test"})
            self.assertEqual(result.code, 303, move)
            self.assertEqual((yield self.store.campaigns.get(cid)).state, state)
        records = yield self.store.campaigns.transitions(cid)
        self.assertEqual((records[-1].actor_name, records[-1].user_id),
                         ("operator", self.users["operator"].id))
        page = yield client.get(f"/campaigns/{cid}")
        self.assertIn("cancelled", page.text)

    @defer.inlineCallbacks
    def test_confirm_and_start(self):
        """
        An operator confirms a valid draft (it is validated and scheduled)
        and starts it from the campaign page.
        """
        cid = yield self.campaign("draft")
        client = yield self.logged_in("operator")
        self.assertIn(">Confirm (validate and schedule)</button>",
                      (yield client.get(f"/campaigns/{cid}")).text)
        result = yield client.post(f"/campaigns/{cid}/confirm")
        self.assertEqual(result.code, 303)
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.SCHEDULED)
        result = yield client.post(f"/campaigns/{cid}/start")
        self.assertEqual(result.code, 303)
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.RUNNING)

    @defer.inlineCallbacks
    def test_move_not_allowed(self):
        """
        A move the state does not allow is a 409 with the reason; nothing
        changes.
        """
        cid = yield self.campaign("draft")
        client = yield self.logged_in("operator")
        result = yield client.post(f"/campaigns/{cid}/pause")
        self.assertEqual(result.code, 409)
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.DRAFT)
        self.assertEqual((yield client.post(f"/campaigns/{cid}/delete")).code, 404)
        self.assertEqual((yield client.get("/campaigns/999999")).code, 404)

    @defer.inlineCallbacks
    def test_viewer_cannot_move(self):
        """
        A viewer sees no buttons and is refused a move.
        """
        cid = yield self.campaign("running")
        client = yield self.logged_in("viewer")
        self.assertNotIn(">Pause</button>", (yield client.get(f"/campaigns/{cid}")).text)
        self.assertEqual((yield client.post(f"/campaigns/{cid}/pause")).code, 403)
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.RUNNING)

    @defer.inlineCallbacks
    def test_api(self):
        """
        The API lists and reads campaigns and pauses one with an operator
        token; a refused move is a structured 409.
        """
        cid = yield self.campaign("running")
        token, prefix = security.new_api_token()
        yield self.app.auth.create_token("ops", self.users["operator"].id,
                                         security.token_hash(token), prefix, "operator",
                                         None, SYSTEM)
        client = self.client()
        listed = (yield client.get("/api/v1/campaigns?state=running", token=token)).json()
        self.assertEqual((listed["total"], listed["items"][0]["id"]), (1, cid))
        one = (yield client.get(f"/api/v1/campaigns/{cid}", token=token)).json()
        self.assertEqual((one["state"], one["calls_in_flight"]), ("running", 0))
        paused = yield client.request("POST", f"/api/v1/campaigns/{cid}/pause", token=token,
                                      body={"note": "lunch"})
        self.assertEqual((paused.code, paused.json()["state"]), (200, "paused"))
        again = yield client.request("POST", f"/api/v1/campaigns/{cid}/pause", token=token)
        self.assertEqual((again.code, again.json()["error"]["code"]), (409, "conflict"))
        records = yield self.store.campaigns.transitions(cid)
        self.assertEqual((records[-1].actor_kind, records[-1].actor_name, records[-1].reason),
                         ("api_token", "ops", "lunch"))


class CampaignsNotWiredTests(PanelTestCase):
    @defer.inlineCallbacks
    def test_says_so(self):
        """
        Without a campaign store the page says it is not available and the
        API answers 503.
        """
        # The store facade always has one now; take it away as a daemon
        # assembled without it would be.
        self.store.campaigns = None
        client = yield self.logged_in("viewer")
        page = yield client.get("/campaigns")
        self.assertIn("Not available in this build yet", page.text)
        token, prefix = security.new_api_token()
        yield self.app.auth.create_token("t", self.users["viewer"].id,
                                         security.token_hash(token), prefix, "viewer", None,
                                         SYSTEM)
        result = yield client.get("/api/v1/campaigns", token=token)
        self.assertEqual(result.code, 503)
