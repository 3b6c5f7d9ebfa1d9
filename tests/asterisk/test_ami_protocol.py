"""
Tests for L{fts.asterisk.ami.protocol.AMIProtocol}, mostly by replaying the
real Asterisk transcripts: our actions are re-issued through the protocol
with the transcript's ActionIDs, and Asterisk's reads are fed back exactly as
they arrived.
"""

import hashlib

from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.ami.actions import ListResult, OriginateResult
from fts.asterisk.ami.errors import (
    AMIConnectionLost,
    AMIError,
    AMILoginFailed,
    AMINotConnected,
    AMITimeout,
)
from fts.asterisk.ami.frames import FrameParser, serialize
from fts.asterisk.ami.protocol import AMIProtocol
from tests.support import transcripts

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def connection_blocks(name):
    """
    The blocks of each AMI connection of a transcript, in wire order.
    """
    result = []
    for block in transcripts.load(name):
        starts = block.direction == transcripts.FROM_ASTERISK and block.data.startswith(
            b"Asterisk Call Manager/"
        )
        if starts or not result:
            result.append([])
        result[-1].append(block)
    return result


def make_protocol(**kwargs):
    clock = kwargs.pop("clock", None) or Clock()
    events = []
    kwargs.setdefault("id_prefix", "t-")
    protocol = AMIProtocol(clock, on_event=events.append, **kwargs)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock, events


def written(transport):
    """
    The actions written so far (and forget them).
    """
    data = transport.value()
    transport.clear()
    return FrameParser(expect_banner=False).feed(data)


def respond(protocol, *messages):
    protocol.dataReceived(b"".join(serialize(m) for m in messages))


class Replay:
    """
    One transcript connection played against a fresh protocol.

    @ivar results: the Deferred of each action, by ActionID.
    @ivar originate_results: OriginateResults by ActionID (when originates
        go through L{AMIProtocol.originate}).
    """

    def __init__(self, name, index=0, originate=False, **kwargs):
        self.blocks = connection_blocks(name)[index]
        self.protocol, self.transport, self.clock, self.events = make_protocol(**kwargs)
        self.results = {}
        self.originate_results = {}
        self.use_originate = originate

    def issue(self, action):
        protocol = self.protocol
        action_id = action.action_id
        if action.kind != "action":
            self.transport.write(serialize(action))
            return
        if (
            self.use_originate
            and action.name == "Originate"
            and "/" in action.get("Channel", "")
            and action.get("Async") == "true"
        ):
            variables = {}
            for entry in action.getall("Variable"):
                for pair in entry.split(","):
                    key, _, value = pair.partition("=")
                    variables[key] = value
            d = protocol.originate(
                action["Channel"],
                action["Context"],
                action["Exten"],
                action["Priority"],
                action.get("ChannelId"),
                other_channel_id=action.get("OtherChannelId"),
                variables=variables,
                caller_id=action.get("CallerID"),
                timeout_ms=int(action["Timeout"]),
                on_result=lambda r, a=action_id: self.originate_results.__setitem__(a, r),
                action_id=action_id,
            )
        else:
            d = protocol.send_action(action.name, action.headers[2:], action_id=action_id)
        self.results[action_id] = d

    def run(self, stop_before=None):
        for block in self.blocks:
            if block.direction == transcripts.TO_ASTERISK:
                for action in FrameParser(expect_banner=False).feed(block.data):
                    if action.action_id == stop_before:
                        return
                    self.issue(action)
            else:
                self.protocol.dataReceived(block.data)
        return self

    def ignore_other_failures(self):
        """
        Consume the failures of the actions a test does not look at.
        """
        for d in self.results.values():
            d.addErrback(lambda f: None)

    def sent_stream(self):
        return b"".join(
            b.data for b in self.blocks if b.direction == transcripts.TO_ASTERISK
        )


