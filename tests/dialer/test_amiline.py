"""
Tests for L{fts.dialer.amiline.AMILine}: how the end of a call is read from
the events of the real Asterisk transcripts (busy, congestion, no answer,
reject, answered), whatever their order, and how Originate errors map to
the line's errors.
"""

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.ami.actions import OriginateResult
from fts.asterisk.ami.errors import AMIConnectionLost, AMIError, AMINotConnected, AMITimeout
from fts.asterisk.ami.frames import FrameParser
from fts.asterisk.ami.state import CONNECTED, DISCONNECTED, ConnectionState
from fts.dialer import line as L
from fts.dialer.amiline import AMILine
from tests.support import transcripts


class FakeProtocol:
    is_open = True


class FakeClient:
    """
    What L{AMILine} uses of L{fts.asterisk.ami.client.AMIClient}: events are
    handed to subscribers, the Originate answer and its result are given by
    the test.
    """

    name = "pbx1"

    def __init__(self):
        self.subscribers = {}
        self.state_listeners = []
        self.connected = True
        self.protocol = FakeProtocol()
        self.originates = []
        self.answer = None
        self.hangups = []

    def subscribe(self, name, callback):
        self.subscribers.setdefault(name.lower(), []).append(callback)

    def listen_state(self, callback):
        self.state_listeners.append(callback)

    def originate(self, channel, context, exten, priority, channel_id, other_channel_id=None,
                  variables=None, caller_id=None, timeout_ms=30000, on_result=None):
        self.originates.append((channel, exten, channel_id, other_channel_id, variables,
                                on_result))
        return self.answer if self.answer is not None else defer.succeed("queued")

    def hangup(self, channel, cause=None):
        self.hangups.append((channel, cause))
        return defer.succeed(None)

    def deliver(self, message, channel_id):
        """
        Give one AMI message to the line as the client would.
        """
        if message.name == "OriginateResponse":
            on_result = self.originates[-1][5]
            on_result(OriginateResult.from_event(message, channel_id, message.action_id))
        for callback in self.subscribers.get(message.name.lower(), []):
            callback(message)

    def move(self, connected):
        old = ConnectionState("pbx1", CONNECTED if not connected else DISCONNECTED, 0)
        new = ConnectionState("pbx1", CONNECTED if connected else DISCONNECTED, 1)
        self.connected = connected
        for callback in self.state_listeners:
            callback(old, new)


def events(name):
    """
    The events of a transcript, in order.
    """
    parser = FrameParser()
    data = transcripts.stream(transcripts.load(name))
    return [m for m in parser.feed(data) if m.kind == "event"]


class ReadingTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.client = FakeClient()
        self.line = AMILine(self.client, self.clock, capacity=10, cps=10)
        self.progress = []
        self.line.on_progress(lambda line, p: self.progress.append(p))

    def replay(self, name):
        """
        Originate, then feed the transcript's events; the call's channel
        ids are the Uniqueids Asterisk gave its two halves.
        """
        found = events(name)
        news = [e for e in found if e.name == "Newchannel"]
        one, two = news[0]["Uniqueid"], news[1]["Uniqueid"]
        request = L.OriginateRequest(42, one, two, "Local/2001@callee-sim", "2001",
                                     (("FTS_CALL", "42"),), '"FTS" <5550100>', 15)
        self.successResultOf(self.line.originate(request))
        for event in found:
            self.client.deliver(event, one)
        return one

    def ended(self):
        ends = [p for p in self.progress if p.kind == L.ENDED]
        self.assertEqual(len(ends), 1)
        return ends[0]

    def test_busy(self):
        """
        Busy: OriginateResponse Reason 5, the ;1 Hangup with cause 0, then
        the ;2 Hangup with 17: the end carries 17.
        """
        self.replay("ami-originate-busy")
        end = self.ended()
        self.assertEqual((end.reason, end.cause, end.answered), (5, 17, False))

    def test_congestion(self):
        """
        Congestion: both Hangups come before the OriginateResponse (Reason
        8); the ;2 cause 34 is kept.
        """
        self.replay("ami-originate-congestion")
        end = self.ended()
        self.assertEqual((end.reason, end.cause), (8, 34))

    def test_no_answer(self):
        """
        No answer within the timeout: Reason 3, cause 19.
        """
        self.replay("ami-originate-noanswer")
        end = self.ended()
        self.assertEqual((end.reason, end.cause), (3, 19))

    def test_rejected(self):
        """
        Rejected: Reason 0, cause 21.
        """
        self.replay("ami-originate-rejected")
        end = self.ended()
        self.assertEqual((end.reason, end.cause), (0, 21))

    def test_answered_then_far_end_hangs_up(self):
        """
        Answered (reported once), then ended by the ;1 Hangup, cause 16.
        """
        self.replay("ami-originate-answered-hangup-midway")
        kinds = [p.kind for p in self.progress]
        self.assertEqual(kinds.count(L.ANSWERED), 1)
        end = self.ended()
        self.assertEqual((end.reason, end.cause, end.answered), (4, 16, True))
        self.assertEqual(kinds[-1], L.ENDED)

    def test_hangup_uses_channel_name(self):
        """
        Hanging up a call whose ;1 name is known uses the name (AMI Hangup
        takes a channel name).
        """
        found = events("ami-originate-answered-hangup-midway")
        one = [e for e in found if e.name == "Newchannel"][0]
        request = L.OriginateRequest(42, one["Uniqueid"], "x", "Local/5001@callee-sim", "5001")
        self.line.originate(request)
        self.client.deliver(one, one["Uniqueid"])
        self.line.hangup(one["Uniqueid"])
        self.assertEqual(self.client.hangups, [(one["Channel"], 16)])

    def test_only_an_originate_response(self):
        """
        A failure with no channel at all (no Hangup will come) ends after
        the settle delay.
        """
        request = L.OriginateRequest(7, "fts-7", "fts-7-2", "Foo/1", "1")
        self.line.originate(request)
        on_result = self.client.originates[-1][5]
        on_result(OriginateResult("failure", 0, "Foo/1", None, "fts-7", "a-1"))
        self.assertEqual(self.progress, [])
        self.clock.advance(0.5)
        self.assertEqual(self.ended().reason, 0)

    def test_unknown_result_while_connected(self):
        """
        No OriginateResponse in time, connection up: reported as unknown
        (the dialer asks the PBX).
        """
        request = L.OriginateRequest(7, "fts-7", "fts-7-2", "Local/1@x", "1")
        self.line.originate(request)
        self.client.originates[-1][5](OriginateResult.unknown("Local/1@x", "fts-7", "a", "t"))
        self.assertEqual([p.kind for p in self.progress], [L.UNKNOWN])


class ErrorTests(SynchronousTestCase):
    def setUp(self):
        self.client = FakeClient()
        self.line = AMILine(self.client, Clock(), capacity=10, cps=10)
        self.request = L.OriginateRequest(1, "fts-1", "fts-1-2", "Local/1@x", "1")

    def error_of(self, exception):
        self.client.answer = defer.fail(exception)
        return self.failureResultOf(self.line.originate(self.request)).value

    def test_errors(self):
        """
        An error response is a refusal; not sent is unavailability; sent
        without an answer is uncertain.
        """
        parser = FrameParser(expect_banner=False)
        [response] = parser.feed(
            b"Response: Error\r\nActionID: a-1\r\nMessage: Extension does not exist.\r\n\r\n")
        self.assertIsInstance(self.error_of(AMIError("Originate", response)),
                              L.OriginateRefused)
        self.assertIsInstance(self.error_of(AMINotConnected("Originate")), L.PBXUnavailable)
        self.assertIsInstance(self.error_of(AMIConnectionLost("Originate", False, "x")),
                              L.PBXUnavailable)
        self.assertIsInstance(self.error_of(AMIConnectionLost("Originate", True, "x")),
                              L.OriginateUncertain)
        self.assertIsInstance(self.error_of(AMITimeout("Originate", "a-1", 10)),
                              L.OriginateUncertain)

    def test_connection_changes_reported(self):
        """
        Going down and coming back are reported once each.
        """
        seen = []
        self.line.on_connection_change(lambda line, up: seen.append(up))
        self.client.move(False)
        self.client.move(False)
        self.client.move(True)
        self.assertEqual(seen, [False, True])
