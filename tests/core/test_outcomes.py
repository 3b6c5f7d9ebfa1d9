"""
Tests for L{fts.core.outcomes}.
"""

from twisted.trial.unittest import SynchronousTestCase

from fts.core.outcomes import (
    AmdVerdict,
    AttemptOutcome,
    FinalOutcome,
    classify_amd_status,
    classify_originate_failure,
)


class VocabularyTests(SynchronousTestCase):
    """
    The outcome vocabularies are exactly those of PRODUCT.md.
    """

    def test_attempt_outcomes(self):
        """Per-attempt outcomes are the nine of the product page."""
        self.assertEqual(
            {o.value for o in AttemptOutcome},
            {"answered", "busy", "no_answer", "congestion", "chanunavail",
             "invalid_number", "failed", "cancelled", "unknown"},
        )

    def test_amd_verdicts(self):
        """AMD verdicts are human, machine, notsure and off."""
        self.assertEqual({v.value for v in AmdVerdict}, {"human", "machine", "notsure", "off"})

    def test_final_outcomes(self):
        """Per-contact final outcomes are the ten of the product page."""
        self.assertEqual(
            {o.value for o in FinalOutcome},
            {"reached", "opted_out", "busy", "no_answer", "failed", "invalid_number",
             "dnc_skipped", "outside_hours_skipped", "not_dialed", "exhausted"},
        )

    def test_string_values(self):
        """Outcomes compare equal to, and format as, their plain strings."""
        self.assertEqual(AttemptOutcome.NO_ANSWER, "no_answer")
        self.assertEqual(f"{FinalOutcome.OPTED_OUT}", "opted_out")
        self.assertIs(AttemptOutcome("busy"), AttemptOutcome.BUSY)


class ClassifyTranscriptCasesTests(SynchronousTestCase):
    """
    The Reason/Cause pairs observed in the Asterisk transcripts classify as
    the scenario they came from.
    """

    def test_answered(self):
        """Reason 4 is answered."""
        self.assertEqual(classify_originate_failure(4, None), AttemptOutcome.ANSWERED)

    def test_answered_whatever_the_cause(self):
        """Reason 4 is answered even with a later hangup cause."""
        self.assertEqual(classify_originate_failure(4, 16), AttemptOutcome.ANSWERED)
        self.assertEqual(classify_originate_failure(4, 17), AttemptOutcome.ANSWERED)

    def test_busy(self):
        """2001 Busy(): Reason 5, cause 17 on the callee half."""
        self.assertEqual(classify_originate_failure(5, 17), AttemptOutcome.BUSY)

    def test_busy_with_unknown_cause(self):
        """Reason 5 with the ;1 half's cause 0 is still busy."""
        self.assertEqual(classify_originate_failure(5, 0), AttemptOutcome.BUSY)
        self.assertEqual(classify_originate_failure(5, None), AttemptOutcome.BUSY)

    def test_congestion(self):
        """3001 Congestion(): Reason 8, cause 34."""
        self.assertEqual(classify_originate_failure(8, 34), AttemptOutcome.CONGESTION)
        self.assertEqual(classify_originate_failure(8, None), AttemptOutcome.CONGESTION)

    def test_no_answer_ringing(self):
        """4001 rang until the timeout: Reason 3, cause 19."""
        self.assertEqual(classify_originate_failure(3, 19), AttemptOutcome.NO_ANSWER)

    def test_no_answer_without_ringing(self):
        """7001 never rang: Reason 3, no cause."""
        self.assertEqual(classify_originate_failure(3, None), AttemptOutcome.NO_ANSWER)

    def test_rejected(self):
        """8001 Hangup(21): Reason 0, cause 21 is failed."""
        self.assertEqual(classify_originate_failure(0, 21), AttemptOutcome.FAILED)

    def test_unknown_technology(self):
        """Reason 0 with no cause (unknown technology, no such exten) is failed."""
        self.assertEqual(classify_originate_failure(0, None), AttemptOutcome.FAILED)


