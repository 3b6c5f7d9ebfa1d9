"""
Tests for the report pages (L{fts.web.pages.reports}) on the hand-computed
campaign of L{tests.reports.fixture}: the list, the report with its charts
and tables, live and final, the CSV and summary downloads, and refusals.
"""

import json

from twisted.internet import defer

from fts.db.campaigns import CampaignStore
from tests.lifecycle import fixtures as F
from tests.reports import fixture
from tests.web import reports_support as R
from tests.web.support import PanelTestCase


class ReportPagesTests(PanelTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.campaign = yield R.payment_reminders(self.pool)

    def finalize(self):
        return R.finalize(self.store, self.pool, self.campaign)

    @defer.inlineCallbacks
    def test_login_required(self):
        """
        Without a session every report route sends the browser to the login
        page and shows nothing of the report.
        """
        client = self.client()
        for path in ("/reports", f"/campaigns/{self.campaign}/report",
                     f"/campaigns/{self.campaign}/report.csv",
                     f"/campaigns/{self.campaign}/report.txt"):
            result = yield client.get(path)
            self.assertEqual(result.code, 302, path)
            self.assertTrue(result.header("location").startswith("/login?next="), path)
            self.assertNotIn(b"Payment", result.body)
            self.assertNotIn(b"Alice", result.body)

    @defer.inlineCallbacks
    def test_final_report_page(self):
        """
        A viewer reads a finalized campaign's final report: headline numbers,
        every chart as inline SVG with its numbers as text, tables beside
        them, the print stylesheet, and no inline script or style.
        """
        yield self.finalize()
        client = yield self.logged_in("viewer")
        page = yield client.get(f"/campaigns/{self.campaign}/report")
        self.assertEqual(page.code, 200)
        text = page.text
        self.assertIn("<strong>Final report</strong>", text)
        self.assertIn("Payment reminders", text)
        self.assertEqual(text.count('<svg xmlns="http://www.w3.org/2000/svg"'), 5)
        for title in ("Contacts per final outcome", "Contacts per option chosen",
                      "Unanswered calls per reason", "Calls per attempt number",
                      "Calls per hour of day (Europe/Paris)"):
            self.assertIn(f"<title>{title}</title>", text)
        self.assertIn("6 contacts</text>", text)  # the bar of "Reached" says its number
        self.assertIn("<th scope=\"row\">Contacts answered</th><td class=\"num\">7</td>", text)
        self.assertIn("<th scope=\"row\">Answer rate (contacts answered / contacts dialed)"
                      "</th><td class=\"num\">70.0 %</td>", text)
        # The stacked charts' colours are spelled out in the tables.
        self.assertIn("<td>Attempt 1</td><td class=\"num\">10</td><td class=\"num\">6</td>"
                      "<td>Answered 6, Busy 2, No answer 1, Invalid number 1</td>", text)
        # Calls per reason and per outcome, with the contacts that had one.
        self.assertIn('<th>Reason</th><th class="num">Calls</th>'
                      '<th class="num">Contacts with such a call</th>', text)
        self.assertIn('<th>Attempt outcome</th><th class="num">Calls</th>'
                      '<th class="num">Contacts with such a call</th>', text)
        self.assertIn('<td>Busy</td><td class="num">3</td><td class="num">2</td>', text)
        self.assertIn('<td>Answered</td><td class="num">8</td><td class="num">7</td>', text)
        self.assertIn("<td>09:00-09:59</td>", text)
        self.assertNotIn("<td>03:00-03:59</td>", text)  # hours without calls are left out
        self.assertIn("<td>Attempts used up</td><td class=\"num\">1</td>", text)
        self.assertIn(f'href="/campaigns/{self.campaign}/report.csv"', text)
        self.assertIn("/static/reports.css?v=", text)
        self.assertNotRegex(text, r"<script>|<script [^s]|\son[a-z]+=")
        self.assertNotIn("style=", text)
        css = yield client.get("/static/reports.css")
        self.assertIn("@media print", css.text)

    @defer.inlineCallbacks
    def test_live_report_page(self):
        """
        A campaign that has not been finalized shows its live report, with
        the contacts not final yet.
        """
        yield self.pool.runOperation(
            "UPDATE campaigns SET state = 'running', finish_reason = NULL WHERE id = %s",
            (self.campaign,))
        client = yield self.logged_in("viewer")
        page = yield client.get(f"/campaigns/{self.campaign}/report")
        self.assertEqual(page.code, 200)
        self.assertIn("<strong>Live report</strong>", page.text)
        self.assertIn("Contacts not final yet", page.text)
        self.assertIn("<title>Contacts per final outcome</title>", page.text)

    @defer.inlineCallbacks
    def test_recycle_link_for_operators_only(self):
        """
        The final report links to recycling for operators, not for viewers.
        """
        yield self.finalize()
        link = f'href="/campaigns/{self.campaign}/recycle"'
        viewer = yield self.logged_in("viewer")
        self.assertNotIn(link, (yield viewer.get(f"/campaigns/{self.campaign}/report")).text)
        operator = yield self.logged_in("operator")
        self.assertIn(link, (yield operator.get(f"/campaigns/{self.campaign}/report")).text)

    @defer.inlineCallbacks
    def test_reports_list(self):
        """
        The reports page lists campaigns with a live report and finalized
        ones with their final numbers (distinct contacts).
        """
        campaigns = CampaignStore(self.pool, self.clock)
        running = yield F.campaign_in(campaigns, self.pool, "running", name="Spring survey")
        yield F.campaign_in(campaigns, self.pool, "draft", name="Unsent draft")
        yield self.finalize()
        client = yield self.logged_in("viewer")
        page = yield client.get("/reports")
        self.assertEqual(page.code, 200)
        live, final = page.text.split("<h2>Final reports</h2>")
        self.assertIn(f'<a href="/campaigns/{running}/report">Live report</a>', live)
        self.assertNotIn("Payment reminders", live)
        self.assertIn("Payment reminders", final)
        self.assertIn('<td class="num">12</td>\n        <td class="num">10</td>\n'
                      '        <td class="num">7</td>', final)
        self.assertNotIn("Unsent draft", page.text)
        self.assertIn("Page 1 of 1", final)
        bad = yield client.get("/reports?page=0")
        self.assertIn("Page must be from 1 to 100000.", bad.text)

    @defer.inlineCallbacks
    def test_csv_download_final(self):
        """
        The CSV of a finalized campaign is streamed to a viewer, byte for
        byte the hand-computed file, as an attachment named by FTS.
        """
        yield self.finalize()
        client = yield self.logged_in("viewer")
        result = yield client.get(f"/campaigns/{self.campaign}/report.csv")
        self.assertEqual(result.code, 200)
        self.assertEqual(result.header("content-type"), "text/csv; charset=utf-8")
        self.assertEqual(
            result.header("content-disposition"),
            f'attachment; filename="campaign-{self.campaign}-payment-reminders-final.csv"')
        self.assertEqual(result.header("cache-control"), "no-store")
        self.assertEqual(result.body, fixture.EXPECTED_CSV)

    @defer.inlineCallbacks
    def test_csv_download_live(self):
        """
        Before finalization the CSV is read from the working rows, with the
        same contents.
        """
        client = yield self.logged_in("viewer")
        result = yield client.get(f"/campaigns/{self.campaign}/report.csv")
        self.assertEqual(result.code, 200)
        self.assertIn("-live.csv", result.header("content-disposition"))
        self.assertEqual(result.body, fixture.EXPECTED_CSV)

    @defer.inlineCallbacks
    def test_summary_download(self):
        """
        The summary text is a plain-text attachment with the final numbers.
        """
        yield self.finalize()
        client = yield self.logged_in("viewer")
        result = yield client.get(f"/campaigns/{self.campaign}/report.txt")
        self.assertEqual(result.code, 200)
        self.assertEqual(result.header("content-type"), "text/plain; charset=utf-8")
        self.assertIn("payment-reminders-final.txt", result.header("content-disposition"))
        self.assertTrue(result.text.startswith(
            f'Campaign "Payment reminders" (id {self.campaign}): finished (completed),'
            " finalized.\nFinal report"))
        self.assertIn("Contacts answered", result.text)

    @defer.inlineCallbacks
    def test_unknown_and_unavailable(self):
        """
        Unknown ids, ids that are not numbers, traversal attempts, templates
        and campaigns without a report are refused with a page saying why,
        and no file is sent.
        """
        campaigns = CampaignStore(self.pool, self.clock)
        draft = yield F.campaign_in(campaigns, self.pool, "draft")
        template = yield campaigns.save_as_template(draft, F.USER, name="Tpl")
        client = yield self.logged_in("viewer")
        for suffix in ("report", "report.csv", "report.txt"):
            for path, code, words in (
                    (f"/campaigns/999999/{suffix}", 404, "There is no such campaign."),
                    (f"/campaigns/{template.id}/{suffix}", 404, "A template has no report"),
                    (f"/campaigns/{draft}/{suffix}", 409, "A draft campaign has no report"),
                    (f"/campaigns/x{self.campaign}/{suffix}", 404, "There is no such page."),
                    (f"/campaigns/-1/{suffix}", 404, "There is no such page."),
                    (f"/campaigns/{self.campaign}/..%2F..%2Fetc%2Fpasswd", 404, "no such page"),
                    (f"/campaigns/{self.campaign}/{suffix}/../../../etc/passwd", 404,
                     "no such page")):
                result = yield client.get(path)
                self.assertEqual(result.code, code, path)
                self.assertIn(words, result.text, path)
                self.assertIsNone(result.header("content-disposition"), path)
                self.assertNotIn("Alice", result.text)

    @defer.inlineCallbacks
    def test_hostile_names_inert(self):
        """
        Markup in the campaign name, the list's column names, option labels
        and contact fields is shown as text on the pages and in the SVG, and
        the CSV (which holds it as data) is only ever an attachment the
        browser may not sniff.
        """
        yield self.pool.runOperation(
            "UPDATE campaigns SET name = %s,"
            " settings = jsonb_set(settings, '{menu,options,0,label}', to_jsonb(%s::text))"
            " WHERE id = %s", (R.XSS, R.XSS, self.campaign))
        columns = json.loads(json.dumps(fixture.LIST_COLUMNS))
        columns[4]["name"] = R.XSS
        yield self.pool.runOperation(
            "UPDATE contact_lists SET columns = %s::jsonb WHERE name = 'Reminders January'",
            (json.dumps(columns),))
        yield self.pool.runOperation(
            "UPDATE contacts SET fields = fields || jsonb_build_object(%s, %s)"
            " WHERE phone = '33600000001'", (R.XSS, R.XSS))
        yield self.finalize()
        client = yield self.logged_in("viewer")
        for path in ("/reports", f"/campaigns/{self.campaign}/report"):
            page = yield client.get(path)
            self.assertEqual(page.code, 200, path)
            self.assertNotIn(R.XSS, page.text, path)
            self.assertNotRegex(page.text, r"<script>|<script [^s]", path)
            self.assertIn(R.XSS_ESCAPED, page.text, path)
        page = yield client.get(f"/campaigns/{self.campaign}/report")
        self.assertIn('1: &lt;script&gt;alert("x")&lt;/script&gt;</text>', page.text)
        self.assertIn(f"<code>{R.XSS_ESCAPED}</code>", page.text)  # the CSV column
        result = yield client.get(f"/campaigns/{self.campaign}/report.csv")
        self.assertEqual(result.code, 200)
        self.assertTrue(result.header("content-disposition").startswith("attachment;"))
        self.assertEqual(result.header("x-content-type-options"), "nosniff")
        self.assertIn("default-src 'self'", result.header("content-security-policy"))
        header = result.text.split("\r\n", 1)[0]
        self.assertIn('"<script>alert(""x"")</script>"', header)
        self.assertEqual(result.header("content-disposition"),
                         f'attachment; filename="campaign-{self.campaign}-script-alert-x'
                         '-script-final.csv"')
