"""
Tests for the campaign wizard (create and edit, step by step, without
JavaScript), its TTS preview, and the templates page, on the real campaign
store.
"""

import re
from pathlib import Path
from urllib.parse import quote

from twisted.internet import defer

from fts.audio.tts import NoTTS, TTSCache
from fts.core.campaign import AudioPart, TextPart
from fts.core.lifecycle import State, TransitionError, Trigger
from fts.db.campaigns import CampaignStore
from tests.audio.support import ImmediateThreads, ManualThreadPool
from tests.callflow.support import InstantSpeech
from tests.lifecycle import fixtures as F
from tests.web.support import PanelTestCase

XSS = "<script>alert('x')</script>"
SQLI = "Robert'); DROP TABLE campaigns; --"

BASICS = {"name": "Spring reminders", "description": "Second wave",
          "caller_id.number": "15550000", "caller_id.name": "FTS",
          "dial_string": "PJSIP/{number}@trunk", "action": "next"}
PACING = {"pacing.max_channels": "5", "pacing.cps": "2.5", "pacing.priority": "3",
          "pacing.ring_timeout": "25", "pacing.max_call_duration": "300"}


def error_at(page, field):
    found = re.search(rf'id="e-{re.escape(field)}">([^<]*)<', page.text)
    return found.group(1).replace("&#39;", "'") if found else None


def problem_at(page, field):
    found = re.search(rf'id="p-{re.escape(field)}">([^<]*)<', page.text)
    return found.group(1).replace("&#39;", "'") if found else None


class WizardTestCase(PanelTestCase):
    def make_app(self, **kwargs):
        self.store.campaigns = CampaignStore(self.pool, self.clock)
        self.speech = InstantSpeech()
        self.sounds = Path(self.mktemp())
        kwargs.setdefault("tts", TTSCache(self.sounds, self.speech, ImmediateThreads(),
                                          ManualThreadPool(immediate=True)))
        return super().make_app(**kwargs)

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.list_id = yield F.contact_list(self.pool, ["15551000", "15551001"])

    @defer.inlineCallbacks
    def stored(self):
        """Every campaign (templates too), oldest first."""
        found = yield self.store.campaigns.list(is_template=None)
        return sorted(found, key=lambda c: c.id)

    @defer.inlineCallbacks
    def create(self, client, **changes):
        """Create a draft through the wizard's first step; its id."""
        form = dict(BASICS, list_id=str(self.list_id), **changes)
        result = yield client.post("/campaigns/new", form)
        self.assertEqual(result.code, 303, result.text)
        return int(re.match(r"/campaigns/(\d+)/edit/", result.header("location")).group(1))

    @defer.inlineCallbacks
    def audit_actions(self):
        rows = yield self.pool.runQuery(
            "SELECT action FROM audit_log WHERE action LIKE 'campaign%' ORDER BY id")
        return [r[0] for r in rows]


