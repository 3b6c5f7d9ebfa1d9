"""
What happens to a contact after an attempt: call again at some time, or stop
with the contact's final outcome.

Rules of L{decide_retry}, by the attempt's outcome:

  - C{answered} and opted out: stop, C{opted_out}.
  - C{answered}, AMD verdict C{machine}: the policy's C{machine} rule; when
    not retried, stop C{reached} (reached by a machine; the attempt's
    verdict says so).
  - C{answered}, any other verdict (C{human}, C{notsure}, C{off}, none),
    with a key pressed: stop, C{reached}.
  - C{answered}, no key: the C{answered_without_key} rule; when not
    retried, stop C{reached}.
  - C{busy}: the C{busy} rule; when not retried, stop C{busy}.
  - C{no_answer}: the C{no_answer} rule; else stop C{no_answer}.
  - C{unknown} (the outcome was lost, e.g. a crash): treated exactly like
    C{no_answer}, the most common outcome of a call nobody saw end, so it is
    retried when unanswered calls are, and ends as C{no_answer}.
  - C{congestion}, C{chanunavail}, C{failed}: the C{failed} rule
    ("congestion/failed"); else stop C{failed}.
  - C{invalid_number}: never retried; stop C{invalid_number}.
  - C{cancelled} (FTS ended the call: campaign cancelled, queue cleaned,
    stuck call hung up): never retried; stop C{not_dialed}, since the
    contact never got a real try at this attempt.

When the rule says retry but C{attempts_so_far} has reached the policy's
C{max_attempts}, the contact stops as C{exhausted} (attempts used up) rather
than as the last outcome's own final outcome: C{busy}/C{no_answer}/C{failed}
as final outcomes thus mean "the policy did not retry this", and the last
attempt's outcome (kept with the attempt) says what the exhausted contact's
last try was.  A retry is due at C{now + delay}; the dialer moves that into
the next calling window with L{fts.core.windows.next_open}.
"""

from datetime import datetime, timedelta

import attr

from fts.core.outcomes import AmdVerdict, AttemptOutcome, FinalOutcome


@attr.frozen
class RetryDecision:
    """
    The result of L{decide_retry}: either C{retry_at} is set (call again at
    or after it) or C{final} is (stop with that final outcome).

    @ivar reason: a sentence for the operator and the event log.
    """

    retry_at: datetime | None = None
    final: FinalOutcome | None = None
    reason: str = ""

    @property
    def retry(self):
        """Whether the contact is to be called again."""
        return self.retry_at is not None


def _stop(final, reason):
    return RetryDecision(final=final, reason=reason)


def _by_rule(policy, rule, rule_name, final, attempts_so_far, now, what):
    if not rule.retry:
        return _stop(final, f"{what}; the policy does not retry {rule_name}.")
    if attempts_so_far >= policy.max_attempts:
        return _stop(
            FinalOutcome.EXHAUSTED,
            f"{what}; all {policy.max_attempts} attempts used.",
        )
    delay = max(0, rule.delay)
    return RetryDecision(
        retry_at=now + timedelta(seconds=delay),
        reason=(
            f"{what}; attempt {attempts_so_far + 1} of {policy.max_attempts}"
            f" in {delay} s."
        ),
    )


def decide_retry(
    policy, outcome, attempts_so_far, now, amd=None, key_pressed=None, opted_out=False
):
    """
    Decide what follows an attempt; see the module docstring for the rules.

    @param policy: the campaign's L{fts.core.campaign.RetryPolicy}.
    @param outcome: the attempt's L{AttemptOutcome} (or its string value).
    @param attempts_so_far: attempts made for this contact, the one that just
        ended included.
    @param now: when the attempt ended (aware datetime).
    @param amd: the attempt's L{AmdVerdict} (or string), if answered.
    @param key_pressed: the option key pressed, if any (C{""} means none).
    @param opted_out: whether the callee opted out during the attempt.
    @rtype: L{RetryDecision}
    @raise ValueError: for an outcome or verdict outside the vocabulary.
    """
    outcome = AttemptOutcome(outcome)
    amd = AmdVerdict(amd) if amd is not None else None
    if outcome is AttemptOutcome.ANSWERED:
        if opted_out:
            return _stop(FinalOutcome.OPTED_OUT, "Answered; the callee opted out.")
        if amd is AmdVerdict.MACHINE:
            return _by_rule(
                policy, policy.machine, "machines", FinalOutcome.REACHED,
                attempts_so_far, now, "Answered by a machine",
            )
        if key_pressed:
            return _stop(FinalOutcome.REACHED, f"Answered; key {key_pressed} pressed.")
        return _by_rule(
            policy, policy.answered_without_key, "answered calls without a key",
            FinalOutcome.REACHED, attempts_so_far, now, "Answered; no key pressed",
        )
    if outcome is AttemptOutcome.BUSY:
        return _by_rule(
            policy, policy.busy, "busy lines", FinalOutcome.BUSY,
            attempts_so_far, now, "Busy",
        )
    if outcome in (AttemptOutcome.NO_ANSWER, AttemptOutcome.UNKNOWN):
        what = "No answer" if outcome is AttemptOutcome.NO_ANSWER else "Outcome lost"
        return _by_rule(
            policy, policy.no_answer, "unanswered calls", FinalOutcome.NO_ANSWER,
            attempts_so_far, now, what,
        )
    if outcome in (
        AttemptOutcome.CONGESTION, AttemptOutcome.CHANUNAVAIL, AttemptOutcome.FAILED
    ):
        what = {
            AttemptOutcome.CONGESTION: "Congestion",
            AttemptOutcome.CHANUNAVAIL: "Channel unavailable",
            AttemptOutcome.FAILED: "Failed",
        }[outcome]
        return _by_rule(
            policy, policy.failed, "congestion or failures", FinalOutcome.FAILED,
            attempts_so_far, now, what,
        )
    if outcome is AttemptOutcome.INVALID_NUMBER:
        return _stop(FinalOutcome.INVALID_NUMBER, "Invalid number; never retried.")
    # AttemptOutcome.CANCELLED
    return _stop(FinalOutcome.NOT_DIALED, "Cancelled by FTS; not retried.")
