"""
Tests for L{fts.callflow.flow}: the call flow driven by the PBX simulator's
FastAGI client and scripted callees, through the real FastAGI server, on a
Clock (see L{tests.callflow.support}).

Timeline of the test campaign from the answer (seconds): hello 0-4, menu
prompt 4-7, wait for a key 7-12; a key pressed at C{t} reaches the flow at
C{t + 0.2}.
"""

from twisted.trial.unittest import SynchronousTestCase

from fts.callflow.playlist import prepare
from fts.core.campaign import Action, AmdMode, KeyOption
from fts.events import model as M
from fts.pbxsim.pbx import TransferSettings

from .support import (
    ASSETS,
    CAMPAIGN,
    OPTIONS,
    Harness,
    campaign_settings,
    hangs_up,
    keys,
    machine,
)


def streamed(harness, name, session=0):
    """How many times the flow streamed C{/sounds/<name>}."""
    prefix = "STREAM FILE /sounds/%s " % (name,)
    return sum(1 for line in harness.sent(session) if line.startswith(prefix))


class ListeningTests(SynchronousTestCase):
    """
    Callees who listen and press nothing.
    """

    def test_listens_and_hangs_up(self):
        """
        A callee who hears the whole message and hangs up while the flow
        waits for a key leaves answered, amd off and message_complete, and
        the flow ends without a HANGUP of ours.
        """
        h = Harness(self, script=hangs_up(9.0))
        call = h.call_once()
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.MESSAGE_COMPLETE])
        self.assertEqual(h.payloads(M.AMD), [{"verdict": "off"}])
        self.assertEqual((call.amd, call.keys, call.option_key, call.opted_out),
                         ("off", "", None, False))
        self.assertEqual(h.flows[0].state, "menu")
        self.assertNotIn("HANGUP", h.sent())
        self.assertEqual(h.tally.hangups, {"callee": 1})

    def test_commands_in_order(self):
        """
        The flow sets the max call duration, streams the parts with the
        option keys as escape digits, then waits for a key at once.
        """
        h = Harness(self, script=hangs_up(9.0))
        h.call_once()
        self.assertEqual(h.sent(), [
            "SET AUTOHANGUP 600",
            'STREAM FILE /sounds/hello "123490"',
            'STREAM FILE /sounds/menu "123490"',
            "WAIT FOR DIGIT 5000",
        ])

    def test_never_presses(self):
        """
        With no key the no-key prompt and the message are replayed the
        configured number of times, then the flow hangs up; the message
        counts as heard once.
        """
        h = Harness(self, settings=campaign_settings(silent_replays=2))
        call = h.call_once()
        self.assertEqual(streamed(h, "hello"), 3)
        self.assertEqual(streamed(h, "no-key"), 2)
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.MESSAGE_COMPLETE])
        self.assertEqual(h.sent()[-1], "HANGUP")
        self.assertEqual(h.flows[0].silent_replays, 2)
        self.assertEqual(call.keys, "")
        self.assertEqual(h.tally.hangups, {"agi": 1})

    def test_no_replay_configured(self):
        """
        With zero no-key replays the call ends after the first wait.
        """
        h = Harness(self, settings=campaign_settings(silent_replays=0))
        h.call_once()
        self.assertEqual(h.sent()[-2:], ["WAIT FOR DIGIT 5000", "HANGUP"])
        self.assertEqual(streamed(h, "hello"), 1)

    def test_no_options(self):
        """
        A message without options is played without escape digits and the
        call ends: no wait for a key.
        """
        h = Harness(self, settings=campaign_settings(options=()))
        h.call_once()
        self.assertEqual(h.sent(), [
            "SET AUTOHANGUP 600",
            'STREAM FILE /sounds/hello ""',
            'STREAM FILE /sounds/menu ""',
            "HANGUP",
        ])
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.MESSAGE_COMPLETE])

    def test_event_keys(self):
        """
        Once-per-call facts use the keys the dialer uses (C{<call>:answered}
        dedupes with its own answered event); keys pressed are numbered.
        """
        h = Harness(self, script=keys((8.0, "1")))
        call = h.call_once()
        ids = [event.key for event in h.events]
        self.assertEqual(ids, ["%d:answered" % call.call_id, "%d:amd" % call.call_id,
                               "%d:message_complete" % call.call_id,
                               "%d:1" % call.call_id, "%d:2" % call.call_id])
        self.assertTrue(all(e.campaign_id == CAMPAIGN for e in h.events))

    def test_h_extension_session_closes(self):
        """
        The h extension's connection (dead channel) is closed at once,
        without a command.
        """
        h = Harness(self, script=hangs_up(2.0))
        h.call_once()
        self.assertEqual(len(h.pipes), 2)
        self.assertEqual(h.sent(1), [])
        self.assertTrue(all(p.closed for p in h.pipes))
        self.assertEqual(h.server.counts().failed, 0)
        self.assertEqual(h.server.counts().connections, 0)

    def test_language(self):
        """
        A playlist in another language than the channel's sets
        CHANNEL(language) first.
        """
        h = Harness(self, script=hangs_up(1.0))
        h.place(language="fr")
        h.run()
        self.assertEqual(h.sent()[0], "SET VARIABLE CHANNEL(language) fr")


