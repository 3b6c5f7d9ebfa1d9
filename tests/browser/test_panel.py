"""
The panel's main flows in a real browser: Playwright drives Debian's
headless Chromium (C{/usr/bin/chromium}) against a C{twistd fts} daemon on
the embedded PostgreSQL, and saves a screenshot of every page.

Screenshots go to C{_trial_temp/browser-screenshots/} (trial's working
directory), or to C{$FTS_SCREENSHOTS} when set: keep them as CI artifacts
(see L{tests.browser.support}).

Skipped, saying why, when Chromium or the Playwright package is missing
(C{apt-get install chromium}; C{pip install playwright}; never
C{playwright install}: the system Chromium is used).

Playwright's synchronous API runs in a thread (C{deferToThread}), so the
reactor keeps reading the daemon's output meanwhile.
"""

import urllib.request
from pathlib import Path

from twisted.internet import defer, reactor, threads
from twisted.trial import unittest

from tests.audio.support import wav_bytes
from tests.browser.support import (
    ADMIN_PASSWORD,
    Browser,
    expect,
    screenshots_dir,
    skip_reason,
    start_daemon,
)

XSS = '<img src=x onerror="document.title=1">Olga'
#: A contact list with three bad rows and a hostile name.
LIST_CSV = "\r\n".join([
    "first_name,phone,due",
    "Zoé,06 12 34 56 78,25/03/2026",
    "Bad,06 12 ab,01/01/2026",
    "Date,0612345680,31/02/2026",
    "Short,0612345681",
    '"' + XSS.replace('"', '""') + '",0612345690,02/01/2026',
    "Ann,0612345691,",
]) + "\r\n"
#: Rows enough for the import to last a few seconds, so its progress shows.
BULK_ROWS = 60_000


