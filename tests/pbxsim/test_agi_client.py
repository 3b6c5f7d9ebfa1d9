"""
Tests for L{fts.pbxsim.agi_client}: how the simulator's FastAGI client
answers commands while a scripted called party acts (keys, hangup, answering
machine), beyond what the recordings show.
"""

from twisted.trial.unittest import SynchronousTestCase

from fts.pbxsim.callee import ANSWERED, CalleeModel, Override, Step, script_from
from fts.pbxsim.pbx import TransferSettings

from .replay import Line, originate


def callee(script=(), amd="HUMAN"):
    """
    Everybody answers at once and follows C{script}.
    """
    return CalleeModel(
        {ANSWERED: 1},
        ring_seconds=0,
        overrides=[Override("", outcome=ANSWERED, ring_seconds=0, rings=False, script=tuple(script), amd=amd)],
        seed=1,
    )


class AnsweredCallMixin:
    """
    Place one answered call whose FastAGI session the test drives.
    """

    script = ()
    amd = "HUMAN"
    line_options = {}

    def setUp(self):
        self.line = Line(callee(self.script, self.amd), **self.line_options)
        self.line.send(originate("5551234"))
        self.server = self.line.agi()
        self.assertTrue(self.server.received.endswith(b"\n\n"))

    def command(self, line, wait=0.0):
        return self.line.command(line, self.server, wait)


class KeyDuringPlaybackTests(AnsweredCallMixin, SynchronousTestCase):
    """
    The callee presses 5 two seconds after answering.
    """

    script = script_from(None, [(2.0, "5")])

    def test_escape_digit_interrupts(self):
        """
        A key among the escape digits ends STREAM FILE with its ASCII code
        and the position reached.
        """
        # The key arrives 2.2 s after answer (DTMFEnd): frame 111 of 20 ms.
        self.assertEqual(self.command(b'STREAM FILE demo-instruct "5#"', wait=2.5), b"200 result=53 endpos=17760\n")
        self.assertEqual(self.line.sim.tally.keys_heard, {"5": 1})

    def test_other_digit_ignored(self):
        """
        A key not among the escape digits is ignored; the file plays to its
        end (12 s here).
        """
        self.assertEqual(self.command(b'STREAM FILE demo-instruct "#"', wait=11.9), b"")
        self.line.wait(0.2)
        self.assertEqual(self.server.received.rsplit(b"\n", 2)[-2], b"200 result=0 endpos=96000")
        self.assertEqual(self.line.sim.tally.keys_lost, 1)

    def test_wait_for_digit(self):
        """
        WAIT FOR DIGIT returns the key's ASCII code.
        """
        self.assertEqual(self.command(b"WAIT FOR DIGIT 5000", wait=2.3), b"200 result=53\n")

    def test_key_while_idle_is_lost(self):
        """
        A key pressed while no command runs is lost; a later WAIT FOR DIGIT
        times out.
        """
        self.line.wait(3)
        self.assertEqual(self.command(b"WAIT FOR DIGIT 1000", wait=1.1), b"200 result=0\n")
        self.assertEqual(self.line.sim.tally.keys_lost, 1)


class CollectDigitsTests(AnsweredCallMixin, SynchronousTestCase):
    """
    The callee presses 1 then 2.
    """

    script = script_from(None, [(0.5, "1"), (1.5, "2")])

    def test_get_data(self):
        """
        GET DATA returns the keys once the maximum is reached.
        """
        self.assertEqual(self.command(b"GET DATA beep 3000 2", wait=2.0), b"200 result=12\n")

    def test_get_data_partial_timeout(self):
        """
        GET DATA that times out after some keys says so.
        """
        self.assertEqual(self.command(b"GET DATA beep 1500 4", wait=4.0), b"200 result=12 (timeout)\n")

    def test_exec_read(self):
        """
        EXEC Read stores the keys and READSTATUS OK, and returns 0.
        """
        self.assertEqual(self.command(b"EXEC Read DIGITS,beep,2,,1,5", wait=2.0), b"200 result=0\n")
        self.assertEqual(self.command(b"GET VARIABLE DIGITS"), b"200 result=1 (12)\n")
        self.assertEqual(self.command(b"GET VARIABLE READSTATUS"), b"200 result=1 (OK)\n")


