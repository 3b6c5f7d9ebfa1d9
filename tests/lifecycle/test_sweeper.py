"""
Tests for L{fts.lifecycle.sweeper.CampaignSweeper}: a C{task.Clock} for
time, a real PostgreSQL for the campaigns.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from twisted.internet import defer, task

from fts.core.campaign import Schedule, Window
from fts.core.lifecycle import FinishReason, State, Trigger
from fts.db.campaigns import CampaignStore
from fts.db.finalization import FinalizationStore
from fts.lifecycle.finalizer import CampaignFinalizer
from fts.lifecycle.settings import LifecycleSettings
from fts.lifecycle.sweeper import CampaignSweeper
from tests.lifecycle import fixtures as F
from tests.support.db import DatabaseTestCase

SECOND = timedelta(seconds=1)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


class SweeperTests(DatabaseTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = task.Clock()
        self.campaigns = CampaignStore(self.pool, self.clock)
        self.finalization = FinalizationStore(self.pool)
        finalizer = CampaignFinalizer(self.campaigns, self.finalization, self.clock,
                                      hangup=None, report_builder=None,
                                      settings=LifecycleSettings())
        self.sweeper = CampaignSweeper(self.campaigns, finalizer, self.clock)

    def at(self, when):
        self.clock.advance(when.timestamp() - self.clock.seconds())

    def sweep_at(self, when):
        self.at(when)
        return self.sweeper.sweep()

    @defer.inlineCallbacks
    def campaign(self, state, schedule, phones=("15551000", "15551001")):
        """A campaign in C{state}, made while the clock shows the schedule's start."""
        self.at(datetime.combine(schedule.start.date(), time(0), ZoneInfo(schedule.timezone))
                - timedelta(days=1))
        cid = yield F.campaign_in(self.campaigns, self.pool, "scheduled", phones=phones,
                                  schedule=schedule)
        if state in ("running", "paused"):
            campaign = yield self.campaigns.get(cid)
            yield self.campaigns.transition(cid, Trigger.START, F.USER, now=campaign.starts_at)
        if state == "paused":
            yield self.campaigns.transition(cid, Trigger.PAUSE, F.USER)
        return cid

    @defer.inlineCallbacks
    def state(self, cid):
        campaign = yield self.campaigns.get(cid)
        return campaign.state, campaign.finish_reason

    @defer.inlineCallbacks
    def test_starts_at_start_across_dst(self):
        """A start at 02:30 on New York's spring-forward night starts the campaign at 07:00 UTC."""
        schedule = Schedule("America/New_York", datetime(2026, 3, 8, 2, 30),
                            datetime(2026, 3, 9), F.ALL_WEEK)
        cid = yield self.campaign("scheduled", schedule)
        summary = yield self.sweep_at(utc(2026, 3, 8, 7) - SECOND)
        self.assertEqual(summary["started"], [])
        self.assertEqual((yield self.state(cid)), (State.SCHEDULED, None))
        summary = yield self.sweep_at(utc(2026, 3, 8, 7))
        self.assertEqual(summary["started"], [cid])
        self.assertEqual((yield self.state(cid)), (State.RUNNING, None))
        records = yield self.campaigns.transitions(cid)
        self.assertEqual((records[-1].trigger, records[-1].actor_name),
                         (Trigger.START, "sweeper:start"))

    @defer.inlineCallbacks
    def test_expires_at_first_occurrence_of_repeated_hour(self):
        """
        An end at 01:30 on the fall-back night expires the campaign at
        05:30 UTC, and the same sweep moves it on to finalizing.
        """
        schedule = Schedule("America/New_York", datetime(2026, 10, 31),
                            datetime(2026, 11, 1, 1, 30), F.ALL_WEEK)
        cid = yield self.campaign("running", schedule)
        yield self.sweep_at(utc(2026, 11, 1, 5, 30) - SECOND)
        self.assertEqual((yield self.state(cid)), (State.RUNNING, None))
        summary = yield self.sweep_at(utc(2026, 11, 1, 5, 30))
        self.assertEqual((summary["expired"], summary["finalizing"]), ([cid], [cid]))
        self.assertEqual((yield self.state(cid)), (State.FINALIZING, FinishReason.EXPIRED))
        records = yield self.campaigns.transitions(cid)
        self.assertEqual([(r.trigger, r.actor_name) for r in records[-2:]],
                         [(Trigger.FINISH_EXPIRED, "sweeper:expiry"),
                          (Trigger.BEGIN_FINALIZING, "finalizer")])

    @defer.inlineCallbacks
    def test_window_across_midnight(self):
        """
        With only a Friday 22:00-02:00 window and an end on Saturday noon,
        the campaign runs past midnight and expires at Saturday 02:00, its
        last window closed.
        """
        berlin = ZoneInfo("Europe/Berlin")
        schedule = Schedule("Europe/Berlin", datetime(2026, 6, 1), datetime(2026, 6, 6, 12),
                            (Window(4, time(22), time(2)),))
        cid = yield self.campaign("running", schedule)
        yield self.sweep_at(datetime(2026, 6, 6, 0, 30, tzinfo=berlin))
        yield self.sweep_at(datetime(2026, 6, 6, 1, 59, 59, tzinfo=berlin))
        self.assertEqual((yield self.state(cid)), (State.RUNNING, None))
        yield self.sweep_at(datetime(2026, 6, 6, 2, 0, tzinfo=berlin))
        self.assertEqual((yield self.state(cid)), (State.FINALIZING, FinishReason.EXPIRED))

    @defer.inlineCallbacks
    def test_paused_campaign_expires(self):
        """A paused campaign expires at its end like a running one."""
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 6, 2), F.ALL_WEEK)
        cid = yield self.campaign("paused", schedule)
        yield self.sweep_at(utc(2026, 6, 2))
        self.assertEqual((yield self.state(cid)), (State.FINALIZING, FinishReason.EXPIRED))

    @defer.inlineCallbacks
    def test_scheduled_past_end_expires(self):
        """A scheduled campaign swept only after its end expires without ever starting."""
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 6, 2), F.ALL_WEEK)
        cid = yield self.campaign("scheduled", schedule)
        summary = yield self.sweep_at(utc(2026, 6, 3))
        self.assertEqual((summary["started"], summary["expired"]), ([], [cid]))
        campaign = yield self.campaigns.get(cid)
        self.assertIsNone(campaign.first_started_at)

    @defer.inlineCallbacks
    def test_completed_when_nothing_pending_or_in_flight(self):
        """A campaign completes only once no contact is pending and none is in flight."""
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 7, 1), F.ALL_WEEK)
        cid = yield self.campaign("running", schedule, phones=["15551000", "15551001"])
        rows = yield F.contact_rows(self.pool, cid)
        first, second = rows["15551000"], rows["15551001"]
        yield F.set_contact(self.pool, first, status="done", final_outcome="reached")
        yield self.sweep_at(utc(2026, 6, 2))
        self.assertEqual((yield self.state(cid)), (State.RUNNING, None))
        yield F.set_contact(self.pool, second, status="in_flight")
        yield self.sweep_at(utc(2026, 6, 2, 0, 0, 5))
        self.assertEqual((yield self.state(cid)), (State.RUNNING, None))
        yield F.set_contact(self.pool, second, status="done", final_outcome="busy")
        summary = yield self.sweep_at(utc(2026, 6, 2, 0, 0, 10))
        self.assertEqual(summary["completed"], [cid])
        self.assertEqual((yield self.state(cid)), (State.FINALIZING, FinishReason.COMPLETED))

    @defer.inlineCallbacks
    def test_finished_begins_finalizing_once(self):
        """A cancelled campaign begins finalizing with its wait deadline, once."""
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 7, 1), F.ALL_WEEK)
        cid = yield self.campaign("running", schedule)
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield self.sweep_at(utc(2026, 6, 2))
        summary = yield self.sweep_at(utc(2026, 6, 2, 0, 0, 5))
        self.assertEqual(summary["finalizing"], [cid])
        progress = yield self.finalization.progress(cid)
        self.assertEqual((progress.step, progress.wait_deadline),
                         ("waiting", utc(2026, 6, 2, 0, 2)))
        records = yield self.campaigns.transitions(cid)
        self.assertEqual([r.trigger for r in records].count(Trigger.BEGIN_FINALIZING), 1)

    @defer.inlineCallbacks
    def test_templates_and_drafts_ignored(self):
        """Drafts and templates are never started or expired, whatever the time."""
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 6, 2), F.ALL_WEEK)
        self.at(utc(2026, 5, 1))
        draft = yield F.campaign_in(self.campaigns, self.pool, "draft", schedule=schedule)
        template = yield self.campaigns.save_as_template(draft, F.USER)
        summary = yield self.sweep_at(utc(2026, 7, 1))
        self.assertEqual(summary, {"started": [], "expired": [], "completed": [],
                                   "finalizing": [], "errors": []})
        self.assertEqual((yield self.state(draft)), (State.DRAFT, None))
        self.assertEqual((yield self.state(template.id)), (State.DRAFT, None))