class ReplayTests(SynchronousTestCase):
    """
    The protocol against real Asterisk bytes.
    """

    def test_writes_the_transcript_bytes(self):
        """
        Actions re-issued through send_action are byte for byte what the
        transcript's client wrote.
        """
        for name in ("ami-coreshowchannels.txt", "ami-login-and-originate-answered.txt"):
            replay = Replay(name).run()
            self.assertEqual(replay.transport.value(), replay.sent_stream(), name)

    def test_originate_answered(self):
        """
        The Originate fires with the queued response although 20 events came
        before the OriginateResponse, which goes to the callback with
        success, Reason 4 and the ;1 channel; every other event is delivered.
        """
        replay = Replay("ami-login-and-originate-answered.txt", originate=True).run()
        queued = self.successResultOf(replay.results["orig-1001"])
        self.assertEqual(queued["Message"], "Originate successfully queued")
        result = replay.originate_results["orig-1001"]
        self.assertEqual(result.outcome, "success")
        self.assertEqual((result.reason, result.reason_name), (4, "answered"))
        self.assertEqual(result.channel, "Local/1001@callee-sim-00000000;1")
        self.assertEqual(result.uniqueid, "1795347861.0")
        self.assertEqual(replay.protocol.banner, "Asterisk Call Manager/11.0.0")
        names = [e.name for e in replay.events]
        self.assertIn("OriginateResponse", names)
        self.assertEqual(names[:2], ["FullyBooted", "SuccessfulAuth"])
        self.assertEqual(names.count("Hangup"), 2)
        self.assertEqual(self.successResultOf(replay.results["logoff-1"]).name, "Goodbye")
        self.assertEqual(replay.protocol.awaiting_originate_results, 0)

    def test_originate_failures(self):
        """
        Failed Originates report Failure, their Reason and the requested
        channel, with no Uniqueid.
        """
        cases = {
            "ami-originate-busy.txt": ("orig-2001", 5, "busy"),
            "ami-originate-congestion.txt": ("orig-3001", 8, "congestion"),
            "ami-originate-noanswer.txt": ("orig-4001", 3, "no-answer"),
            "ami-originate-noanswer-noring.txt": ("orig-7001", 3, "no-answer"),
            "ami-originate-rejected.txt": ("orig-8001", 0, "failed"),
        }
        for name, (action_id, reason, word) in cases.items():
            replay = Replay(name, originate=True).run()
            self.successResultOf(replay.results[action_id])
            result = replay.originate_results[action_id]
            self.assertEqual(
                (result.outcome, result.reason, result.reason_name),
                ("failure", reason, word),
                name,
            )
            self.assertEqual(result.channel, "Local/%s@callee-sim" % action_id[5:])
            self.assertIsNone(result.uniqueid)
            self.assertEqual(result.action_id, action_id)

    def test_concurrent_originates_correlated(self):
        """
        Four interleaved Originates each get their own response and result,
        by ActionID, whatever the order of arrival; ChannelId is echoed.
        """
        replay = Replay("ami-originate-concurrent.txt", originate=True).run()
        for action_id in ("orig-9001", "orig-6002", "orig-2002", "orig-3002"):
            response = self.successResultOf(replay.results[action_id])
            self.assertEqual(response.action_id, action_id)
        results = replay.originate_results
        self.assertEqual(
            {k: (r.outcome, r.reason) for k, r in results.items()},
            {
                "orig-9001": ("success", 4),
                "orig-6002": ("success", 4),
                "orig-2002": ("failure", 5),
                "orig-3002": ("failure", 8),
            },
        )
        self.assertEqual(results["orig-9001"].uniqueid, "fts-42-a")
        self.assertEqual(results["orig-9001"].channel_id, "fts-42-a")
        sent = {m.action_id: m for m in FrameParser(False).feed(replay.transport.value())}
        self.assertEqual(sent["orig-9001"]["OtherChannelId"], "fts-42-b")
        self.assertEqual(sent["orig-9001"].getall("Variable"), ["FTS_CAMPAIGN=1", "FTS_CONTACT=42"])

    def test_list_actions(self):
        """
        CoreShowChannels and Status collect their item events up to the
        Complete event; those events do not go to the subscribers.
        """
        replay = Replay("ami-coreshowchannels.txt").run()
        channels = self.successResultOf(replay.results["csc-1"])
        self.assertIsInstance(channels, ListResult)
        self.assertEqual([e.name for e in channels], ["CoreShowChannel"] * 2)
        self.assertEqual(channels.response["Message"], "Channels will follow")
        self.assertEqual(channels.complete["ListItems"], "2")
        self.assertEqual(
            [e["Channel"] for e in channels],
            ["Local/6001@callee-sim-00000007;1", "Local/6001@callee-sim-00000007;2"],
        )
        status = self.successResultOf(replay.results["status-all"])
        self.assertEqual(len(status), 2)
        one = self.successResultOf(replay.results["status-one"])
        self.assertEqual(one[0].getall("Variable"), ["FTS_CAMPAIGN=1", "FTS_CONTACT=42"])
        self.assertEqual(one.complete.name, "StatusComplete")
        after_hangup = self.successResultOf(replay.results["csc-3"])
        self.assertEqual(len(after_hangup), 2)
        names = {e.name for e in replay.events}
        self.assertNotIn("CoreShowChannel", names)
        self.assertNotIn("StatusComplete", names)
        self.assertEqual(self.successResultOf(replay.results["getvar-2"])["Value"], "MACHINE")
        self.assertEqual(self.successResultOf(replay.results["getvar-3"])["Value"], "")
        self.assertEqual(replay.protocol.in_flight, 0)

    def test_errors(self):
        """
        Response: Error fails the action's Deferred with an AMIError carrying
        the message; a response to an action we never sent is ignored.
        """
        replay = Replay("ami-errors.txt", 2).run()
        expected = {
            "unknown-1": "Invalid/unknown command: FooBar. Use Action: ListCommands"
            " to show available commands.",
            "orig-badctx": "Extension does not exist.",
            "orig-badexten": "Extension does not exist.",
            "orig-nochan": "Channel not specified",
            "orig-garbage": "Invalid channel",
            "orig-sync-busy": "Originate failed",
            "getvar-nochan": "No such channel",
            "hangup-nochan": "No such channel",
            "status-nochan": "No such channel",
        }
        for action_id, message in expected.items():
            failure = self.failureResultOf(replay.results[action_id], AMIError)
            self.assertEqual(failure.value.message, message, action_id)
            self.assertEqual(failure.value.response.action_id, action_id)
            if action_id == "orig-badctx":
                self.assertEqual(
                    str(failure.value), "Originate failed: Extension does not exist."
                )
        command = self.successResultOf(replay.results["cmd-1"])
        self.assertEqual(len(command.getall("Output")), 1)
        self.assertEqual(self.successResultOf(replay.results["ping-1"])["Ping"], "Pong")
        self.assertEqual(replay.protocol.in_flight, 0)
        self.assertEqual(len(replay.protocol._pending), 0)

    def test_async_originate_failing_later(self):
        """
        An unknown technology is queued, then fails with Reason 0 and
        Uniqueid <unknown>.
        """
        replay = Replay("ami-errors.txt", 2, originate=True).run()
        self.successResultOf(replay.results["orig-badtech"])
        result = replay.originate_results["orig-badtech"]
        self.assertEqual((result.outcome, result.reason, result.uniqueid), ("failure", 0, None))
        self.assertEqual(result.channel, "NoSuchTech/1006")
        self.assertNotIn("orig-badctx", replay.originate_results)
        self.failureResultOf(replay.results["orig-badctx"], AMIError)
        replay.ignore_other_failures()

    def test_shutdown(self):
        """
        The Shutdown event is recognised and given to subscribers; the
        connection loss that follows names it.
        """
        replay = Replay("ami-shutdown.txt").run()
        self.assertEqual(replay.protocol.shutdown["Shutdown"], "Cleanly")
        self.assertEqual(replay.events[-1].name, "Shutdown")
        pending = replay.protocol.send_action("Ping")
        lost = []
        replay.protocol.on_lost = lost.append
        replay.protocol.connectionLost(Failure(ConnectionDone()))
        failure = self.failureResultOf(pending, AMIConnectionLost)
        self.assertIn("Shutdown: Cleanly", failure.value.reason)
        self.assertEqual(lost, [failure.value.reason])


