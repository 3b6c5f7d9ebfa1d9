"""
What the browser tests share: Debian's headless Chromium driven by
Playwright's synchronous API (L{Browser}), where screenshots go
(L{screenshots_dir}), why a test is skipped on this machine
(L{skip_reason}), and a C{twistd fts} daemon started for a test
(L{start_daemon}).

Screenshots go to C{_trial_temp/browser-screenshots/} (trial's working
directory), or to C{$FTS_SCREENSHOTS} when set: keep them as CI artifacts.

Playwright's synchronous API runs in a thread (C{deferToThread}), so the
reactor keeps reading the daemon's output meanwhile.
"""

import os
import shutil
import tempfile
from pathlib import Path

from twisted.internet import defer

from tests.support.daemon import Daemon

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ADMIN_PASSWORD = "browser-admin-password"

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait longer than Playwright's 5 s: the suite runs in two
    # processes, so the daemon under test shares the machine.
    expect.set_options(timeout=15_000)
except ImportError:  # pragma: no cover - depends on the machine
    expect = sync_playwright = None
    PlaywrightTimeout = TimeoutError


def skip_reason():
    """
    Why the browser tests cannot run here, or L{None}.
    """
    if sync_playwright is None:
        return "the playwright package is not installed (pip install playwright)"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def screenshots_dir():
    path = Path(os.environ.get("FTS_SCREENSHOTS") or "browser-screenshots").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@defer.inlineCallbacks
def start_daemon(reactor, data_dir, env=None):
    """
    Start a C{twistd fts} daemon (embedded PostgreSQL, built-in simulator)
    with the admin password L{ADMIN_PASSWORD} and wait until its panel is up.

    @param env: more environment variables (configuration keys).
    @return: a Deferred firing with the running L{Daemon}; the caller
        terminates it.
    """
    daemon = Daemon(reactor, data_dir,
                    env={"FTS_WEB_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})})
    daemon.start()
    try:
        code, body = yield daemon.health()
        while body["components"].get("web", {}).get("state") != "up":
            code, body = yield daemon.health()
    except BaseException:
        yield daemon.terminate()
        raise
    return daemon


class Browser:
    """
    One Chromium with a fresh profile, recording console errors (a CSP
    violation shows up there) and refusing any JavaScript dialog.
    """

    def __init__(self, base_url, shots):
        self.base_url = base_url
        self.shots = shots
        self.profile = tempfile.mkdtemp(prefix="fts-chromium-")
        self.playwright = sync_playwright().start()
        self.context = self.playwright.chromium.launch_persistent_context(
            self.profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("console", self._console)
        self.page.on("dialog", self._dialog)
        # Generous: the suite runs in two processes beside a daemon or two.
        self.page.set_default_timeout(30_000)

    def _console(self, message):
        if message.type == "error":
            self.problems.append(message.text)

    def _dialog(self, dialog):
        self.problems.append(f"unexpected dialog: {dialog.message}")
        dialog.dismiss()

    def go(self, path):
        return self.page.goto(self.base_url + path)

    def shot(self, name, full_page=True):
        path = str(self.shots / f"{name}.png")
        try:
            self.page.screenshot(path=path, full_page=full_page, timeout=10_000)
        except PlaywrightTimeout:
            # A capture started as the page began to navigate (the campaign
            # page reloads itself when the state changes) can stall: take it
            # again once the page has loaded.
            self.page.wait_for_load_state("load")
            self.page.screenshot(path=path, full_page=full_page)

    def log_in(self, username="admin", password=ADMIN_PASSWORD):
        """
        Log in from the login page and land on the dashboard.
        """
        self.go("/login")
        self.page.fill("#f-username", username)
        self.page.fill("#f-password", password)
        self.page.click("button[type=submit]")
        expect(self.page.locator("h1")).to_have_text("Dashboard")

    def csp_violations(self):
        return [p for p in self.problems if "Content Security Policy" in p]

    def run(self, steps):
        """
        Run C{steps} (callables taking this browser) in order, a failure
        naming its step; then fail on any CSP violation or unexpected
        dialog; close the browser in any case.
        """
        try:
            for step in steps:
                try:
                    step(self)
                except Exception as e:
                    raise AssertionError(f"step {step.__name__}: {e}") from e
            if self.csp_violations():
                raise AssertionError(f"CSP violations: {self.csp_violations()}")
            dialogs = [p for p in self.problems if "dialog" in p]
            if dialogs:
                raise AssertionError(f"unexpected dialogs: {dialogs}")
        finally:
            self.close()

    def close(self):
        try:
            self.context.close()
            self.playwright.stop()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
