"""
Tests for L{fts.pbxsim.callee}: the model of the called parties.
"""

from collections import Counter

from twisted.trial.unittest import SynchronousTestCase

from fts.pbxsim.callee import (
    ANSWERED,
    BUSY,
    NO_ANSWER,
    UNAVAILABLE,
    AnswerBehaviour,
    CalleeModel,
    Override,
    script_from,
    transcript_model,
)


class ScriptTests(SynchronousTestCase):
    """
    Scripts of what an answering party does.
    """

    def test_keys_and_hangup(self):
        """
        Keys are pressed at the given times and the party hangs up at the
        given time after answer.
        """
        script = script_from(10.0, [(2.0, "1"), (5.0, "9")])
        self.assertEqual([s.application for s in script], ["Wait", "SendDTMF", "Wait", "SendDTMF", "Wait", "Hangup"])
        plan_keys = [(t, s.digit) for t, s in _times(script) if s.digit]
        self.assertEqual(plan_keys, [(2.0, "1"), (5.0, "9")])
        self.assertAlmostEqual(sum(s.seconds for s in script), 10.0)

    def test_stay_on_line(self):
        """
        Without a hangup time the script has no Hangup step.
        """
        self.assertEqual(script_from(None, ()), ())

    def test_bad_digit(self):
        """
        A key that is not a DTMF digit is refused.
        """
        self.assertRaises(ValueError, script_from, 5.0, [(1.0, "x")])


def _times(script):
    t = 0.0
    for step in script:
        yield t, step
        t += step.seconds


class ModelTests(SynchronousTestCase):
    """
    Random draws and overrides.
    """

    def test_seeded_runs_repeat(self):
        """
        The same seed gives the same plans for the same dials.
        """
        numbers = ["5550%03d" % i for i in range(50)]
        one = [CalleeModel({ANSWERED: 1, BUSY: 1}, seed=7).plan(n) for n in numbers]
        two = [CalleeModel({ANSWERED: 1, BUSY: 1}, seed=7).plan(n) for n in numbers]
        other = [CalleeModel({ANSWERED: 1, BUSY: 1}, seed=8).plan(n) for n in numbers]
        self.assertEqual(one, two)
        self.assertNotEqual(one, other)

    def test_outcome_weights(self):
        """
        Outcomes follow their weights.
        """
        model = CalleeModel({ANSWERED: 3, BUSY: 1}, seed=1)
        counts = Counter(model.plan("1234").outcome for _ in range(4000))
        self.assertEqual(set(counts), {ANSWERED, BUSY})
        self.assertLess(abs(counts[ANSWERED] / 4000 - 0.75), 0.03)

    def test_key_behaviour(self):
        """
        A key-pressing behaviour presses a key from its digit distribution
        within its time range, before hanging up.
        """
        behaviour = AnswerBehaviour("keys", hangup_after=(10, 10), key_after=(2, 3), digits=(("7", 1.0),))
        model = CalleeModel(behaviours=(behaviour,), seed=3)
        plan = model.plan("1234")
        (at, digit), = plan.keys
        self.assertEqual(digit, "7")
        self.assertTrue(2 <= at <= 3)
        self.assertAlmostEqual(plan.hangup_after, 10.0)
        self.assertEqual(plan.behaviour, "keys")

    def test_machine_behaviour(self):
        """
        An answering machine makes AMD say MACHINE.
        """
        model = CalleeModel(behaviours=(AnswerBehaviour("machine", amd="MACHINE"),), seed=1)
        plan = model.plan("1234")
        self.assertEqual((plan.amd_status, plan.amd_cause), ("MACHINE", "INITIALSILENCE-2500-2500"))
        self.assertAlmostEqual(plan.amd_seconds, 2.98)

    def test_longest_prefix_wins(self):
        """
        The override with the longest matching prefix decides.
        """
        model = CalleeModel(
            {ANSWERED: 1},
            overrides=[Override("2", outcome=BUSY), Override("29", outcome=NO_ANSWER)],
            seed=1,
        )
        self.assertEqual(model.plan("2001").outcome, BUSY)
        self.assertEqual(model.plan("2901").outcome, NO_ANSWER)
        self.assertEqual(model.plan("3001").outcome, ANSWERED)

    def test_override_length(self):
        """
        An override with a length only matches numbers of that length.
        """
        model = CalleeModel({ANSWERED: 1}, overrides=[Override("2", length=4, outcome=BUSY)], seed=1)
        self.assertEqual(model.plan("2001").outcome, BUSY)
        self.assertEqual(model.plan("20011").outcome, ANSWERED)

    def test_bad_configuration(self):
        """
        Unknown outcomes, all-zero weights and unknown behaviours are refused.
        """
        self.assertRaises(ValueError, CalleeModel, {"maybe": 1})
        self.assertRaises(ValueError, CalleeModel, {ANSWERED: 0})
        self.assertRaises(ValueError, CalleeModel, {ANSWERED: 1}, overrides=[Override("1", behaviour="nope")])


class TranscriptModelTests(SynchronousTestCase):
    """
    The recorded test dialplan.
    """

    def setUp(self):
        self.model = transcript_model()

    def test_prefixes(self):
        """
        1xxx..8xxx and 90XX behave like the recorded dialplan; other numbers
        do not exist.
        """
        outcomes = {n: self.model.plan(n).outcome for n in ["1001", "2001", "3001", "4001", "5001", "6001", "7001", "8001", "9001", "0000", "12345"]}
        self.assertEqual(
            outcomes,
            {
                "1001": ANSWERED, "2001": BUSY, "3001": "congestion", "4001": NO_ANSWER,
                "5001": ANSWERED, "6001": ANSWERED, "7001": NO_ANSWER, "8001": "rejected",
                "9001": ANSWERED, "0000": UNAVAILABLE, "12345": UNAVAILABLE,
            },
        )
        self.assertTrue(self.model.plan("4001").rings)
        self.assertFalse(self.model.plan("7001").rings)

    def test_1xxx_presses_one(self):
        """
        1xxx presses 1 one second after answering and hangs up 6.45 s after.
        """
        plan = self.model.plan("1001")
        self.assertEqual(plan.keys, [(1.0, "1")])
        self.assertAlmostEqual(plan.hangup_after, 6.45)

    def test_amd_hears_silence(self):
        """
        Every answering party of the recorded dialplan is silence for AMD.
        """
        plan = self.model.plan("6001")
        self.assertEqual(plan.amd_status, "MACHINE")
        self.assertAlmostEqual(plan.hangup_after, 20.0)
