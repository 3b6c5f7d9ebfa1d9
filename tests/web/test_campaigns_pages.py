"""
Tests for the campaign pages and API on the real campaign store.
"""

import json
from datetime import datetime

import attr
from twisted.internet import defer

from fts.core.lifecycle import State, Trigger
from fts.dialer.registry import CallRegistry
from fts.web import security
from fts.web.pages.campaigns import campaign_jobs
from tests.lifecycle import fixtures as F
from tests.dialer import support as S
from tests.web.campaign_support import SCHEDULE, CampaignCase
from tests.web.support import SYSTEM, PanelTestCase


class CampaignPagesTests(PanelTestCase):
    with_campaigns = True

    def make_app(self, **kwargs):
        return super().make_app(calls=CallRegistry(), **kwargs)

    def action_done(self, campaign_id):
        """
        Wait (reactor turns, no clock time) for the campaign's queued
        operation to end.
        """
        return F.turns_until(lambda: not campaign_jobs(self.app).status(campaign_id).busy)

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
        An operator confirms a valid draft: the confirmation runs as the job
        campaign-actions (not in the request), the page shows its outcome;
        then the operator starts it from the campaign page.
        """
        cid = yield self.campaign("draft")
        client = yield self.logged_in("operator")
        self.assertIn(">Confirm (validate and schedule)</button>",
                      (yield client.get(f"/campaigns/{cid}")).text)
        result = yield client.post(f"/campaigns/{cid}/confirm")
        self.assertEqual(result.code, 303)
        self.assertIn("notice=campaign-confirm-queued", result.header("location"))
        yield self.action_done(cid)
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.SCHEDULED)
        page = yield client.get(f"/campaigns/{cid}")
        self.assertIn("Confirmation: <strong>succeeded</strong>", page.text)
        [job] = [s for s in self.runner.status() if s.name == "campaign-actions"]
        self.assertEqual(job.last_run.outcome, "success")
        result = yield client.post(f"/campaigns/{cid}/start")
        self.assertEqual(result.code, 303)
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.RUNNING)

    @defer.inlineCallbacks
    def test_no_start_before_the_schedule_start(self):
        """
        A scheduled campaign whose start has not come offers no "Start now"
        (the life cycle would refuse it; it starts by itself then); one whose
        start has passed does.
        """
        later = attr.evolve(SCHEDULE, start=datetime(2026, 6, 10))
        waiting = yield self.campaign("scheduled", schedule=later)
        due = yield self.campaign("scheduled")
        client = yield self.logged_in("operator")
        page = yield client.get(f"/campaigns/{waiting}")
        self.assertNotIn(">Start now</button>", page.text)
        self.assertIn(">Cancel campaign</button>", page.text)
        page = yield client.get(f"/campaigns/{due}")
        self.assertIn(">Start now</button>", page.text)

    @defer.inlineCallbacks
    def test_finalized_calls_purged(self):
        """
        A finalized campaign's calls table says its calls were purged and
        points to the report, rather than "No calls yet".
        """
        cid = yield self.campaign("running")
        for trigger, actor in ((Trigger.CANCEL, F.USER), (Trigger.BEGIN_FINALIZING, "finalizer"),
                               (Trigger.FINALIZE, "finalizer")):
            yield self.store.campaigns.transition(cid, trigger, actor)
        client = yield self.logged_in("viewer")
        page = yield client.get(f"/campaigns/{cid}")
        self.assertIn("a finalized campaign's calls are purged", page.text)
        self.assertIn(f'<a href="/campaigns/{cid}/report">report</a>', page.text)
        self.assertNotIn("No calls yet", page.text)

    @defer.inlineCallbacks
    def test_confirm_failure_shown(self):
        """
        A confirmation the validation refuses fails in the job; the page
        says why and the campaign stays a draft.
        """
        cid = yield self.campaign("draft", message=())
        client = yield self.logged_in("operator")
        yield client.post(f"/campaigns/{cid}/confirm")
        yield self.action_done(cid)
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.DRAFT)
        page = yield client.get(f"/campaigns/{cid}")
        self.assertIn("Confirmation: <strong>failed</strong>", page.text)
        self.assertIn("validation problem", page.text)

    @defer.inlineCallbacks
    def test_confirm_twice_refused(self):
        """
        A second confirmation while the first is queued is refused (409);
        a confirmation of a running campaign is refused before queuing.
        """
        cid = yield self.campaign("draft")
        client = yield self.logged_in("operator")
        first = defer.Deferred()
        campaign_jobs(self.app).submit(cid, "confirm", "confirmation", lambda: first)
        second = yield client.post(f"/campaigns/{cid}/confirm")
        self.assertEqual(second.code, 409)
        self.assertIn("busy", second.text)
        running = yield self.campaign("running")
        refused = yield client.post(f"/campaigns/{running}/confirm")
        self.assertEqual(refused.code, 409)
        self.assertIsNone(campaign_jobs(self.app).status(running))
        first.callback("done")
        yield self.action_done(cid)

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
        self.assertEqual((yield client.post(f"/campaigns/{cid}/finalize")).code, 404)
        self.assertEqual((yield client.get("/campaigns/999999")).code, 404)

    @defer.inlineCallbacks
    def test_delete(self):
        """
        A draft offers Delete; deleting it leads to the list, where it is
        no longer shown; a running campaign offers no Delete and refuses it
        (409, nothing changed).
        """
        draft = yield self.campaign("draft")
        running = yield self.campaign("running")
        client = yield self.logged_in("operator")
        self.assertIn(">Delete campaign</button>", (yield client.get(f"/campaigns/{draft}")).text)
        page = yield client.get(f"/campaigns/{running}")
        self.assertNotIn(">Delete campaign</button>", page.text)
        result = yield client.post(f"/campaigns/{draft}/delete")
        self.assertEqual((result.code, result.header("location")),
                         (303, "/campaigns?notice=campaign-delete"))
        self.assertEqual((yield self.store.campaigns.get(draft)).state, State.DELETED)
        listing = yield client.get("/campaigns?notice=campaign-delete")
        self.assertIn("has been deleted", listing.text)
        self.assertNotIn(f'href="/campaigns/{draft}"', listing.text)
        self.assertEqual((yield client.post(f"/campaigns/{running}/delete")).code, 409)
        self.assertEqual((yield self.store.campaigns.get(running)).state, State.RUNNING)

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


class CampaignPageTests(CampaignCase):
    """
    The campaign page's progress, live feed, calls table, CSV and test call.
    """

    @defer.inlineCallbacks
    def test_progress_and_calls(self):
        """
        The page shows the progress from the store and the calls, newest
        first, test calls marked.
        """
        cid, ids = yield self.with_calls()
        rows = yield F.contact_rows(self.pool, cid)
        yield F.set_contact(self.pool, rows["15551000"], status="done", final_outcome="reached")
        client = yield self.logged_in("viewer")
        page = yield client.get(f"/campaigns/{cid}")
        self.assertEqual(page.code, 200)
        self.assertIn('<dd id="c-done">1</dd>', page.text)
        self.assertIn('<dd id="c-pending">2</dd>', page.text)
        self.assertIn('<dd id="c-total">3</dd>', page.text)
        self.assertIn("33.3 %", page.text)
        positions = [page.text.index(f'<td class="num">{i}</td>') for i in reversed(ids)]
        self.assertEqual(positions, sorted(positions))
        self.assertIn("<small class=\"state\">test</small>", page.text)
        self.assertIn(f'href="/campaigns/{cid}/report"', page.text)
        self.assertIn(f'href="/campaigns/{cid}/recycle"', page.text)
        self.assertNotIn("Test call</h2>", page.text)  # viewers place none

    @defer.inlineCallbacks
    def test_calls_filters_and_pages(self):
        """
        The calls table filters by outcome, number digits, dates and test
        calls, and pages by keyset.
        """
        cid, ids = yield self.with_calls()
        client = yield self.logged_in("viewer")

        def shown(text):
            return [i for i in ids if f'<td class="num">{i}</td>' in text]

        busy = yield client.get(f"/campaigns/{cid}?outcome=busy")
        self.assertEqual(shown(busy.text), [ids[1]])
        number = yield client.get(f"/campaigns/{cid}?phone=%2B1+555-2002")
        self.assertEqual(shown(number.text), [ids[2]])
        days = yield client.get(f"/campaigns/{cid}?date_from=2026-05-21&date_to=2026-05-21")
        self.assertEqual(shown(days.text), [ids[1]])
        tests = yield client.get(f"/campaigns/{cid}?tests=only")
        self.assertEqual(shown(tests.text), [ids[3]])
        older = yield client.get(f"/campaigns/{cid}?before={ids[2]}")
        self.assertEqual(shown(older.text), ids[:2])

    @defer.inlineCallbacks
    def test_bad_filters_and_hostile_text(self):
        """
        Bad filters are reported at their field, nothing is listed, and
        hostile text comes back escaped.
        """
        cid, _ = yield self.with_calls()
        client = yield self.logged_in("viewer")
        page = yield client.get(
            f"/campaigns/{cid}?phone=%3Cscript%3Ealert(1)%3C/script%3E&outcome=%27%3B--"
            "&date_from=2026-13-45")
        self.assertEqual(page.code, 200)
        self.assertNotIn("<script>alert(1)</script>", page.text)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page.text)
        self.assertIn('id="e-phone"', page.text)
        self.assertIn('id="e-outcome"', page.text)
        self.assertIn('id="e-date_from"', page.text)
        self.assertNotIn("calls match", page.text)

    @defer.inlineCallbacks
    def test_calls_csv(self):
        """
        The calls download as CSV through an authenticated route, filtered
        like the table; a bad filter is refused and nobody logged out gets
        anything.
        """
        cid, ids = yield self.with_calls()
        anonymous = yield self.client().get(f"/campaigns/{cid}/calls.csv")
        self.assertEqual(anonymous.code, 302)
        client = yield self.logged_in("viewer")
        result = yield client.get(f"/campaigns/{cid}/calls.csv?tests=exclude")
        self.assertEqual(result.code, 200)
        self.assertIn("attachment", result.header("content-disposition"))
        lines = result.text.split("\r\n")
        self.assertTrue(lines[0].startswith("call_id,number,test_call,attempt,outcome"))
        self.assertEqual([line.split(",")[0] for line in lines[1:-1]],
                         [str(i) for i in ids[:3]])
        bad = yield client.get(f"/campaigns/{cid}/calls.csv?phone=abc")
        self.assertEqual(bad.code, 400)

    @defer.inlineCallbacks
    def test_calls_csv_formulas(self):
        """
        A PBX text a spreadsheet would run as a formula is written with a
        single quote before it in the calls CSV; the numbers are not.
        """
        import csv
        import io

        cid, ids = yield self.with_calls()
        payload = '=HYPERLINK("http://evil.example/","Click")'
        yield self.pool.runOperation(
            "UPDATE calls SET hangup_cause_text = %s, pbx_name = '@pbx' WHERE id = %s",
            (payload, ids[0]))
        client = yield self.logged_in("viewer")
        result = yield client.get(f"/campaigns/{cid}/calls.csv?tests=exclude")
        rows = list(csv.reader(io.StringIO(result.text, newline="")))
        first = dict(zip(rows[0], rows[1]))
        self.assertEqual((first["call_id"], first["number"]), (str(ids[0]), "15551000"))
        self.assertEqual((first["hangup_cause"], first["pbx"]), ("'" + payload, "'@pbx"))

    @defer.inlineCallbacks
    def test_live_events(self):
        """
        The page's event stream sends the progress, the figures and the
        outcome charts (SVG) without a reload.
        """
        cid, _ = yield self.with_calls()
        client = yield self.logged_in("viewer")
        stream = client.get(f"/campaigns/{cid}/events")

        def sent():
            feeds = self.app.campaign_feeds
            feed = feeds._feeds.get(cid) if feeds is not None else None
            return feed is not None and feed._timer is not None

        yield F.turns_until(sent)
        self.app.campaign_feeds.close()
        result = yield stream
        self.assertIn("text/event-stream", result.header("content-type"))
        event = [line for line in result.text.splitlines() if line.startswith("data: ")][0]
        data = json.loads(event[len("data: "):])
        self.assertEqual(data["state"], "running")
        self.assertEqual(data["progress"]["total"], 3)
        self.assertIn("<svg", data["report"]["charts"]["contacts"])
        self.assertIn("Calls per outcome", data["report"]["charts"]["calls"])
        calls = {f["key"]: f["text"] for f in data["report"]["figures"]}
        self.assertEqual(calls["calls"], "3")  # the test call is not counted

    @defer.inlineCallbacks
    def test_test_call(self):
        """
        An operator places a test call from the page: it goes out on the PBX
        line, is recorded as a test call and audited; a bad number is
        reported at the field, nothing placed.
        """
        yield self.dialing_now()
        cid = yield self.campaign("draft")
        client = yield self.logged_in("operator")
        page = yield client.get(f"/campaigns/{cid}")
        self.assertIn(f'action="/campaigns/{cid}/test-call"', page.text)
        bad = yield client.post(f"/campaigns/{cid}/test-call",
                                {"phone": "<img src=x onerror=alert(1)>"})
        self.assertEqual(bad.code, 400)
        self.assertIn('id="e-phone"', bad.text)
        self.assertNotIn("<img src=x", bad.text)
        self.assertEqual(self.line.requests, [])
        result = yield client.post(f"/campaigns/{cid}/test-call", {"phone": "555 010 0200"})
        self.assertEqual(result.code, 303)
        [request] = self.line.requests
        rows = yield self.pool.runQuery(
            "SELECT number_dialed, is_test_call FROM calls WHERE id = %s", (request.call_id,))
        self.assertEqual(tuple(rows[0]), ("15550100200", True))
        audited = yield self.count("audit_log", "action = 'campaign.test_call'")
        self.assertEqual(audited, 1)
        self.line.end(request.channel_id, reason=4, answered=True)
        yield S.settle(self.clock, self.dialing, self.events)

    @defer.inlineCallbacks
    def test_test_call_no_line(self):
        """
        With no PBX line up the page says so at the field; nothing stored.
        """
        yield self.dialing_now()
        self.line.set_connected(False)
        cid = yield self.campaign("draft")
        client = yield self.logged_in("operator")
        result = yield client.post(f"/campaigns/{cid}/test-call", {"phone": "5550100200"})
        self.assertEqual(result.code, 409)
        self.assertIn("No PBX line is up", result.text)
        self.assertEqual((yield self.count("calls")), 0)

    @defer.inlineCallbacks
    def test_test_call_guarded(self):
        """
        A viewer cannot place a test call, nor can a form without the CSRF
        token.
        """
        yield self.dialing_now()
        cid = yield self.campaign("draft")
        viewer = yield self.logged_in("viewer")
        self.assertEqual((yield viewer.post(f"/campaigns/{cid}/test-call",
                                            {"phone": "5550100200"})).code, 403)
        operator = yield self.logged_in("operator")
        self.assertEqual((yield operator.post(f"/campaigns/{cid}/test-call",
                                              {"phone": "5550100200"}, csrf="wrong")).code, 403)
        self.assertEqual(self.line.requests, [])

    @defer.inlineCallbacks
    def test_cancel_pending(self):
        """
        An operator cancels the pending calls from the page; it runs as a
        job and the page shows what it closed.
        """
        cid = yield self.campaign("paused")
        client = yield self.logged_in("operator")
        result = yield client.post(f"/campaigns/{cid}/cancel-pending")
        self.assertEqual(result.code, 303)
        yield self.action_done(cid)
        pending = yield self.count("campaign_contacts",
                                   "campaign_id = %s AND status = 'pending'", (cid,))
        self.assertEqual(pending, 0)
        page = yield client.get(f"/campaigns/{cid}")
        self.assertIn("Cancelled 2 pending contacts", page.text)
        draft = yield self.campaign("draft")
        self.assertEqual((yield client.post(f"/campaigns/{draft}/cancel-pending")).code, 409)
        viewer = yield self.logged_in("viewer")
        self.assertEqual((yield viewer.post(f"/campaigns/{cid}/cancel-pending")).code, 403)
