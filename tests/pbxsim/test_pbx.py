"""
Tests for the simulated PBX through its AMI server: capacity, failures,
time scale, the tally, authentication, event masks and the actions beyond
what the recordings show.
"""

import hashlib

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.ami.frames import serialize
from fts.pbxsim.callee import ANSWERED, BUSY, CalleeModel, Override, script_from, transcript_model
from fts.pbxsim.channel import encode

from .replay import Line, open_ami, originate, parse_ami, simulator


def answering(hangup_after=None, ring=0.0):
    return CalleeModel(
        {ANSWERED: 1},
        overrides=[Override("", outcome=ANSWERED, ring_seconds=ring, rings=ring > 0, script=script_from(hangup_after))],
        seed=1,
    )


class CapacityTests(SynchronousTestCase):
    """
    A PBX at its call limit.
    """

    def test_over_capacity_fails_like_missing_extension(self):
        """
        An Originate beyond the capacity is queued, then fails with Reason 0
        after Newchannel x2 and two Hangups with cause 0, like Asterisk at
        its limit; the calls in progress go on.
        """
        line = Line(answering(), capacity=1)
        line.send(originate("5550001"))
        line.messages()
        line.send(originate("5550002"))
        messages = line.messages()
        self.assertEqual(messages[0]["Message"], "Originate successfully queued")
        names = [m.name for m in messages if m.kind == "event" and m.name in ("Newchannel", "Hangup", "OriginateResponse", "LocalBridge")]
        self.assertEqual(names, ["Newchannel", "Newchannel", "Hangup", "OriginateResponse", "Hangup"])
        response = [m for m in messages if m.name == "OriginateResponse"][0]
        self.assertEqual((response["Response"], response["Reason"], response["Uniqueid"]), ("Failure", "0", "<unknown>"))
        self.assertEqual(line.sim.tally.outcomes, {"answered": 1, "over_capacity": 1})
        self.assertEqual(line.sim.active_calls, 1)

    def test_capacity_frees_up(self):
        """
        When a call ends its place can be used again.
        """
        line = Line(CalleeModel({BUSY: 1}, ring_seconds=1.0, seed=1), capacity=1)
        line.send(originate("5550001"))
        line.wait(1.0)
        line.send(originate("5550002"))
        line.wait(1.0)
        self.assertEqual(line.sim.tally.outcomes, {"busy": 2})


class FailureShapeTests(SynchronousTestCase):
    """
    Originates that fail after being queued.
    """

    def test_unknown_technology(self):
        """
        An unknown technology gives only OriginateResponse Failure Reason 0
        with the requested Channel.
        """
        line = Line(transcript_model())
        line.send(originate("1006").replace(b"Local/1006@callee-sim", b"NoSuchTech/1006"))
        messages = line.messages()
        self.assertEqual([m.name for m in messages], ["Success", "OriginateResponse"])
        self.assertEqual(messages[1]["Channel"], "NoSuchTech/1006")
        self.assertEqual(messages[1]["Reason"], "0")

    def test_channel_id_in_use(self):
        """
        A ChannelId already in use fails the Originate (Reason 0).
        """
        line = Line(answering())
        line.send(originate("5550001", extra=b"ChannelId: call-1\r\n"))
        line.messages()
        line.send(originate("5550002", extra=b"ChannelId: call-1\r\n"))
        names = [m.name for m in line.messages()]
        self.assertEqual(names, ["Success", "OriginateResponse"])

    def test_channel_id_alone(self):
        """
        ChannelId without OtherChannelId names ;2 "<id>;2".
        """
        line = Line(answering())
        line.send(originate("5550001", extra=b"ChannelId: call-7\r\n"))
        ids = [m["Uniqueid"] for m in line.events("Newchannel")]
        self.assertEqual(ids, ["call-7", "call-7;2"])

    def test_cancel_before_answer(self):
        """
        Action: Hangup of a ringing call fails its Originate with Reason 1.
        """
        line = Line(answering(ring=10.0))
        line.send(originate("5550001"))
        channel = line.events("Newchannel")[0]["Channel"]
        line.send(b"Action: Hangup\r\nActionID: h\r\nChannel: %s\r\n\r\n" % channel.encode())
        messages = line.messages()
        self.assertEqual(messages[0]["Message"], "Channel Hungup")
        response = [m for m in messages if m.name == "OriginateResponse"][0]
        self.assertEqual(response["Reason"], "1")
        self.assertEqual(line.sim.active_calls, 0)

    def test_synchronous_answered(self):
        """
        A synchronous Originate is answered when the call is, without an
        OriginateResponse event.
        """
        line = Line(answering(ring=2.0))
        line.send(originate("5550001", async_=b"false"))
        self.assertEqual([m for m in line.messages() if m.kind == "response"], [])
        line.wait(2.0)
        messages = line.messages()
        responses = [m for m in messages if m.kind == "response"]
        self.assertEqual(responses[0]["Message"], "Originate successfully queued")
        self.assertNotIn("OriginateResponse", [m.name for m in messages])


