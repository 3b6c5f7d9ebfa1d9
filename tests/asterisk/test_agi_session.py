"""
Tests for L{fts.asterisk.agi.session}: the call flow's verbs, driven through
the real protocol over a C{StringTransport} with a C{Clock}, replaying the
real Asterisk conversations (our commands must be byte for byte what the
recorded server sent) and the hang-up cases around them.
"""

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.agi.errors import (
    AGICommandFailed,
    AGIConnectionLost,
    AGIHangup,
    AGIInvalidCommand,
    AGIProtocolError,
    AGISessionClosed,
    AGITimeout,
    AGIUsageError,
)
from fts.asterisk.agi.router import ScriptRouter
from fts.asterisk.agi.server import FastAGIServerFactory
from fts.asterisk.agi.session import SessionSettings
from fts.asterisk.agi.wire import Reply
from tests.support import transcripts

ENVIRONMENT = (
    b"agi_network: yes\n"
    b"agi_network_script: campaign\n"
    b"agi_channel: Local/1001@callee-sim-00000000;1\n"
    b"agi_uniqueid: 1795347861.0\n"
    b"agi_extension: 1001\n"
    b"\n"
)

SETTINGS = SessionSettings(
    command_timeout=10.0, media_timeout=600.0, hangup_grace=1.0, close_timeout=5.0
)


class HalfCloseableTransport(StringTransport):
    """
    A C{StringTransport} that records half-closes and aborts.
    """

    write_closed = False
    aborted = False

    def loseWriteConnection(self):
        self.write_closed = True

    def abortConnection(self):
        self.aborted = True
        StringTransport.abortConnection(self)


class Connection:
    """
    One FastAGI connection to a real L{FastAGIServerFactory}, with the
    script under test's control: L{session} is the session, and the script
    ends when the test fires L{script_done}.
    """

    def __init__(self, testcase, environment=ENVIRONMENT, settings=SETTINGS):
        self.testcase = testcase
        self.clock = Clock()
        self.sessions = []
        self.script_done = Deferred()

        def script(session):
            self.sessions.append(session)
            return self.script_done

        self.factory = FastAGIServerFactory(
            ScriptRouter({"campaign": script}, h_extension=script),
            self.clock,
            settings=settings,
        )
        self.transport = HalfCloseableTransport()
        self.protocol = self.factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        if environment:
            self.receive(environment)

    @property
    def session(self):
        return self.sessions[0]

    def receive(self, data):
        self.protocol.dataReceived(data)

    def sent(self):
        """
        The bytes written since the last call.
        """
        value = self.transport.value()
        self.transport.clear()
        return value

    def lose(self):
        self.protocol.connectionLost(Failure(Exception("closed")))


class Replay(Connection):
    """
    Replay a transcript: L{send} checks that what we wrote is the next
    APP>AST block; L{deliver} feeds the next AST>APP block, moving the
    clock to the time it arrived.
    """

    def __init__(self, testcase, name):
        self.blocks = list(transcripts.load(name))
        Connection.__init__(self, testcase, environment=None)
        while self.blocks and self.blocks[0].direction == transcripts.FROM_ASTERISK:
            self.deliver()

    def deliver(self, count=1):
        for _ in range(count):
            block = self.blocks.pop(0)
            self.testcase.assertEqual(block.direction, transcripts.FROM_ASTERISK, block)
            self.clock.advance(max(0.0, block.offset - self.clock.seconds()))
            self.receive(block.data)

    def send(self):
        """
        Check our last write against the next recorded APP>AST block.
        """
        block = self.blocks.pop(0)
        self.testcase.assertEqual(block.direction, transcripts.TO_ASTERISK, block)
        self.testcase.assertEqual(self.sent(), block.data)

    def call(self, d, replies=1):
        """
        Check the command just issued, deliver its reply block(s), and give
        back the result (or the failure).
        """
        self.send()
        self.deliver(replies)
        return d

    def finish(self):
        """
        Close like the recorded server: half-close, take the last HANGUP,
        then EOF.
        """
        closed = self.session.close()
        self.testcase.assertTrue(self.transport.write_closed)
        self.testcase.assertNoResult(closed)
        while self.blocks:
            self.deliver()
        self.lose()
        self.testcase.successResultOf(closed)
        self.testcase.assertEqual(self.sent(), b"")


