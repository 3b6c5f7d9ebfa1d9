"""
Tests for L{fts.events.model}: building, validating and serialising call
events, and their idempotency keys.
"""

import datetime

from twisted.internet.task import Clock
from twisted.trial import unittest

from fts.events import model as M
from fts.events.model import CallEvent, CallEventSequence, InvalidEvent


def event(**fields):
    values = dict(key="42:1", kind=M.KEY, campaign_id=3, call_id=42, occurred_at=10.5,
                  payload={"key": "1"})
    values.update(fields)
    return CallEvent(**values)


class CallEventTests(unittest.SynchronousTestCase):
    def test_json_round_trip(self):
        """
        An event's JSON text gives the same event back.
        """
        original = event(payload={"key": "#", "note": "é \" \\u0000 text"})
        self.assertEqual(CallEvent.from_json(original.as_json()), original)

    def test_json_form(self):
        """
        The JSON text is the compact array the spool and the store use.
        """
        self.assertEqual(event().as_json(), '["42:1","key",3,42,10.5,{"key":"1"}]')

    def test_aware_datetime(self):
        """
        A timezone-aware datetime becomes seconds since the epoch; a naive
        one is refused.
        """
        at = datetime.datetime(2027, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        self.assertEqual(event(occurred_at=at).occurred_at, at.timestamp())
        self.assertRaises(InvalidEvent, event, occurred_at=at.replace(tzinfo=None))

    def test_invalid_fields(self):
        """
        Each invalid field is refused at construction with its name in the
        message.
        """
        cases = [
            (dict(key=""), "key"),
            (dict(key="x" * 201), "key"),
            (dict(kind="dialed"), "unknown kind 'dialed'"),
            (dict(call_id=0), "call_id"),
            (dict(campaign_id="7"), "campaign_id"),
            (dict(call_id=True), "call_id"),
            (dict(occurred_at=float("nan")), "occurred_at"),
            (dict(payload=["key"]), "payload"),
            (dict(payload={"at": object()}), "payload is not JSON"),
            (dict(payload={"x": float("inf")}), "payload is not JSON"),
            (dict(payload={"x": "a\x00b"}), "NUL"),
        ]
        for fields, words in cases:
            e = self.assertRaises(InvalidEvent, event, **fields)
            self.assertIn(words, str(e))

    def test_escaped_backslash_is_not_nul(self):
        """
        A backslash followed by "u0000" in a payload text is not a NUL.
        """
        self.assertEqual(event(payload={"x": "\\u0000"}).payload, {"x": "\\u0000"})

    def test_from_json_refuses_other_shapes(self):
        """
        Text that is not an event's JSON array is refused.
        """
        for text in ("{", "{}", "[1, 2]", '["k", "nope", null, null, 1, {}]'):
            self.assertRaises(InvalidEvent, CallEvent.from_json, text)


class KeyTests(unittest.SynchronousTestCase):
    def test_idempotency_key(self):
        """
        The key is "<call_id>:<seq>", seq a counter or a kind.
        """
        self.assertEqual(M.idempotency_key(42, 3), "42:3")
        self.assertEqual(M.idempotency_key(42, M.HANGUP), "42:hangup")

    def test_sequence(self):
        """
        A call's sequence numbers repeating events consecutively, keys
        once-per-call facts by kind, and stamps them with the clock.
        """
        clock = Clock()
        clock.advance(100)
        sequence = CallEventSequence(42, 3, clock)
        first = sequence.next(M.KEY, {"key": "1"})
        clock.advance(2)
        second = sequence.next(M.KEY, {"key": "2"})
        hangup = sequence.once(M.HANGUP, {"cause": 16})
        self.assertEqual([e.key for e in (first, second, hangup)], ["42:1", "42:2", "42:hangup"])
        self.assertEqual([e.occurred_at for e in (first, second, hangup)], [100, 102, 102])
        self.assertEqual(hangup, CallEventSequence(42, 3, clock).once(M.HANGUP, {"cause": 16}))
        self.assertEqual((hangup.campaign_id, hangup.call_id), (3, 42))