class KeyTests(SynchronousTestCase):
    """
    The callee presses each configured key.
    """

    def option(self, key):
        return {"key": key, "action": str(self.action(key)), "label": self.label(key)}

    def action(self, key):
        return next(o.action for o in OPTIONS if o.key == key)

    def label(self, key):
        return next(o.label for o in OPTIONS if o.key == key)

    def test_record(self):
        """
        Key 1 (record) during the wait: key and option events, the option's
        message, HANGUP; the key is noted on the call.
        """
        h = Harness(self, script=keys((8.0, "1")))
        call = h.call_once()
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.MESSAGE_COMPLETE, M.KEY, M.OPTION])
        self.assertEqual(h.payloads(M.KEY), [{"key": "1"}])
        self.assertEqual(h.payloads(M.OPTION), [self.option("1")])
        self.assertEqual(h.sent()[-3:], [
            "WAIT FOR DIGIT 5000", 'STREAM FILE /sounds/thanks ""', "HANGUP"])
        self.assertEqual((call.keys, call.option_key), ("1", "1"))
        self.assertEqual(h.tally.keys_heard, {"1": 1})

    def test_barge_in(self):
        """
        An option key during the message interrupts it and runs the option
        at once: the message is not complete.
        """
        h = Harness(self, script=keys((2.0, "1")))
        call = h.call_once()
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.KEY, M.OPTION])
        self.assertEqual(streamed(h, "menu"), 0)
        self.assertEqual(call.option_key, "1")
        self.assertEqual(h.flows[0].history, ["answered", "message", "action", "end"])

    def test_repeat(self):
        """
        Key 2 replays the message; the repeats are bounded (here once), and
        a second 2 beyond the bound ends the call.
        """
        h = Harness(self, script=keys((8.0, "2"), (16.0, "2")), max_repeats=1)
        call = h.call_once()
        self.assertEqual(streamed(h, "hello"), 2)
        self.assertEqual(h.payloads(M.OPTION), [self.option("2"), self.option("2")])
        self.assertEqual(h.flows[0].repeats, 1)
        self.assertEqual(call.keys, "22")
        self.assertEqual(h.sent()[-1], "HANGUP")

    def test_queue_answered(self):
        """
        Key 3 transfers to the queue; when the agent answers, talks and
        hangs up, the transfer is recorded as ANSWER (QUEUESTATUS unset)
        and the flow ends with the channel.
        """
        h = Harness(self, script=keys((8.0, "3")),
                    transfer=TransferSettings("ANSWER", ring_seconds=3, talk_seconds=20))
        call = h.call_once()
        self.assertEqual(h.kinds()[-3:], [M.KEY, M.OPTION, M.TRANSFER])
        self.assertEqual(h.payloads(M.TRANSFER), [{"target": "sales", "result": "ANSWER"}])
        self.assertIn("EXEC Queue sales", h.sent())
        self.assertNotIn("HANGUP", h.sent())
        self.assertEqual(call.option_key, "3")
        self.assertEqual(h.tally.hangups, {"transfer": 1})

    def test_queue_timeout(self):
        """
        A queue nobody answers: the transfer is recorded with QUEUESTATUS,
        then the flow hangs up.
        """
        h = Harness(self, script=keys((8.0, "3")),
                    transfer=TransferSettings("NOANSWER", ring_seconds=10))
        h.call_once()
        self.assertEqual(h.payloads(M.TRANSFER), [{"target": "sales", "result": "TIMEOUT"}])
        self.assertEqual(h.sent()[-2:], ["GET VARIABLE QUEUESTATUS", "HANGUP"])

    def test_dial_answered(self):
        """
        Key 4 plays its message, dials the number through the dial string
        with the ring timeout, and records DIALSTATUS ANSWER.
        """
        h = Harness(self, script=keys((8.0, "4")),
                    transfer=TransferSettings("ANSWER", ring_seconds=3, talk_seconds=20))
        h.call_once()
        sent = h.sent()
        index = sent.index("EXEC Dial Local/5551000@transfer,30")
        self.assertEqual(sent[index - 1], 'STREAM FILE /sounds/transferring ""')
        self.assertEqual(h.payloads(M.TRANSFER),
                         [{"target": "Local/5551000@transfer", "result": "ANSWER"}])

    def test_dial_busy(self):
        """
        A busy transfer target is recorded as BUSY and the flow hangs up.
        """
        h = Harness(self, script=keys((8.0, "4")),
                    transfer=TransferSettings("BUSY", ring_seconds=1))
        h.call_once()
        self.assertEqual(h.payloads(M.TRANSFER),
                         [{"target": "Local/5551000@transfer", "result": "BUSY"}])
        self.assertEqual(h.sent()[-1], "HANGUP")

    def test_dial_ring_timeout(self):
        """
        A target that rings past the transfer ring timeout is NOANSWER.
        """
        h = Harness(self, script=keys((8.0, "4")), transfer_ring_timeout=2,
                    transfer=TransferSettings("ANSWER", ring_seconds=5))
        h.call_once()
        self.assertIn("EXEC Dial Local/5551000@transfer,2", h.sent())
        self.assertEqual(h.payloads(M.TRANSFER)[0]["result"], "NOANSWER")

    def test_dial_string_target(self):
        """
        A target that is already a dial string is dialed as it is; the
        campaign's dial string template wins over the default for numbers.
        """
        options = (KeyOption("5", Action.DIAL, "desk", target="PJSIP/1000"),)
        h = Harness(self, script=keys((8.0, "5")), settings=campaign_settings(options=options),
                    transfer=TransferSettings("BUSY", ring_seconds=1))
        h.call_once()
        self.assertIn("EXEC Dial PJSIP/1000,30", h.sent())

    def test_opt_out(self):
        """
        Key 9 emits opt_out with the phone at once, plays the confirmation
        without barge-in, then hangs up.
        """
        h = Harness(self, script=keys((8.0, "9")))
        call = h.call_once(phone="15557654321")
        self.assertEqual(h.kinds()[-3:], [M.KEY, M.OPTION, M.OPT_OUT])
        self.assertEqual(h.payloads(M.OPT_OUT), [{"phone": "15557654321"}])
        self.assertEqual(h.sent()[-2:], ['STREAM FILE /sounds/opted-out ""', "HANGUP"])
        self.assertTrue(call.opted_out)
        self.assertEqual(call.option_key, "9")

    def test_hangup_option(self):
        """
        Key 0 (hang up) records the option and hangs up.
        """
        h = Harness(self, script=keys((8.0, "0")))
        call = h.call_once()
        self.assertEqual(h.payloads(M.OPTION), [self.option("0")])
        self.assertEqual(h.sent()[-2:], ["WAIT FOR DIGIT 5000", "HANGUP"])
        self.assertEqual(call.option_key, "0")