class AnsweredCallReplayTests(SynchronousTestCase):
    """
    agi-session-answered-dtmf: every verb on a live call, the error replies,
    our own HANGUP, and the dead channel after it.
    """

    def test_conversation(self):
        """
        Each verb sends exactly the recorded line and maps the recorded reply
        to its result.
        """
        r = Replay(self, "agi-session-answered-dtmf")
        s = r.session
        self.assertEqual(s.environment.network_script, "campaign")
        self.assertFalse(s.hung_up)
        self.assertIsNone(self.successResultOf(r.call(s.answer())))
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CAMPAIGN"))), "1")
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        self.assertIsNone(self.successResultOf(r.call(s.get_variable("NO_SUCH_VARIABLE"))))
        self.assertEqual(
            self.successResultOf(r.call(s.get_full_variable("${CHANNEL(name)}"))),
            "Local/1001@callee-sim-00000000;1",
        )
        self.assertEqual(
            self.successResultOf(
                r.call(s.get_full_variable("${CALLERID(num)} ${CALLERID(name)}"))
            ),
            "5550100 FTS Dialer",
        )
        self.assertIsNone(
            self.successResultOf(r.call(s.set_variable("FTS_STATE", "playing message")))
        )
        self.assertEqual(self.successResultOf(r.call(s.channel_status())), 6)
        self.assertEqual(
            self.successResultOf(r.call(s.stream_file("demo-congrats", "0123456789*#"))),
            ("1", 9760),
        )
        self.assertIsNone(self.successResultOf(r.call(s.wait_for_digit(1500))))
        self.assertEqual(
            self.successResultOf(r.call(s.get_data("beep", 1500, 1))), ("", True)
        )
        self.assertIsNone(self.successResultOf(r.call(s.verbose("fts capture test", 1))))
        self.assertEqual(self.successResultOf(r.call(s.exec_("Playback", "silence/1"))), 0)
        self.assertIsNone(
            self.successResultOf(r.call(s.set_variable("FTS_RESULT", "dtmf-1")))
        )
        self.assertIsNone(self.successResultOf(r.call(s.noop("some", "text", "here"))))

        invalid = self.failureResultOf(r.call(s.command("FOO BAR")), AGIInvalidCommand)
        self.assertEqual(invalid.value.command, "FOO BAR")
        usage = self.failureResultOf(r.call(s.command("STREAM FILE"), 2), AGIUsageError)
        self.assertEqual(usage.value.lines[0], "Invalid command syntax.  Proper usage follows:")
        self.assertEqual(usage.value.lines[-1], "End of proper usage.")
        self.assertEqual(len(usage.value.lines), 7)

        hung_up = s.when_hung_up()
        self.assertIsNone(self.successResultOf(r.call(s.hangup())))
        self.assertTrue(s.hung_up)
        self.successResultOf(hung_up)
        r.deliver()  # the HANGUP notice that follows our HANGUP

        self.assertEqual(
            self.successResultOf(r.call(s.get_variable("FTS_STATE"))), "playing message"
        )
        self.failureResultOf(s.stream_file("beep"), AGIHangup)
        self.assertEqual(r.sent(), b"")
        self.failureResultOf(r.call(s.command("STREAM FILE", "beep", "")), AGIHangup)
        self.failureResultOf(r.call(s.command("CHANNEL STATUS")), AGIHangup)
        r.finish()