class TimeScaleTests(SynchronousTestCase):
    """
    The time scale.
    """

    def test_thirty_second_call_lasts_thirty_ms(self):
        """
        With scale 0.001 a call whose callee hangs up after 30 s ends after
        30 ms of clock time.
        """
        line = Line(answering(hangup_after=30.0), scale=0.001)
        start = line.clock.seconds()
        line.send(originate("5550001"))
        line.connector.servers[0].protocol.dataReceived(b"WAIT FOR DIGIT -1\n")
        line.wait(0.029)
        self.assertEqual(line.sim.tally.hangups, {})
        line.wait(0.002)
        self.assertEqual(line.sim.tally.hangups, {"callee": 1})
        self.assertLess(line.clock.seconds() - start, 0.032)


class TallyTests(SynchronousTestCase):
    """
    The tally of what happened.
    """

    def test_counts(self):
        """
        Originates, outcomes, keys and AGI use are counted.
        """
        line = Line(transcript_model())
        for number in ["1001", "2001", "3001", "8001", "0000"]:
            line.send(originate(number))
        line.send(b"Action: Originate\r\nActionID: bad\r\nContext: fts-campaign\r\nExten: 1\r\n\r\n")
        server = line.agi(0)
        server.send(b'STREAM FILE demo-congrats "1"\n')
        line.wait(2.0)
        tally = line.sim.tally.snapshot()
        self.assertEqual(tally["originates"], 6)
        self.assertEqual(tally["originate_errors"], 1)
        self.assertEqual(tally["calls_placed"], 5)
        self.assertEqual(tally["outcomes"], {"answered": 1, "busy": 1, "congestion": 1, "rejected": 1, "unavailable": 1})
        self.assertEqual(tally["keys_pressed"], {"1": 1})
        self.assertEqual(tally["keys_heard"], {"1": 1})
        self.assertEqual(tally["agi_commands"], {"STREAM FILE": 1})
        self.assertEqual(tally["agi_sessions"], 1)

    def test_active_channels(self):
        """
        The live channels are visible until the call ends.
        """
        line = Line(answering(hangup_after=5.0))
        line.send(originate("5550001"))
        self.assertEqual([c.name[-2:] for c in line.sim.active_channels()], [";1", ";2"])
        line.wait(5.01)
        self.assertEqual([c.name[-2:] for c in line.sim.active_channels()], [";1"])
        line.agi().protocol.readConnectionLost()
        line.agi().protocol.readConnectionLost()
        self.assertEqual(line.sim.active_channels(), [])


class LoginTests(SynchronousTestCase):
    """
    Authentication and event masks.
    """

    def setUp(self):
        self.sim, _ = simulator(credentials={"fts": "s3cret"})
        self.ami, self.transport = open_ami(self.sim)
        self.assertEqual(self.transport.value(), b"Asterisk Call Manager/11.0.0\r\n")
        self.transport.clear()

    def replies(self):
        data = self.transport.value()
        self.transport.clear()
        return parse_ami(b"Asterisk Call Manager/11.0.0\r\n" + data)

    def test_md5(self):
        """
        Challenge then Login with the MD5 key of challenge + secret works.
        """
        self.ami.dataReceived(b"Action: Challenge\r\nActionID: c\r\nAuthType: MD5\r\n\r\n")
        challenge = self.replies()[0]["Challenge"]
        key = hashlib.md5((challenge + "s3cret").encode()).hexdigest()
        self.ami.dataReceived(b"Action: Login\r\nActionID: l\r\nAuthType: MD5\r\nUsername: fts\r\nKey: %s\r\n\r\n" % key.encode())
        self.assertEqual(self.replies()[0]["Message"], "Authentication accepted")

    def test_wrong_key(self):
        """
        A wrong key is refused after about a second and the socket closed.
        """
        self.ami.dataReceived(b"Action: Challenge\r\nActionID: c\r\nAuthType: MD5\r\n\r\n")
        self.replies()
        self.ami.dataReceived(b"Action: Login\r\nActionID: l\r\nAuthType: MD5\r\nUsername: fts\r\nKey: 00\r\n\r\n")
        self.assertEqual(self.replies(), [])
        self.sim.clock.advance(1.0)
        self.assertEqual(self.replies()[0]["Message"], "Authentication failed")
        self.assertTrue(self.transport.disconnecting)

    def test_permission_denied(self):
        """
        An action before login is refused; the connection stays open.
        """
        self.ami.dataReceived(b"Action: CoreShowChannels\r\nActionID: x\r\n\r\n")
        self.assertEqual(self.replies()[0]["Message"], "Permission denied")
        self.assertFalse(self.transport.disconnecting)

    def test_events_off(self):
        """
        Events: off gets responses but no events; Action: Events turns them on.
        """
        self.ami.dataReceived(b"Action: Login\r\nUsername: fts\r\nSecret: s3cret\r\nEvents: off\r\n\r\n")
        self.ami.dataReceived(originate("1001"))
        self.assertEqual([m.kind for m in self.replies()], ["response", "response"])
        self.ami.dataReceived(b"Action: Events\r\nActionID: e\r\nEventMask: call\r\n\r\n")
        self.assertEqual(self.replies()[0]["Events"], "On")
        self.ami.dataReceived(originate("2001"))
        self.assertIn("OriginateResponse", [m.name for m in self.replies()])