class InvalidKeyTests(SynchronousTestCase):
    """
    Keys that no option uses.
    """

    def test_invalid_key_replays_then_ends(self):
        """
        An invalid key plays the invalid-key prompt and the message again;
        once the replays are used up, another invalid key ends the call.
        """
        h = Harness(self, script=keys((8.0, "7"), (18.0, "7")))
        call = h.call_once()
        self.assertEqual(h.payloads(M.KEY), [{"key": "7"}, {"key": "7"}])
        self.assertEqual(M.OPTION in h.kinds(), False)
        self.assertEqual(streamed(h, "invalid"), 1)
        self.assertEqual(streamed(h, "hello"), 2)
        self.assertEqual(h.sent()[-1], "HANGUP")
        self.assertEqual((call.keys, call.option_key), ("77", None))
        self.assertEqual(h.flows[0].invalid_replays, 1)

    def test_invalid_then_valid(self):
        """
        After an invalid key, a valid key during the replay runs its option.
        """
        h = Harness(self, script=keys((8.0, "7"), (11.0, "1")))
        call = h.call_once()
        self.assertEqual((call.keys, call.option_key), ("71", "1"))
        self.assertEqual(h.payloads(M.OPTION)[0]["key"], "1")

    def test_invalid_key_during_message_ignored(self):
        """
        A key that is not an option does not interrupt the message.
        """
        h = Harness(self, script=keys((2.0, "7"), hangup_after=9.0))
        call = h.call_once()
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.MESSAGE_COMPLETE])
        self.assertEqual(call.keys, "")
        self.assertEqual(h.tally.keys_lost, 1)


