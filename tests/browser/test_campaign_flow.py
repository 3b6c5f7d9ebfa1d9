"""
A campaign from start to end in a real browser (see L{tests.browser.support}):
an operator uploads a small contact list, builds a campaign with the wizard
(a message, a key that opts out), reviews and confirms it (its start being
now, the dialer starts it: a scheduled campaign starts by itself), watches
its progress change live, pauses it and downloads the calls so far as CSV,
resumes it, and once it has finished (and been finalized, which purges its
calls) reads its report, downloads it as CSV and finds the numbers that
opted out in the built-in DNC list.

The daemon's simulator runs a callee profile written here
(C{pbx.sim_profile}): each number's prefix says what its callee does, so
the outcomes are known in advance and the calls are short.
"""

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from twisted.internet import defer, reactor, threads
from twisted.trial import unittest

from tests.browser.support import (
    Browser,
    expect,
    screenshots_dir,
    skip_reason,
    start_daemon,
)

LIST_NAME = "Browser campaign contacts"
CAMPAIGN_NAME = "Browser campaign"
#: What the callees do, by number prefix (fts/pbxsim/profile.py).
PROFILE = {
    "seed": 7,
    "outcomes": {"answered": 1},
    "sounds": {"default": 2.0},
    "overrides": [
        # Listens to the message and hangs up while the menu waits.
        {"prefix": "555010", "ring_seconds": 0.3, "hangup_after": 3.0, "amd": "HUMAN"},
        # Presses 9 (opt out) during the message.
        {"prefix": "555011", "ring_seconds": 0.3, "keys": [[0.8, "9"], [1.6, "9"]],
         "hangup_after": 4.0, "amd": "HUMAN"},
        # Presses 1 (confirm) during the message.
        {"prefix": "555012", "ring_seconds": 0.3, "keys": [[0.8, "1"], [1.6, "1"]],
         "hangup_after": 4.0, "amd": "HUMAN"},
        # Busy.
        {"prefix": "555013", "outcome": "busy", "ring_seconds": 0.3},
    ],
}
LISTENERS = [f"555010{n:04d}" for n in range(1, 7)]
OPT_OUTS = [f"555011{n:04d}" for n in range(1, 6)]
CONFIRMERS = [f"555012{n:04d}" for n in range(1, 6)]
BUSY = [f"555013{n:04d}" for n in range(1, 5)]
NUMBERS = LISTENERS + OPT_OUTS + CONFIRMERS + BUSY


def contacts_csv():
    """
    The 20 contacts, and one row whose number is not a number.
    """
    rows = ["first_name,phone"]
    rows += [f"Person {i},{number}" for i, number in enumerate(NUMBERS, 1)]
    rows.append("Nobody,not a phone")
    return "\r\n".join(rows) + "\r\n"


