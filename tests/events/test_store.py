"""
Tests for L{fts.db.events.EventStore}: the batch statement, its
idempotency, and the derived state it writes with the events.
"""

import psycopg2
from twisted.internet import defer

from fts.db.events import EventStore
from fts.events import model as M
from fts.events.model import CallEvent
from tests.events import fixtures as F
from tests.support.db import DatabaseTestCase

T0 = 1_800_000_000.0


class EventStoreTests(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.events = EventStore(self.pool)
        self.campaign_id, self.list_id = yield F.campaign(self.pool)

    def call(self, phone="15550001", attempts=0):
        return F.call_in_flight(self.pool, self.campaign_id, self.list_id, phone, attempts)

    def event(self, call, seq, kind, at, **payload):
        return CallEvent(key=M.idempotency_key(call.call_id, seq), kind=kind,
                         campaign_id=call.campaign_id, call_id=call.call_id,
                         occurred_at=T0 + at, payload=payload)

    def write(self, events, derive=True):
        return self.events.write([e.as_json() for e in events], derive=derive)

    @defer.inlineCallbacks
    def test_batch_stored_in_order(self):
        """
        A batch is stored whole, in the order given, with every field.
        """
        call = yield self.call()
        events = [self.event(call, n, M.KEY, n, key=str(n % 10)) for n in range(1, 301)]
        inserted = yield self.write(events)
        self.assertEqual(inserted, 300)
        stored = yield self.events.events_of_call(call.call_id)
        self.assertEqual(stored, events)

    @defer.inlineCallbacks
    def test_duplicates_stored_once(self):
        """
        An event written twice, in two batches or twice in one, is stored
        once, and the count says how many were new.
        """
        call = yield self.call()
        a = self.event(call, 1, M.ANSWERED, 1)
        b = self.event(call, 2, M.KEY, 2, key="1")
        self.assertEqual((yield self.write([a, b, b])), 2)
        self.assertEqual((yield self.write([b, a])), 0)
        self.assertEqual((yield self.events.count()), 2)

    @defer.inlineCallbacks
    def test_events_without_call(self):
        """
        Events whose call is unknown (purged, or a test call not in the
        table) are stored all the same.
        """
        event = CallEvent(key="x:1", kind=M.HANGUP, campaign_id=None, call_id=987654,
                          occurred_at=T0, payload={"cause": 16})
        self.assertEqual((yield self.write([event])), 1)
        self.assertEqual((yield self.events.events_of_call(987654)), [event])

    @defer.inlineCallbacks
    def test_answered_call_derived_state(self):
        """
        The call row reflects a whole answered call: accepted (the attempt
        counted on the contact), answered, AMD verdict, keys in order, the
        option, the transfer, the whole message heard, and the hangup with
        its cause and talk time; the contact is released as the hangup's
        retry decision says.
        """
        call = yield self.call(attempts=1)
        events = [
            self.event(call, "originate_sent", M.ORIGINATE_SENT, 0),
            self.event(call, "originate_accepted", M.ORIGINATE_ACCEPTED, 0.1),
            self.event(call, "answered", M.ANSWERED, 5),
            self.event(call, 1, M.AMD, 7, verdict="human", cause="HUMAN-500-500"),
            self.event(call, 2, M.MESSAGE_COMPLETE, 20),
            self.event(call, 3, M.KEY, 21, key="4"),
            self.event(call, 4, M.KEY, 22, key="2"),
            self.event(call, 5, M.OPTION, 22, key="2", action="transfer"),
            self.event(call, 6, M.TRANSFER, 30, target="SIP/agent", result="ANSWER"),
            self.event(call, "hangup", M.HANGUP, 65, cause=16, cause_text="Normal Clearing",
                       outcome="answered", final_outcome="reached"),
        ]
        # Two batches: the state accumulates across them.
        yield self.write(events[:4])
        yield self.write(events[4:])
        row = yield F.call_row(self.pool, call.call_id)
        self.assertEqual(row, {
            "accepted_at": T0 + 0.1, "answered_at": T0 + 5, "ended_at": T0 + 65,
            "attempt": 2, "outcome": "answered", "originate_reason": None,
            "hangup_cause": 16, "hangup_cause_text": "Normal Clearing",
            "amd_verdict": "human", "amd_cause": "HUMAN-500-500", "keys": "42",
            "option_key": "2", "opted_out": False, "talk_seconds": 60,
            "heard_full_message": True, "transfer_target": "SIP/agent",
            "transfer_result": "ANSWER",
        })
        contact = yield F.contact_row(self.pool, call.campaign_contact_id)
        self.assertEqual(contact, {
            "status": "done", "attempts": 2, "next_attempt_at": contact["next_attempt_at"],
            "last_outcome": "answered", "last_attempt_at": T0 + 0.1,
            "final_outcome": "reached", "in_flight_call_id": None, "claimed_by": None,
            "finished_at": T0 + 65,
        })

    @defer.inlineCallbacks
    def test_replayed_events_change_nothing(self):
        """
        Writing the same events again (a replay) neither appends the keys
        twice nor counts the attempt twice.
        """
        call = yield self.call()
        events = [
            self.event(call, "originate_accepted", M.ORIGINATE_ACCEPTED, 0),
            self.event(call, 1, M.KEY, 1, key="1"),
            self.event(call, 2, M.KEY, 2, key="#"),
        ]
        yield self.write(events)
        before = yield F.call_row(self.pool, call.call_id)
        yield self.write(events)
        yield self.write(events[1:2])
        self.assertEqual((yield F.call_row(self.pool, call.call_id)), before)
        self.assertEqual(before["keys"], "1#")
        contact = yield F.contact_row(self.pool, call.campaign_contact_id)
        self.assertEqual(contact["attempts"], 1)

    @defer.inlineCallbacks
    def test_busy_retried(self):
        """
        An unanswered call ends with the hangup's outcome and no talk time,
        and a retry decision puts the contact back to pending at that time.
        """
        call = yield self.call()
        yield self.write([
            self.event(call, "originate_accepted", M.ORIGINATE_ACCEPTED, 0),
            self.event(call, "hangup", M.HANGUP, 3, cause="17", outcome="busy",
                       retry_at=T0 + 600),
        ])
        row = yield F.call_row(self.pool, call.call_id)
        self.assertEqual((row["outcome"], row["hangup_cause"], row["talk_seconds"]),
                         ("busy", 17, None))
        contact = yield F.contact_row(self.pool, call.campaign_contact_id)
        self.assertEqual(
            (contact["status"], contact["next_attempt_at"], contact["last_outcome"],
             contact["attempts"], contact["in_flight_call_id"], contact["final_outcome"]),
            ("pending", T0 + 600, "busy", 1, None, None))

    @defer.inlineCallbacks
    def test_originate_failed_burns_no_attempt(self):
        """
        A refused originate ends the call as failed with its reason, counts
        no attempt, and releases the contact for the retry.
        """
        call = yield self.call(attempts=2)
        yield self.write([
            self.event(call, "originate_sent", M.ORIGINATE_SENT, 0),
            self.event(call, "originate_failed", M.ORIGINATE_FAILED, 0.5, reason=0,
                       error="Originate failed", retry_at=T0 + 60),
        ])
        row = yield F.call_row(self.pool, call.call_id)
        self.assertEqual((row["outcome"], row["originate_reason"], row["attempt"],
                          row["ended_at"]), ("failed", 0, None, T0 + 0.5))
        contact = yield F.contact_row(self.pool, call.campaign_contact_id)
        self.assertEqual((contact["attempts"], contact["status"], contact["last_outcome"]),
                         (2, "pending", "failed"))

    @defer.inlineCallbacks
    def test_hangup_without_decision_keeps_claim(self):
        """
        Without a retry decision in the hangup the contact stays claimed by
        the call (the dialer releases it), and only the first end counts.
        """
        call = yield self.call()
        yield self.write([
            self.event(call, "answered", M.ANSWERED, 1),
            self.event(call, "hangup", M.HANGUP, 11, cause=16),
            self.event(call, "lost", M.LOST, 30, outcome="unknown"),
        ])
        row = yield F.call_row(self.pool, call.call_id)
        self.assertEqual((row["outcome"], row["ended_at"], row["talk_seconds"]),
                         ("unknown", T0 + 11, 10))
        contact = yield F.contact_row(self.pool, call.campaign_contact_id)
        self.assertEqual((contact["status"], contact["in_flight_call_id"],
                          contact["last_outcome"]), ("in_flight", call.call_id, "unknown"))

    @defer.inlineCallbacks
    def test_decision_ignored_for_a_newer_claim(self):
        """
        A late hangup neither releases nor sets the last outcome of a
        contact that is now in flight with another call.
        """
        call = yield self.call()
        yield self.pool.runOperation(
            "UPDATE campaign_contacts SET in_flight_call_id = in_flight_call_id + 1000"
            " WHERE id = %s", (call.campaign_contact_id,))
        yield self.write([self.event(call, "hangup", M.HANGUP, 1, outcome="no_answer",
                                     final_outcome="no_answer")])
        contact = yield F.contact_row(self.pool, call.campaign_contact_id)
        self.assertEqual((contact["status"], contact["last_outcome"]), ("in_flight", None))

    @defer.inlineCallbacks
    def test_opt_out(self):
        """
        An opt-out marks the call and puts the contact's number in the
        built-in opt-outs list, naming the campaign and call; twice is
        harmless.
        """
        call = yield self.call(phone="15550009")
        yield self.write([self.event(call, 1, M.OPT_OUT, 1)])
        yield self.write([self.event(call, 2, M.OPT_OUT, 2)])
        self.assertTrue((yield F.call_row(self.pool, call.call_id))["opted_out"])
        self.assertEqual((yield F.opt_outs(self.pool)),
                         [("15550009", "opt_out_key", self.campaign_id, call.call_id)])

    @defer.inlineCallbacks
    def test_bad_values_ignored(self):
        """
        Payload values the calls table cannot hold (an unknown verdict, a
        two-character key, a cause that is not a number, an unknown outcome)
        are left out of the derived state instead of failing the batch.
        """
        call = yield self.call()
        inserted = yield self.write([
            self.event(call, 1, M.AMD, 1, verdict="MAYBE"),
            self.event(call, 2, M.KEY, 2, key="12"),
            self.event(call, 3, M.OPTION, 2, key=None),
            self.event(call, 4, M.HANGUP, 3, cause="<unknown>", outcome="exploded",
                       final_outcome="whatever", talk_seconds=-4),
        ])
        self.assertEqual(inserted, 4)
        row = yield F.call_row(self.pool, call.call_id)
        self.assertEqual((row["amd_verdict"], row["keys"], row["option_key"],
                          row["hangup_cause"], row["outcome"]),
                         (None, "", None, None, "unknown"))

    @defer.inlineCallbacks
    def test_data_error_raised(self):
        """
        A batch the database refuses for its data fails with the psycopg2
        error, and nothing of it is stored.
        """
        call = yield self.call()
        yield self.pool.runOperation(
            "UPDATE calls SET attempt = 1 WHERE id = %s", (call.call_id,))
        other = yield self.call(phone="15550002")
        # Give the second call the same contact: its attempt would collide.
        yield self.pool.runOperation(
            "UPDATE calls SET campaign_contact_id = %s WHERE id = %s",
            (call.campaign_contact_id, other.call_id))
        yield self.assertFailure(
            self.write([self.event(other, "originate_accepted", M.ORIGINATE_ACCEPTED, 1)]),
            psycopg2.IntegrityError)
        self.assertEqual((yield self.events.count()), 0)

    @defer.inlineCallbacks
    def test_insert_only(self):
        """
        With derive=False only the events are stored.
        """
        call = yield self.call()
        yield self.write([self.event(call, "answered", M.ANSWERED, 1)], derive=False)
        self.assertEqual((yield self.events.count()), 1)
        self.assertIsNone((yield F.call_row(self.pool, call.call_id))["answered_at"])