class HangupReplayTests(SynchronousTestCase):
    """
    The far end hangs up while a blocking command runs: the command returns
    C{-1} (or 0 for EXEC Read), then the HANGUP notice follows.
    """

    def blocking(self, name, issue):
        r = Replay(self, name)
        s = r.session
        hung_up = s.when_hung_up()
        self.assertIsNone(self.successResultOf(r.call(s.answer())))
        d = r.call(issue(s))
        self.assertNoResult(d)
        self.assertFalse(s.hung_up)
        r.deliver()  # HANGUP
        failure = self.failureResultOf(d, AGIHangup)
        self.assertEqual(failure.value.reply.result, "-1")
        self.assertTrue(s.hung_up)
        self.successResultOf(hung_up)
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        r.finish()
        return failure

    def test_wait_for_digit(self):
        """
        WAIT FOR DIGIT cut by the hang-up fails with L{AGIHangup}.
        """
        self.blocking(
            "agi-session-hangup-during-wait-for-digit", lambda s: s.wait_for_digit(10000)
        )

    def test_get_data(self):
        """
        GET DATA cut by the hang-up fails with L{AGIHangup}.
        """
        self.blocking(
            "agi-session-hangup-during-get-data", lambda s: s.get_data("demo-instruct", 10000, 4)
        )

    def test_exec_playback(self):
        """
        EXEC Playback cut by the hang-up fails with L{AGIHangup}.
        """
        self.blocking(
            "agi-session-hangup-during-exec-playback",
            lambda s: s.exec_("Playback", "demo-instruct"),
        )

    def test_exec_read(self):
        """
        EXEC Read cut by the hang-up returns 0 (as Asterisk says); the
        notice that follows marks the session hung up and later live verbs
        fail.
        """
        r = Replay(self, "agi-session-hangup-during-exec-read")
        s = r.session
        self.assertIsNone(self.successResultOf(r.call(s.answer())))
        d = s.exec_("Read", "FTSDIGITS", "demo-instruct", 4, "", 1, 10)
        self.assertEqual(self.successResultOf(r.call(d)), 0)
        self.assertFalse(s.hung_up)
        hung_up = s.when_hung_up()
        r.deliver()
        self.successResultOf(hung_up)
        self.failureResultOf(s.wait_for_digit(100), AGIHangup)
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        r.finish()

    def test_stream_file_then_dead_channel(self):
        """
        agi-session-hangup-midway: STREAM FILE returns C{-1 endpos=16160},
        the notice follows 42 ms later and the verb fails with L{AGIHangup};
        afterwards GET/SET VARIABLE and EXEC still work, 511 replies fail with
        L{AGIHangup}, and live verbs fail without being sent.
        """
        r = Replay(self, "agi-session-hangup-midway")
        s = r.session
        self.assertIsNone(self.successResultOf(r.call(s.answer())))
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        d = r.call(s.stream_file("demo-instruct", "0123456789"))
        self.assertNoResult(d)
        r.deliver()
        failure = self.failureResultOf(d, AGIHangup)
        self.assertEqual(failure.value.reply.endpos, 16160)
        self.assertEqual(failure.value.command, 'STREAM FILE demo-instruct "0123456789"')

        for verb in [
            lambda: s.answer(),
            lambda: s.stream_file("beep"),
            lambda: s.wait_for_digit(1000),
            lambda: s.get_data("beep", 1000, 1),
            lambda: s.channel_status(),
            lambda: s.say_digits("123"),
            lambda: s.say_number(5),
            lambda: s.say_date(0),
            lambda: s.say_time(0),
            lambda: s.set_autohangup(10),
            lambda: s.exec_("Playback", "beep", live=True),
        ]:
            self.failureResultOf(verb(), AGIHangup)
        self.assertIsNone(self.successResultOf(s.hangup()))
        self.assertEqual(r.sent(), b"")

        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        self.failureResultOf(r.call(s.command("CHANNEL STATUS")), AGIHangup)
        self.assertIsNone(
            self.successResultOf(r.call(s.set_variable("FTS_RESULT", "hungup-midway")))
        )
        self.failureResultOf(r.call(s.command("STREAM FILE", "beep", "")), AGIHangup)
        self.failureResultOf(r.call(s.command("WAIT FOR DIGIT", 1000)), AGIHangup)
        self.failureResultOf(r.call(s.command("GET DATA", "beep", 1000, 1)), AGIHangup)
        self.assertEqual(self.successResultOf(r.call(s.exec_("Playback", "beep"))), 0)
        self.failureResultOf(r.call(s.command("ANSWER")), AGIHangup)
        self.failureResultOf(r.call(s.command("HANGUP")), AGIHangup)
        r.finish()

    def test_amd_then_ami_hangup(self):
        """
        agi-session-amd-and-ami-hangup: EXEC AMD returns 0, its variables are
        read, and STREAM FILE cut by the AMI Hangup fails with L{AGIHangup}.
        """
        r = Replay(self, "agi-session-amd-and-ami-hangup")
        s = r.session
        self.assertIsNone(self.successResultOf(r.call(s.answer())))
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CAMPAIGN"))), "1")
        self.assertEqual(self.successResultOf(r.call(s.exec_("AMD"))), 0)
        self.assertEqual(self.successResultOf(r.call(s.get_variable("AMDSTATUS"))), "MACHINE")
        self.assertEqual(
            self.successResultOf(r.call(s.get_variable("AMDCAUSE"))),
            "INITIALSILENCE-2500-2500",
        )
        d = r.call(s.stream_file("silence/10", "#"), 2)
        self.assertEqual(self.failureResultOf(d, AGIHangup).value.reply.endpos, 5760)
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        r.finish()

    def test_idle_hangup(self):
        """
        agi-session-idle-dtmf-and-idle-hangup: a HANGUP with no command
        running marks the session hung up; GET VARIABLE still works.
        """
        r = Replay(self, "agi-session-idle-dtmf-and-idle-hangup")
        s = r.session
        hung_up = s.when_hung_up()
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        self.assertIsNone(self.successResultOf(r.call(s.wait_for_digit(1000))))
        self.assertNoResult(hung_up)
        r.deliver()
        self.successResultOf(hung_up)
        self.assertTrue(s.hung_up)
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        r.finish()

    def test_script_ends_with_channel_up(self):
        """
        agi-session-script-ends-channel-up: after our half-close Asterisk
        sends HANGUP even though the call is up, then closes.
        """
        r = Replay(self, "agi-session-script-ends-channel-up")
        s = r.session
        self.assertIsNone(self.successResultOf(r.call(s.answer())))
        self.assertEqual(self.successResultOf(r.call(s.stream_file("beep"))), (None, 3404))
        self.assertFalse(s.hung_up)
        r.finish()
        self.assertTrue(s.hung_up)
        self.failureResultOf(s.get_variable("X"), AGIConnectionLost)