class LoginTests(SynchronousTestCase):
    """
    Logging in by MD5 challenge or plain text.
    """

    def test_md5_challenge_bytes(self):
        """
        MD5 login sends Challenge, then Login with Key = md5(challenge +
        secret) and the Events mask; the secret never crosses the wire.
        """
        protocol, transport, _, _ = make_protocol()
        d = protocol.login("fts", "s3cret", events="call")
        self.assertEqual(
            transport.value(), b"Action: Challenge\r\nActionID: t-1\r\nAuthType: MD5\r\n\r\n"
        )
        transport.clear()
        protocol.dataReceived(
            BANNER + b"Response: Success\r\nActionID: t-1\r\nChallenge: 840415273\r\n\r\n"
        )
        key = hashlib.md5(b"840415273s3cret").hexdigest()
        self.assertEqual(
            transport.value(),
            b"Action: Login\r\nActionID: t-2\r\nAuthType: MD5\r\nUsername: fts\r\n"
            b"Key: " + key.encode() + b"\r\nEvents: call\r\n\r\n",
        )
        self.assertNotIn(b"s3cret", transport.value())
        self.assertNoResult(d)
        protocol.dataReceived(
            b"Response: Success\r\nActionID: t-2\r\nMessage: Authentication accepted\r\n\r\n"
        )
        self.assertEqual(self.successResultOf(d)["Message"], "Authentication accepted")
        self.assertTrue(protocol.logged_in)

    def test_plain_login_matches_transcript(self):
        """
        A plain login writes exactly what the transcript's client wrote.
        """
        blocks = connection_blocks("ami-login-and-originate-answered.txt")[0]
        protocol, transport, _, events = make_protocol(id_prefix="login-")
        d = protocol.login("fts", "fts", auth="plain")
        self.assertEqual(transport.value(), blocks[1].data)
        for block in blocks[2:4]:
            protocol.dataReceived(block.data)
        self.successResultOf(d)
        self.assertEqual([e.name for e in events], ["FullyBooted", "SuccessfulAuth"])

    def test_wrong_secret(self):
        """
        A refused login fails with AMILoginFailed naming Asterisk's message.
        """
        blocks = connection_blocks("ami-errors.txt")[0]
        protocol, transport, _, _ = make_protocol(id_prefix="badlogin-")
        d = protocol.login("fts", "wrong", auth="plain")
        self.assertEqual(transport.value(), blocks[1].data)
        for block in blocks[2:]:
            if block.direction == transcripts.FROM_ASTERISK:
                protocol.dataReceived(block.data)
        failure = self.failureResultOf(d, AMILoginFailed)
        self.assertEqual(failure.value.message, "Authentication failed")
        self.assertFalse(protocol.logged_in)

    def test_challenge_refused(self):
        """
        A refused Challenge fails the login too.
        """
        protocol, transport, _, _ = make_protocol()
        d = protocol.login("fts", "x")
        respond(protocol, [("Response", "Error"), ("ActionID", "t-1"), ("Message", "Must specify AuthType")])
        self.failureResultOf(d, AMILoginFailed)
        self.assertEqual(len(written(transport)), 1)

    def test_login_timeout(self):
        """
        A login with no answer times out on the clock.
        """
        protocol, _, clock, _ = make_protocol()
        d = protocol.login("fts", "x", timeout=3)
        clock.advance(3)
        self.failureResultOf(d, AMITimeout)

    def test_bad_auth_kind(self):
        """
        An unknown auth kind is refused without writing anything.
        """
        protocol, transport, _, _ = make_protocol()
        self.failureResultOf(protocol.login("a", "b", auth="sha"), ValueError)
        self.assertEqual(transport.value(), b"")