class MachineTests(SynchronousTestCase):
    """
    Answering machines (C{EXEC AMD} says MACHINE after about 3 s) under each
    AMD setting.
    """

    def harness(self, mode, amd="MACHINE", script=None, **options):
        return Harness(self, script=machine() if script is None else script, amd=amd,
                       settings=campaign_settings(amd=mode), **options)

    def test_off(self):
        """
        AMD off: no detection; the verdict off is recorded and the message
        plays.
        """
        h = self.harness(AmdMode.OFF)
        call = h.call_once()
        self.assertFalse(any(line.startswith("EXEC AMD") for line in h.sent()))
        self.assertEqual(call.amd, "off")
        self.assertEqual(streamed(h, "hello"), 2)

    def test_hangup_mode(self):
        """
        Detect and hang up: the verdict and cause are recorded, nothing is
        played, the flow hangs up.
        """
        h = self.harness(AmdMode.HANGUP)
        call = h.call_once()
        self.assertEqual(h.sent(), ["SET AUTOHANGUP 600", "EXEC AMD",
                                    "GET FULL VARIABLE ${AMDSTATUS}|${AMDCAUSE}", "HANGUP"])
        self.assertEqual(h.payloads(M.AMD),
                         [{"verdict": "machine", "cause": "INITIALSILENCE-2500-2500"}])
        self.assertEqual(call.amd, "machine")
        self.assertEqual(h.flows[0].history, ["answered", "amd", "end"])

    def test_hangup_mode_human(self):
        """
        Detect and hang up, a person answers: the message plays.
        """
        h = self.harness(AmdMode.HANGUP, amd="HUMAN", script=keys((8.0, "1")))
        call = h.call_once()
        self.assertEqual(h.payloads(M.AMD), [{"verdict": "human", "cause": "HUMAN-800-800"}])
        self.assertEqual((call.amd, call.option_key), ("human", "1"))

    def test_machine_message(self):
        """
        Detect and leave a message: after waiting for the greeting to end,
        the machine message plays without barge-in and counts as heard;
        then the flow hangs up.
        """
        h = self.harness(AmdMode.MACHINE_MESSAGE)
        call = h.call_once()
        self.assertEqual(h.sent()[-3:], [
            "EXEC WaitForSilence 1500,1,20", 'STREAM FILE /sounds/machine ""', "HANGUP"])
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.MESSAGE_COMPLETE])
        self.assertEqual(h.payloads(M.MESSAGE_COMPLETE), [{"message": "machine"}])
        self.assertEqual(streamed(h, "hello"), 0)
        self.assertEqual(call.amd, "machine")

    def test_no_wait_for_silence_application(self):
        """
        Without WaitForSilence in Asterisk (the simulator has none) the
        machine message plays at once, and later calls do not try again.
        """
        h = self.harness(AmdMode.MACHINE_MESSAGE)
        h.call_once("15550000001")
        h.call_once("15550000002")
        self.assertEqual(h.commands()["EXEC"], 3)
        self.assertNotIn("EXEC WaitForSilence 1500,1,20", h.sent(2))
        self.assertEqual(streamed(h, "machine", 2), 1)

    def test_machine_message_without_wait(self):
        """
        C{machine_silence=None}: the machine message plays as soon as AMD
        says machine.
        """
        h = self.harness(AmdMode.MACHINE_MESSAGE, machine_silence=None)
        h.call_once()
        self.assertEqual(h.sent()[-3:], [
            "GET FULL VARIABLE ${AMDSTATUS}|${AMDCAUSE}", 'STREAM FILE /sounds/machine ""',
            "HANGUP"])

    def test_machine_message_mode_human(self):
        """
        Detect and leave a message, a person answers: the normal message.
        """
        h = self.harness(AmdMode.MACHINE_MESSAGE, amd="HUMAN", script=hangs_up(9.0))
        h.call_once()
        self.assertEqual(streamed(h, "machine"), 0)
        self.assertEqual(streamed(h, "hello"), 1)

    def test_treat_as_human(self):
        """
        Detect and treat as human: the machine verdict is recorded and the
        normal message plays.
        """
        h = self.harness(AmdMode.TREAT_AS_HUMAN)
        call = h.call_once()
        self.assertEqual(call.amd, "machine")
        self.assertEqual(h.payloads(M.AMD)[0]["verdict"], "machine")
        self.assertEqual(streamed(h, "hello"), 2)
        self.assertEqual(streamed(h, "machine"), 0)

    def test_notsure(self):
        """
        NOTSURE is recorded and the callee is treated as a person.
        """
        h = self.harness(AmdMode.HANGUP, amd="NOTSURE", script=hangs_up(12.0))
        call = h.call_once()
        self.assertEqual(call.amd, "notsure")
        self.assertEqual(h.payloads(M.AMD), [{"verdict": "notsure", "cause": "TOOLONG-5000"}])
        self.assertEqual(streamed(h, "hello"), 1)

    def test_parameters(self):
        """
        The campaign's AMD parameters are the application's arguments, in
        order.
        """
        settings = campaign_settings(amd=AmdMode.HANGUP, amd_parameters={
            "initial_silence": 2500, "greeting": 1500, "total_analysis_time": 5000})
        h = Harness(self, script=machine(), amd="MACHINE", settings=settings)
        h.call_once()
        self.assertIn("EXEC AMD 2500,1500,,5000", h.sent())