class HExtensionReplayTests(SynchronousTestCase):
    """
    The h extension's connection: a dead channel from the start.
    """

    def replay(self, name, result, cause):
        r = Replay(self, name)
        s = r.session
        self.assertTrue(s.environment.is_h_extension)
        self.assertTrue(s.hung_up)
        self.successResultOf(s.when_hung_up())
        self.failureResultOf(s.channel_status(), AGIHangup)
        self.assertEqual(r.sent(), b"")
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_CONTACT"))), "42")
        self.assertEqual(self.successResultOf(r.call(s.get_variable("FTS_RESULT"))), result)
        self.assertEqual(
            self.successResultOf(r.call(s.get_full_variable("${HANGUPCAUSE}"))), cause
        )
        self.assertEqual(self.successResultOf(r.call(s.get_full_variable("${DIALSTATUS}"))), "")
        self.failureResultOf(r.call(s.command("CHANNEL STATUS")), AGIHangup)
        self.failureResultOf(r.call(s.command("ANSWER")), AGIHangup)
        r.finish()

    def test_after_our_hangup(self):
        """
        After our AGI HANGUP, HANGUPCAUSE is 0.
        """
        self.replay("agi-session-h-extension", "dtmf-1", "0")

    def test_after_far_end_hangup(self):
        """
        After the far end hung up, HANGUPCAUSE is 16.
        """
        self.replay("agi-session-hangup-midway-h-extension", "hungup-midway", "16")

    def test_after_ami_hangup(self):
        """
        After the AMI Hangup action, HANGUPCAUSE is 16; FTS_RESULT unset.
        """
        self.replay("agi-session-amd-and-ami-hangup-h-extension", None, "16")

    def test_assigned_uniqueid(self):
        """
        The uniqueid is the ChannelId chosen at Originate.
        """
        r = Replay(self, "agi-session-h-extension-assigned-uniqueid")
        self.assertEqual(r.session.environment.uniqueid, "fts-42-a")


