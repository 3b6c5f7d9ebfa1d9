"""
The campaign life cycle (PRODUCT.md section 4), enforced in one place.

L{TRANSITIONS} is the whole state machine: for each C{(state, trigger)} the
state it leads to and the guard that must allow it.  L{transition} checks a
move and returns the L{Transition} record that the caller stores, in the
same database transaction as the state change, as the audit record.  Guards
are pure predicates over L{Facts} the caller gathers (validation problems,
the clock, counts from the store).

    draft --confirm--> scheduled --start--> running <--pause/resume--> paused
    scheduled --unschedule--> draft       (back to editing before it starts)
    running|paused --finish_completed--> finished  (no contact left to dial)
    scheduled|running|paused --finish_expired--> finished  (end reached or
                                                    no window left)
    scheduled|running|paused --cancel--> finished   (operator)
    finished --begin_finalizing--> finalizing  (waits for calls in flight)
    finalizing --finalize--> finalized  (no call in flight, or the bounded
                                         wait is over)
    finalized --delete--> deleted;  draft --delete--> deleted

Beyond the product page's diagram, a scheduled campaign can be cancelled,
expire, or go back to draft, and a draft (or template) can be deleted: an
operator expects all of these, and none involves a call.

Templates are drafts with C{is_template}; they never leave draft (other
than being deleted).  Creating a campaign and recycling a finalized one
both produce a new draft; L{create} and L{recycle} give their audit records
(C{from_state} C{None}).
"""

from datetime import datetime
from enum import StrEnum

import attr

from fts.core.recycling import RecycleSelection


class State(StrEnum):
    """Where a campaign is in its life."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    FINALIZING = "finalizing"
    FINALIZED = "finalized"
    DELETED = "deleted"


class Trigger(StrEnum):
    """The named causes of a state change."""

    CREATE = "create"
    RECYCLE = "recycle"
    CONFIRM = "confirm"
    UNSCHEDULE = "unschedule"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    FINISH_COMPLETED = "finish_completed"
    FINISH_EXPIRED = "finish_expired"
    CANCEL = "cancel"
    BEGIN_FINALIZING = "begin_finalizing"
    FINALIZE = "finalize"
    DELETE = "delete"


class FinishReason(StrEnum):
    """Why a campaign finished."""

    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def _problems(value):
    return tuple(value)


@attr.frozen(kw_only=True)
class Facts:
    """
    What the guards may look at.  Fill in what the trigger needs; the rest
    may keep its default.

    @ivar is_template: the campaign is a template.
    @ivar problems: validation problems of the campaign's settings (confirm).
    @ivar now: the current instant (start, finish_expired).
    @ivar start_at: the schedule's start as an aware instant (start).
    @ivar end_at: the schedule's end as an aware instant (start,
        finish_expired).
    @ivar has_window_left: whether a calling window remains before the end
        (finish_expired), from L{fts.core.windows.has_window_left}.
    @ivar contacts_left: contacts still to dial, pending retries included
        (finish_completed); C{None} if unknown.
    @ivar calls_in_flight: calls of the campaign still up (finalize).
    @ivar stuck_wait_over: the bounded wait for in-flight calls has passed
        and the stuck calls were hung up (finalize).
    """

    is_template: bool = False
    problems: tuple = attr.field(default=(), converter=_problems)
    now: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    has_window_left: bool = True
    contacts_left: int | None = None
    calls_in_flight: int = 0
    stuck_wait_over: bool = False


@attr.frozen
class Transition:
    """
    The audit record of one state change.

    @ivar from_state: the state before (C{None} when the campaign was just
        created or recycled).
    @ivar reason: the L{FinishReason} value for finishing triggers;
        otherwise the caller's note (may be empty).
    @ivar actor: who or what caused it (C{"user:alice"},
        C{"api:token-3"}, C{"sweeper:expiry"}).
    """

    from_state: State | None
    to_state: State
    trigger: Trigger
    reason: str
    actor: str

    @property
    def finish_reason(self):
        """The L{FinishReason} if this transition finished the campaign."""
        if self.to_state is State.FINISHED:
            return FinishReason(self.reason)
        return None


class TransitionError(ValueError):
    """A state change that is not allowed."""


class IllegalTransition(TransitionError):
    """The trigger does not apply in the campaign's state at all."""


class GuardRefused(TransitionError):
    """The trigger applies in this state, but the facts do not allow it now."""


# -- Guards: return None to allow, or a sentence saying why not. ----------


def _not_template(facts):
    if facts.is_template:
        return "a template never leaves draft; create a campaign from it instead"
    return None


def _confirm(facts):
    if facts.is_template:
        return _not_template(facts)
    if facts.problems:
        count = len(facts.problems)
        return f"{count} validation problem{'s' if count != 1 else ''} must be fixed first"
    return None


def _start(facts):
    if facts.now is None:
        return "the current time is needed"
    if facts.start_at is not None and facts.now < facts.start_at:
        return f"its start ({facts.start_at.isoformat()}) has not come yet"
    if facts.end_at is not None and facts.now >= facts.end_at:
        return f"its end ({facts.end_at.isoformat()}) has passed; it expires instead"
    return None


def _completed(facts):
    if facts.contacts_left is None:
        return "the number of contacts left to dial is unknown"
    if facts.contacts_left > 0:
        return f"{facts.contacts_left} contacts are still to be dialed"
    return None


def _expired(facts):
    if facts.end_at is not None:
        if facts.now is None:
            return "the current time is needed"
        if facts.now >= facts.end_at:
            return None
    if not facts.has_window_left:
        return None
    return "its end has not been reached and calling windows remain"


