"""
What the campaign page and campaign action tests share: the panel on the
real campaign store, a started job runner, a real L{Dialer} on a fake PBX
line behind the app's test-call placer, API tokens, and calls rows.
"""

from datetime import UTC, datetime, timedelta

from twisted.internet import defer

from fts.core.campaign import Schedule
from fts.core.phones import PhoneRules
from fts.dialer.pacer import Dialer
from fts.dialer.test_calls import TestCallPlacer
from fts.web import security
from fts.web.pages.campaigns import campaign_jobs
from tests.dialer import support as S
from tests.lifecycle import fixtures as F
from tests.web.support import SYSTEM, PanelTestCase

#: A schedule around the panel tests' clock (2026-05-28).
SCHEDULE = Schedule(timezone="UTC", start=datetime(2026, 5, 1), end=datetime(2026, 8, 1),
                    windows=F.ALL_WEEK)


class CampaignCase(PanelTestCase):
    """
    The panel with campaigns, jobs and test calls wired.
    """

    with_campaigns = True

    def make_app(self, **kwargs):
        self.dialing = S.CountingStore(self.pool)
        self.events = S.DirectEvents(self.pool)
        self.line = S.FakeLine("pbx1")
        self.dialer = Dialer(self.clock, self.dialing, self.events, [self.line], "web-test",
                             max_channels=10, cps=1000)
        self.addCleanup(self._stop_dialer)
        placer = TestCallPlacer(self.dialer, PhoneRules("1"))
        return super().make_app(calls=self.dialer.registry, test_calls=placer, **kwargs)

    @defer.inlineCallbacks
    def _stop_dialer(self):
        self.dialer.deactivate()
        yield S.settle(self.clock, self.dialing, self.events)

    @defer.inlineCallbacks
    def dialing_now(self):
        """
        Make the dialer active (this daemon leads).
        """
        yield self.dialer.activate()
        yield S.settle(self.clock, self.dialing, self.events)

    def campaign(self, state, **changes):
        changes.setdefault("schedule", SCHEDULE)
        return F.campaign_in(self.store.campaigns, self.pool, state, **changes)

    def action_done(self, campaign_id):
        """
        Wait (reactor turns, no clock time) for the campaign's queued
        operation to end.
        """
        return F.turns_until(lambda: not campaign_jobs(self.app).status(campaign_id).busy)

    @defer.inlineCallbacks
    def token(self, role):
        token, prefix = security.new_api_token()
        yield self.app.auth.create_token(f"{role}-token", self.users[role].id,
                                         security.token_hash(token), prefix, role, None,
                                         SYSTEM)
        return token

    @defer.inlineCallbacks
    def with_calls(self, phones=("15551000", "15551001", "15552002")):
        """
        A running campaign with one ended call per contact (answered, busy,
        no answer, a day apart from 2026-05-20) and one test call; returns
        C{(campaign id, [call ids oldest first])}.
        """
        cid = yield self.campaign("running", phones=phones)
        rows = yield F.contact_rows(self.pool, cid)
        ids = []
        start = datetime(2026, 5, 20, 12, tzinfo=UTC)
        for n, (phone, outcome) in enumerate(zip(phones, ("answered", "busy", "no_answer"))):
            call_id, _ = yield F.add_call(self.pool, cid, rows[phone], 1, outcome=outcome,
                                          answered=outcome == "answered",
                                          at=start + timedelta(days=n))
            ids.append(call_id)
        found = yield self.pool.runQuery(
            "INSERT INTO calls (campaign_id, channel_id, number_dialed, originated_at,"
            " is_test_call, outcome, ended_at) VALUES (%s, 'fts-test-9', '15559999', %s, true,"
            " 'answered', %s) RETURNING id", (cid, start, start))
        ids.append(found[0][0])
        return cid, ids