class ActionTests(SynchronousTestCase):
    """
    ActionIDs, timeouts, back-pressure and disconnects.
    """

    def test_response_matched_by_action_id(self):
        """
        Responses arriving out of order, with events between, reach the right
        actions.
        """
        protocol, transport, _, events = make_protocol()
        first = protocol.send_action("Getvar", {"Variable": "A"})
        second = protocol.send_action("Getvar", {"Variable": "B"})
        ids = [m.action_id for m in written(transport)]
        self.assertEqual(len(set(ids)), 2)
        protocol.dataReceived(
            BANNER
            + serialize([("Event", "Newchannel"), ("Channel", "x")])
            + serialize([("Response", "Success"), ("ActionID", ids[1]), ("Value", "b")])
            + serialize([("Event", "Hangup"), ("ActionID", "someone-else")])
            + serialize([("Response", "Success"), ("ActionID", ids[0]), ("Value", "a")])
        )
        self.assertEqual(self.successResultOf(first)["Value"], "a")
        self.assertEqual(self.successResultOf(second)["Value"], "b")
        self.assertEqual([e.name for e in events], ["Newchannel", "Hangup"])

    def test_undeclared_event_list(self):
        """
        Any response with 'EventList: start' collects events up to the
        Complete one.
        """
        protocol, transport, _, events = make_protocol()
        d = protocol.send_action("PJSIPShowRegistrationsOutbound")
        [action] = written(transport)
        aid = action.action_id
        respond(
            protocol,
            [("Response", "Success"), ("ActionID", aid), ("EventList", "start")],
            [("Event", "OutboundRegistrationDetail"), ("ActionID", aid), ("X", "1")],
            [("Event", "Other")],
            [("Event", "OutboundRegistrationDetailComplete"), ("ActionID", aid), ("EventList", "Complete")],
        )
        result = self.successResultOf(d)
        self.assertEqual([e["X"] for e in result], ["1"])
        self.assertEqual([e.name for e in events], ["Other"])

    def test_list_error(self):
        """
        A list action answered with an error fails at once.
        """
        protocol, transport, _, _ = make_protocol()
        d = protocol.send_action("Status", {"Channel": "nope"})
        [action] = written(transport)
        respond(protocol, [("Response", "Error"), ("ActionID", action.action_id), ("Message", "No such channel")])
        self.assertEqual(self.failureResultOf(d, AMIError).value.message, "No such channel")

    def test_timeout(self):
        """
        An action with no answer fails with AMITimeout after its timeout; a
        late answer is ignored and its slot was freed.
        """
        protocol, transport, clock, _ = make_protocol(max_in_flight=1)
        d = protocol.send_action("Ping", timeout=5)
        waiting = protocol.send_action("Ping", timeout=5)
        [first] = written(transport)
        clock.advance(4.9)
        self.assertNoResult(d)
        clock.advance(0.1)
        failure = self.failureResultOf(d, AMITimeout)
        self.assertEqual(failure.value.action_id, first.action_id)
        self.assertIn("within 5 s", str(failure.value))
        [second] = written(transport)
        respond(protocol, [("Response", "Success"), ("ActionID", first.action_id)])
        self.assertNoResult(waiting)
        respond(protocol, [("Response", "Success"), ("ActionID", second.action_id)])
        self.successResultOf(waiting)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_list_timeout_counts_until_complete(self):
        """
        A list action times out if its Complete event does not come.
        """
        protocol, transport, clock, _ = make_protocol()
        d = protocol.send_action("CoreShowChannels", timeout=2)
        [action] = written(transport)
        respond(protocol, [("Response", "Success"), ("ActionID", action.action_id), ("EventList", "start")])
        clock.advance(2)
        self.failureResultOf(d, AMITimeout)

    def test_back_pressure(self):
        """
        Beyond max_in_flight, actions wait in order and are sent as answers
        come back; none is dropped.
        """
        protocol, transport, _, _ = make_protocol(max_in_flight=2)
        ds = [protocol.send_action("Ping") for _ in range(5)]
        sent = written(transport)
        self.assertEqual(len(sent), 2)
        self.assertEqual((protocol.in_flight, protocol.queued), (2, 3))
        all_sent = list(sent)
        while sent:
            respond(protocol, [("Response", "Success"), ("ActionID", sent[0].action_id)])
            sent = sent[1:] + written(transport)
            all_sent += [m for m in sent if m not in all_sent]
            self.assertLessEqual(protocol.in_flight, 2)
        self.assertEqual([m.action_id for m in all_sent], ["t-%d" % i for i in range(1, 6)])
        for d in ds:
            self.successResultOf(d)

    def test_cancel_queued(self):
        """
        Cancelling a queued action withdraws it: it is never sent.
        """
        protocol, transport, _, _ = make_protocol(max_in_flight=1)
        first = protocol.send_action("Ping")
        second = protocol.send_action("Ping")
        third = protocol.send_action("Ping")
        second.cancel()
        self.failureResultOf(second, CancelledError)
        written(transport)
        respond(protocol, [("Response", "Success"), ("ActionID", "t-1")])
        self.successResultOf(first)
        self.assertEqual([m.action_id for m in written(transport)], ["t-3"])
        self.assertNoResult(third)

    def test_cancel_in_flight(self):
        """
        Cancelling a sent action frees its slot and stops its timer.
        """
        protocol, transport, clock, _ = make_protocol(max_in_flight=1)
        first = protocol.send_action("Ping")
        second = protocol.send_action("Ping")
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertEqual([m.action_id for m in written(transport)], ["t-1", "t-2"])
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        self.assertNoResult(second)

    def test_disconnect_fails_every_pending_action(self):
        """
        On disconnect every pending action fails with AMIConnectionLost (sent
        or still queued); none succeeds; later actions fail as not connected.
        """
        protocol, transport, clock, _ = make_protocol(max_in_flight=1)
        sent = protocol.send_action("Originate", {"Channel": "Local/1@x"})
        queued = protocol.send_action("CoreShowChannels")
        protocol.connectionLost(Failure(ConnectionLost("reset by peer")))
        lost = self.failureResultOf(sent, AMIConnectionLost)
        self.assertTrue(lost.value.sent)
        self.assertIn("reset by peer", lost.value.reason)
        still = self.failureResultOf(queued, AMIConnectionLost)
        self.assertFalse(still.value.sent)
        self.failureResultOf(protocol.send_action("Ping"), AMINotConnected)
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual((protocol.in_flight, protocol.queued), (0, 0))

    def test_reserved_headers_refused(self):
        """
        Action and ActionID cannot be given as extra headers.
        """
        protocol, transport, _, _ = make_protocol()
        self.failureResultOf(protocol.send_action("Ping", {"ActionID": "x"}), ValueError)
        self.failureResultOf(protocol.send_action("Ping", [("X", "a\nb")]), ValueError)
        self.assertEqual(transport.value(), b"")

    def test_events_without_subscriber_callback(self):
        """
        A protocol with no event callback ignores events.
        """
        protocol = AMIProtocol(Clock())
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(BANNER + serialize({"Event": "X"}))