class HangupTests(AnsweredCallMixin, SynchronousTestCase):
    """
    The callee hangs up 2 s after answering.
    """

    script = script_from(2.0)

    def test_notice_follows_reply(self):
        """
        The HANGUP notice comes 40 ms after the interrupted command's reply.
        """
        self.assertEqual(self.command(b"WAIT FOR DIGIT -1", wait=2.01), b"200 result=-1\n")
        self.line.wait(0.02)
        self.assertFalse(self.server.received.endswith(b"HANGUP\n"))
        self.line.wait(0.03)
        self.assertTrue(self.server.received.endswith(b"200 result=-1\nHANGUP\n"))

    def test_command_in_notice_window(self):
        """
        A command sent before the notice gets the notice first, then runs
        on the dead channel.
        """
        self.command(b"WAIT FOR DIGIT -1", wait=2.01)
        self.assertEqual(self.command(b"ANSWER"), b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n")

    def test_machine_detection_cut_by_hangup(self):
        """
        EXEC AMD during which the callee hangs up says HANGUP.
        """
        self.line.wait(1.0)
        self.assertEqual(self.command(b"EXEC AMD", wait=1.1), b"200 result=0\nHANGUP\n")
        self.assertEqual(self.command(b"GET VARIABLE AMDSTATUS"), b"200 result=1 (HANGUP)\n")
        self.assertEqual(self.line.sim.tally.amd, {"HANGUP": 1})

    def test_server_closes_mid_command(self):
        """
        A FastAGI server that drops the connection during a command ends
        the session: the call goes on to the h extension.
        """
        self.command(b'STREAM FILE demo-instruct ""')
        self.server.transport.disconnecting = True
        self.server.finish()
        self.assertEqual(len(self.line.connector.servers), 2)
        self.assertEqual(dict(self.line.agi().environment)["agi_extension"], "h")


class MachineTests(AnsweredCallMixin, SynchronousTestCase):
    """
    An answering machine answers.
    """

    amd = "MACHINE"
    script = (Step("Playback", "greeting", 30.0), Step("Hangup"))

    def test_amd_says_machine(self):
        """
        EXEC AMD answers after about 3 s with MACHINE.
        """
        self.assertEqual(self.command(b"EXEC AMD", wait=2.9), b"")
        self.line.wait(0.1)
        self.assertTrue(self.server.received.endswith(b"200 result=0\n"))
        self.assertEqual(self.command(b"GET VARIABLE AMDSTATUS"), b"200 result=1 (MACHINE)\n")
        self.assertEqual(self.command(b"GET VARIABLE AMDCAUSE"), b"200 result=1 (INITIALSILENCE-2500-2500)\n")
        self.assertEqual(self.line.sim.tally.amd, {"MACHINE": 1})


class HumanTests(AnsweredCallMixin, SynchronousTestCase):
    """
    A person answers and stays on the line.
    """

    def test_amd_says_human(self):
        """
        EXEC AMD answers after 1.5 s with HUMAN.
        """
        self.assertEqual(self.command(b"EXEC AMD", wait=1.5), b"200 result=0\n")
        self.assertEqual(self.command(b"GET VARIABLE AMDSTATUS"), b"200 result=1 (HUMAN)\n")

    def test_commands_one_at_a_time(self):
        """
        Commands sent together are answered in order, one after the other.
        """
        self.server.send(b"EXEC Wait 1\nNOOP\nGET VARIABLE FTS_CONTACT\n")
        self.assertFalse(self.server.received.endswith(b")\n"))
        self.line.wait(1.0)
        self.assertTrue(self.server.received.endswith(b"200 result=0\n200 result=0\n200 result=1 (42)\n"))

    def test_syntax_errors(self):
        """
        Wrong argument counts give the multi-line 520, unknown commands 510.
        """
        reply = self.command(b"SET VARIABLE X a b")
        self.assertTrue(reply.startswith(b"520-Invalid command syntax.  Proper usage follows:\n"))
        self.assertTrue(reply.endswith(b"520 End of proper usage.\n"))
        self.assertEqual(self.command(b"FOO BAR"), b"510 Invalid or unknown command\n")
        self.assertEqual(self.command(b"EXEC NoSuchApp x"), b"200 result=-2\n")

    def test_say_and_options(self):
        """
        SAY DIGITS plays and returns 0; CHANNEL STATUS says Up (6).
        """
        self.assertEqual(self.command(b'SAY DIGITS 123 ""', wait=1.5), b"200 result=0\n")
        self.assertEqual(self.command(b"CHANNEL STATUS"), b"200 result=6\n")

    def test_autohangup(self):
        """
        SET AUTOHANGUP hangs the channel up after that many seconds.
        """
        self.assertEqual(self.command(b"SET AUTOHANGUP 2"), b"200 result=0\n")
        self.line.wait(2.0)
        self.assertTrue(self.server.received.endswith(b"HANGUP\n"))
        self.assertEqual(self.line.sim.tally.hangups, {"autohangup": 1})

    def test_script_end_runs_h_extension(self):
        """
        When the script ends with the call up, HANGUP is sent, the call is
        hung up (cause 16) and the h extension runs with HANGUPCAUSE 16.
        """
        self.server.protocol.readConnectionLost()
        self.assertTrue(self.server.received.endswith(b"HANGUP\n"))
        self.assertTrue(self.server.transport.disconnecting)
        h = self.line.agi()
        self.assertEqual(self.line.command(b"GET FULL VARIABLE ${HANGUPCAUSE}", h), b"200 result=1 (16)\n")
        self.assertEqual(self.line.command(b"STREAM FILE beep \"\"", h), b"511 Command Not Permitted on a dead channel or intercept routine\n")
        h.protocol.readConnectionLost()
        self.assertEqual(self.line.sim.active_calls, 0)


class TransferTests(AnsweredCallMixin, SynchronousTestCase):
    """
    EXEC Dial / Queue to a transfer target.
    """

    line_options = {"transfer": TransferSettings("ANSWER", ring_seconds=3, talk_seconds=10)}

    def test_dial_answered_then_target_hangs_up(self):
        """
        The target answers after 3 s and talks 10 s; then the caller is hung
        up too: -1, DIALSTATUS ANSWER.
        """
        self.assertEqual(self.command(b"EXEC Dial PJSIP/agent,30", wait=13.0), b"200 result=-1\n")
        self.assertEqual(self.command(b"GET VARIABLE DIALSTATUS"), b"HANGUP\n200 result=1 (ANSWER)\n")
        self.assertEqual(self.line.sim.tally.hangups, {"transfer": 1})

    def test_dial_go_on(self):
        """
        With the g option the caller stays up and Dial returns 0.
        """
        self.assertEqual(self.command(b"EXEC Dial PJSIP/agent,30,g", wait=13.0), b"200 result=0\n")
        self.assertEqual(self.command(b"GET VARIABLE ANSWEREDTIME"), b"200 result=1 (10)\n")

    def test_dial_timeout(self):
        """
        A Dial timeout shorter than the ring gives NOANSWER.
        """
        self.assertEqual(self.command(b"EXEC Dial PJSIP/agent,2", wait=2.0), b"200 result=0\n")
        self.assertEqual(self.command(b"GET VARIABLE DIALSTATUS"), b"200 result=1 (NOANSWER)\n")

    def test_queue(self):
        """
        EXEC Queue behaves like an answered Dial.
        """
        self.assertEqual(self.command(b"EXEC Queue sales", wait=13.0), b"200 result=-1\n")