class HangupNoticeTests(SynchronousTestCase):
    """
    HANGUP is out of band: never the reply to a command.
    """

    def test_notice_before_reply(self):
        """
        A HANGUP arriving while GET VARIABLE is in flight is not its reply
        (starpy's off-by-one): the command gets the next line, and the
        command after it gets its own reply.
        """
        c = Connection(self)
        s = c.session
        first = s.get_variable("A")
        second = s.get_variable("B")
        c.receive(b"HANGUP\n")
        self.assertNoResult(first)
        c.receive(b"200 result=1 (a)\n")
        self.assertEqual(self.successResultOf(first), "a")
        c.receive(b"200 result=1 (b)\n")
        self.assertEqual(self.successResultOf(second), "b")
        self.assertTrue(s.hung_up)

    def test_live_command_in_flight_gets_its_own_reply(self):
        """
        A live command already sent when HANGUP arrives is resolved by its
        reply (511 here, so L{AGIHangup}), not by the notice.
        """
        c = Connection(self)
        d = c.session.channel_status()
        c.receive(b"HANGUP\n")
        self.assertNoResult(d)
        c.receive(b"511 Command Not Permitted on a dead channel or intercept routine\n")
        self.failureResultOf(d, AGIHangup)

    def test_queued_live_verbs_fail_others_still_sent(self):
        """
        On HANGUP, queued verbs that need a live channel fail at once; the
        others are still sent, in order.
        """
        c = Connection(self)
        s = c.session
        first = s.get_variable("A")
        live = s.stream_file("beep")
        dead_ok = s.set_variable("B", "x")
        self.assertEqual(c.sent(), b"GET VARIABLE A\n")
        c.receive(b"HANGUP\n")
        self.failureResultOf(live, AGIHangup)
        c.receive(b"200 result=0\n")
        self.assertIsNone(self.successResultOf(first))
        self.assertEqual(c.sent(), b"SET VARIABLE B x\n")
        c.receive(b"200 result=1\n")
        self.assertIsNone(self.successResultOf(dead_ok))

    def test_minus_one_without_notice_is_a_failure(self):
        """
        A C{-1} with no HANGUP within the grace period (a missing prompt on a
        live call) fails with L{AGICommandFailed}; the channel is still up.
        """
        c = Connection(self)
        s = c.session
        d = s.stream_file("no-such-prompt")
        c.receive(b"200 result=-1 endpos=0\n")
        c.clock.advance(0.9)
        self.assertNoResult(d)
        c.clock.advance(0.3)
        self.failureResultOf(d, AGICommandFailed)
        self.assertFalse(s.hung_up)
        c.sent()
        self.assertIsNone(self.successResultOf(self.answer(c)))

    def answer(self, c):
        d = c.session.answer()
        self.assertEqual(c.sent(), b"ANSWER\n")
        c.receive(b"200 result=0\n")
        return d

    def test_minus_one_after_notice(self):
        """
        A C{-1} after the channel is already known to be hung up fails at
        once with L{AGIHangup}.
        """
        c = Connection(self)
        s = c.session
        d = s.exec_("Playback", "x")
        c.receive(b"HANGUP\n200 result=-1\n")
        self.failureResultOf(d, AGIHangup)

    def test_commands_wait_during_grace(self):
        """
        While a C{-1} waits for the notice, a queued command is not sent; it
        goes out once the notice settles the first.
        """
        c = Connection(self)
        s = c.session
        first = s.wait_for_digit(5000)
        second = s.get_variable("FTS_CONTACT")
        c.sent()
        c.receive(b"200 result=-1\n")
        self.assertEqual(c.sent(), b"")
        c.receive(b"HANGUP\n")
        self.failureResultOf(first, AGIHangup)
        self.assertEqual(c.sent(), b"GET VARIABLE FTS_CONTACT\n")
        c.receive(b"200 result=1 (42)\n")
        self.assertEqual(self.successResultOf(second), "42")

    def test_dead_channel_reply_marks_hung_up(self):
        """
        A 511 reply marks the session hung up even without a notice.
        """
        c = Connection(self)
        s = c.session
        hung_up = s.when_hung_up()
        d = s.answer()
        c.receive(b"511 Command Not Permitted on a dead channel or intercept routine\n")
        self.failureResultOf(d, AGIHangup)
        self.assertTrue(s.hung_up)
        self.successResultOf(hung_up)

    def test_duplicate_notices(self):
        """
        Repeated HANGUP lines change nothing after the first.
        """
        c = Connection(self)
        s = c.session
        d = s.get_variable("A")
        c.receive(b"HANGUP\nHANGUP\n200 result=0\nHANGUP\n")
        self.assertIsNone(self.successResultOf(d))