class ActionTests(SynchronousTestCase):
    """
    Actions not covered by the recordings.
    """

    def setUp(self):
        self.line = Line(answering())

    def test_ping_and_logoff(self):
        """
        Ping answers Pong with a timestamp; Logoff says Goodbye and closes.
        """
        self.line.send(b"Action: Ping\r\nActionID: p\r\n\r\n")
        pong = self.line.messages()[0]
        self.assertEqual([h for h, _ in pong.headers], ["Response", "ActionID", "Ping", "Timestamp"])
        self.line.send(b"Action: Logoff\r\nActionID: o\r\n\r\n")
        self.assertEqual(self.line.messages()[0]["Message"], "Thanks for all the fish.")
        self.assertTrue(self.line.transport.disconnecting)

    def test_setvar_getvar(self):
        """
        Setvar on a channel emits VarSet and Getvar reads it back; without
        a channel it sets a global variable.
        """
        self.line.send(originate("5550001"))
        channel = self.line.events("Newchannel")[0]["Channel"]
        self.line.send(b"Action: Setvar\r\nActionID: s\r\nChannel: %s\r\nVariable: X\r\nValue: 1 2\r\n\r\n" % channel.encode())
        messages = self.line.messages()
        self.assertEqual([m.name for m in messages], ["VarSet", "Success"])
        self.line.send(b"Action: Getvar\r\nActionID: g\r\nChannel: %s\r\nVariable: X\r\n\r\n" % channel.encode())
        self.assertEqual(self.line.messages()[0]["Value"], "1 2")
        self.line.send(b"Action: Setvar\r\nVariable: G\r\nValue: v\r\n\r\nAction: Getvar\r\nVariable: G\r\n\r\n")
        self.assertEqual(self.line.messages()[1]["Value"], "v")

    def test_command(self):
        """
        Command output comes as Output lines, also for an unknown command.
        """
        self.line.send(b"Action: Command\r\nActionID: c\r\nCommand: core show channels\r\n\r\n")
        reply = self.line.messages()[0]
        self.assertEqual(reply.getall("Output")[-3:], ["0 active channels", "0 active calls", "0 calls processed"])
        self.line.send(b"Action: Command\r\nActionID: c\r\nCommand: foo\r\n\r\n")
        self.assertIn("No such command 'foo'", self.line.messages()[0]["Output"])

    def test_bad_input_does_not_crash(self):
        """
        A line that is not a header is reported and the next action works.
        """
        self.line.send(b"garbage without colon\r\nAction: Ping\r\n\r\nAction: Ping\r\nActionID: 2\r\n\r\n")
        self.assertEqual([m.get("Ping") for m in self.line.messages()][-1], "Pong")
        self.flushLoggedErrors()

    def test_stop(self):
        """
        Stopping sends Shutdown, closes sessions and leaves no timer behind.
        """
        self.line.send(originate("5550001"))
        self.line.messages()
        self.line.sim.stopService()
        self.assertEqual(self.line.messages()[-1].name, "Shutdown")
        self.assertTrue(self.line.transport.disconnecting)
        self.assertEqual(self.line.clock.getDelayedCalls(), [])


class EncodeTests(SynchronousTestCase):
    """
    The fast event encoder.
    """

    @given(st.lists(st.tuples(st.sampled_from(["Channel", "Value", "X-Y"]), st.text()), max_size=6))
    def test_same_as_serialize(self, headers):
        """
        It gives serialize's bytes, or serialize's error.
        """
        try:
            expected = serialize(headers)
        except ValueError:
            self.assertRaises(ValueError, encode, headers)
        else:
            self.assertEqual(encode(headers), expected)
