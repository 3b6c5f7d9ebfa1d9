"""
Tests for L{fts.db.campaigns.CampaignStore} against a real PostgreSQL:
settings round trips, the life cycle with its audit, templates, recycling.
"""

import itertools
import json
from datetime import UTC, datetime, time

import attr
from twisted.internet import defer, task

from fts.core.campaign import (
    Action,
    AmdMode,
    AmdSettings,
    AudioPart,
    CallerId,
    KeyOption,
    Menu,
    RecipientHours,
    Replay,
    Schedule,
    Window,
)
from fts.core.lifecycle import (
    FinishReason,
    GuardRefused,
    IllegalTransition,
    State,
    Trigger,
)
from fts.core.outcomes import AttemptOutcome, FinalOutcome
from fts.core.recycling import RecycleChoice, RecycleSelection, selects
from fts.db.campaigns import (
    WORK_LEFT_SQL,
    Actor,
    CampaignNotFound,
    CampaignStore,
    InvalidCampaign,
    NotEditable,
)
from tests.lifecycle import fixtures as F
from tests.support.db import DatabaseTestCase

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class CampaignStoreTestCase(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = task.Clock()
        self.clock.advance(NOW.timestamp())
        self.campaigns = CampaignStore(self.pool, self.clock, tts_available=True)
        self.seen = []
        self.campaigns.on_transition(lambda cid, t: self.seen.append((cid, t.trigger)))

    @defer.inlineCallbacks
    def audio_asset(self):
        rows = yield self.pool.runQuery(
            "INSERT INTO audio_assets (name, original_filename, content_hash, status, formats,"
            " duration_ms, sample_rate, path) VALUES ('beep', 'beep.wav', 'x', 'ready',"
            " '{wav}', 1000, 8000, 'fts/beep') RETURNING id")
        return rows[0][0]

    @defer.inlineCallbacks
    def dnc_list(self, name="customers-dnc"):
        rows = yield self.pool.runQuery(
            "INSERT INTO dnc_lists (name) VALUES (%s) RETURNING id", (name,))
        return rows[0][0]


class SettingsTests(CampaignStoreTestCase):

    @defer.inlineCallbacks
    def full_settings(self):
        list_id = yield F.contact_list(self.pool, ["15551000"], columns=("first_name", "tz"))
        asset = yield self.audio_asset()
        dnc = yield self.dnc_list()
        return F.settings(
            list_id, dnc_list_ids=(dnc,),
            message=(AudioPart(asset), F.settings(list_id).message[0]),
            menu=Menu(options=(KeyOption("1", Action.RECORD, "yes"),
                               KeyOption("9", Action.OPTOUT, "stop")),
                      no_key=Replay(2, (AudioPart(asset),))),
            amd=AmdSettings(mode=AmdMode.MACHINE_MESSAGE, machine_message=(AudioPart(asset),),
                            parameters={"initial_silence": 2500, "greeting": 1500}),
            schedule=Schedule(
                timezone="America/New_York", start=datetime(2026, 3, 8, 2, 30),
                end=datetime(2026, 11, 1, 1, 30),
                windows=(Window(4, time(22), time(2)), Window(0, time(9), time(17))),
                recipient_hours=RecipientHours(time(8), time(21), "tz")))

    @defer.inlineCallbacks
    def test_create_round_trip(self):
        """A created draft reads back with exactly the settings given, and a creation record."""
        settings = yield self.full_settings()
        campaign = yield self.campaigns.create(settings, Actor("user", "alice", user_id=None),
                                               description="spring")
        again = yield self.campaigns.get(campaign.id)
        self.assertEqual(again.settings, settings)
        self.assertEqual((again.state, again.is_template, again.finish_reason,
                          again.description), (State.DRAFT, False, None, "spring"))
        [record] = yield self.campaigns.transitions(campaign.id)
        self.assertEqual((record.from_state, record.to_state, record.trigger,
                          record.actor_kind, record.actor_name),
                         (None, State.DRAFT, Trigger.CREATE, "user", "alice"))
        self.assertEqual(self.seen, [(campaign.id, Trigger.CREATE)])

    @defer.inlineCallbacks
    def test_columns_and_links_mirror_settings(self):
        """Columns, windows, DNC and audio links hold what the settings say, in one write."""
        settings = yield self.full_settings()
        campaign = yield self.campaigns.create(settings, F.USER)
        [row] = yield self.pool.runQuery(
            "SELECT name, list_id, caller_id_number, timezone, local_hours_from,"
            " local_hours_to, max_channels, max_attempts, dial_string FROM campaigns"
            " WHERE id = %s", (campaign.id,))
        self.assertEqual(row, ("Reminders", settings.list_id, "15550000", "America/New_York",
                               time(8), time(21), 10, 3, "PJSIP/{number}@trunk"))
        windows = yield self.pool.runQuery(
            "SELECT weekday, from_time, to_time FROM campaign_windows WHERE campaign_id = %s"
            " ORDER BY weekday", (campaign.id,))
        self.assertEqual([tuple(w) for w in windows],
                         [(0, time(9), time(17)), (4, time(22), time(2))])
        dnc = yield F.count(self.pool, "SELECT array_agg(dnc_list_id) FROM campaign_dnc_lists"
                                       " WHERE campaign_id = %s", campaign.id)
        self.assertEqual(dnc, list(settings.dnc_list_ids))
        audio = yield F.count(self.pool, "SELECT count(*) FROM campaign_audio_assets"
                                         " WHERE campaign_id = %s", campaign.id)
        self.assertEqual(audio, 1)

    @defer.inlineCallbacks
    def test_start_and_end_instants_across_dst(self):
        """
        A start inside New York's spring-forward gap is stored as the
        transition (07:00 UTC); an end in the fall-back repeated hour as its
        first occurrence (05:30 UTC).
        """
        settings = yield self.full_settings()
        campaign = yield self.campaigns.create(settings, F.USER)
        self.assertEqual(campaign.starts_at, datetime(2026, 3, 8, 7, 0, tzinfo=UTC))
        self.assertEqual(campaign.ends_at, datetime(2026, 11, 1, 5, 30, tzinfo=UTC))
        self.assertEqual(campaign.settings.schedule.start, datetime(2026, 3, 8, 2, 30))

    @defer.inlineCallbacks
    def test_update_rewrites_everything(self):
        """Updating a draft replaces its columns and links."""
        settings = yield self.full_settings()
        campaign = yield self.campaigns.create(settings, F.USER)
        changed = attr.evolve(settings, name="Renamed", dnc_list_ids=(),
                              schedule=attr.evolve(settings.schedule, windows=ALL_MONDAY))
        updated = yield self.campaigns.update(campaign.id, changed, F.USER)
        self.assertEqual(updated.settings, changed)
        self.assertEqual(updated.name, "Renamed")
        links = yield F.count(
            self.pool, "SELECT (SELECT count(*) FROM campaign_dnc_lists WHERE campaign_id = %s)"
                       " * 10 + (SELECT count(*) FROM campaign_windows WHERE campaign_id = %s)",
            campaign.id, campaign.id)
        self.assertEqual(links, 1)

    @defer.inlineCallbacks
    def test_only_drafts_are_edited(self):
        """A confirmed campaign's settings cannot be changed."""
        cid = yield F.campaign_in(self.campaigns, self.pool, "scheduled")
        campaign = yield self.campaigns.get(cid)
        yield self.assertFailure(
            self.campaigns.update(cid, campaign.settings, F.USER), NotEditable)

    @defer.inlineCallbacks
    def test_values_the_table_refuses(self):
        """An end before the start or an unknown timezone fail with an operator sentence."""
        list_id = yield F.contact_list(self.pool, ["15551000"])
        backwards = F.settings(list_id, schedule=Schedule(
            start=datetime(2026, 5, 1), end=datetime(2026, 4, 1), windows=F.ALL_WEEK))
        error = yield self.assertFailure(self.campaigns.create(backwards, F.USER),
                                         InvalidCampaign)
        self.assertEqual(str(error), "The end must be after the start.")
        nowhere = F.settings(list_id, schedule=Schedule(timezone="Mars/Olympus"))
        yield self.assertFailure(self.campaigns.create(nowhere, F.USER), InvalidCampaign)
        self.assertEqual((yield self.campaigns.count()), 0)

    @defer.inlineCallbacks
    def test_list_filters_and_pages(self):
        """Listing filters by state and name, newest first, in pages; count agrees."""
        ids = []
        for state in ("draft", "scheduled", "draft"):
            cid = yield F.campaign_in(self.campaigns, self.pool, state, phones=["1555%d" % len(ids)])
            ids.append(cid)
        drafts = yield self.campaigns.list(states=["draft"])
        self.assertEqual([c.id for c in drafts], [ids[2], ids[0]])
        page = yield self.campaigns.list(limit=1, offset=1)
        self.assertEqual([c.id for c in page], [ids[1]])
        self.assertEqual((yield self.campaigns.list(name_contains="remind%")), [])
        self.assertEqual((yield self.campaigns.count(name_contains="REMIND")), 3)
        self.assertEqual((yield self.campaigns.count(is_template=True)), 0)

    def test_unknown_campaign(self):
        """Reading a campaign that does not exist fails clearly."""
        return self.assertFailure(self.campaigns.get(424242), CampaignNotFound)


ALL_MONDAY = (Window(0, time(0), time(0)),)


class LifeCycleTests(CampaignStoreTestCase):

    @defer.inlineCallbacks
    def test_confirm_fills_contacts(self):
        """Confirming fills campaign_contacts from the list, all pending, and audits it."""
        phones = ["1555%04d" % n for n in range(250)]
        cid = yield F.campaign_in(self.campaigns, self.pool, "scheduled", phones=phones)
        pending = yield F.count(self.pool, "SELECT count(*) FROM campaign_contacts"
                                           " WHERE campaign_id = %s AND status = 'pending'", cid)
        self.assertEqual(pending, 250)
        records = yield self.campaigns.transitions(cid)
        self.assertEqual([(r.from_state, r.to_state, r.trigger) for r in records],
                         [(None, State.DRAFT, Trigger.CREATE),
                          (State.DRAFT, State.SCHEDULED, Trigger.CONFIRM)])

    @defer.inlineCallbacks
    def test_confirm_refused_with_problems(self):
        """A draft with validation problems is not confirmed, and nothing changes."""
        list_id = yield F.contact_list(self.pool, ["15551000"])
        campaign = yield self.campaigns.create(
            F.settings(list_id, caller_id=CallerId("", "")),
            F.USER)
        error = yield self.assertFailure(
            self.campaigns.transition(campaign.id, Trigger.CONFIRM, F.USER), GuardRefused)
        self.assertIn("1 validation problem", str(error))
        again = yield self.campaigns.get(campaign.id)
        self.assertEqual(again.state, State.DRAFT)
        rows = yield F.count(self.pool, "SELECT count(*) FROM campaign_contacts"
                                        " WHERE campaign_id = %s", campaign.id)
        self.assertEqual(rows, 0)
        self.assertEqual(len((yield self.campaigns.transitions(campaign.id))), 1)

    @defer.inlineCallbacks
    def test_unschedule_empties_contacts(self):
        """Back to draft, the campaign's contact rows are gone until it is confirmed again."""
        cid = yield F.campaign_in(self.campaigns, self.pool, "scheduled")
        yield self.campaigns.transition(cid, Trigger.UNSCHEDULE, F.USER)
        rows = yield F.count(self.pool, "SELECT count(*) FROM campaign_contacts"
                                        " WHERE campaign_id = %s", cid)
        self.assertEqual(rows, 0)
        yield self.campaigns.transition(cid, Trigger.CONFIRM, F.USER)
        rows = yield F.count(self.pool, "SELECT count(*) FROM campaign_contacts"
                                        " WHERE campaign_id = %s", cid)
        self.assertEqual(rows, 2)

    @defer.inlineCallbacks
    def test_operator_moves_told_to_listeners(self):
        """Start, pause, resume and cancel are stored, audited and told to listeners in order."""
        cid = yield F.campaign_in(self.campaigns, self.pool, "running")
        yield self.campaigns.transition(cid, Trigger.PAUSE, "api:nightly")
        yield self.campaigns.transition(cid, Trigger.RESUME, F.USER)
        move = yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER, note="wrong list")
        self.assertEqual(move.finish_reason, FinishReason.CANCELLED)
        campaign = yield self.campaigns.get(cid)
        self.assertEqual((campaign.state, campaign.finish_reason), (State.FINISHED,
                                                                    FinishReason.CANCELLED))
        self.assertIsNotNone(campaign.first_started_at)
        self.assertIsNotNone(campaign.finished_at)
        self.assertEqual([t for c, t in self.seen if c == cid],
                         [Trigger.CREATE, Trigger.CONFIRM, Trigger.START, Trigger.PAUSE,
                          Trigger.RESUME, Trigger.CANCEL])
        records = yield self.campaigns.transitions(cid)
        self.assertEqual((records[3].actor_kind, records[3].actor_name),
                         ("api_token", "nightly"))

    @defer.inlineCallbacks
    def test_listener_failure_logged(self):
        """A listener that raises is logged; the transition stands and others are told."""
        class Oops(Exception):
            pass

        def bad(cid, move):
            raise Oops()

        self.campaigns.on_transition(bad)
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        self.assertEqual(len(self.flushLoggedErrors(Oops)), 1)
        self.assertEqual(self.seen, [(cid, Trigger.CREATE)])

    @defer.inlineCallbacks
    def test_guards_use_stored_facts(self):
        """A campaign with pending contacts cannot complete; an illegal trigger is refused."""
        cid = yield F.campaign_in(self.campaigns, self.pool, "running")
        error = yield self.assertFailure(
            self.campaigns.transition(cid, Trigger.FINISH_COMPLETED, "sweeper:completion"),
            GuardRefused)
        self.assertIn("2 contacts are still to be dialed", str(error))
        yield self.assertFailure(self.campaigns.transition(cid, Trigger.CONFIRM, F.USER),
                                 IllegalTransition)
        yield self.assertFailure(self.campaigns.transition(cid, "explode", F.USER),
                                 IllegalTransition)
        self.assertEqual((yield self.campaigns.work_left(cid)), (True, False))

    @defer.inlineCallbacks
    def test_work_left_served_by_partial_indexes(self):
        """Each EXISTS of the completion check can be answered by its own partial index."""
        cid = yield F.campaign_in(self.campaigns, self.pool, "running")

        def plan(cursor):
            d = cursor.execute("SET LOCAL enable_seqscan = off")
            d.addCallback(lambda _: cursor.execute(
                "EXPLAIN (FORMAT JSON) " + WORK_LEFT_SQL, {"campaign": cid}))
            return d.addCallback(lambda _: json.dumps(cursor.fetchall()))

        text = yield self.pool.runInteraction(plan)
        self.assertIn("campaign_contacts_pending_idx", text)
        self.assertIn("campaign_contacts_in_flight_idx", text)

    @defer.inlineCallbacks
    def test_start_waits_for_its_time(self):
        """The start guard reads the stored start instant."""
        cid = yield F.campaign_in(self.campaigns, self.pool, "scheduled")
        early = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
        yield self.assertFailure(
            self.campaigns.transition(cid, Trigger.START, "sweeper:start", now=early),
            GuardRefused)
        yield self.campaigns.transition(cid, Trigger.START, "sweeper:start",
                                        now=datetime(2026, 1, 1, tzinfo=UTC))