class PanelFlowTests(unittest.TestCase):
    """
    One daemon for the whole flow (starting one takes seconds); each step
    says what it checks, and a failing step names itself.
    """

    timeout = 180
    skip = skip_reason()

    @defer.inlineCallbacks
    def test_main_flows(self):
        """
        An admin logs in, watches the live dashboard, creates a user with
        hostile text and a token, reads every page; the new viewer sees no
        way to change anything; every page is screenshotted.
        """
        daemon = yield start_daemon(reactor, Path(self.mktemp()).resolve())
        try:
            yield threads.deferToThread(self.flows, daemon.url, screenshots_dir())
        finally:
            yield daemon.terminate()

    def flows(self, url, shots):
        Browser(url, shots).run([self.login, self.live_dashboard, self.users, self.token,
                                 self.other_pages, self.viewer, self.mobile])

    def login(self, b):
        page = b.page
        b.go("/")
        expect(page).to_have_url(b.base_url + "/login?next=/")
        b.shot("01-login")
        page.fill("#f-username", "admin")
        page.fill("#f-password", "wrong password")
        page.click("button[type=submit]")
        expect(page.locator("p.error")).to_contain_text("Wrong username or password.")
        b.shot("02-login-wrong")
        page.fill("#f-username", "admin")
        page.fill("#f-password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Dashboard")

    def live_dashboard(self, b):
        page = b.page
        expect(page.locator("#live-connection")).to_have_text("(live)")
        first = page.locator("#live-updated").text_content()
        expect(page.locator("#live-updated")).not_to_have_text(first, timeout=8000)
        expect(page.locator("#components li").first).to_be_visible()
        b.shot("03-dashboard")

    def users(self, b):
        page = b.page
        b.go("/users")
        page.fill("#f-username", "olga")
        page.fill("#f-password", "short")
        page.fill("#f-confirm", "short")
        page.click("form.grid button[type=submit]")
        expect(page.locator("#e-password")).to_contain_text("at least 10 characters")
        b.shot("04-users-invalid")
        page.fill("#f-username", "olga")
        page.fill("#f-display_name", XSS)
        page.select_option("#f-role", "viewer")
        page.fill("#f-password", "olga's long password")
        page.fill("#f-confirm", "olga's long password")
        page.click("form.grid button[type=submit]")
        expect(page.locator("p.notice")).to_have_text("The user has been created.")
        expect(page.locator("td", has_text="onerror")).to_have_text(XSS)
        self.assertEqual(page.locator("img").count(), 0)
        self.assertNotEqual(page.title(), "1")
        b.shot("05-users")

    def token(self, b):
        page = b.page
        b.go("/tokens")
        page.fill("#f-name", "browser test")
        page.select_option("#f-user_id", label="olga (viewer)")
        page.select_option("#f-role", "viewer")
        page.click("form.grid button[type=submit]")
        token = page.locator("#new-token").text_content().strip()
        b.shot("06-token-created")
        request = urllib.request.Request(b.base_url + "/api/v1/me",
                                         headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(request, timeout=10) as response:
            self.assertIn(b'"username": "olga"', response.read())

    def other_pages(self, b):
        page = b.page
        for name, path, heading in (("07-jobs", "/jobs", "Jobs"),
                                    ("08-status", "/status", "System status"),
                                    ("09-audit", "/audit", "Audit log"),
                                    ("10-account", "/account", "Your account"),
                                    ("11-campaigns", "/campaigns", "Campaigns"),
                                    ("12-lists", "/lists", "Contact lists")):
            b.go(path)
            expect(page.locator("h1").first).to_contain_text(heading)
            b.shot(name)
        b.go("/audit")
        expect(page.locator("code", has_text="api_token.create")).to_be_visible()

    def viewer(self, b):
        page = b.page
        page.click("text=Log out")
        expect(page.locator("p.notice")).to_have_text("You have logged out.")
        page.fill("#f-username", "olga")
        page.fill("#f-password", "olga's long password")
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Dashboard")
        self.assertEqual(page.locator("nav a", has_text="Users").count(), 0)
        b.go("/jobs")
        self.assertEqual(page.locator("text=Run now").count(), 0)
        b.go("/users")
        expect(page.locator("h1")).to_have_text("Not allowed")
        b.shot("13-viewer-refused")

    @defer.inlineCallbacks
    def test_library_flows(self):
        """
        An operator uploads a CSV with bad rows, sees them in the preview,
        imports it, reads and downloads the rejected rows and accepts the
        rest; uploads a recording and plays it; opts a number out through
        the API and finds it in the built-in DNC list.
        """
        data_dir = Path(self.mktemp()).resolve()
        daemon = yield start_daemon(reactor, data_dir)
        try:
            files = data_dir / "browser-files"
            files.mkdir(parents=True, exist_ok=True)
            yield threads.deferToThread(self.library, daemon.url, screenshots_dir(), files)
        finally:
            yield daemon.terminate()

    def library(self, url, shots, files):
        self.files = files
        Browser(url, shots).run([Browser.log_in, self.contact_list, self.audio_library,
                                 self.opt_outs])

    def contact_list(self, b):
        files = self.files
        page = b.page
        b.go("/lists")
        path = files / "spring.csv"
        bulk = "".join(f"Bulk {i},07{i:08d},01/01/2026\r\n" for i in range(BULK_ROWS))
        path.write_text(LIST_CSV + bulk, encoding="utf-8")
        page.fill("#f-name", "Spring reminders")
        page.set_input_files("#f-file", str(path))
        page.click("#upload-list button[type=submit]")
        expect(page.locator("p.notice")).to_contain_text("The file has been uploaded.")
        expect(page.locator("table.preview td.bad", has_text="06 12 ab")).to_be_visible()
        self.assertEqual(page.locator("table.preview img").count(), 0)
        b.shot("20-list-detected")
        page.select_option("select[name=type_2]", "date")
        page.click("button[value=preview]")
        expect(page.locator("table.preview")).to_contain_text("February 2026 has no day 31")
        b.shot("21-list-preview")
        page.click("button[value=start]")
        if page.locator("#import-progress").count():
            b.shot("22-list-importing")
            expect(page.locator("text=Show the result")).to_be_visible(timeout=60_000)
            expect(page.locator("#import-progress [data-field=percent-text]")).to_have_text(
                "100 %")
            page.click("text=Show the result")
        expect(page.locator("section.decision h2")).to_contain_text("3 rows rejected")
        b.shot("23-list-decision")
        page.locator("section.decision a", has_text="rejected rows").click()
        expect(page.locator("h1")).to_have_text("Rejected rows")
        expect(page.locator("td", has_text="'a'")).to_be_visible()
        b.shot("24-list-rejects")
        with page.expect_download() as download:
            page.click("text=Download as CSV")
        report = Path(download.value.path()).read_text(encoding="utf-8-sig")
        self.assertIn("invalid_phone", report)
        self.assertIn("bad_date", report)
        page.click("p.crumbs a >> nth=1")
        page.click(f"text=Accept the {BULK_ROWS + 3} rows")
        expect(page.locator("p.notice")).to_contain_text("ready for campaigns")
        expect(page.locator("td", has_text=XSS)).to_be_visible()
        self.assertEqual(page.locator("main img").count(), 0)
        b.shot("25-list-ready")
        b.go("/lists")
        expect(page.locator("td a", has_text="Spring reminders")).to_be_visible()
        b.shot("26-lists")

    def audio_library(self, b):
        files = self.files
        page = b.page
        path = files / "welcome.wav"
        path.write_bytes(wav_bytes(1.5))
        b.go("/audio")
        page.fill("#f-name", "Welcome")
        page.set_input_files("#f-file", str(path))
        page.click("#upload-audio button[type=submit]")
        expect(page.locator("p.notice")).to_contain_text("converted and added")
        row = page.locator("#recordings tr", has_text="Welcome")
        expect(row).to_contain_text("1.5 s")
        source = row.locator("audio").get_attribute("src")
        sound = page.request.get(b.base_url + source)
        self.assertEqual((sound.status, sound.headers["content-type"]), (200, "audio/wav"))
        self.assertEqual(sound.body()[:4], b"RIFF")
        b.shot("27-audio")

    def opt_outs(self, b):
        page = b.page
        b.go("/tokens")
        page.fill("#f-name", "opt-out test")
        page.select_option("#f-user_id", label="admin (admin)")
        page.select_option("#f-role", "operator")
        page.click("form.grid button[type=submit]")
        token = page.locator("#new-token").text_content().strip()
        request = urllib.request.Request(
            b.base_url + "/api/v1/dnc/opt-outs", method="POST",
            data=b'{"phone": "+33 6 98 76 54 32", "note": "asked by phone"}',
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            self.assertEqual(response.status, 201)
        b.go("/dnc")
        page.fill("#f-phone", "+33 (0)6 98 76 54 32")
        page.click("#dnc-check button[type=submit]")
        expect(page.locator("#check-result")).to_contain_text("is on 1 DNC list")
        page.click("#check-result a")
        expect(page.locator("#entries")).to_contain_text("33698765432")
        expect(page.locator("#entries")).to_contain_text("api_opt_out")
        b.shot("28-dnc-opt-outs")

    def mobile(self, b):
        page = b.page
        page.set_viewport_size({"width": 390, "height": 800})
        b.go("/")
        expect(page.locator("nav a", has_text="Dashboard")).to_be_hidden()
        page.click("label.nav-button")
        expect(page.locator("nav a", has_text="Dashboard")).to_be_visible()
        b.shot("14-dashboard-mobile")
