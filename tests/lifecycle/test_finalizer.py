"""
Tests for the finalization chain (L{fts.lifecycle.finalizer}) run as jobs by
L{fts.lifecycle.jobs.CampaignLifecycle}: a C{task.Clock} for time (the
wait, the bound, the polls), a real PostgreSQL for everything else.
"""

import os
from datetime import UTC, datetime, time, timedelta

from twisted.internet import defer, reactor, task
from twisted.trial.unittest import SkipTest

from fts.core.campaign import RecipientHours, Schedule, Window
from fts.core.lifecycle import State, Trigger
from fts.db.campaigns import CampaignStore
from fts.db.finalization import FinalizationStore
from fts.db.pool import Pool
from fts.jobs.recording import MemoryRecorder
from fts.jobs.runner import JobRunner
from fts.lifecycle.finalizer import NotFinalizing
from fts.lifecycle.jobs import CampaignLifecycle, finalization_job_name
from fts.lifecycle.settings import LifecycleSettings
from tests.lifecycle import fixtures as F
from tests.support.db import DatabaseTestCase

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
PHONES = ["15550001", "15550002", "15550003", "15550004", "15550005", "15550006"]

# What the scenario's contacts end as in the archive: phone -> (final outcome,
# attempts, keys, option, amd, talk seconds, heard, answered, last outcome,
# DNC list name).
EXPECTED = {
    "15550001": ("reached", 2, "1", "1", "human", 30, True, True, "answered", None),
    "15550002": ("busy", 1, "", None, None, 0, False, False, "busy", None),
    "15550003": ("exhausted", 1, "", None, None, 0, False, False, "no_answer", None),
    "15550004": ("not_dialed", 0, "", None, None, 0, False, False, None, None),
    "15550005": ("dnc_skipped", 0, "", None, None, 0, False, False, None, "opt-outs"),
    "15550006": ("reached", 1, "", None, "machine", 12, False, True, "answered", None),
}


class Killed(Exception):
    """The daemon died here (raised from a checkpoint)."""