class WizardTests(WizardTestCase):
    @defer.inlineCallbacks
    def test_access(self):
        """
        The wizard needs a session and the operator role: anonymous GETs
        go to the login page, a viewer gets 403 and stores nothing.
        """
        anonymous = self.client()
        result = yield anonymous.get("/campaigns/new")
        self.assertEqual(result.code, 302)
        self.assertTrue(result.header("location").startswith("/login?next="))
        viewer = yield self.logged_in("viewer")
        for path in ("/campaigns/new", "/templates"):
            page = yield viewer.get(path)
            self.assertEqual(page.code, 403 if path != "/templates" else 200, path)
        result = yield viewer.post("/campaigns/new", dict(BASICS, list_id=str(self.list_id)))
        self.assertEqual(result.code, 403)
        self.assertEqual((yield self.stored()), [])
        operator = yield self.logged_in("operator")
        cid = yield self.create(operator)
        for path in (f"/campaigns/{cid}/edit/basics", f"/campaigns/{cid}/edit/review"):
            self.assertEqual((yield viewer.get(path)).code, 403, path)
        refused = yield viewer.post(f"/campaigns/{cid}/edit/basics", dict(BASICS, name="X"))
        self.assertEqual(refused.code, 403)
        self.assertEqual((yield self.store.campaigns.get(cid)).name, "Spring reminders")
        templates = yield viewer.get("/templates")
        self.assertNotIn("/templates/new", templates.text)

    @defer.inlineCallbacks
    def test_links(self):
        """
        Operators find the wizard on the campaigns list, and the edit link
        and "save as template" button on a draft's page; viewers do not.
        """
        cid = yield F.campaign_in(self.store.campaigns, self.pool, "draft")
        operator = yield self.logged_in("operator")
        viewer = yield self.logged_in("viewer")
        listing = yield operator.get("/campaigns")
        self.assertIn('href="/campaigns/new"', listing.text)
        self.assertNotIn('href="/campaigns/new"', (yield viewer.get("/campaigns")).text)
        page = yield operator.get(f"/campaigns/{cid}")
        self.assertIn(f'href="/campaigns/{cid}/edit/basics"', page.text)
        self.assertIn(f'action="/campaigns/{cid}/save-as-template"', page.text)
        page = yield viewer.get(f"/campaigns/{cid}")
        self.assertNotIn(f"/campaigns/{cid}/edit/basics", page.text)
        self.assertNotIn("save-as-template", page.text)
        edit = yield operator.get(f"/campaigns/{cid}/edit")
        self.assertEqual(edit.header("location"), f"/campaigns/{cid}/edit/basics")

    @defer.inlineCallbacks
    def test_csrf(self):
        """
        A wizard POST without the session's CSRF token, with a wrong one, or
        from another site is refused and stores nothing.
        """
        client = yield self.logged_in("operator")
        form = dict(BASICS, list_id=str(self.list_id))
        for attempt in (client.post("/campaigns/new", form, csrf=False),
                        client.post("/campaigns/new", form, csrf="0" * 43),
                        client.post("/campaigns/new", form,
                                    headers={"Origin": "https://evil.example"})):
            result = yield attempt
            self.assertEqual(result.code, 403)
            self.assertIn("This form has expired", result.text)
        self.assertEqual((yield self.stored()), [])
        cid = yield self.create(client)
        result = yield client.post(f"/campaigns/{cid}/edit/pacing",
                                   dict(PACING, **{"pacing.max_channels": "99"}), csrf=False)
        self.assertEqual(result.code, 403)
        self.assertEqual((yield self.store.campaigns.get(cid)).settings.pacing.max_channels, 10)

    @defer.inlineCallbacks
    def test_happy_path(self):
        """
        An operator goes through every step without JavaScript: the draft is
        created on the first step and edited by each one; the review finds
        nothing to fix and the campaign is confirmed; every save is audited.
        """
        client = yield self.logged_in("operator")
        page = yield client.get("/campaigns/new")
        self.assertEqual(page.code, 200)
        self.assertIn(f'<option value="{self.list_id}">customers (0 contacts)</option>',
                      page.text)
        cid = yield self.create(client)
        step = lambda name: f"/campaigns/{cid}/edit/{name}"  # noqa: E731
        campaign = yield self.store.campaigns.get(cid)
        self.assertEqual((campaign.state, campaign.name, campaign.description,
                          campaign.list_id, campaign.settings.caller_id.number),
                         (State.DRAFT, "Spring reminders", "Second wave", self.list_id,
                          "15550000"))

        page = yield client.get(step("message"))
        self.assertIn("<code>{first_name}</code>", page.text)
        added = yield client.post(step("message"), {"op": "add|message|tts"})
        self.assertEqual(added.header("location"),
                         step("message") + "?notice=wizard-saved#message")
        result = yield client.post(step("message"), {
            "message[0].type": "tts", "message[0].text": "Hello {first_name}, bye.",
            "action": "next"})
        self.assertEqual(result.header("location"), step("options"))

        yield client.post(step("options"), {"op": "add|menu.options|",
                                            "menu.wait_seconds": "5",
                                            "menu.invalid_key.replays": "1",
                                            "menu.no_key.replays": "1"})
        result = yield client.post(step("options"), {
            "menu.options[0].key": "9", "menu.options[0].action": "optout",
            "menu.options[0].label": "Stop", "menu.options[0].target": "",
            "menu.wait_seconds": "6", "menu.invalid_key.replays": "2",
            "menu.no_key.replays": "0", "action": "next"})
        self.assertEqual(result.header("location"), step("amd"))
        result = yield client.post(step("amd"), {"amd.mode": "hangup",
                                                 "amd.parameters.initial_silence": "2500",
                                                 "action": "next"})
        self.assertEqual(result.header("location"), step("schedule"))
        yield client.post(step("schedule"), {"schedule.timezone": "Europe/Paris",
                                             "op": "add|schedule.windows|weekdays"})
        form = {"schedule.timezone": "Europe/Paris", "schedule.start": "2026-06-01T09:00",
                "schedule.end": "2026-07-01T18:00", "action": "next"}
        for i in range(5):
            form.update({f"schedule.windows[{i}].weekday": str(i),
                         f"schedule.windows[{i}].start": "09:00",
                         f"schedule.windows[{i}].end": "18:30"})
        result = yield client.post(step("schedule"), form)
        self.assertEqual(result.header("location"), step("pacing"))
        result = yield client.post(step("pacing"), dict(PACING, action="next"))
        self.assertEqual(result.header("location"), step("retries"))
        result = yield client.post(step("retries"), {
            "retry.max_attempts": "4", "retry.busy.retry": "1", "retry.busy.delay": "120",
            "retry.no_answer.delay": "600", "retry.failed.retry": "1",
            "retry.failed.delay": "900", "retry.machine.delay": "0",
            "retry.answered_without_key.delay": "0", "action": "next"})
        self.assertEqual(result.header("location"), step("review"))

        settings = (yield self.store.campaigns.get(cid)).settings
        self.assertEqual(settings.message, (TextPart("Hello {first_name}, bye."),))
        self.assertEqual((settings.menu.options[0].key, settings.menu.options[0].action,
                          settings.menu.wait_seconds, settings.menu.invalid_key.replays),
                         ("9", "optout", 6, 2))
        self.assertEqual((settings.amd.mode, dict(settings.amd.parameters)),
                         ("hangup", {"initial_silence": 2500}))
        self.assertEqual((settings.schedule.timezone, len(settings.schedule.windows),
                          str(settings.schedule.windows[4].end)),
                         ("Europe/Paris", 5, "18:30:00"))
        self.assertEqual((settings.pacing.cps, settings.retry.max_attempts,
                          settings.retry.busy.delay, settings.retry.no_answer.retry),
                         (2.5, 4, 120, False))

        review = yield client.get(step("review"))
        self.assertIn("No problems found", review.text)
        self.assertIn(f'action="/campaigns/{cid}/confirm"', review.text)
        # The campaign page queues the confirmation for a job (tested with that
        # page); the store's confirmation is what it runs.
        yield self.store.campaigns.transition(cid, Trigger.CONFIRM, "user:operator")
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.SCHEDULED)
        actions = yield self.audit_actions()
        self.assertEqual(actions[0], "campaign.create")
        self.assertGreaterEqual(actions.count("campaign.update"), 9)

    @defer.inlineCallbacks
    def test_bad_input_stores_nothing(self):
        """
        What the form cannot read or the database cannot hold is refused
        with a message at its field, and nothing is stored.
        """
        client = yield self.logged_in("operator")
        result = yield client.post("/campaigns/new", dict(BASICS, name="  ",
                                                          list_id="abc"))
        self.assertEqual(result.code, 400)
        self.assertEqual(error_at(result, "name"), "Name is required.")
        self.assertEqual(error_at(result, "list_id"), "Contact list must be a whole number.")
        self.assertEqual((yield self.stored()), [])
        cid = yield self.create(client)
        before = (yield self.store.campaigns.get(cid)).settings
        cases = [
            ("pacing", dict(PACING, **{"pacing.cps": "fast"}), "pacing.cps",
             "Calls per second must be a number, such as 2 or 0.5."),
            ("pacing", dict(PACING, **{"pacing.ring_timeout": "2"}), "pacing.ring_timeout",
             "Ring timeout must be from 5 to 300."),
            ("schedule", {"schedule.timezone": "Mars/Olympus"}, "schedule.timezone",
             "Unknown timezone 'Mars/Olympus'; use a name like Europe/Berlin."),
            ("schedule", {"schedule.timezone": "UTC", "schedule.start": "2026-06-02T09:00",
                          "schedule.end": "2026-06-01T09:00"}, "schedule.end",
             "The end must be after the start."),
            ("schedule", {"schedule.timezone": "UTC", "schedule.windows[0].weekday": "0",
                          "schedule.windows[0].start": "9h", "schedule.windows[0].end": "17:00"},
             "schedule.windows[0].start", "Window 1's start must be a time like 09:30."),
            ("retries", {"retry.max_attempts": "0"}, "retry.max_attempts",
             "Max attempts must be from 1 to 100."),
            ("message", {"message[0].type": "audio", "message[0].asset_id": ""},
             "message[0].asset_id", "Choose the recording part 1 plays."),
            ("basics", dict(BASICS, name="x" * 201), "name",
             "Name is longer than 200 characters."),
        ]
        for step, form, field, message in cases:
            result = yield client.post(f"/campaigns/{cid}/edit/{step}", form)
            self.assertEqual(result.code, 400, (step, field))
            self.assertEqual(error_at(result, field), message)
            self.assertIn("nothing was saved", result.text)
        self.assertEqual((yield self.store.campaigns.get(cid)).settings, before)
        bad_op = yield client.post(f"/campaigns/{cid}/edit/message",
                                   {"op": "add|message|audio"})
        self.assertEqual(bad_op.code, 400)
        self.assertIn("no recordings in the audio library", bad_op.text)
        self.assertEqual((yield client.get(f"/campaigns/{cid}/edit/nowhere")).code, 404)
        self.assertEqual((yield client.get("/campaigns/999999/edit/basics")).code, 404)

    @defer.inlineCallbacks
    def test_invalid_draft_saved_and_reviewed(self):
        """
        A draft that could not be confirmed is still saved; the review lists
        every problem with a link to its field, and each step shows the
        problems at its fields.
        """
        client = yield self.logged_in("operator")
        cid = yield self.create(client, **{"caller_id.number": "12", "language": "klingon"})
        self.assertEqual((yield self.store.campaigns.get(cid)).settings.language, "klingon")
        result = yield client.post(f"/campaigns/{cid}/edit/message", {
            "message[0].type": "tts", "message[0].text": "Hi {nickname}",
            "message[1].type": "field", "message[1].field": "age", "message[1].mode": "number"})
        self.assertEqual(result.code, 303)
        settings = (yield self.store.campaigns.get(cid)).settings
        self.assertEqual(len(settings.message), 2)
        review = yield client.get(f"/campaigns/{cid}/edit/review")
        self.assertIn("problems to fix before the campaign can be confirmed", review.text)
        self.assertNotIn(f'action="/campaigns/{cid}/confirm"', review.text)
        for path, step in (("caller_id.number", "basics"), ("language", "basics"),
                           ("message[0].text", "message"),
                           ("message[1].field", "message"), ("schedule.start", "schedule"),
                           ("schedule.windows", "schedule")):
            self.assertIn(f'href="/campaigns/{cid}/edit/{step}#f-{path}"', review.text)
        page = yield client.get(f"/campaigns/{cid}/edit/message")
        self.assertIn("uses {nickname}, which is not a column of the list",
                      problem_at(page, "message[0].text"))
        basics = yield client.get(f"/campaigns/{cid}/edit/basics")
        self.assertIn("must be 3 to 20 digits", problem_at(basics, "caller_id.number"))
        self.assertIn("is not a language code", problem_at(basics, "language"))
        with self.assertRaises(TransitionError):
            yield self.store.campaigns.transition(cid, Trigger.CONFIRM, "user:operator")
        self.assertEqual((yield self.store.campaigns.get(cid)).state, State.DRAFT)

    @defer.inlineCallbacks
    def test_parts_add_reorder_remove(self):
        """
        Message parts are added, moved and removed with plain buttons; the
        fields typed meanwhile are saved with the edit.
        """
        client = yield self.logged_in("operator")
        cid = yield self.create(client)
        path = f"/campaigns/{cid}/edit/message"
        yield client.post(path, {"op": "add|message|tts"})
        yield client.post(path, {"message[0].type": "tts", "message[0].text": "one",
                                 "op": "add|message|field"})
        settings = (yield self.store.campaigns.get(cid)).settings
        self.assertEqual((settings.message[0].text, settings.message[1].field),
                         ("one", "first_name"))
        yield client.post(path, {"message[0].type": "tts", "message[0].text": "one",
                                 "message[1].type": "field", "message[1].field": "first_name",
                                 "message[1].mode": "digits", "op": "up|message|1"})
        settings = (yield self.store.campaigns.get(cid)).settings
        self.assertEqual([p.TYPE for p in settings.message], ["field", "tts"])
        yield client.post(path, {"message[0].type": "field", "message[0].field": "first_name",
                                 "message[0].mode": "digits", "message[1].type": "tts",
                                 "message[1].text": "one", "op": "remove|message|0"})
        settings = (yield self.store.campaigns.get(cid)).settings
        self.assertEqual(settings.message, (TextPart("one"),))
        stale = yield client.post(path, {"message[0].type": "tts", "message[0].text": "one",
                                         "op": "remove|message|7"})
        self.assertEqual(stale.code, 400)
        self.assertIn("page was out of date", stale.text)

    @defer.inlineCallbacks
    def test_audio_part_from_library(self):
        """
        A recording part offers the library's recordings and plays one.
        """
        rows = yield self.pool.runQuery(
            "INSERT INTO audio_assets (name, original_filename, content_hash, status,"
            " formats, duration_ms, sample_rate, size_bytes, path)"
            " VALUES ('Greeting', 'g.wav', 'abc', 'ready', ARRAY['wav'], 1200, 8000, 10,"
            " 'library/abc') RETURNING id")
        asset_id = rows[0][0]
        from fts.db.audio import AudioStore
        self.app.audio = AudioStore(self.pool, self.sounds)
        client = yield self.logged_in("operator")
        cid = yield self.create(client)
        yield client.post(f"/campaigns/{cid}/edit/message", {"op": "add|message|audio"})
        settings = (yield self.store.campaigns.get(cid)).settings
        self.assertEqual(settings.message, (AudioPart(asset_id),))
        page = yield client.get(f"/campaigns/{cid}/edit/message")
        self.assertIn(f'<option value="{asset_id}" selected>Greeting (1.2 s)</option>',
                      page.text)

    @defer.inlineCallbacks
    def test_hostile_text_is_inert(self):
        """
        Script and SQL in the name, description and TTS text are stored as
        typed and shown as text.
        """
        client = yield self.logged_in("operator")
        cid = yield self.create(client, name=XSS, description=SQLI)
        yield client.post(f"/campaigns/{cid}/edit/message",
                          {"message[0].type": "tts", "message[0].text": XSS + SQLI})
        campaign = yield self.store.campaigns.get(cid)
        self.assertEqual((campaign.name, campaign.description, campaign.settings.message),
                         (XSS, SQLI, (TextPart(XSS + SQLI),)))
        self.assertEqual(len((yield self.stored())), 1)
        for step in ("basics", "message", "review"):
            page = yield client.get(f"/campaigns/{cid}/edit/{step}")
            self.assertNotIn(XSS, page.text)
            self.assertIn("&lt;script&gt;", page.text)
            self.assertNotRegex(page.text, r"<script>|\son[a-z]+=|style=")

    @defer.inlineCallbacks
    def test_only_drafts_are_edited(self):
        """
        A campaign that left draft cannot be edited: the wizard says why
        and changes nothing.
        """
        cid = yield F.campaign_in(self.store.campaigns, self.pool, "running")
        client = yield self.logged_in("operator")
        page = yield client.get(f"/campaigns/{cid}/edit/basics")
        self.assertEqual(page.code, 409)
        self.assertIn("is running; only a draft", page.text)
        result = yield client.post(f"/campaigns/{cid}/edit/pacing", PACING)
        self.assertEqual(result.code, 409)
        self.assertEqual((yield self.store.campaigns.get(cid)).settings.pacing.max_channels, 10)

    @defer.inlineCallbacks
    def test_tts_preview(self):
        """
        Previewing a text part saves it, renders it filled with the list's
        first contact and plays it through an authenticated route.
        """
        client = yield self.logged_in("operator")
        cid = yield self.create(client)
        page = yield client.post(f"/campaigns/{cid}/edit/message", {
            "message[0].type": "tts", "message[0].text": "Hello {first_name}",
            "op": "preview|message|0"})
        self.assertEqual(page.code, 200)
        url = f"/campaigns/{cid}/preview.wav?part=message&amp;index=0"
        self.assertIn(f'<audio controls autoplay src="{url}"', page.text)
        self.assertEqual(self.speech.said, ["Hello name-15551000"])
        sound = yield client.get(url.replace("&amp;", "&"))
        self.assertEqual((sound.code, sound.header("content-type"), sound.body[:4]),
                         (200, "audio/wav", b"RIFF"))
        self.assertEqual(self.speech.said, ["Hello name-15551000"])  # from the cache
        anonymous = yield self.client().get(url.replace("&amp;", "&"))
        self.assertEqual(anonymous.code, 302)
        viewer = yield self.logged_in("viewer")
        self.assertEqual((yield viewer.get(url.replace("&amp;", "&"))).code, 403)
        missing = yield client.get(f"/campaigns/{cid}/preview.wav?part=message&index=5")
        self.assertEqual(missing.code, 404)
        traversal = yield client.get(
            f"/campaigns/{cid}/preview.wav?part={quote('../../etc')}&index=0")
        self.assertEqual(traversal.code, 404)