class QueueTests(SynchronousTestCase):
    """
    One command at a time; later ones wait their turn.
    """

    def test_one_at_a_time_in_order(self):
        """
        Verbs issued together are sent one after the other, each when the
        previous reply has arrived, and each gets its own reply.
        """
        c = Connection(self)
        s = c.session
        a = s.answer()
        b = s.get_variable("X")
        d = s.set_variable("Y", "two words")
        self.assertEqual(c.sent(), b"ANSWER\n")
        c.receive(b"200 result=0\n")
        self.assertIsNone(self.successResultOf(a))
        self.assertEqual(c.sent(), b"GET VARIABLE X\n")
        self.assertNoResult(b)
        c.receive(b"200 result=1 (x)\n")
        self.assertEqual(self.successResultOf(b), "x")
        self.assertEqual(c.sent(), b'SET VARIABLE Y "two words"\n')
        c.receive(b"200 result=1\n")
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(c.sent(), b"")

    def test_replies_in_one_read(self):
        """
        Two replies arriving in one read resolve two commands in order.
        """
        c = Connection(self)
        s = c.session
        a = s.get_variable("A")
        b = s.get_variable("B")
        c.receive(b"200 result=1 (a)\n")
        c.receive(b"200 result=1 (b)\n")
        self.assertEqual(
            (self.successResultOf(a), self.successResultOf(b)), ("a", "b")
        )
        self.assertEqual(c.sent(), b"GET VARIABLE A\nGET VARIABLE B\n")

    def test_command_from_a_callback_goes_last(self):
        """
        A verb issued from a result callback queues behind verbs issued
        earlier.
        """
        c = Connection(self)
        s = c.session
        order = []
        first = s.get_variable("A")
        first.addCallback(lambda _: order.append(s.get_variable("C")))
        s.get_variable("B")
        c.receive(b"200 result=0\n")
        self.assertEqual(c.sent(), b"GET VARIABLE A\nGET VARIABLE B\n")
        c.receive(b"200 result=0\n")
        self.assertEqual(c.sent(), b"GET VARIABLE C\n")