class CampaignFlowTests(unittest.TestCase):
    """
    One daemon, one browser, one campaign; each step says what it checks.
    """

    timeout = 240
    skip = skip_reason()

    @defer.inlineCallbacks
    def test_campaign_from_upload_to_opt_outs(self):
        """
        Upload, wizard, review, confirm and start, live progress, pause,
        calls CSV, resume, finish, report with its chart and CSV, and the
        opted-out numbers in the built-in DNC list; every page screenshotted.
        """
        base = Path(self.mktemp()).resolve()
        files = base / "browser-files"
        files.mkdir(parents=True)
        profile = files / "callees.json"
        profile.write_text(json.dumps(PROFILE), encoding="utf-8")
        daemon = yield start_daemon(reactor, base / "data", env={
            "FTS_PBX_SIM_PROFILE": str(profile), "FTS_BACKUP_ENABLED": "no"})
        try:
            yield threads.deferToThread(self.flow, daemon.url, screenshots_dir(), files)
        except BaseException:
            self.addCleanup(lambda: print(daemon.text()[-20000:]))
            raise
        finally:
            yield daemon.terminate()

    def flow(self, url, shots, files):
        self.files = files
        Browser(url, shots).run([
            Browser.log_in, self.upload_list, self.wizard, self.confirm_and_start,
            self.live_progress, self.pause, self.calls_csv, self.resume, self.finished,
            self.report, self.opt_outs])

    def upload_list(self, b):
        page = b.page
        path = self.files / "campaign-contacts.csv"
        path.write_text(contacts_csv(), encoding="utf-8")
        b.go("/lists")
        page.fill("#f-name", LIST_NAME)
        page.set_input_files("#f-file", str(path))
        page.click("#upload-list button[type=submit]")
        expect(page.locator("p.notice")).to_contain_text("The file has been uploaded.")
        b.shot("40-campaign-list-detected")
        page.click("button[value=start]")
        if page.locator("#import-progress").count():
            expect(page.locator("text=Show the result")).to_be_visible(timeout=30_000)
            page.click("text=Show the result")
        expect(page.locator("section.decision h2")).to_contain_text("1 row rejected")
        page.click(f"text=Accept the {len(NUMBERS)} rows")
        expect(page.locator("p.notice")).to_contain_text("ready for campaigns")
        b.shot("41-campaign-list-ready")

    def wizard(self, b):
        page = b.page
        b.go("/campaigns")
        page.click("text=New campaign")
        expect(page.locator("h1")).to_have_text("New campaign")
        page.fill("id=f-name", CAMPAIGN_NAME)
        page.select_option("id=f-list_id", label=f"{LIST_NAME} ({len(NUMBERS)} contacts)")
        page.fill("id=f-caller_id.number", "5550100")
        page.fill("id=f-caller_id.name", "FTS browser")
        b.shot("42-wizard-basics")
        page.click("button[value=next]")
        expect(page.locator("p.notice")).to_contain_text("continue with its message")
        self.campaign_id = int(page.url.split("/campaigns/")[1].split("/")[0])

        # Message: text-to-speech when this machine has it, else a spoken field.
        tts = page.locator("button[value='add|message|tts']")
        has_tts = page.locator("text=Text-to-speech is not available").count() == 0
        if has_tts:
            tts.click()
            page.fill("id=f-message[0].text",
                      "Hello {first_name}. Press 1 to confirm, or 9 to stop these calls.")
            page.click("button[value='preview|message|0']")
            expect(page.locator("p.preview audio")).to_be_visible()
        else:
            page.click("button[value='add|message|field']")
            page.fill("id=f-message[0].field", "first_name")
            page.click("button[value='save']:not(.default-submit)")
        b.shot("43-wizard-message")
        page.click("button[value=next]")

        # Key options: 1 confirms, 9 opts out.
        expect(page.locator("h2", has_text="Key options")).to_be_visible()
        for index, (key, action, label) in enumerate((("1", "record", "Confirmed"),
                                                      ("9", "optout", "Stop calls"))):
            page.click("button[value='add|menu.options|']")
            page.select_option(f"id=f-menu.options[{index}].key", key)
            page.select_option(f"id=f-menu.options[{index}].action", action)
            page.fill(f"id=f-menu.options[{index}].label", label)
        page.fill("id=f-menu.wait_seconds", "2")
        page.fill("id=f-menu.no_key.replays", "0")
        page.fill("id=f-menu.invalid_key.replays", "0")
        b.shot("44-wizard-options")
        page.click("button[value=next]")

        expect(page.locator("h2", has_text="Answering-machine detection")).to_be_visible()
        expect(page.locator("id=f-amd.mode")).to_have_value("off")
        b.shot("45-wizard-amd")
        page.click("button[value=next]")

        # Schedule: from this minute (so it may start at once), whole days.
        expect(page.locator("h2", has_text="Schedule")).to_be_visible()
        now = datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
        start, end = now, now + timedelta(days=2)
        page.fill("id=f-schedule.timezone", "UTC")
        page.fill("id=f-schedule.start", start.isoformat(timespec="minutes"))
        page.fill("id=f-schedule.end", end.isoformat(timespec="minutes"))
        for index, day in enumerate((now.weekday(), (now.weekday() + 1) % 7,
                                     (now.weekday() + 2) % 7)):
            page.click("button[value='add|schedule.windows|']")
            page.select_option(f"id=f-schedule.windows[{index}].weekday", str(day))
            page.fill(f"id=f-schedule.windows[{index}].start", "00:00")
            page.fill(f"id=f-schedule.windows[{index}].end", "00:00")
        b.shot("46-wizard-schedule")
        page.click("button[value=next]")

        expect(page.locator("h2", has_text="Pacing")).to_be_visible()
        page.fill("id=f-pacing.max_channels", "4")
        page.fill("id=f-pacing.cps", "1")
        page.fill("id=f-pacing.ring_timeout", "10")
        page.fill("id=f-pacing.max_call_duration", "20")
        b.shot("47-wizard-pacing")
        page.click("button[value=next]")

        expect(page.locator("h2", has_text="Retries")).to_be_visible()
        page.fill("id=f-retry.max_attempts", "1")
        b.shot("48-wizard-retries")
        page.click("button[value=review]")

        expect(page.locator("h2", has_text="Review")).to_be_visible()
        expect(page.locator("p.ok")).to_contain_text("No problems found")
        self.assertEqual(page.locator("ul.problems li").count(), 0)
        expect(page.locator("dl.facts")).to_contain_text("9 → optout")
        expect(page.locator("dl.facts")).to_contain_text("4 channels, 1.0 calls/s")
        b.shot("49-wizard-review")

    def confirm_and_start(self, b):
        page = b.page
        page.click("button:has-text('Confirm (validate and schedule)')")
        expect(page).to_have_url(
            f"{b.base_url}/campaigns/{self.campaign_id}?notice=campaign-confirm-queued")
        expect(page.locator("p.notice[role=status]")).to_contain_text("Confirmation queued")
        b.shot("50-campaign-confirm-queued")
        # The page follows the job, then reloads for each new state: the
        # campaign is scheduled and, its start having come, the dialer starts
        # it (the life cycle starts a scheduled campaign at its start).
        expect(page.locator("#campaign-live[data-state=running]")).to_be_attached(
            timeout=20_000)
        expect(page.locator("#c-state .state-running")).to_be_visible()
        history = page.locator("table.data", has_text="draft → scheduled (confirm)")
        expect(history).to_contain_text("scheduled → running (start)")
        expect(page.locator("#c-total")).to_have_text(str(len(NUMBERS)))
        self.assertEqual(page.locator("section.actions button", has_text="Start now").count(),
                         0)

    def live_progress(self, b):
        page = b.page
        expect(page.locator("#c-connection")).to_have_text("(live)")
        page.evaluate("window.ftsNotReloaded = true")
        first = page.locator("#c-done").text_content()
        expect(page.locator("#c-done")).not_to_have_text(first, timeout=15_000)
        expect(page.locator("#c-chart-calls svg")).to_be_visible()
        self.assertTrue(page.evaluate("window.ftsNotReloaded === true"),
                        "the page reloaded instead of updating")
        self.assertLess(int(page.locator("#c-done").text_content()), len(NUMBERS))
        b.shot("51-campaign-running")

    def pause(self, b):
        page = b.page
        page.click("section.actions button:has-text('Pause')")
        expect(page.locator("p.notice[role=status]")).to_contain_text("told to pause")
        expect(page.locator("#campaign-live[data-state=paused]")).to_be_attached()
        expect(page.locator("#c-state .state-paused")).to_be_visible()
        expect(page.locator("section.actions button:has-text('Resume')")).to_be_visible()
        b.shot("52-campaign-paused")

    def calls_csv(self, b):
        """
        While paused, the calls so far as CSV (a finalized campaign's calls
        are purged; the report keeps the results).
        """
        page = b.page
        with page.expect_download() as download:
            page.click("text=Calls as CSV")
        self.assertEqual(download.value.suggested_filename,
                         f"campaign-{self.campaign_id}-calls.csv")
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        self.assertTrue(text.startswith("call_id,number,test_call,attempt,outcome,"), text)
        rows = list(csv.DictReader(io.StringIO(text)))
        numbers = [r["number"] for r in rows]
        self.assertGreaterEqual(len(rows), int(page.locator("#c-done").text_content()))
        self.assertLess(len(rows), len(NUMBERS))
        self.assertEqual(len(set(numbers)), len(numbers))
        self.assertLessEqual(set(numbers), set(NUMBERS))
        for row in rows:
            if row["outcome"] == "in_progress":
                continue
            number = row["number"]
            self.assertEqual(row["outcome"], "busy" if number in BUSY else "answered", row)
            self.assertEqual(row["opted_out"], "yes" if number in OPT_OUTS else "no", row)
            if number in CONFIRMERS:
                self.assertEqual(row["option_key"], "1", row)

    def resume(self, b):
        page = b.page
        page.click("section.actions button:has-text('Resume')")
        expect(page.locator("p.notice[role=status]")).to_contain_text("told to resume")
        expect(page.locator("#c-state .state-running")).to_be_visible()
        expect(page.locator("section.actions button:has-text('Pause')")).to_be_visible()
        expect(page.locator("table.data", has_text="running → paused (pause)")).to_contain_text(
            "paused → running (resume)")

    def finished(self, b):
        page = b.page
        # Reloaded by the page itself when the state changes.
        expect(page.locator("#campaign-live[data-state=finished],"
                            " #campaign-live[data-state=finalizing],"
                            " #campaign-live[data-state=finalized]")).to_be_attached(
            timeout=60_000)
        expect(page.locator("h1")).to_contain_text("completed")
        expect(page.locator("#c-total")).to_have_text(str(len(NUMBERS)))
        b.shot("53-campaign-finished")

    def report(self, b):
        page = b.page
        page.click(f"a[href='/campaigns/{self.campaign_id}/report']")
        expect(page.locator("h1")).to_contain_text(CAMPAIGN_NAME)
        expect(page.locator("figure.chart svg").first).to_be_visible()
        b.shot("54-campaign-report")
        with page.expect_download() as download:
            page.click("text=Download CSV (one row per contact)")
        rows = list(csv.DictReader(io.StringIO(
            Path(download.value.path()).read_text(encoding="utf-8-sig"))))
        self.assertEqual(sorted(r["phone_normalized"] for r in rows), sorted(NUMBERS))
        self.assertEqual(sorted(r["phone"] for r in rows), sorted(NUMBERS))
        by_number = {r["phone_normalized"]: r for r in rows}
        self.assertEqual({by_number[n]["final_outcome"] for n in OPT_OUTS}, {"opted_out"})
        # Busy, and no retry allowed: the attempts are used up.
        self.assertEqual({by_number[n]["final_outcome"] for n in BUSY}, {"exhausted"})
        self.assertEqual({by_number[n]["final_outcome"] for n in CONFIRMERS + LISTENERS},
                         {"reached"})
        self.assertEqual({by_number[n]["keys"] for n in CONFIRMERS}, {"1"})
        self.assertEqual({by_number[n]["keys"] for n in OPT_OUTS}, {"9"})
        self.assertEqual({r["attempts"] for r in rows}, {"1"})

    def opt_outs(self, b):
        page = b.page
        b.go("/dnc")
        builtin = page.locator("tr", has=page.locator(".state-builtin"))
        expect(builtin.locator("td.num")).to_have_text(str(len(OPT_OUTS)))
        b.shot("55-dnc-lists")
        builtin.locator("a").click()
        entries = page.locator("#entries tbody tr")
        expect(entries).to_have_count(len(OPT_OUTS))
        for number in OPT_OUTS:
            row = page.locator("#entries tbody tr", has_text=number)
            expect(row).to_contain_text(str(self.campaign_id))
        for number in CONFIRMERS + LISTENERS:
            self.assertEqual(page.locator("#entries", has_text=number).count(), 0)
        b.shot("56-dnc-opt-outs")
