"""
The simulator's AMI output, compared with real Asterisk 22 recordings: for
each scenario the recorded client's actions are replayed at their recorded
times (and the recorded FastAGI scripts run against the simulator's FastAGI
client), then the simulator's events and responses must have the same names,
header names in the same order, and the same values except ids and times.
"""

from twisted.trial.unittest import SynchronousTestCase

from .replay import (
    RecordingAssertions,
    agi_chooser,
    parse_ami,
    recorded_connections,
    replay_ami,
    simulator,
)

ANSWERED = {
    ("1001", "1001"): "agi-session-answered-dtmf",
    ("1001", "h"): "agi-session-h-extension",
}
MIDWAY = {
    ("5001", "5001"): "agi-session-hangup-midway",
    ("5001", "h"): "agi-session-hangup-midway-h-extension",
}
LONG_CALL = {
    ("6001", "6001"): "agi-session-amd-and-ami-hangup",
    ("6001", "h"): "agi-session-amd-and-ami-hangup-h-extension",
}
CONCURRENT = {
    ("9001", "9001"): "agi-session-idle-dtmf-and-idle-hangup",
    ("9001", "h"): "agi-session-h-extension-assigned-uniqueid",
    ("6002", "6002"): "agi-session-script-ends-channel-up",
}
DURING_COMMANDS = {
    ("5002", "5002"): "agi-session-hangup-during-wait-for-digit",
    ("5003", "5003"): "agi-session-hangup-during-get-data",
    ("5004", "5004"): "agi-session-hangup-during-exec-playback",
    ("5005", "5005"): "agi-session-hangup-during-exec-read",
}
# For the 5010 call no FastAGI side was recorded: a plain script that is in
# STREAM FILE when the callee hangs up 2 s after answer, and ends 1 s later.
PLAIN_SCRIPT = (
    [(0.0, b"ANSWER\n"), (0.0, b"GET VARIABLE FTS_CONTACT\n"), (0.0, b'STREAM FILE demo-instruct "0123456789"\n')],
    3.0,
)


class ScenarioTests(RecordingAssertions, SynchronousTestCase):
    """
    Each recorded AMI scenario, replayed.
    """

    def replay(self, name, agi=None, default=None, at=None, **kwargs):
        sim, connector = simulator(like=name, **kwargs)
        connector.choose = agi_chooser(agi or {}, default, clock=sim.clock, ami=name)
        if at is not None:
            at = {offset: getattr(sim, method) for offset, method in at.items()}
        produced = replay_ami(sim, name, at=at)
        recorded = [got for _, _, got in recorded_connections(name)]
        self.assertEqual(len(recorded), len(produced))
        for want, got in zip(recorded, produced):
            self.assertMatchesRecording(want, got)
        return sim, connector, produced

    def test_answered(self):
        """
        1001 answers, presses 1 during STREAM FILE, our AGI hangs up: the
        full event flow of both halves and both AGI sessions matches.
        """
        sim, connector, _ = self.replay("ami-login-and-originate-answered", ANSWERED)
        self.assertEqual(len(connector.servers), 2)
        self.assertEqual(sim.tally.keys_heard, {"1": 1})
        self.assertEqual(sim.active_calls, 0)

    def test_busy(self):
        """
        2001 is busy: OriginateResponse Failure Reason 5, causes 17 and 0.
        """
        sim, _, _ = self.replay("ami-originate-busy")
        self.assertEqual(sim.tally.outcomes, {"busy": 1})

    def test_congestion(self):
        """
        3001 is congested: Reason 8, cause 34, Newstate Busy.
        """
        sim, _, _ = self.replay("ami-originate-congestion")
        self.assertEqual(sim.tally.outcomes, {"congestion": 1})

    def test_no_answer_ringing(self):
        """
        4001 rings until the 15 s Originate timeout: DialState RINGING, no
        DialEnd, Reason 3, cause 19.
        """
        sim, _, _ = self.replay("ami-originate-noanswer")
        self.assertEqual(sim.tally.outcomes, {"no_answer": 1})

    def test_no_answer_silent(self):
        """
        7001 never answers nor rings: Reason 3 without any DialState.
        """
        self.replay("ami-originate-noanswer-noring")

    def test_rejected(self):
        """
        8001 rejects with cause 21: DialEnd NOANSWER, Reason 0.
        """
        sim, _, _ = self.replay("ami-originate-rejected")
        self.assertEqual(sim.tally.outcomes, {"rejected": 1})

    def test_far_end_hangs_up_midway(self):
        """
        5001 hangs up during STREAM FILE: HangupRequest on ;1, Hangup ;2
        cause 16 at once, Hangup ;1 only after both AGI sessions.
        """
        sim, _, _ = self.replay("ami-originate-answered-hangup-midway", MIDWAY)
        self.assertEqual(sim.tally.hangups, {"callee": 1})

    def test_core_show_channels_status_getvar_hangup(self):
        """
        The long 6001 call: CoreShowChannels, Status (all, one with
        Variables), Getvar (set, AMD result, unset), Action: Hangup, then
        CoreShowChannels still listing both halves while the AGI runs.
        """
        sim, _, _ = self.replay("ami-coreshowchannels", LONG_CALL)
        self.assertEqual(sim.tally.amd, {"MACHINE": 1})
        self.assertEqual(sim.tally.hangups, {"ami": 1})

    def test_concurrent(self):
        """
        Four Originates back to back (ChannelId on the first): every
        call's events match, whatever the interleaving.
        """
        sim, _, produced = self.replay("ami-originate-concurrent", CONCURRENT)
        uniqueids = {m.get("Uniqueid") for m in parse_ami(produced[0]) if m.get("Channel", "").startswith("Local/9001")}
        self.assertEqual(uniqueids, {"fts-42-a", "fts-42-b"})
        self.assertEqual(sim.tally.keys_lost, 1)

    def test_hangup_during_commands(self):
        """
        5002-5005 hang up during WAIT FOR DIGIT, GET DATA, EXEC Playback and
        EXEC Read (READSTATUS ERROR then HANGUP).
        """
        self.replay("ami-originate-hangup-during-commands", DURING_COMMANDS)

    def test_agi_server_down(self):
        """
        The FastAGI server is unreachable: AGISTATUS=FAILURE on both AGI
        attempts and the call is hung up at once with cause 16.
        """
        sim, _, _ = self.replay("ami-originate-agi-server-down", refuse=True)
        self.assertEqual(sim.tally.agi_failures, 2)

    def test_errors(self):
        """
        Wrong secret, action before login, Login without Username, unknown
        action, no Action, bad Originates, unknown technology, missing Local
        extension, synchronous busy Originate, actions on a missing channel,
        Command and CoreSettings: three connections as recorded.
        """
        self.replay("ami-errors", capacity=25)

    def test_event_mask_call(self):
        """
        Login with Events: call: no FullyBooted, SuccessfulAuth, VarSet,
        Newexten or AGIExec, but every call event.
        """
        self.replay("ami-login-eventmask-call", default=PLAIN_SCRIPT)

    def test_shutdown(self):
        """
        Stopping the simulator sends Event: Shutdown and closes the session.
        """
        self.replay("ami-shutdown", at={0.502: "stopService"})
