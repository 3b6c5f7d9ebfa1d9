"""
Tests for L{fts.core.retry}.
"""

from datetime import UTC, datetime, timedelta

from twisted.trial.unittest import SynchronousTestCase

from fts.core.campaign import RetryPolicy, RetryRule
from fts.core.outcomes import AttemptOutcome, FinalOutcome
from fts.core.retry import RetryDecision, decide_retry

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

ALL_RETRY = RetryPolicy(
    max_attempts=3,
    busy=RetryRule(True, 60),
    no_answer=RetryRule(True, 120),
    failed=RetryRule(True, 180),
    machine=RetryRule(True, 240),
    answered_without_key=RetryRule(True, 300),
)
NO_RETRY = RetryPolicy(
    max_attempts=3,
    busy=RetryRule(False, 60),
    no_answer=RetryRule(False, 120),
    failed=RetryRule(False, 180),
    machine=RetryRule(False, 240),
    answered_without_key=RetryRule(False, 300),
)

# outcome, extra arguments, delay when retried, final when not retried
CASES = [
    ("busy", {}, 60, FinalOutcome.BUSY),
    ("no_answer", {}, 120, FinalOutcome.NO_ANSWER),
    ("unknown", {}, 120, FinalOutcome.NO_ANSWER),
    ("congestion", {}, 180, FinalOutcome.FAILED),
    ("chanunavail", {}, 180, FinalOutcome.FAILED),
    ("failed", {}, 180, FinalOutcome.FAILED),
    ("answered", {"amd": "machine"}, 240, FinalOutcome.REACHED),
    ("answered", {}, 300, FinalOutcome.REACHED),
    ("answered", {"amd": "human"}, 300, FinalOutcome.REACHED),
    ("answered", {"amd": "notsure"}, 300, FinalOutcome.REACHED),
    ("answered", {"amd": "off"}, 300, FinalOutcome.REACHED),
    ("answered", {"amd": "human", "key_pressed": ""}, 300, FinalOutcome.REACHED),
]


class RetryByPolicyTests(SynchronousTestCase):
    """
    Retryable outcomes follow their rule of the policy.
    """

    def test_retried(self):
        """With retries on and attempts left, each outcome retries after its delay."""
        for outcome, extra, delay, _final in CASES:
            decision = decide_retry(ALL_RETRY, outcome, 1, NOW, **extra)
            self.assertTrue(decision.retry, (outcome, extra))
            self.assertEqual(decision.retry_at, NOW + timedelta(seconds=delay), (outcome, extra))
            self.assertIsNone(decision.final)
            self.assertIn("attempt 2 of 3", decision.reason)

    def test_not_retried(self):
        """With retries off, each outcome stops with its own final outcome."""
        for outcome, extra, _delay, final in CASES:
            decision = decide_retry(NO_RETRY, outcome, 1, NOW, **extra)
            self.assertFalse(decision.retry, (outcome, extra))
            self.assertEqual(decision.final, final, (outcome, extra))
            self.assertIn("does not retry", decision.reason)

    def test_exhausted(self):
        """With retries on but all attempts used, each outcome stops as exhausted."""
        for outcome, extra, _delay, _final in CASES:
            decision = decide_retry(ALL_RETRY, outcome, 3, NOW, **extra)
            self.assertEqual(decision, RetryDecision(
                final=FinalOutcome.EXHAUSTED, reason=decision.reason))
            self.assertIn("all 3 attempts used", decision.reason)

    def test_last_attempt_but_one(self):
        """The attempt before the last still retries."""
        decision = decide_retry(ALL_RETRY, "busy", 2, NOW)
        self.assertEqual(decision.retry_at, NOW + timedelta(seconds=60))
        self.assertIn("attempt 3 of 3", decision.reason)

    def test_single_attempt(self):
        """With max_attempts 1 a retryable outcome is exhausted at once."""
        policy = RetryPolicy(max_attempts=1)
        self.assertEqual(decide_retry(policy, "busy", 1, NOW).final, FinalOutcome.EXHAUSTED)

    def test_zero_delay(self):
        """A zero delay retries at once."""
        policy = RetryPolicy(busy=RetryRule(True, 0))
        self.assertEqual(decide_retry(policy, "busy", 1, NOW).retry_at, NOW)

    def test_negative_delay(self):
        """A negative delay (invalid settings) is treated as zero, never in the past."""
        policy = RetryPolicy(busy=RetryRule(True, -30))
        self.assertEqual(decide_retry(policy, "busy", 1, NOW).retry_at, NOW)


class StopTests(SynchronousTestCase):
    """
    Some outcomes are never retried.
    """

    def test_key_pressed(self):
        """An answered call with a key pressed is reached, even if no-key calls retry."""
        for amd in (None, "human", "notsure", "off"):
            decision = decide_retry(ALL_RETRY, "answered", 1, NOW, amd=amd, key_pressed="1")
            self.assertEqual(decision.final, FinalOutcome.REACHED)
            self.assertFalse(decision.retry)
            self.assertIn("key 1", decision.reason)

    def test_machine_key_follows_machine_rule(self):
        """A machine verdict follows the machine rule even if a key was heard."""
        decision = decide_retry(ALL_RETRY, "answered", 1, NOW, amd="machine", key_pressed="1")
        self.assertTrue(decision.retry)

    def test_opted_out(self):
        """An opt-out stops as opted_out, whatever the verdict or policy."""
        for amd in (None, "human", "machine"):
            decision = decide_retry(ALL_RETRY, "answered", 1, NOW, amd=amd, key_pressed="9", opted_out=True)
            self.assertEqual(decision.final, FinalOutcome.OPTED_OUT)

    def test_invalid_number(self):
        """An invalid number is never retried."""
        for policy in (ALL_RETRY, NO_RETRY):
            for attempts in (1, 3):
                decision = decide_retry(policy, "invalid_number", attempts, NOW)
                self.assertEqual(decision.final, FinalOutcome.INVALID_NUMBER)
                self.assertFalse(decision.retry)

    def test_cancelled(self):
        """A call FTS cancelled is not retried and counts as not dialed."""
        decision = decide_retry(ALL_RETRY, AttemptOutcome.CANCELLED, 1, NOW)
        self.assertEqual(decision.final, FinalOutcome.NOT_DIALED)

    def test_unknown_outcome_value(self):
        """An outcome outside the vocabulary is a ValueError, not a silent guess."""
        self.assertRaises(ValueError, decide_retry, ALL_RETRY, "exploded", 1, NOW)
        self.assertRaises(ValueError, decide_retry, ALL_RETRY, "answered", 1, NOW, amd="robot")

    def test_every_outcome_decides(self):
        """Every attempt outcome gives either a retry time or a final outcome."""
        for outcome in AttemptOutcome:
            for policy in (ALL_RETRY, NO_RETRY):
                for attempts in (1, 3):
                    decision = decide_retry(policy, outcome, attempts, NOW)
                    self.assertNotEqual(decision.retry_at is None, decision.final is None)