def _finalize(facts):
    if facts.calls_in_flight > 0 and not facts.stuck_wait_over:
        return f"{facts.calls_in_flight} calls are still in flight"
    return None


def _always(facts):
    return None


@attr.frozen
class Rule:
    """One row of the transition table."""

    to_state: State
    guard: object = _always
    finish: FinishReason | None = None


S, T = State, Trigger

#: The whole life cycle: C{(state, trigger) -> Rule}.
TRANSITIONS = {
    (S.DRAFT, T.CONFIRM): Rule(S.SCHEDULED, _confirm),
    (S.DRAFT, T.DELETE): Rule(S.DELETED),
    (S.SCHEDULED, T.UNSCHEDULE): Rule(S.DRAFT),
    (S.SCHEDULED, T.START): Rule(S.RUNNING, _start),
    (S.SCHEDULED, T.FINISH_EXPIRED): Rule(S.FINISHED, _expired, FinishReason.EXPIRED),
    (S.SCHEDULED, T.CANCEL): Rule(S.FINISHED, _always, FinishReason.CANCELLED),
    (S.RUNNING, T.PAUSE): Rule(S.PAUSED),
    (S.RUNNING, T.FINISH_COMPLETED): Rule(S.FINISHED, _completed, FinishReason.COMPLETED),
    (S.RUNNING, T.FINISH_EXPIRED): Rule(S.FINISHED, _expired, FinishReason.EXPIRED),
    (S.RUNNING, T.CANCEL): Rule(S.FINISHED, _always, FinishReason.CANCELLED),
    (S.PAUSED, T.RESUME): Rule(S.RUNNING),
    (S.PAUSED, T.FINISH_COMPLETED): Rule(S.FINISHED, _completed, FinishReason.COMPLETED),
    (S.PAUSED, T.FINISH_EXPIRED): Rule(S.FINISHED, _expired, FinishReason.EXPIRED),
    (S.PAUSED, T.CANCEL): Rule(S.FINISHED, _always, FinishReason.CANCELLED),
    (S.FINISHED, T.BEGIN_FINALIZING): Rule(S.FINALIZING),
    (S.FINALIZING, T.FINALIZE): Rule(S.FINALIZED, _finalize),
    (S.FINALIZED, T.DELETE): Rule(S.DELETED),
}
del S, T


def allowed_triggers(state):
    """
    The triggers that apply in C{state} (guards not evaluated), in table
    order: what a UI may offer.
    """
    state = State(state)
    return [trigger for (source, trigger) in TRANSITIONS if source is state]


def _require_actor(actor):
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError(
            "A transition needs an actor (who or what caused it) for the audit record."
        )


def check(state, trigger, facts=Facts()):
    """
    Why C{trigger} cannot move a campaign in C{state} now, or C{None} if it
    can.
    """
    try:
        transition(state, trigger, facts, actor="check")
    except TransitionError as e:
        return str(e)
    return None


def transition(state, trigger, facts=Facts(), *, actor, note=""):
    """
    Move a campaign in C{state} by C{trigger}.

    @param state: the current L{State} (or its string).
    @param trigger: the L{Trigger} (or its string).
    @param facts: what the trigger's guard needs.
    @param actor: who or what causes it, for the audit record.
    @param note: free text stored as the record's reason (finishing
        triggers store the L{FinishReason} instead).
    @rtype: L{Transition}
    @raise IllegalTransition: the trigger does not apply in this state (or
        the state or trigger is not one of ours).
    @raise GuardRefused: the guard does not allow it with these facts.
    """
    _require_actor(actor)
    try:
        state = State(state)
    except ValueError:
        raise IllegalTransition(f"Unknown campaign state {state!r}.") from None
    try:
        trigger = Trigger(trigger)
    except ValueError:
        raise IllegalTransition(f"Unknown trigger {trigger!r}.") from None
    rule = TRANSITIONS.get((state, trigger))
    if rule is None:
        allowed = ", ".join(allowed_triggers(state)) or "none"
        raise IllegalTransition(
            f"A {state} campaign cannot be moved by '{trigger}'; allowed: {allowed}."
        )
    if trigger is not Trigger.DELETE:
        refusal = _not_template(facts) or rule.guard(facts)
    else:
        refusal = None
    if refusal:
        raise GuardRefused(f"Cannot {trigger} a {state} campaign: {refusal}.")
    reason = rule.finish.value if rule.finish is not None else note
    return Transition(state, rule.to_state, trigger, reason, actor)


def create(*, actor, is_template=False, note=""):
    """
    The audit record of a new draft (or template).

    @param note: e.g. C{"from template 12"}.
    """
    _require_actor(actor)
    if not note and is_template:
        note = "template"
    return Transition(None, State.DRAFT, Trigger.CREATE, note, actor)


def recycle(source_state, selection, *, actor, source_is_template=False):
    """
    The audit record of a new draft recycled from a finalized campaign.  The
    source campaign does not change state.

    @param source_state: the state of the campaign being recycled.
    @param selection: the L{RecycleSelection} of contacts to take over.
    @raise IllegalTransition: if the source is not finalized.
    """
    _require_actor(actor)
    source_state = State(source_state)
    if source_is_template or source_state is not State.FINALIZED:
        what = "template" if source_is_template else f"{source_state} campaign"
        raise IllegalTransition(
            f"A {what} cannot be recycled; only a finalized campaign can."
        )
    if not isinstance(selection, RecycleSelection):
        raise TypeError("recycle() needs a RecycleSelection")
    return Transition(None, State.DRAFT, Trigger.RECYCLE, selection.describe(), actor)
