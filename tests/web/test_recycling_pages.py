"""
Tests for recycling from the panel (L{fts.web.pages.recycling}) on a
finalized campaign whose archive holds a known grid of outcomes.
"""

from twisted.internet import defer

from fts.core.lifecycle import State, Trigger
from fts.core.recycling import RecycleSelection
from fts.db.campaigns import CampaignStore
from fts.db.recycling import RecycleCounts
from tests.lifecycle import fixtures as F
from tests.web import reports_support as R
from tests.web.support import PanelTestCase


class RecyclingPagesTests(PanelTestCase):

    with_campaigns = True

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.source, self.phones = yield R.finalized_with_archive(
            self.store.campaigns, self.store.reports, self.pool)
        self.url = f"/campaigns/{self.source}/recycle"

    @defer.inlineCallbacks
    def stored(self):
        """What a refused request must not change: campaigns, lists, audit rows."""
        counts = []
        for table in ("campaigns", "contact_lists", "contacts", "audit_log"):
            counts.append((yield self.count(table)))
        return counts

    @defer.inlineCallbacks
    def test_login_role_and_csrf(self):
        """
        Anonymous browsers go to the login page (GET) or are refused (POST);
        viewers are refused both; an operator's POST without the CSRF token
        or from another site is refused; nothing is created.
        """
        before = yield self.stored()
        form = {"choice": "busy"}
        anonymous = self.client()
        result = yield anonymous.get(self.url)
        self.assertEqual(result.code, 302)
        self.assertEqual((yield anonymous.post(self.url, form, csrf="junk")).code, 403)
        viewer = yield self.logged_in("viewer")
        for result in ((yield viewer.get(self.url)), (yield viewer.post(self.url, form))):
            self.assertEqual(result.code, 403)
            self.assertIn("This needs the operator role", result.text)
        operator = yield self.logged_in("operator")
        for result in ((yield operator.post(self.url, form, csrf=False)),
                       (yield operator.post(self.url, form, csrf="0" * 43)),
                       (yield operator.post(self.url, form,
                                            headers={"Origin": "https://evil.example"}))):
            self.assertEqual(result.code, 403)
            self.assertIn("This form has expired", result.text)
        self.assertEqual((yield self.stored()), before)

    @defer.inlineCallbacks
    def test_form(self):
        """
        The form offers every outcome and key, and the new name, and
        changes nothing.
        """
        before = yield self.stored()
        client = yield self.logged_in("operator")
        page = yield client.get(self.url)
        self.assertEqual(page.code, 200)
        for value in ("not_answered", "busy", "no_answer", "failed", "machine",
                      "answered_without_key", "never_dialed"):
            self.assertIn(f'name="choice" value="{value}"', page.text)
        for key in ("0", "9", "*", "#"):
            self.assertIn(f'name="key" value="{key}"', page.text)
        self.assertIn('value="Reminders (recycled)"', page.text)
        self.assertNotIn("Create the recycled campaign", page.text)
        self.assertNotRegex(page.text, r"<script>|<script [^s]|\son[a-z]+=")
        self.assertNotIn("style=", page.text)
        self.assertEqual((yield self.stored()), before)

    @defer.inlineCallbacks
    def test_count_then_create(self):
        """
        The preview counts the contacts the choice takes; confirming creates
        the draft with exactly those contacts, audited, and goes to it.
        """
        client = yield self.logged_in("operator")
        page = yield client.get(self.url + "?preview=1&choice=not_answered&key=1&name=Again")
        self.assertEqual(page.code, 200)
        # not answered: rows 0, 1 and 7; pressed 1: row 3.
        self.assertIn("<h2>4 contacts match</h2>", page.text)
        self.assertIn('<input type="hidden" name="choice" value="not_answered">', page.text)
        self.assertIn('<input type="hidden" name="key" value="1">', page.text)
        self.assertIn('<input type="hidden" name="name" value="Again">', page.text)
        result = yield client.post(self.url, {"choice": "not_answered", "key": "1",
                                              "name": "Again"})
        self.assertEqual(result.code, 303)
        location = result.header("location")
        self.assertRegex(location, r"^/campaigns/\d+\?notice=campaign-recycled$")
        made = yield self.store.campaigns.get(int(location.split("/")[2].split("?")[0]))
        self.assertEqual((made.name, made.state, made.recycled_from_id, made.recycle_filter),
                         ("Again", State.DRAFT, self.source,
                          {"choices": ["not_answered"], "keys": ["1"]}))
        self.assertEqual((yield R.list_phones(self.pool, made.list_id)),
                         [self.phones[n] for n in (0, 1, 3, 7)])
        records = yield self.store.campaigns.transitions(made.id)
        self.assertEqual((records[0].trigger, records[0].actor_name),
                         (Trigger.RECYCLE, "operator"))
        entries, _ = yield self.app.audit.entries(object_type="campaign", object_id=made.id)
        self.assertEqual([(e.action, e.actor_name) for e in entries],
                         [("campaign.recycle", "operator")])
        self.assertEqual(entries[0].details, {"from_campaign": self.source,
                                              "choices": ["not_answered"], "keys": ["1"],
                                              "contacts": 4})

    @defer.inlineCallbacks
    def test_default_name(self):
        """
        Without a name the draft is called after its source.
        """
        client = yield self.logged_in("operator")
        result = yield client.post(self.url, {"choice": "machine"})
        self.assertEqual(result.code, 303)
        [(name,)] = yield self.pool.runQuery(
            "SELECT name FROM campaigns WHERE recycled_from_id = %s", (self.source,))
        self.assertEqual(name, "Reminders (recycled)")

    @defer.inlineCallbacks
    def test_bad_input(self):
        """
        Unknown outcomes, keys that are not phone keys, no choice at all and
        an over-long name are each reported at their field, with the
        choices kept, and nothing is created.
        """
        before = yield self.stored()
        client = yield self.logged_in("operator")
        for form, field, words in (
                ({"choice": "bogus"}, "choices", "Unknown outcome: &#39;bogus&#39;"),
                ({"choice": "busy", "key": "A"}, "keys", "Not a phone key: &#39;A&#39;"),
                ({"key": "12"}, "keys", "Not a phone key: &#39;12&#39;"),
                ({}, "choices", "Pick at least one outcome or key to recycle."),
                ({"choice": "busy", "name": "n" * 201}, "name",
                 "Name is longer than 200 characters.")):
            for result in ((yield client.post(self.url, form)),
                           (yield client.get(self.url + "?preview=1&" + "&".join(
                               f"{'choice' if k == 'choice' else k}={v}"
                               for k, v in form.items())))):
                self.assertEqual(result.code, 422, form)
                self.assertIn(f'<p class="error" id="e-{field}">{words}', result.text)
                self.assertNotIn("Create the recycled campaign", result.text)
            if form.get("choice") == "busy" and field != "choices":
                self.assertIn('value="busy" checked', result.text)
        self.assertEqual((yield self.stored()), before)

    @defer.inlineCallbacks
    def test_nothing_matches(self):
        """
        A choice that takes no contact (key 9 pressed only by the contact
        who opted out, who is never taken) is shown as zero and refused on
        confirmation, creating nothing.
        """
        before = yield self.stored()
        client = yield self.logged_in("operator")
        page = yield client.get(self.url + "?preview=1&key=9")
        self.assertIn("<h2>No contact matches</h2>", page.text)
        self.assertNotIn("Create the recycled campaign", page.text)
        result = yield client.post(self.url, {"key": "9"})
        self.assertEqual(result.code, 422)
        self.assertIn("No contact of this campaign matches that choice; nothing was created.",
                      result.text)
        self.assertEqual((yield self.stored()), before)

    @defer.inlineCallbacks
    def test_only_finalized_campaigns(self):
        """
        Unknown campaigns, templates and campaigns not finalized are refused
        on the form and on confirmation, saying why, and nothing is created.
        """
        running = yield F.campaign_in(self.store.campaigns, self.pool, "running")
        template = yield self.store.campaigns.save_as_template(running, F.USER, name="Tpl")
        before = yield self.stored()
        client = yield self.logged_in("operator")
        for campaign, code, words in (
                (999999, 404, "There is no such campaign."),
                (template.id, 404, "A template cannot be recycled"),
                (running, 409, "This campaign is running: only a finalized campaign can be"
                               " recycled.")):
            url = f"/campaigns/{campaign}/recycle"
            for result in ((yield client.get(url)),
                           (yield client.get(url + "?preview=1&choice=busy")),
                           (yield client.post(url, {"choice": "busy"}))):
                self.assertEqual(result.code, code, url)
                self.assertIn(words, result.text)
        for path in ("/campaigns/x1/recycle", f"{self.url}/../../etc/passwd",
                     "/campaigns/-1/recycle"):
            self.assertEqual((yield client.get(path)).code, 404, path)
        self.assertEqual((yield self.stored()), before)

    @defer.inlineCallbacks
    def test_hostile_names_inert(self):
        """
        Markup in the source's name and in the new name is shown as text,
        and the new name is stored as typed.
        """
        yield self.pool.runOperation("UPDATE campaigns SET name = %s WHERE id = %s",
                                     (R.XSS, self.source))
        client = yield self.logged_in("operator")
        page = yield client.get(self.url)
        self.assertNotIn(R.XSS, page.text)
        self.assertIn(R.XSS_ESCAPED, page.text)
        page = yield client.get(self.url + "?preview=1&choice=busy&name=" + "%3Cscript%3E")
        self.assertNotIn("<script>", page.text)
        self.assertIn('name="name" value="&lt;script&gt;"', page.text)
        result = yield client.post(self.url, {"choice": "busy", "name": R.XSS})
        self.assertEqual(result.code, 303)
        [(name,)] = yield self.pool.runQuery(
            "SELECT name FROM campaigns WHERE recycled_from_id = %s", (self.source,))
        self.assertEqual(name, R.XSS)


class RecycleCountTests(PanelTestCase):
    """
    The count shown before confirming is the number of contacts copied.
    """

    @defer.inlineCallbacks
    def test_count_agrees_with_copy(self):
        campaigns = CampaignStore(self.pool, self.clock)
        source, _ = yield R.finalized_with_archive(campaigns, self.store.reports, self.pool)
        counts = RecycleCounts(self.pool)
        for choices, keys, expected in (
                (["busy"], [], 1), (["no_answer"], [], 1), (["failed"], [], 1),
                (["not_answered"], [], 3), (["machine"], [], 1),
                (["answered_without_key"], [], 1), (["never_dialed"], [], 1),
                ([], ["1"], 1), ([], ["9"], 0), (["busy", "machine"], ["1"], 3)):
            selection = RecycleSelection(choices=choices, keys=keys)
            self.assertEqual((yield counts.count(source, selection)), expected, selection)
            if expected:
                made = yield campaigns.recycle(source, selection, F.USER)
                self.assertEqual(len((yield R.list_phones(self.pool, made.list_id))),
                                 expected, selection)
        self.assertEqual((yield counts.count(999999, RecycleSelection(choices=["busy"]))), 0)