class TemplateTests(CampaignStoreTestCase):

    @defer.inlineCallbacks
    def test_save_and_use_template(self):
        """
        A template keeps every setting (AMD included) but no list or dates;
        a campaign made from it gets them all back plus its own list and dates.
        """
        cid = yield F.campaign_in(self.campaigns, self.pool, "running")
        source = yield self.campaigns.get(cid)
        template = yield self.campaigns.save_as_template(cid, F.USER, name="Reminder template")
        self.assertTrue(template.is_template)
        self.assertEqual((template.list_id, template.starts_at, template.ends_at),
                         (None, None, None))
        self.assertEqual(template.settings.amd, source.settings.amd)
        yield self.assertFailure(
            self.campaigns.transition(template.id, Trigger.CONFIRM, F.USER), GuardRefused)
        list_id = yield F.contact_list(self.pool, ["15559999"], name="other")
        made = yield self.campaigns.create_from_template(
            template.id, F.USER, name="June", list_id=list_id,
            start=datetime(2026, 6, 2, 9), end=datetime(2026, 6, 3, 9))
        expected = attr.evolve(source.settings, name="June", list_id=list_id,
                               schedule=attr.evolve(source.settings.schedule,
                                                    start=datetime(2026, 6, 2, 9),
                                                    end=datetime(2026, 6, 3, 9)))
        self.assertEqual(made.settings, expected)
        self.assertFalse(made.is_template)
        records = yield self.campaigns.transitions(made.id)
        self.assertEqual(records[0].reason, f"from template {template.id}")
        yield self.campaigns.transition(made.id, Trigger.CONFIRM, F.USER)

    @defer.inlineCallbacks
    def test_only_templates_make_campaigns(self):
        """Creating from a campaign that is not a template is refused."""
        cid = yield F.campaign_in(self.campaigns, self.pool, "draft")
        yield self.assertFailure(self.campaigns.create_from_template(cid, F.USER), ValueError)
        self.assertEqual((yield self.campaigns.count(is_template=None)), 1)


