"""
The simulator's FastAGI client, compared with real Asterisk 22 recordings:
the recorded FastAGI server scripts run against it (inside the replay of the
AMI scenario they belong to), and the bytes it sends must be those Asterisk
sent, except ids (thread id, channel sequence, Uniqueid) and playback
positions within one 20 ms frame.
"""

import re

from twisted.trial.unittest import SynchronousTestCase

from .replay import agi_chooser, agi_script, replay_ami, simulator
from .test_ami_transcripts import ANSWERED, CONCURRENT, DURING_COMMANDS, LONG_CALL, MIDWAY

SCENARIOS = {
    "ami-login-and-originate-answered": ANSWERED,
    "ami-originate-answered-hangup-midway": MIDWAY,
    "ami-coreshowchannels": LONG_CALL,
    "ami-originate-concurrent": CONCURRENT,
    "ami-originate-hangup-during-commands": DURING_COMMANDS,
}
_ENDPOS = re.compile(r"^200 result=(-?\d+) endpos=(\d+)$")


def normalize(text):
    text = re.sub(r"agi_threadid: \d+", "agi_threadid: N", text)
    text = re.sub(r"(agi_channel: Local/[^@]+@[^\n]+)-[0-9a-f]{8};", r"\1-SEQ;", text)
    return re.sub(r"agi_uniqueid: \d+\.\d+", "agi_uniqueid: ID", text)


def sessions(scenario):
    """
    Replay C{scenario}; return C{{transcript name: ScriptedAGIServer}}.
    """
    mapping = SCENARIOS[scenario]
    sim, connector = simulator(like=scenario)
    connector.choose = agi_chooser(mapping, clock=sim.clock, ami=scenario)
    replay_ami(sim, scenario)
    found = {}
    for server in connector.servers:
        env = dict(server.environment)
        number = env["agi_channel"].split("/", 1)[1].split("@", 1)[0]
        name = mapping.get((number, env["agi_extension"]))
        if name is not None:
            found[name] = server
    return found


class RecordedSessionTests(SynchronousTestCase):
    """
    Every recorded FastAGI session, replayed.
    """

    def assertSameBytes(self, name, server):
        recorded = normalize(agi_script(name)[2].decode()).split("\n")
        produced = normalize(server.received.decode()).split("\n")
        self.assertEqual(len(recorded), len(produced), "%s: %r" % (name, produced))
        for want, got in zip(recorded, produced):
            w, g = _ENDPOS.match(want), _ENDPOS.match(got)
            if w and g:
                self.assertEqual(w.group(1), g.group(1), name)
                self.assertLessEqual(abs(int(w.group(2)) - int(g.group(2))), 160, (name, want, got))
            else:
                self.assertEqual(want, got, name)

    def check(self, scenario, count):
        found = sessions(scenario)
        self.assertEqual(len(found), count)
        for name, server in sorted(found.items()):
            self.assertSameBytes(name, server)
        return found

    def test_answered_with_key_during_stream_file(self):
        """
        1001: environment, ANSWER, GET VARIABLE (set, unset), GET FULL
        VARIABLE, SET VARIABLE, CHANNEL STATUS, STREAM FILE cut by the
        callee's key 1 (result=49), WAIT FOR DIGIT and GET DATA timeouts,
        VERBOSE, EXEC Playback, NOOP, 510, 520 usage, HANGUP then 511s, and
        the dead h-extension session.
        """
        found = self.check("ami-login-and-originate-answered", 2)
        self.assertIn(b"200 result=49 endpos=", found["agi-session-answered-dtmf"].received)

    def test_hangup_midway(self):
        """
        5001: STREAM FILE returns -1 with endpos, then HANGUP; dead-channel
        commands; h extension with HANGUPCAUSE 16.
        """
        self.check("ami-originate-answered-hangup-midway", 2)

    def test_machine_detection_and_ami_hangup(self):
        """
        6001: EXEC AMD gives MACHINE / INITIALSILENCE-2500-2500; STREAM FILE
        cut by Action: Hangup.
        """
        found = self.check("ami-coreshowchannels", 2)
        self.assertIn(b"200 result=1 (MACHINE)\n", found["agi-session-amd-and-ami-hangup"].received)

    def test_idle_key_lost_idle_hangup_and_script_end(self):
        """
        9001's key while idle is lost and its hangup while idle is an
        unsolicited HANGUP; 6002's script ends with the call up and still
        gets HANGUP; the h session has agi_uniqueid from ChannelId.
        """
        found = self.check("ami-originate-concurrent", 3)
        self.assertIn(b"agi_uniqueid: fts-42-a\n", found["agi-session-h-extension-assigned-uniqueid"].received)

    def test_hangup_during_each_blocking_command(self):
        """
        WAIT FOR DIGIT, GET DATA and EXEC Playback return -1, EXEC Read
        returns 0; each followed by HANGUP.
        """
        self.check("ami-originate-hangup-during-commands", 4)


class EnvironmentTests(SynchronousTestCase):
    """
    The agi_* environment block.
    """

    def setUp(self):
        self.found = sessions("ami-login-and-originate-answered")

    def test_keys_in_recorded_order(self):
        """
        The environment has the recorded keys in the recorded order.
        """
        for name, server in self.found.items():
            recorded = agi_script(name)[2].decode().split("\n\n", 1)[0]
            keys = [line.split(": ", 1)[0] for line in recorded.split("\n")]
            self.assertEqual([k for k, _ in server.environment], keys)

    def test_two_writes(self):
        """
        The environment comes in two writes: up to agi_context, then the
        rest with the empty line.
        """
        server = self.found["agi-session-answered-dtmf"]
        first, second = server.transport.writes[:2]
        self.assertTrue(first.endswith(b"agi_context: fts-campaign\n"))
        self.assertTrue(second.startswith(b"agi_extension: 1001\n"))
        self.assertTrue(second.endswith(b"\n\n"))

    def test_h_extension_arguments(self):
        """
        The h session runs script hangup with agi_arg_1 h-extension.
        """
        env = dict(self.found["agi-session-h-extension"].environment)
        self.assertEqual(env["agi_network_script"], "hangup")
        self.assertEqual(env["agi_extension"], "h")
        self.assertEqual(env["agi_arg_1"], "h-extension")