class HangupTests(SynchronousTestCase):
    """
    The callee hangs up in the middle of each step: the flow records what
    it saw and ends cleanly, sending nothing more.
    """

    def check_clean_end(self, h, state):
        self.assertEqual(h.flows[0].state, state)
        self.assertNotIn("HANGUP", h.sent())
        self.assertEqual(h.server.counts().failed, 0)
        self.assertTrue(all(p.closed for p in h.pipes))
        self.assertEqual(h.tally.hangups, {"callee": 1})

    def test_during_amd(self):
        """
        During detection: answered only, no verdict.
        """
        h = Harness(self, script=hangs_up(1.0), amd="HUMAN",
                    settings=campaign_settings(amd=AmdMode.HANGUP))
        call = h.call_once()
        self.assertEqual(h.kinds(), [M.ANSWERED])
        self.assertIsNone(call.amd)
        self.check_clean_end(h, "amd")

    def test_during_message(self):
        """
        During the message: no message_complete.
        """
        h = Harness(self, script=hangs_up(5.0))
        h.call_once()
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD])
        self.check_clean_end(h, "message")

    def test_during_menu_wait(self):
        """
        During the wait for a key: the message counts as heard.
        """
        h = Harness(self, script=hangs_up(10.0))
        h.call_once()
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.MESSAGE_COMPLETE])
        self.check_clean_end(h, "menu")

    def test_during_replay(self):
        """
        During the no-key prompt of a replay.
        """
        h = Harness(self, script=hangs_up(13.0))
        h.call_once()
        self.assertEqual(h.flows[0].state, "message")
        self.assertEqual(h.flows[0].silent_replays, 1)
        self.check_clean_end(h, "message")

    def test_during_transfer(self):
        """
        While the transfer target rings: the transfer is recorded as
        CANCEL.
        """
        h = Harness(self, script=keys((8.0, "4"), hangup_after=10.0),
                    transfer=TransferSettings("ANSWER", ring_seconds=5))
        h.call_once()
        self.assertEqual(h.payloads(M.TRANSFER),
                         [{"target": "Local/5551000@transfer", "result": "CANCEL"}])
        self.check_clean_end(h, "action")

    def test_during_queue(self):
        """
        While waiting in the queue: QUEUESTATUS CANCEL is recorded.
        """
        h = Harness(self, script=keys((8.0, "3"), hangup_after=10.0),
                    transfer=TransferSettings("ANSWER", ring_seconds=5))
        h.call_once()
        self.assertEqual(h.payloads(M.TRANSFER), [{"target": "sales", "result": "CANCEL"}])
        self.check_clean_end(h, "action")

    def test_during_opt_out_confirmation(self):
        """
        During the opt-out confirmation: the opt-out is already recorded.
        """
        h = Harness(self, script=keys((7.5, "9"), hangup_after=9.0))
        call = h.call_once()
        self.assertEqual(h.kinds()[-1], M.OPT_OUT)
        self.assertTrue(call.opted_out)
        self.check_clean_end(h, "action")

    def test_during_machine_message(self):
        """
        A machine that hangs up during its message: no message_complete.
        """
        h = Harness(self, script=hangs_up(5.0), amd="MACHINE", machine_silence=None,
                    settings=campaign_settings(amd=AmdMode.MACHINE_MESSAGE))
        call = h.call_once()
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD])
        self.assertEqual(call.amd, "machine")
        self.check_clean_end(h, "machine_message")

    def test_max_call_duration(self):
        """
        The campaign's max call duration is Asterisk's autohangup: a call
        still playing then is cut, and the flow ends.
        """
        h = Harness(self, settings=campaign_settings(max_call_duration=10),
                    durations={"/sounds/hello": 60.0})
        h.call_once()
        self.assertEqual(h.sent()[0], "SET AUTOHANGUP 10")
        self.assertEqual(h.tally.hangups, {"autohangup": 1})
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD])
        self.assertEqual(h.flows[0].state, "message")


