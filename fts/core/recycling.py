"""
Which contacts of a finalized campaign a recycled campaign takes over.

The operator ticks outcomes (not answered, busy, no answer, failed or
congestion, machine, answered without key, never dialed) and/or keys
("pressed key X"); a contact is taken if it matches any of them.
L{selects} is the definition the store's SQL must agree with.  Contacts that
opted out, were skipped for DNC, or have an invalid number are never taken.
"""

from enum import StrEnum

import attr

from fts.core.campaign import KEYS
from fts.core.outcomes import AmdVerdict, AttemptOutcome, FinalOutcome


class RecycleChoice(StrEnum):
    """An outcome an operator can pick when recycling."""

    #: Dialed, never answered (busy, no answer, failed, congestion...).
    NOT_ANSWERED = "not_answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    #: Congestion, channel unavailable or failed.
    FAILED = "failed"
    #: Answered by a machine (last answered attempt's AMD verdict).
    MACHINE = "machine"
    #: Answered (not by a machine) and no key pressed.
    ANSWERED_WITHOUT_KEY = "answered_without_key"
    #: Never dialed (not dialed, skipped for calling hours, cancelled).
    NEVER_DIALED = "never_dialed"


_NEVER_TAKEN = frozenset(
    {FinalOutcome.OPTED_OUT, FinalOutcome.DNC_SKIPPED, FinalOutcome.INVALID_NUMBER}
)
_FAILURES = frozenset(
    {AttemptOutcome.CONGESTION, AttemptOutcome.CHANUNAVAIL, AttemptOutcome.FAILED}
)


def _choices(value):
    return frozenset(RecycleChoice(item) for item in value)


def _keys(value):
    keys = frozenset(value)
    bad = sorted(key for key in keys if key not in KEYS or len(key) != 1)
    if bad:
        raise ValueError(f"Not a phone key: {', '.join(map(repr, bad))}; keys are 0-9, * and #.")
    return keys


@attr.frozen
class RecycleSelection:
    """
    The contacts a recycled campaign takes over.

    @ivar choices: outcomes picked (L{RecycleChoice} or their strings).
    @ivar keys: keys picked ("pressed key X").
    @raise ValueError: on construction, for an unknown choice or key, or if
        nothing at all is picked.
    """

    choices: frozenset[RecycleChoice] = attr.field(default=frozenset(), converter=_choices)
    keys: frozenset[str] = attr.field(default=frozenset(), converter=_keys)

    def __attrs_post_init__(self):
        if not self.choices and not self.keys:
            raise ValueError("Pick at least one outcome or key to recycle.")

    def describe(self):
        """A short sentence for the audit record."""
        parts = sorted(choice.value for choice in self.choices)
        parts += [f"pressed {key}" for key in sorted(self.keys)]
        return "contacts with: " + ", ".join(parts)


def selects(selection, final, last_attempt, answered, amd, keys):
    """
    Whether a contact is taken over by a recycled campaign.

    @param final: the contact's L{FinalOutcome} (C{None} if it had none).
    @param last_attempt: the L{AttemptOutcome} of its last attempt, C{None}
        if never dialed.
    @param answered: whether any attempt was answered.
    @param amd: the AMD verdict of its last answered attempt, or C{None}.
    @param keys: the keys it pressed, as a string (C{""} for none).
    """
    final = FinalOutcome(final) if final is not None else None
    last = AttemptOutcome(last_attempt) if last_attempt is not None else None
    if final in _NEVER_TAKEN:
        return False
    if any(key in selection.keys for key in keys):
        return True
    choices = selection.choices
    machine = answered and amd == AmdVerdict.MACHINE
    if answered:
        if RecycleChoice.MACHINE in choices and machine:
            return True
        return (
            RecycleChoice.ANSWERED_WITHOUT_KEY in choices and not machine and not keys
        )
    never_dialed = last in (None, AttemptOutcome.CANCELLED) and final in (
        None, FinalOutcome.NOT_DIALED, FinalOutcome.OUTSIDE_HOURS_SKIPPED
    )
    if never_dialed:
        return RecycleChoice.NEVER_DIALED in choices
    if RecycleChoice.NOT_ANSWERED in choices:
        return True
    if last is AttemptOutcome.BUSY:
        return RecycleChoice.BUSY in choices
    if last in (AttemptOutcome.NO_ANSWER, AttemptOutcome.UNKNOWN):
        return RecycleChoice.NO_ANSWER in choices
    if last in _FAILURES:
        return RecycleChoice.FAILED in choices
    return False