# Archive rows covering every branch of fts.core.recycling.selects:
# (final, last attempt, answered, amd, keys).
_GRID = [
    ("reached", "answered", True, "human", "1"),
    ("reached", "answered", True, "human", ""),
    ("reached", "answered", True, "machine", ""),
    ("reached", "answered", True, "notsure", "2"),
    ("exhausted", "answered", True, "machine", ""),
    ("opted_out", "answered", True, "human", "9"),
    ("busy", "busy", False, None, ""),
    ("exhausted", "busy", False, None, ""),
    ("no_answer", "no_answer", False, None, ""),
    ("exhausted", "unknown", False, None, ""),
    ("failed", "congestion", False, None, ""),
    ("failed", "chanunavail", False, None, ""),
    ("failed", "failed", False, None, ""),
    ("invalid_number", "invalid_number", False, None, ""),
    ("dnc_skipped", None, False, None, ""),
    ("not_dialed", None, False, None, ""),
    ("not_dialed", "cancelled", False, None, ""),
    ("outside_hours_skipped", None, False, None, ""),
    ("exhausted", "cancelled", False, None, ""),
]


class RecyclingTests(CampaignStoreTestCase):

    @defer.inlineCallbacks
    def finalized_with_archive(self, grid, fields=None):
        """A finalized campaign whose archive holds one row per grid entry."""
        phones = ["1555%04d" % n for n in range(len(grid))]
        cid = yield F.campaign_in(self.campaigns, self.pool, "running", phones=phones)
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield self.campaigns.transition(cid, Trigger.BEGIN_FINALIZING, "finalizer")
        for n, (final, last, answered, amd, keys) in enumerate(grid):
            yield self.pool.runOperation(
                "INSERT INTO campaign_contacts_archive (campaign_id, contact_id, row_number,"
                " phone, phone_original, fields, final_outcome, amd_verdict, keys, last_outcome,"
                " answered, attempts)"
                " SELECT %s, c.id, c.row_number, c.phone, c.phone_original,"
                " coalesce(%s::jsonb, c.fields), %s, %s, %s, %s, %s, %s"
                " FROM contacts c JOIN campaigns k ON k.list_id = c.list_id"
                " WHERE k.id = %s AND c.phone = %s",
                (cid, fields, final, amd, keys, last, answered, 0 if last is None else 1,
                 cid, phones[n]))
        yield self.pool.runOperation("DELETE FROM campaign_contacts WHERE campaign_id = %s",
                                     (cid,))
        yield self.campaigns.transition(cid, Trigger.FINALIZE, "finalizer")
        return cid, phones

    @defer.inlineCallbacks
    def recycled_phones(self, campaign):
        rows = yield self.pool.runQuery(
            "SELECT phone FROM contacts WHERE list_id = %s ORDER BY row_number",
            (campaign.list_id,))
        return [r[0] for r in rows]

    @defer.inlineCallbacks
    def test_recycled_draft(self):
        """
        Recycling makes a draft with the same settings on a new list holding
        just the chosen contacts, records where it came from, and can be
        confirmed like any campaign.
        """
        cid, phones = yield self.finalized_with_archive(_GRID)
        source = yield self.campaigns.get(cid)
        selection = RecycleSelection(choices=["busy", "no_answer"])
        made = yield self.campaigns.recycle(cid, selection, F.USER)
        self.assertEqual(made.state, State.DRAFT)
        self.assertEqual(made.settings, attr.evolve(source.settings, list_id=made.list_id,
                                                    name="Reminders (recycled)"))
        self.assertEqual((made.recycled_from_id, made.recycle_filter),
                         (cid, {"choices": ["busy", "no_answer"], "keys": []}))
        self.assertEqual((yield self.recycled_phones(made)),
                         [phones[6], phones[7], phones[8], phones[9]])
        records = yield self.campaigns.transitions(made.id)
        self.assertEqual((records[0].trigger, records[0].reason),
                         (Trigger.RECYCLE, "contacts with: busy, no_answer"))
        yield self.campaigns.transition(made.id, Trigger.CONFIRM, F.USER)
        rows = yield F.count(self.pool, "SELECT count(*) FROM campaign_contacts"
                                        " WHERE campaign_id = %s", made.id)
        self.assertEqual(rows, 4)

    @defer.inlineCallbacks
    def test_sql_agrees_with_core(self):
        """For many selections the store takes exactly the contacts fts.core.recycling.selects takes."""
        cid, phones = yield self.finalized_with_archive(_GRID)
        choices = list(RecycleChoice)
        selections = [RecycleSelection(choices=[c]) for c in choices]
        selections += [RecycleSelection(keys=["1"]), RecycleSelection(keys=["2", "9"]),
                       RecycleSelection(choices=["machine", "never_dialed"], keys=["1"]),
                       RecycleSelection(choices=choices)]
        selections += [RecycleSelection(choices=pair)
                       for pair in itertools.combinations(choices, 2)][:8]
        for selection in selections:
            made = yield self.campaigns.recycle(cid, selection, F.USER)
            expected = [
                phones[n] for n, (final, last, answered, amd, keys) in enumerate(_GRID)
                if selects(selection, FinalOutcome(final),
                           AttemptOutcome(last) if last else None, answered, amd, keys)]
            self.assertEqual((yield self.recycled_phones(made)), expected, selection)

    @defer.inlineCallbacks
    def test_identical_rows_kept(self):
        """Contacts whose archived rows are identical but for the phone are each kept."""
        grid = [("busy", "busy", False, None, "")] * 3
        cid, phones = yield self.finalized_with_archive(grid, fields='{"first_name": "Ann"}')
        made = yield self.campaigns.recycle(cid, RecycleSelection(choices=["busy"]), F.USER)
        self.assertEqual((yield self.recycled_phones(made)), phones)

    @defer.inlineCallbacks
    def test_source_list_deleted(self):
        """Once the source list is deleted, the archive alone is enough to recycle."""
        cid, phones = yield self.finalized_with_archive(_GRID[:10])
        source = yield self.campaigns.get(cid)
        yield self.pool.runOperation("DELETE FROM contact_lists WHERE id = %s",
                                     (source.list_id,))
        made = yield self.campaigns.recycle(cid, RecycleSelection(choices=["machine"]),
                                            F.USER, name="Machines again")
        self.assertEqual(made.name, "Machines again")
        self.assertEqual((yield self.recycled_phones(made)), [phones[2], phones[4]])
        columns = yield F.count(self.pool, "SELECT columns FROM contact_lists WHERE id = %s",
                                made.list_id)
        self.assertEqual(columns, [{"name": "phone", "type": "phone"},
                                   {"name": "first_name", "type": "text"}])

    @defer.inlineCallbacks
    def test_only_finalized_recycled(self):
        """A campaign that is not finalized cannot be recycled."""
        cid = yield F.campaign_in(self.campaigns, self.pool, "running")
        yield self.assertFailure(
            self.campaigns.recycle(cid, RecycleSelection(choices=["busy"]), F.USER),
            IllegalTransition)