class FindingTheCallTests(SynchronousTestCase):
    """
    Sessions whose call is not (fully) known.
    """

    def test_unknown_channel(self):
        """
        A session whose uniqueid and FTS_CALL match no call in flight is
        hung up, with nothing recorded.
        """
        h = Harness(self)
        h.originate("15550001111", "fts-999", "fts-999-2")
        h.run()
        self.assertEqual(h.flows, [None])
        self.assertEqual(h.events, [])
        self.assertEqual(h.sent(), ["GET VARIABLE FTS_CALL", "HANGUP"])
        self.assertEqual(h.tally.hangups, {"agi": 1})

    def test_found_by_fts_call(self):
        """
        When the uniqueid is not the ChannelId FTS chose, the FTS_CALL
        channel variable finds the call.
        """
        h = Harness(self, script=hangs_up(2.0))
        call = h.place(channel_id="elsewhere-1")
        h.run()
        self.assertEqual(h.sent()[:2], ["GET VARIABLE FTS_CALL", "SET AUTOHANGUP 600"])
        self.assertEqual(h.events[0].call_id, call.call_id)
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD])

    def test_no_playlist(self):
        """
        A call answered without a prepared message is hung up.
        """
        h = Harness(self)
        h.place(prepared=False)
        h.run()
        self.assertEqual(h.events, [])
        self.assertEqual(h.sent(), ["HANGUP"])

    def test_prepared_late(self):
        """
        With C{prepare_late}, a call answered without a prepared message
        gets one made then.
        """
        made = []

        def late(call, settings):
            made.append(call.call_id)
            return prepare(settings, call.fields, None, ASSETS, "en")

        h = Harness(self, script=hangs_up(9.0), prepare_late=late)
        call = h.place(prepared=False)
        h.run()
        self.assertEqual(made, [call.call_id])
        self.assertEqual(h.kinds(), [M.ANSWERED, M.AMD, M.MESSAGE_COMPLETE])

    def test_campaign_not_loaded(self):
        """
        A call whose campaign settings are not in memory is hung up.
        """
        h = Harness(self)
        h.place()
        del h.campaigns[CAMPAIGN]
        h.run()
        self.assertEqual(h.sent(), ["HANGUP"])
        self.assertEqual(h.events, [])