class OriginateTests(SynchronousTestCase):
    """
    Asynchronous Originate through the protocol.
    """

    def originate(self, protocol, **kwargs):
        results = []
        d = protocol.originate(
            "Local/5001@callee-sim",
            "fts-campaign",
            "5001",
            1,
            "fts-7-a",
            variables={"FTS_CAMPAIGN": 1, "FTS_CONTACT": 7},
            caller_id='"FTS Dialer" <5550100>',
            timeout_ms=15000,
            on_result=results.append,
            **kwargs,
        )
        return d, results

    def test_headers(self):
        """
        Originate sends Async: true, the ChannelId, the timeout in ms and one
        Variable header per variable.
        """
        protocol, transport, _, _ = make_protocol()
        self.originate(protocol, other_channel_id=None)
        [action] = written(transport)
        self.assertEqual(
            action.headers,
            (
                ("Action", "Originate"),
                ("ActionID", "t-1"),
                ("Channel", "Local/5001@callee-sim"),
                ("Context", "fts-campaign"),
                ("Exten", "5001"),
                ("Priority", "1"),
                ("Async", "true"),
                ("Timeout", "15000"),
                ("ChannelId", "fts-7-a"),
                ("CallerID", '"FTS Dialer" <5550100>'),
                ("Variable", "FTS_CAMPAIGN=1"),
                ("Variable", "FTS_CONTACT=7"),
            ),
        )

    def test_result_by_channel_id(self):
        """
        An OriginateResponse without ActionID is matched by its Uniqueid,
        the ChannelId we chose.
        """
        protocol, transport, _, _ = make_protocol()
        d, results = self.originate(protocol)
        respond(protocol, [("Response", "Success"), ("ActionID", "t-1")])
        self.successResultOf(d)
        respond(protocol, [("Event", "OriginateResponse"), ("Response", "Success"), ("Reason", "4"), ("Uniqueid", "fts-7-a")])
        self.assertEqual([(r.outcome, r.channel_id) for r in results], [("success", "fts-7-a")])

    def test_other_clients_result_ignored(self):
        """
        An OriginateResponse with our ActionID but another call's Uniqueid
        is not taken as ours.
        """
        protocol, transport, _, _ = make_protocol()
        d, results = self.originate(protocol)
        respond(protocol, [("Response", "Success"), ("ActionID", "t-1")])
        respond(protocol, [("Event", "OriginateResponse"), ("ActionID", "t-1"), ("Response", "Success"), ("Uniqueid", "9.9")])
        self.assertEqual(results, [])

    def test_refused_no_result(self):
        """
        An Originate refused at once fails its Deferred; its callback is
        never called.
        """
        protocol, transport, clock, _ = make_protocol()
        d, results = self.originate(protocol)
        respond(protocol, [("Response", "Error"), ("ActionID", "t-1"), ("Message", "Extension does not exist.")])
        self.failureResultOf(d, AMIError)
        clock.advance(1000)
        self.assertEqual(results, [])
        self.assertEqual(protocol.awaiting_originate_results, 0)

    def test_result_expires(self):
        """
        With no OriginateResponse by the Originate timeout plus the grace
        period, the result is 'unknown'.
        """
        protocol, transport, clock, _ = make_protocol(originate_grace=30)
        d, results = self.originate(protocol)
        respond(protocol, [("Response", "Success"), ("ActionID", "t-1")])
        clock.advance(44.9)
        self.assertEqual(results, [])
        clock.advance(0.1)
        [result] = results
        self.assertEqual(result.outcome, "unknown")
        self.assertEqual(result.channel_id, "fts-7-a")
        self.assertIn("in time", result.detail)

    def test_disconnect_makes_result_unknown(self):
        """
        A connection lost before the OriginateResponse gives 'unknown' (the
        call may exist): reconcile by ChannelId.
        """
        protocol, transport, clock, _ = make_protocol()
        d, results = self.originate(protocol)
        respond(protocol, [("Response", "Success"), ("ActionID", "t-1")])
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual([r.outcome for r in results], ["unknown"])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_queued_originate_lost_unsent(self):
        """
        An Originate still queued when the connection drops was never sent:
        it fails with sent=False and its callback is not called.
        """
        protocol, transport, _, _ = make_protocol(max_in_flight=1)
        ping = protocol.send_action("Ping")
        d, results = self.originate(protocol)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(self.failureResultOf(ping, AMIConnectionLost).value.sent)
        self.assertFalse(self.failureResultOf(d, AMIConnectionLost).value.sent)
        self.assertEqual(results, [])

    def test_bad_arguments(self):
        """
        Values Asterisk would misread are refused before anything is sent.
        """
        protocol, transport, _, _ = make_protocol()
        for kwargs in (
            {"variables": {"A": "x,y"}},
            {"variables": {"A=B": "x"}},
            {"caller_id": "a\r\nAction: Logoff"},
        ):
            d = protocol.originate("Local/1@x", "c", "1", 1, "id", **kwargs)
            self.failureResultOf(d, ValueError)
        self.failureResultOf(protocol.originate("garbage", "c", "1", 1, "id"), ValueError)
        self.assertEqual(transport.value(), b"")

    def test_result_callback_error_logged(self):
        """
        A failing result callback is logged, and the next result still comes.
        """
        protocol, transport, _, _ = make_protocol()
        protocol.originate("Local/1@x", "c", "1", 1, "a", on_result=lambda r: 1 / 0)
        protocol.dataReceived(BANNER)
        respond(protocol, [("Event", "OriginateResponse"), ("ActionID", "t-1"), ("Response", "Failure"), ("Reason", "5")])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(protocol.awaiting_originate_results, 0)

    def test_result_repr(self):
        """
        Results read the Reason as a number and name it.
        """
        result = OriginateResult.unknown("Local/1@x", "id", "t-1", "why")
        self.assertEqual(result.reason_name, "unknown")