class ReplyMappingTests(SynchronousTestCase):
    """
    Replies become results or typed errors.
    """

    def reply(self, verb, line):
        c = Connection(self)
        d = verb(c.session)
        c.receive(line)
        return c, d

    def test_invalid_command(self):
        """
        510 fails with L{AGIInvalidCommand} carrying the line.
        """
        c, d = self.reply(lambda s: s.command("FOO"), b"510 Invalid or unknown command\n")
        failure = self.failureResultOf(d, AGIInvalidCommand)
        self.assertEqual(failure.value.reply.line, "510 Invalid or unknown command")

    def test_usage_error(self):
        """
        520 fails with L{AGIUsageError} carrying the lines.
        """
        c, d = self.reply(
            lambda s: s.command("GET DATA"),
            b"520-Invalid command syntax.\nusage\n520 End of proper usage.\n",
        )
        failure = self.failureResultOf(d, AGIUsageError)
        self.assertEqual(
            failure.value.lines, ("Invalid command syntax.", "usage", "End of proper usage.")
        )

    def test_exec_unknown_application(self):
        """
        EXEC of an application Asterisk does not have (-2) fails with
        L{AGICommandFailed}.
        """
        c, d = self.reply(lambda s: s.exec_("NoSuchApp"), b"200 result=-2\n")
        self.failureResultOf(d, AGICommandFailed)

    def test_malformed_reply(self):
        """
        A malformed line that looks like a reply fails the command with
        L{AGIProtocolError}; the session stays in step.
        """
        c, d = self.reply(lambda s: s.get_variable("A"), b"200 weird\n")
        self.failureResultOf(d, AGIProtocolError)
        e = c.session.get_variable("B")
        c.receive(b"200 result=1 (b)\n")
        self.assertEqual(self.successResultOf(e), "b")

    def test_garbage_line_ignored(self):
        """
        A garbage line that is no reply is ignored: the command still gets
        the real reply.
        """
        c, d = self.reply(lambda s: s.get_variable("A"), b"\x00garbage\n")
        self.assertNoResult(d)
        c.receive(b"200 result=1 (a)\n")
        self.assertEqual(self.successResultOf(d), "a")

    def test_unsolicited_reply_ignored(self):
        """
        A reply with no command in flight is ignored and does not shift
        later replies.
        """
        c = Connection(self)
        c.receive(b"200 result=0\n")
        d = c.session.get_variable("A")
        c.receive(b"200 result=1 (a)\n")
        self.assertEqual(self.successResultOf(d), "a")

    def test_digits(self):
        """
        Digit results are ASCII codes: 0 means none; stream_file also gives
        endpos; say_* and wait_for_digit give the digit.
        """
        c, d = self.reply(lambda s: s.wait_for_digit(1000), b"200 result=35\n")
        self.assertEqual(self.successResultOf(d), "#")
        c, d = self.reply(lambda s: s.say_number(42, "0123456789"), b"200 result=0\n")
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(c.sent(), b'SAY NUMBER 42 "0123456789"\n')

    def test_get_data_digits(self):
        """
        GET DATA gives the digits and whether input ended by timeout.
        """
        c, d = self.reply(lambda s: s.get_data("prompt", 3000, 4), b"200 result=12 (timeout)\n")
        self.assertEqual(self.successResultOf(d), ("12", True))
        c, d = self.reply(lambda s: s.get_data("prompt", 3000, 4), b"200 result=1234\n")
        self.assertEqual(self.successResultOf(d), ("1234", False))

    def test_raw_command(self):
        """
        C{command} gives the raw L{Reply}.
        """
        c, d = self.reply(
            lambda s: s.command("DATABASE GET", "fam", "key"), b"200 result=1 (v)\n"
        )
        self.assertEqual(self.successResultOf(d), Reply(200, "1", "v", None, {}))
        self.assertEqual(c.sent(), b"DATABASE GET fam key\n")

    def test_bad_result(self):
        """
        A non-numeric result where a number is expected fails with
        L{AGIProtocolError}.
        """
        c, d = self.reply(lambda s: s.channel_status(), b"200 result=x\n")
        self.failureResultOf(d, AGIProtocolError)


class EncodingTests(SynchronousTestCase):
    """
    Verbs send the lines Asterisk expects.
    """

    def line(self, verb):
        c = Connection(self)
        verb(c.session)
        return c.sent()

    def test_lines(self):
        """
        Each verb's line, with arguments quoted once where needed.
        """
        cases = [
            (lambda s: s.stream_file("beep"), b'STREAM FILE beep ""\n'),
            (lambda s: s.stream_file("a b", "#", 8000), b'STREAM FILE "a b" "#" 8000\n'),
            (lambda s: s.say_digits("0451", "#"), b'SAY DIGITS 0451 "#"\n'),
            (lambda s: s.say_date(1795347861), b'SAY DATE 1795347861 ""\n'),
            (lambda s: s.say_time(1795347861, "12"), b'SAY TIME 1795347861 "12"\n'),
            (lambda s: s.set_autohangup(30), b"SET AUTOHANGUP 30\n"),
            (lambda s: s.verbose('say "x"', 3), b'VERBOSE "say \\"x\\"" 3\n'),
            (lambda s: s.noop(), b"NOOP\n"),
            (lambda s: s.exec_("Dial", "PJSIP/100", 30, "tT"), b"EXEC Dial PJSIP/100,30,tT\n"),
            (lambda s: s.exec_("Set", "A=b c"), b'EXEC Set "A=b c"\n'),
            (
                lambda s: s.set_variable("V", 'quote " and \\'),
                b'SET VARIABLE V "quote \\" and \\\\"\n',
            ),
            (lambda s: s.hangup(), b"HANGUP\n"),
        ]
        for verb, expected in cases:
            self.assertEqual(self.line(verb), expected)

    def test_line_break_refused(self):
        """
        A value with a line break fails the verb with C{ValueError} and
        nothing is sent.
        """
        c = Connection(self)
        self.failureResultOf(c.session.set_variable("A", "x\ny"), ValueError)
        self.assertEqual(c.sent(), b"")