class FinalizerTestCase(DatabaseTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = task.Clock()
        self.clock.advance(NOW.timestamp())
        self.campaigns = CampaignStore(self.pool, self.clock)
        self.finalization = FinalizationStore(self.pool)
        self.reports = F.FakeReports(self.pool)
        self.hangups = []
        self.hangup_error = None
        self.moves = []
        self.campaigns.on_transition(lambda cid, t: self.moves.append((cid, t.trigger)))
        self.settings = LifecycleSettings(
            stuck_call_timeout=120, poll_interval=5, hangup_grace=5, archive_chunk=2,
            purge_chunk=2, finalize_retries=0)
        self.lifecycle = self.start_lifecycle()

    def hangup(self, channel):
        self.hangups.append(channel)
        if self.hangup_error is not None:
            raise self.hangup_error

    def start_lifecycle(self, checkpoint=None, settings=None):
        """A lifecycle with its own runner (a daemon's process state), started."""
        runner = JobRunner(self.clock, MemoryRecorder())
        lifecycle = CampaignLifecycle(
            self.clock, self.campaigns, self.finalization, runner, self.hangup,
            self.reports.build_final, settings or self.settings, checkpoint=checkpoint)
        lifecycle.install()
        runner.startService()
        self.addCleanup(self.stop, lifecycle)
        return lifecycle

    def stop(self, lifecycle):
        if lifecycle.runner.running:
            lifecycle.uninstall()
            d = lifecycle.runner.stopService()
            self.clock.advance(lifecycle.runner.stop_timeout)
            return d

    def crash(self, lifecycle):
        """Forget a lifecycle as a killed daemon would: no more listening, no runner."""
        lifecycle.uninstall()
        lifecycle.runner.stopService()
        self.clock.advance(lifecycle.runner.stop_timeout)

    @defer.inlineCallbacks
    def scenario(self, stuck=False):
        """
        A running campaign whose six contacts are as L{EXPECTED} says (plus,
        if C{stuck}, a seventh with an answered call still up); returns
        C{(campaign_id, channel of the stuck call)}.
        """
        phones = PHONES + (["15550007"] if stuck else [])
        self.clock.advance(0)
        cid = yield F.campaign_in(self.campaigns, self.pool, "running", phones=phones)
        rows = yield F.contact_rows(self.pool, cid)
        pool, c = self.pool, cid
        a, b, d3, e, f = (rows[p] for p in ("15550001", "15550002", "15550003", "15550005",
                                            "15550006"))
        yield F.add_call(pool, c, a, 1, "no_answer")
        yield F.add_call(pool, c, a, 2, "answered", answered=True, amd="human", keys="1",
                         option_key="1", talk_seconds=30, heard=True)
        yield F.set_contact(pool, a, status="done", final_outcome="reached", attempts=2)
        yield F.add_call(pool, c, b, 1, "busy")
        yield F.set_contact(pool, b, status="done", final_outcome="busy", attempts=1)
        yield F.add_call(pool, c, d3, None, "failed")  # refused originate: no attempt
        yield F.add_call(pool, c, d3, 1, "no_answer")
        yield F.set_contact(pool, d3, attempts=1, last_outcome="no_answer")
        yield pool.runOperation(
            "UPDATE campaign_contacts SET status = 'done', final_outcome = 'dnc_skipped',"
            " dnc_list_id = (SELECT id FROM dnc_lists WHERE builtin) WHERE id = %s", (e,))
        yield F.add_call(pool, c, f, 1, "answered", answered=True, amd="machine",
                         talk_seconds=12)
        yield F.set_contact(pool, f, status="done", final_outcome="reached", attempts=1)
        channel = None
        if stuck:
            g = rows["15550007"]
            call_id, channel = yield F.add_call(pool, c, g, 1, answered=True, amd="human",
                                                ended=False, at=NOW - timedelta(seconds=5))
            yield F.set_contact(pool, g, status="in_flight", attempts=1,
                                in_flight_call_id=call_id, claimed_at=NOW, claimed_by="t")
        yield pool.runOperation(
            "INSERT INTO call_events (idempotency_key, campaign_id, kind, occurred_at)"
            " SELECT 'e' || n, %s, 'answered', now() FROM generate_series(1, 5) n", (cid,))
        return cid, channel

    def finalized(self, cid, lifecycle=None):
        lifecycle = lifecycle or self.lifecycle
        return (cid, Trigger.FINALIZE) in self.moves and cid not in lifecycle._running

    @defer.inlineCallbacks
    def wait_for_sleep(self, cid, lifecycle=None):
        lifecycle = lifecycle or self.lifecycle
        yield F.turns_until(lambda: cid in lifecycle.finalizer._sleepers)

    @defer.inlineCallbacks
    def archive(self, cid):
        rows = yield self.pool.runQuery(
            "SELECT phone, final_outcome, attempts, keys, option_key, amd_verdict, talk_seconds,"
            " heard_full_message, answered, last_outcome, dnc_list_name"
            " FROM campaign_contacts_archive WHERE campaign_id = %s", (cid,))
        return {row[0]: tuple(row[1:]) for row in rows}

    @defer.inlineCallbacks
    def working_rows(self, cid):
        counts = yield self.pool.runQuery(
            "SELECT (SELECT count(*) FROM campaign_contacts WHERE campaign_id = %(c)s),"
            " (SELECT count(*) FROM calls WHERE campaign_id = %(c)s),"
            " (SELECT count(*) FROM call_events WHERE campaign_id = %(c)s)", {"c": cid})
        return tuple(counts[0])

    @defer.inlineCallbacks
    def assert_finalized_once(self, cid, expected):
        """Finalized, with each record, archive row and report exactly once, nothing left."""
        campaign = yield self.campaigns.get(cid)
        self.assertEqual(campaign.state, State.FINALIZED)
        records = yield self.campaigns.transitions(cid)
        triggers = [r.trigger for r in records]
        self.assertEqual(triggers[-3:], [Trigger.CANCEL, Trigger.BEGIN_FINALIZING,
                                         Trigger.FINALIZE])
        self.assertEqual(triggers.count(Trigger.FINALIZE), 1)
        self.assertEqual((yield self.archive(cid)), expected)
        archived = yield F.count(self.pool, "SELECT archived_rows FROM campaign_finalizations"
                                            " WHERE campaign_id = %s", cid)
        self.assertEqual(archived, len(expected))
        snapshots = yield self.pool.runQuery(
            "SELECT data FROM report_snapshots WHERE campaign_id = %s", (cid,))
        self.assertEqual(len(snapshots), 1)
        self.assertEqual(snapshots[0][0]["contacts"], len(expected))
        self.assertEqual(self.reports.built.count(cid), 1)
        self.assertEqual((yield self.working_rows(cid)), (0, 0, 0))


class FinalizationTests(FinalizerTestCase):

    @defer.inlineCallbacks
    def test_cancel_finalizes_at_once(self):
        """
        A cancelled campaign with nothing in flight is finalized without a
        sweep: archived per contact (from its calls, set-based), reported
        (before the purge), purged, finalized.
        """
        cid, _ = yield self.scenario()
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield F.turns_until(lambda: self.finalized(cid))
        expected = {phone: row for phone, row in EXPECTED.items()}
        yield self.assert_finalized_once(cid, expected)
        snapshot = yield F.count(self.pool, "SELECT data FROM report_snapshots"
                                            " WHERE campaign_id = %s", cid)
        self.assertEqual(snapshot["calls"], 6)
        [run] = self.lifecycle.runner.recorder.runs_of(finalization_job_name(cid))
        self.assertEqual(run.outcome, "success")
        self.assertEqual((run.result["archived"], run.result["purged"]),
                         (6, {"call_events": 5, "calls": 6, "campaign_contacts": 6}))
        self.assertEqual(self.hangups, [])

    @defer.inlineCallbacks
    def test_call_end_wakes_the_wait(self):
        """The dialer's notify_call_ended ends the wait at once, without the clock moving."""
        cid, channel = yield self.scenario(stuck=True)
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield self.wait_for_sleep(cid)
        yield self.pool.runOperation(
            "UPDATE calls SET ended_at = now(), outcome = 'answered', talk_seconds = 7"
            " WHERE channel_id = %s", (channel,))
        yield self.pool.runOperation(
            "UPDATE campaign_contacts SET status = 'done', final_outcome = 'reached',"
            " in_flight_call_id = NULL WHERE status = 'in_flight' AND campaign_id = %s", (cid,))
        before = self.clock.seconds()
        self.lifecycle.notify_call_ended(cid)
        yield F.turns_until(lambda: self.finalized(cid))
        self.assertEqual(self.clock.seconds(), before)
        self.assertEqual(self.hangups, [])
        archive = yield self.archive(cid)
        self.assertEqual(archive["15550007"][:3], ("reached", 1, ""))

    @defer.inlineCallbacks
    def test_poll_is_the_safety_net(self):
        """Without a notification, the wait sees the call ended at its next poll."""
        cid, channel = yield self.scenario(stuck=True)
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield self.wait_for_sleep(cid)
        yield self.pool.runOperation(
            "UPDATE calls SET ended_at = now(), outcome = 'answered' WHERE channel_id = %s",
            (channel,))
        yield self.pool.runOperation(
            "UPDATE campaign_contacts SET status = 'done', final_outcome = 'reached',"
            " in_flight_call_id = NULL WHERE status = 'in_flight' AND campaign_id = %s", (cid,))
        self.clock.advance(4.9)
        self.assertFalse(self.finalized(cid))
        self.clock.advance(0.1)
        yield F.turns_until(lambda: self.finalized(cid))
        self.assertEqual(self.hangups, [])

    @defer.inlineCallbacks
    def test_stuck_calls_hung_up_after_the_bound(self):
        """
        A call still up when the bound is over is hung up through the given
        hangup, recorded as ended by FTS (the answered call keeps its
        outcome and gets its talk time), and the campaign is finalized.
        """
        cid, channel = yield self.scenario(stuck=True)
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        for _ in range(24):  # 24 polls of 5 s: the 120 s bound
            yield self.wait_for_sleep(cid)
            self.assertEqual(self.hangups, [])
            self.clock.advance(5)
        yield F.turns_until(lambda: self.hangups)
        self.assertEqual(self.hangups, [channel])
        yield self.wait_for_sleep(cid)  # the grace for hangup events
        self.clock.advance(5)
        yield F.turns_until(lambda: self.finalized(cid))
        progress = yield self.finalization.progress(cid)
        self.assertEqual((progress.hung_up_calls, progress.released_claims), (1, 1))
        archive = yield self.archive(cid)
        self.assertEqual(archive["15550007"],
                         ("exhausted", 1, "", None, "human", 130, False, True, "answered",
                          None))

    @defer.inlineCallbacks
    def test_failed_hangup_still_recorded(self):
        """A hang-up AMI refuses (channel gone) is logged, and the call recorded all the same."""
        self.hangup_error = RuntimeError("No such channel")
        settings = LifecycleSettings(stuck_call_timeout=0, poll_interval=5, hangup_grace=0,
                                     finalize_retries=0)
        self.crash(self.lifecycle)
        self.lifecycle = self.start_lifecycle(settings=settings)
        cid, channel = yield self.scenario(stuck=True)
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield F.turns_until(lambda: self.finalized(cid))
        self.assertEqual(self.hangups, [channel])
        self.assertEqual((yield self.working_rows(cid)), (0, 0, 0))

    @defer.inlineCallbacks
    def test_running_again_changes_nothing(self):
        """Running the chain again on a finalized campaign does nothing at all."""
        cid, _ = yield self.scenario()
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield F.turns_until(lambda: self.finalized(cid))
        summary = yield self.lifecycle.finalizer.run(cid)
        self.assertEqual(summary, {"campaign_id": cid})
        yield self.assert_finalized_once(cid, EXPECTED)

    @defer.inlineCallbacks
    def test_never_runs_for_an_active_campaign(self):
        """The chain refuses a campaign that is not finalizing, and changes nothing."""
        cid, _ = yield self.scenario()
        yield self.assertFailure(self.lifecycle.finalizer.run(cid), NotFinalizing)
        self.assertEqual((yield self.working_rows(cid)), (6, 6, 5))
        self.assertEqual((yield self.campaigns.get(cid)).state, State.RUNNING)

    @defer.inlineCallbacks
    def test_outside_hours_skipped(self):
        """
        Never-dialed contacts whose local hours never met a campaign window
        while it ran end as outside_hours_skipped; the others as not_dialed.
        """
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 7, 1),
                            tuple(Window(d, *_hours(8, 10)) for d in range(7)),
                            RecipientHours(*_hours(9, 17), timezone_column="tz"))
        list_id = yield F.contact_list(
            self.pool, ["15550001", "15550002", "15550003"], columns=("first_name", "tz"),
            timezones=["Pacific/Kiritimati", "Europe/Berlin", None])
        campaign = yield self.campaigns.create(F.settings(list_id, schedule=schedule), F.USER)
        cid = campaign.id
        yield self.campaigns.transition(cid, Trigger.CONFIRM, F.USER)
        yield self.campaigns.transition(cid, Trigger.START, F.USER)
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield F.turns_until(lambda: (cid, Trigger.BEGIN_FINALIZING) in self.moves)
        # The run, on the test's calendar (the rows hold the database's clock).
        yield self.pool.runOperation(
            "UPDATE campaigns SET first_started_at = '2026-06-01 00:00Z',"
            " finished_at = '2026-06-03 00:00Z' WHERE id = %s", (cid,))
        yield F.turns_until(lambda: self.finalized(cid))
        archive = yield self.archive(cid)
        self.assertEqual({phone: row[0] for phone, row in archive.items()},
                         {"15550001": "outside_hours_skipped", "15550002": "not_dialed",
                          "15550003": "not_dialed"})


