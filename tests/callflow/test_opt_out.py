"""
An opt-out key press, end to end through the database: the call flow's
events written by the real event store put the number on the built-in
opt-outs list, and the dialer's claim for another campaign skips it.
"""

from twisted.internet import defer

from fts.db.dialing import DialingStore
from fts.db.events import EventStore
from fts.dialer.registry import ActiveCall
from fts.events import model as M
from tests.dialer import support
from tests.events import fixtures
from tests.support.db import DatabaseTestCase

from .support import Harness, keys


class OptOutAcrossCampaignsTests(DatabaseTestCase):
    """
    A callee presses the opt-out key in one campaign.
    """

    @defer.inlineCallbacks
    def test_second_campaign_never_dials(self):
        """
        The opt-out lands on the built-in DNC list with its campaign and
        call, the call row records key, option, verdict and message heard,
        and a second campaign with the same number claims it as dnc_skipped.
        """
        first, _ = yield support.campaign(self.pool, "first", contacts=1)
        second, _ = yield support.campaign(self.pool, "second", contacts=1)
        store = DialingStore(self.pool)
        now = support.at(support.T0)
        (row,) = yield store.claim(first, 10, "test", now)
        yield store.prepare(first, [(row.call_id, row.contact_id, row.id, row.phone)], [],
                            None, now)

        h = Harness(self, script=keys((8.0, "9")))
        h.campaigns[first] = h.settings
        call = ActiveCall.claimed(h.clock, row.call_id, first, row.id, row.contact_id,
                                  row.phone, row.attempts, row.fields)
        h.place(call=call)
        h.run()
        self.assertIn(M.OPT_OUT, h.kinds())
        yield EventStore(self.pool).write([event.as_json() for event in h.events])

        builtin = (yield self.pool.runQuery("SELECT id FROM dnc_lists WHERE builtin"))[0][0]
        entries = yield self.pool.runQuery(
            "SELECT list_id, phone, source, source_campaign_id, source_call_id"
            " FROM dnc_entries")
        self.assertEqual(entries, [(builtin, row.phone, "opt_out_key", first, row.call_id)])
        stored = yield fixtures.call_row(self.pool, row.call_id)
        self.assertEqual({k: stored[k] for k in ("keys", "option_key", "opted_out",
                                                 "amd_verdict", "heard_full_message")},
                         {"keys": "9", "option_key": "9", "opted_out": True,
                          "amd_verdict": "off", "heard_full_message": True})

        (skipped,) = yield store.claim(second, 10, "test", now)
        self.assertEqual((skipped.phone, skipped.status, skipped.dnc_list_id),
                         (row.phone, "done", builtin))
        contacts = yield support.contacts(self.pool, second)
        self.assertEqual(contacts[0][2:5], ("done", 0, "dnc_skipped"))