class TimeoutTests(SynchronousTestCase):
    """
    Every verb has a timeout on the injected clock.
    """

    def test_quick_command_times_out(self):
        """
        No reply within command_timeout: L{AGITimeout}, queued verbs fail with
        L{AGISessionClosed}, the connection is aborted, and a late reply is
        ignored.
        """
        c = Connection(self)
        s = c.session
        d = s.get_variable("A")
        queued = s.get_variable("B")
        c.clock.advance(9.9)
        self.assertNoResult(d)
        c.clock.advance(0.3)
        self.failureResultOf(d, AGITimeout)
        self.failureResultOf(queued, AGISessionClosed)
        self.assertTrue(c.transport.aborted)
        self.assertTrue(s.closed)
        self.failureResultOf(s.get_variable("C"), AGISessionClosed)
        c.receive(b"200 result=1 (late)\n")
        c.lose()
        self.assertTrue(s.hung_up)

    def test_wait_for_digit_timeout_follows_its_wait(self):
        """
        WAIT FOR DIGIT may take its own wait plus command_timeout.
        """
        c = Connection(self)
        d = c.session.wait_for_digit(30000)
        c.clock.advance(39.5)
        self.assertNoResult(d)
        c.clock.advance(1.0)
        self.failureResultOf(d, AGITimeout)

    def test_media_timeout(self):
        """
        STREAM FILE gets media_timeout by default, or the timeout given.
        """
        c = Connection(self)
        d = c.session.stream_file("long")
        c.clock.advance(599)
        self.assertNoResult(d)
        c.clock.advance(2)
        self.failureResultOf(d, AGITimeout)
        c = Connection(self)
        d = c.session.stream_file("long", timeout=3)
        c.clock.advance(3.2)
        self.failureResultOf(d, AGITimeout)

    def test_answered_in_time(self):
        """
        A reply in time cancels the timeout.
        """
        c = Connection(self)
        d = c.session.get_variable("A")
        c.clock.advance(5)
        c.receive(b"200 result=0\n")
        c.clock.advance(60)
        self.assertIsNone(self.successResultOf(d))
        self.assertFalse(c.transport.aborted)


class CloseTests(SynchronousTestCase):
    """
    Ending a session.
    """

    def test_close_half_closes_and_refuses_verbs(self):
        """
        close() half-closes, fails queued verbs with L{AGISessionClosed},
        lets the one in flight finish, and refuses new ones.
        """
        c = Connection(self)
        s = c.session
        in_flight = s.get_variable("A")
        queued = s.get_variable("B")
        closed = s.close()
        self.assertTrue(c.transport.write_closed)
        self.failureResultOf(queued, AGISessionClosed)
        self.failureResultOf(s.answer(), AGISessionClosed)
        c.receive(b"200 result=1 (a)\nHANGUP\n")
        self.assertEqual(self.successResultOf(in_flight), "a")
        self.assertNoResult(closed)
        c.lose()
        self.successResultOf(closed)
        self.successResultOf(s.when_closed())

    def test_close_timeout_aborts(self):
        """
        If Asterisk does not close within close_timeout, the connection is
        aborted.
        """
        c = Connection(self)
        c.session.close()
        c.clock.advance(4.5)
        self.assertFalse(c.transport.aborted)
        c.clock.advance(1)
        self.assertTrue(c.transport.aborted)

    def test_connection_lost_fails_everything(self):
        """
        Losing the connection fails the verb in flight and the queued ones
        with L{AGIConnectionLost} (an L{AGIHangup}) and fires the waiters.
        """
        c = Connection(self)
        s = c.session
        hung_up = s.when_hung_up()
        closed = s.when_closed()
        a = s.stream_file("x")
        b = s.get_variable("B")
        c.lose()
        self.failureResultOf(a, AGIConnectionLost)
        self.failureResultOf(b, AGIHangup)
        self.successResultOf(hung_up)
        self.successResultOf(closed)
        self.failureResultOf(s.get_variable("C"), AGIConnectionLost)
        self.assertIsNone(self.successResultOf(s.hangup()))

    def test_close_is_idempotent(self):
        """
        A second close() does not half-close again.
        """
        c = Connection(self)
        s = c.session
        s.close()
        c.transport.write_closed = False
        s.close()
        self.assertFalse(c.transport.write_closed)