class PlainRoleTests(FinalizerTestCase):
    """
    The finalization run by a database role that may not skip foreign-key
    triggers (a managed PostgreSQL's ordinary user).
    """

    @defer.inlineCallbacks
    def test_without_replica_role(self):
        """Without the right to set session_replication_role, the same archive and purge result."""
        if os.environ.get("FTS_TEST_DSN"):
            raise SkipTest("needs the embedded test server (trust authentication)")
        role = "fts_plain_%d" % os.getpid()
        yield self.pool.runOperation(
            "DO $$ BEGIN CREATE ROLE %s LOGIN;"
            " EXCEPTION WHEN duplicate_object THEN NULL; END $$" % role)
        yield self.pool.runOperation(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s" % role)
        dsn = " ".join(p for p in self.dsn.split() if not p.startswith("user="))
        plain = Pool(reactor, f"{dsn} user={role}", size=2)
        yield plain.start()
        self.addCleanup(plain.close)
        self.crash(self.lifecycle)
        self.finalization = FinalizationStore(plain)
        self.lifecycle = self.start_lifecycle()
        cid, _ = yield self.scenario()
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield F.turns_until(lambda: self.finalized(cid))
        self.assertFalse(self.finalization.skip_fk_checks)
        yield self.assert_finalized_once(cid, EXPECTED)


def _hours(start, end):
    return time(start), time(end)


class KilledAndResumedTests(FinalizerTestCase):
    """
    The daemon dies at each point of the chain (a checkpoint raises, the
    job fails, its process state is dropped); a new daemon's sweep resumes
    and finishes the finalization exactly once.
    """

    @defer.inlineCallbacks
    def killed_at(self, point, times=1):
        self.crash(self.lifecycle)
        settings = LifecycleSettings(stuck_call_timeout=10, poll_interval=5, hangup_grace=0,
                                     archive_chunk=2, purge_chunk=2, finalize_retries=0)
        left = [times]

        def checkpoint(cid, reached):
            if reached == point and left[0] > 0:
                left[0] -= 1
                raise Killed(point)

        first = self.start_lifecycle(checkpoint=checkpoint, settings=settings)
        cid, channel = yield self.scenario(stuck=True)
        yield self.campaigns.transition(cid, Trigger.CANCEL, F.USER)
        yield F.turns_until(lambda: cid in first._running)
        for _ in range(2):  # the 10 s bound
            yield self.wait_for_sleep(cid, first)
            self.clock.advance(5)
        yield F.turns_until(lambda: cid not in first._running)
        self.assertEqual(len(self.flushLoggedErrors(Killed)), 1)
        self.assertEqual((yield self.campaigns.get(cid)).state, State.FINALIZING)
        self.crash(first)
        # A new daemon: the sweep at start-up finds the campaign finalizing.
        second = self.start_lifecycle(settings=settings)
        self.clock.advance(0)
        yield F.turns_until(lambda: self.finalized(cid, second))
        # The stuck call's talk time runs to when it was recorded as hung up.
        talk = (yield self.archive(cid))["15550007"][5]
        self.assertGreaterEqual(talk, 15)
        expected = dict(EXPECTED)
        expected["15550007"] = ("exhausted", 1, "", None, "human", talk, False, True,
                                "answered", None)
        yield self.assert_finalized_once(cid, expected)
        return channel

    @defer.inlineCallbacks
    def test_killed_after_hangups_sent(self):
        """Killed after hanging up but before recording: hung up again (harmless), recorded once."""
        channel = yield self.killed_at("hangups_sent")
        self.assertEqual(self.hangups, [channel, channel])
        progress = yield self.finalization.progress(
            (yield self.campaigns.list(states=["finalized"]))[0].id)
        self.assertEqual(progress.hung_up_calls, 1)

    @defer.inlineCallbacks
    def test_killed_after_stuck_recorded(self):
        """Killed after recording the stuck call: not hung up again."""
        channel = yield self.killed_at("stuck_recorded")
        self.assertEqual(self.hangups, [channel])

    def test_killed_after_an_archive_chunk(self):
        """Killed between archive chunks: the archive resumes at its cursor, each row once."""
        return self.killed_at("archive_chunk")

    def test_killed_after_archiving(self):
        """Killed after the last archive chunk, before moving on."""
        return self.killed_at("archived")

    def test_killed_after_the_report(self):
        """Killed after the report was built, before noting it: not built again."""
        return self.killed_at("report_built")

    def test_killed_after_a_purge_chunk(self):
        """Killed between purge chunks: the purge resumes."""
        return self.killed_at("purge_chunk")

    def test_killed_after_purging(self):
        """Killed after the purge, before the final transition."""
        return self.killed_at("purged")