class NoSpeechTests(WizardTestCase):
    def make_app(self, **kwargs):
        return super().make_app(tts=TTSCache(Path(self.mktemp()), NoTTS(), None, None),
                                **kwargs)

    @defer.inlineCallbacks
    def test_preview_unavailable(self):
        """
        Without a TTS engine the message step says so, offers no preview,
        and the sound route answers 503 with the reason.
        """
        client = yield self.logged_in("operator")
        cid = yield self.create(client)
        yield client.post(f"/campaigns/{cid}/edit/message",
                          {"message[0].type": "tts", "message[0].text": "Hello"})
        page = yield client.get(f"/campaigns/{cid}/edit/message")
        self.assertIn("Text-to-speech is not available", page.text)
        self.assertNotIn("preview|message|0", page.text)
        forced = yield client.post(f"/campaigns/{cid}/edit/message", {
            "message[0].type": "tts", "message[0].text": "Hello", "op": "preview|message|0"})
        self.assertIn("No preview:", forced.text)
        sound = yield client.get(f"/campaigns/{cid}/preview.wav?part=message&index=0")
        self.assertEqual(sound.code, 503)


class TemplatePagesTests(WizardTestCase):
    @defer.inlineCallbacks
    def test_save_use_rename_delete(self):
        """
        An operator saves a campaign as a template, creates a campaign from
        it on a list, renames it and deletes it; each change is audited.
        """
        cid = yield F.campaign_in(self.store.campaigns, self.pool, "running")
        client = yield self.logged_in("operator")
        result = yield client.post(f"/campaigns/{cid}/save-as-template",
                                   {"name": "Reminder " + XSS})
        self.assertEqual(result.header("location"), "/templates?notice=template-saved")
        [template] = yield self.store.campaigns.list(is_template=True)
        self.assertEqual((template.name, template.list_id, template.settings.schedule.start),
                         ("Reminder " + XSS, None, None))
        page = yield client.get("/templates")
        self.assertIn("Reminder &lt;script&gt;", page.text)
        self.assertNotIn(XSS, page.text)

        bad = yield client.post(f"/templates/{template.id}/campaigns",
                                {"name": "", "list_id": ""})
        self.assertEqual(bad.code, 400)
        self.assertIn("Name is required.", bad.text)
        self.assertEqual(len((yield self.store.campaigns.list())), 1)
        made = yield client.post(f"/templates/{template.id}/campaigns", {
            "name": "June wave", "list_id": str(self.list_id),
            "start": "2026-06-01T08:00", "end": "2026-12-01T08:00"})
        new_id = int(re.match(r"/campaigns/(\d+)/edit/review", made.header("location"))
                     .group(1))
        new = yield self.store.campaigns.get(new_id)
        self.assertEqual((new.name, new.list_id, new.state, new.settings.message),
                         ("June wave", self.list_id, State.DRAFT, template.settings.message))
        review = yield client.get(f"/campaigns/{new_id}/edit/review")
        self.assertIn("No problems found", review.text)

        renamed = yield client.post(f"/templates/{template.id}/rename", {"name": "Renamed"})
        self.assertEqual(renamed.header("location"), "/templates?notice=template-renamed")
        self.assertEqual((yield self.store.campaigns.get(template.id)).name, "Renamed")
        not_template = yield client.post(f"/templates/{new_id}/delete")
        self.assertEqual(not_template.code, 404)
        deleted = yield client.post(f"/templates/{template.id}/delete")
        self.assertEqual(deleted.header("location"), "/templates?notice=template-deleted")
        self.assertEqual((yield self.store.campaigns.list(is_template=True,
                                                          states=[State.DRAFT])), [])
        self.assertEqual((yield self.store.campaigns.get(new_id)).state, State.DRAFT)
        actions = yield self.audit_actions()
        self.assertEqual(actions, ["campaign_template.create", "campaign.create",
                                   "campaign_template.rename", "campaign_template.delete"])

    @defer.inlineCallbacks
    def test_new_template_and_viewer(self):
        """
        An empty template opens in the wizard, without a list or dates; a
        viewer cannot create, save or delete templates.
        """
        client = yield self.logged_in("operator")
        result = yield client.post("/templates/new", {"name": "Blank"})
        tid = int(re.match(r"/campaigns/(\d+)/edit/basics", result.header("location"))
                  .group(1))
        page = yield client.get(f"/campaigns/{tid}/edit/basics")
        self.assertIn("Edit template: Blank", page.text)
        self.assertNotIn('name="list_id"', page.text)
        schedule = yield client.get(f"/campaigns/{tid}/edit/schedule")
        self.assertNotIn('name="schedule.start"', schedule.text)
        viewer = yield self.logged_in("viewer")
        cid = yield F.campaign_in(self.store.campaigns, self.pool, "draft")
        for path, form in (("/templates/new", {"name": "V"}),
                           (f"/campaigns/{cid}/save-as-template", {}),
                           (f"/templates/{tid}/delete", {}),
                           (f"/templates/{tid}/campaigns",
                            {"name": "V", "list_id": str(self.list_id)})):
            self.assertEqual((yield viewer.post(path, form)).code, 403, path)
        self.assertEqual(len((yield self.stored())), 2)