class ClassifyCauseTests(SynchronousTestCase):
    """
    A specific Q.850 cause wins over a vaguer Reason code.
    """

    def assertCauses(self, causes, expected, reasons=(0, 1, 3, 5, 8)):
        for cause in causes:
            for reason in reasons:
                self.assertEqual(
                    classify_originate_failure(reason, cause), expected,
                    f"reason {reason} cause {cause}",
                )

    def test_invalid_number(self):
        """Causes 1, 22 and 28 mean an invalid number whatever the Reason."""
        self.assertCauses((1, 22, 28), AttemptOutcome.INVALID_NUMBER)

    def test_busy(self):
        """Cause 17 means busy whatever the Reason."""
        self.assertCauses((17,), AttemptOutcome.BUSY)

    def test_no_answer(self):
        """Causes 18 and 19 mean no answer."""
        self.assertCauses((18, 19), AttemptOutcome.NO_ANSWER)

    def test_congestion(self):
        """Network shortage causes mean congestion."""
        self.assertCauses((34, 38, 41, 42, 44, 47), AttemptOutcome.CONGESTION)

    def test_chanunavail(self):
        """Subscriber absent, destination out of order and no route mean channel unavailable."""
        self.assertCauses((2, 3, 20, 27), AttemptOutcome.CHANUNAVAIL)

    def test_rejected(self):
        """Cause 21 (call rejected) means failed."""
        self.assertCauses((21,), AttemptOutcome.FAILED)

    def test_normal_clearing_defers_to_reason(self):
        """Cause 16 carries no verdict: the Reason decides."""
        self.assertEqual(classify_originate_failure(5, 16), AttemptOutcome.BUSY)
        self.assertEqual(classify_originate_failure(8, 16), AttemptOutcome.CONGESTION)
        self.assertEqual(classify_originate_failure(3, 16), AttemptOutcome.NO_ANSWER)
        self.assertEqual(classify_originate_failure(0, 16), AttemptOutcome.FAILED)

    def test_hangup_before_answer_normal_clearing(self):
        """Reason 1 with normal clearing (16 or 31) is no answer."""
        self.assertEqual(classify_originate_failure(1, 16), AttemptOutcome.NO_ANSWER)
        self.assertEqual(classify_originate_failure(1, 31), AttemptOutcome.NO_ANSWER)

    def test_hangup_before_answer_otherwise(self):
        """Reason 1 with no cause, or an uninformative one, is failed."""
        self.assertEqual(classify_originate_failure(1, None), AttemptOutcome.FAILED)
        self.assertEqual(classify_originate_failure(1, 0), AttemptOutcome.FAILED)
        self.assertEqual(classify_originate_failure(1, 127), AttemptOutcome.FAILED)

    def test_ring_reason(self):
        """Reason 2 (ring) at the end is no answer."""
        self.assertEqual(classify_originate_failure(2, None), AttemptOutcome.NO_ANSWER)

    def test_unexpected_reason(self):
        """An unexpected Reason code with no telling cause is failed."""
        self.assertEqual(classify_originate_failure(7, None), AttemptOutcome.FAILED)
        self.assertEqual(classify_originate_failure(99, 0), AttemptOutcome.FAILED)


class ClassifyBadInputTests(SynchronousTestCase):
    """
    Header strings are accepted; malformed values do not crash.
    """

    def test_header_strings(self):
        """Reason and Cause may be given as the header strings."""
        self.assertEqual(classify_originate_failure("5", "17"), AttemptOutcome.BUSY)
        self.assertEqual(classify_originate_failure(" 4 ", ""), AttemptOutcome.ANSWERED)

    def test_garbage(self):
        """A non-numeric Reason and Cause classify as failed."""
        self.assertEqual(classify_originate_failure("<unknown>", "x"), AttemptOutcome.FAILED)
        self.assertEqual(classify_originate_failure(None, None), AttemptOutcome.FAILED)

    def test_garbage_cause_keeps_reason(self):
        """A non-numeric Cause is ignored in favour of the Reason."""
        self.assertEqual(classify_originate_failure(8, "n/a"), AttemptOutcome.CONGESTION)

    def test_bool_is_not_a_number(self):
        """A bool is not mistaken for Reason 1."""
        self.assertEqual(classify_originate_failure(True, 16), AttemptOutcome.FAILED)


class ClassifyAmdStatusTests(SynchronousTestCase):
    """
    AMDSTATUS values become verdicts.
    """

    def test_values(self):
        """HUMAN and MACHINE map directly, in any case."""
        self.assertEqual(classify_amd_status("HUMAN"), AmdVerdict.HUMAN)
        self.assertEqual(classify_amd_status("machine"), AmdVerdict.MACHINE)

    def test_no_verdict(self):
        """NOTSURE, HANGUP, empty, None and unknown values are notsure."""
        for value in ("NOTSURE", "HANGUP", "", None, "WHAT"):
            self.assertEqual(classify_amd_status(value), AmdVerdict.NOTSURE)