class KeepaliveTests(SynchronousTestCase):
    """
    The keepalive Ping.
    """

    def test_ping_pong(self):
        """
        A Ping is sent every interval and a Pong keeps the connection.
        """
        protocol, transport, clock, _ = make_protocol()
        protocol.start_keepalive(20, 5)
        clock.advance(19)
        self.assertEqual(written(transport), [])
        clock.advance(1)
        [ping] = written(transport)
        self.assertEqual(ping.name, "Ping")
        respond(protocol, [("Response", "Success"), ("ActionID", ping.action_id), ("Ping", "Pong")])
        clock.advance(20)
        self.assertEqual([m.name for m in written(transport)], ["Ping"])
        self.assertFalse(transport.disconnecting)

    def test_missing_pong_drops_connection(self):
        """
        No Pong within the timeout aborts the connection.
        """
        protocol, transport, clock, _ = make_protocol()
        protocol.start_keepalive(20, 5)
        clock.advance(20)
        clock.advance(4)
        self.assertFalse(transport.disconnecting)
        clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_ping_skips_queue_and_never_overlaps(self):
        """
        The keepalive Ping goes out even when the in-flight bound is reached,
        and a second Ping waits for the first's answer.
        """
        protocol, transport, clock, _ = make_protocol(max_in_flight=1)
        protocol.send_action("CoreShowChannels", timeout=None)
        written(transport)
        protocol.start_keepalive(10, 15)
        clock.advance(10)
        self.assertEqual([m.name for m in written(transport)], ["Ping"])
        clock.advance(10)
        self.assertEqual(written(transport), [])

    def test_keepalive_stops_on_disconnect(self):
        """
        A lost connection stops the keepalive timer.
        """
        protocol, transport, clock, _ = make_protocol()
        protocol.start_keepalive(20, 5)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(clock.getDelayedCalls(), [])
