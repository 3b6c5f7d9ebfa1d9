"""
Tests for L{fts.callflow.states}: the transition table and the decisions
between states, with plain values.
"""

from twisted.trial.unittest import SynchronousTestCase

from fts.callflow import states as S
from fts.core.campaign import Action, AmdMode, KeyOption, Menu, Replay

MENU = Menu(options=(KeyOption("1", Action.RECORD), KeyOption("2", Action.REPEAT)),
            invalid_key=Replay(2), no_key=Replay(1))


class FlowStateTests(SynchronousTestCase):
    """
    L{FlowState.move} follows the table.
    """

    def test_allowed_path(self):
        """
        The usual path is allowed and kept in the history.
        """
        state = S.FlowState()
        for name in (S.AMD, S.MESSAGE, S.MENU, S.ACTION, S.END):
            state.move(name)
        self.assertEqual(state.history, ["answered", "amd", "message", "menu", "action", "end"])
        self.assertTrue(state.ended)

    def test_refused(self):
        """
        A step the table does not have raises, naming both states.
        """
        state = S.FlowState()
        with self.assertRaises(S.InvalidTransition) as caught:
            state.move(S.ACTION)
        self.assertEqual(str(caught.exception),
                         "the call flow cannot go from answered to action")
        state.move(S.END)
        self.assertRaises(S.InvalidTransition, state.move, S.MESSAGE)

    def test_every_state_can_end(self):
        """
        Every state but end can go to end (a hang-up can come anywhere).
        """
        for name, following in S.NEXT.items():
            if name != S.END:
                self.assertIn(S.END, following, name)


class DecisionTests(SynchronousTestCase):
    """
    What follows AMD, the message, the menu wait and an option.
    """

    def test_verdicts(self):
        """
        AMDSTATUS maps to a verdict; HANGUP, empty and unknown give none.
        """
        self.assertEqual([S.verdict_of(s) for s in ("HUMAN", "MACHINE", "NOTSURE", "machine ")],
                         ["human", "machine", "notsure", "machine"])
        self.assertEqual([S.verdict_of(s) for s in ("HANGUP", "", None, "WHAT")], [None] * 4)

    def test_after_amd(self):
        """
        Only a machine verdict changes the path, as the mode says.
        """
        cases = {
            (AmdMode.HANGUP, "machine"): S.END,
            (AmdMode.HANGUP, "human"): S.MESSAGE,
            (AmdMode.HANGUP, "notsure"): S.MESSAGE,
            (AmdMode.MACHINE_MESSAGE, "machine"): S.MACHINE_MESSAGE,
            (AmdMode.MACHINE_MESSAGE, "human"): S.MESSAGE,
            (AmdMode.TREAT_AS_HUMAN, "machine"): S.MESSAGE,
            (AmdMode.OFF, "machine"): S.MESSAGE,
        }
        for (mode, verdict), expected in cases.items():
            self.assertEqual(S.after_amd(mode, verdict), expected, (mode, verdict))
        self.assertEqual(S.after_amd("machine_message", "machine", has_machine_message=False),
                         S.END)

    def test_after_message(self):
        """
        A key goes to the action; the end of the message to the menu, or to
        the end without options.
        """
        state = S.FlowState()
        self.assertEqual(S.after_message(state, MENU, None), S.MENU)
        self.assertEqual(S.after_message(state, Menu(), None), S.END)
        self.assertEqual(S.after_message(state, MENU, "2"), S.ACTION)
        self.assertEqual(state.key, "2")

    def test_after_menu_invalid(self):
        """
        Invalid keys replay with their prompt, as many times as configured.
        """
        state = S.FlowState()
        self.assertEqual(S.after_menu(state, MENU, "7", ("bad",), ("none",)), S.MESSAGE)
        self.assertEqual(state.prelude, ("bad",))
        self.assertEqual(S.after_menu(state, MENU, "8", ("bad",), ("none",)), S.MESSAGE)
        self.assertEqual(S.after_menu(state, MENU, "7", ("bad",), ("none",)), S.END)
        self.assertEqual(state.invalid_replays, 2)

    def test_after_menu_no_key(self):
        """
        No key replays with its own prompt and counter.
        """
        state = S.FlowState(invalid_replays=2)
        self.assertEqual(S.after_menu(state, MENU, None, ("bad",), ("none",)), S.MESSAGE)
        self.assertEqual(state.prelude, ("none",))
        self.assertEqual(S.after_menu(state, MENU, None, ("bad",), ("none",)), S.END)

    def test_after_menu_option(self):
        """
        A configured key goes to its action.
        """
        state = S.FlowState()
        self.assertEqual(S.after_menu(state, MENU, "1"), S.ACTION)
        self.assertEqual(state.key, "1")

    def test_after_action(self):
        """
        Repeat goes back to the message within its bound; the rest ends.
        """
        state = S.FlowState(key="2")
        repeat, record = MENU.options[1], MENU.options[0]
        self.assertEqual(S.after_action(state, repeat, 1), S.MESSAGE)
        self.assertIsNone(state.key)
        self.assertEqual(S.after_action(state, repeat, 1), S.END)
        self.assertEqual(S.after_action(S.FlowState(), record, 5), S.END)
