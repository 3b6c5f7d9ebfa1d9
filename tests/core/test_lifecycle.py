"""
Tests for L{fts.core.lifecycle}.
"""

from datetime import UTC, datetime, timedelta

from twisted.trial.unittest import SynchronousTestCase

from fts.core import lifecycle
from fts.core.lifecycle import (
    Facts,
    FinishReason,
    GuardRefused,
    IllegalTransition,
    State,
    Transition,
    Trigger,
    allowed_triggers,
    check,
    create,
    recycle,
    transition,
)
from fts.core.problems import Problem
from fts.core.recycling import RecycleSelection

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# The expected table, written out independently of lifecycle.TRANSITIONS.
LEGAL = {
    ("draft", "confirm"): "scheduled",
    ("draft", "delete"): "deleted",
    ("scheduled", "unschedule"): "draft",
    ("scheduled", "start"): "running",
    ("scheduled", "finish_expired"): "finished",
    ("scheduled", "cancel"): "finished",
    ("running", "pause"): "paused",
    ("running", "finish_completed"): "finished",
    ("running", "finish_expired"): "finished",
    ("running", "cancel"): "finished",
    ("paused", "resume"): "running",
    ("paused", "finish_completed"): "finished",
    ("paused", "finish_expired"): "finished",
    ("paused", "cancel"): "finished",
    ("finished", "begin_finalizing"): "finalizing",
    ("finalizing", "finalize"): "finalized",
    ("finalized", "delete"): "deleted",
}

# Facts under which every guard allows its transition.
PERMISSIVE = Facts(
    now=NOW,
    start_at=NOW - timedelta(hours=1),
    end_at=NOW - timedelta(seconds=1),
    has_window_left=False,
    contacts_left=0,
    calls_in_flight=0,
)
# ... except start, which needs the end still ahead.
START_OK = Facts(now=NOW, start_at=NOW, end_at=NOW + timedelta(days=1))


class TableTests(SynchronousTestCase):
    """
    Every (state, trigger) pair is legal exactly when the life cycle says so.
    """

    def test_table_is_the_expected_one(self):
        """The transition table holds exactly the expected moves."""
        actual = {
            (state.value, trigger.value): rule.to_state.value
            for (state, trigger), rule in lifecycle.TRANSITIONS.items()
        }
        self.assertEqual(actual, LEGAL)

    def test_every_legal_transition(self):
        """Each legal move leads to its state and names its trigger and actor."""
        for (state, trigger), target in LEGAL.items():
            facts = START_OK if trigger == "start" else PERMISSIVE
            record = transition(state, trigger, facts, actor="user:alice")
            self.assertEqual(record.from_state, State(state))
            self.assertEqual(record.to_state, State(target))
            self.assertEqual(record.trigger, Trigger(trigger))
            self.assertEqual(record.actor, "user:alice")

    def test_every_illegal_transition(self):
        """Each other pair raises IllegalTransition naming the state and trigger."""
        count = 0
        for state in State:
            for trigger in Trigger:
                if (state.value, trigger.value) in LEGAL:
                    continue
                count += 1
                with self.assertRaises(IllegalTransition) as caught:
                    transition(state, trigger, PERMISSIVE, actor="user:alice")
                message = str(caught.exception)
                self.assertIn(f"A {state.value} campaign", message)
                self.assertIn(f"'{trigger.value}'", message)
        self.assertEqual(count, len(State) * len(Trigger) - len(LEGAL))

    def test_illegal_message_lists_allowed(self):
        """The error for an illegal move lists what is allowed instead."""
        with self.assertRaises(IllegalTransition) as caught:
            transition("finalized", "pause", actor="user:alice")
        self.assertEqual(
            str(caught.exception),
            "A finalized campaign cannot be moved by 'pause'; allowed: delete.",
        )

    def test_deleted_allows_nothing(self):
        """A deleted campaign has no triggers at all."""
        self.assertEqual(allowed_triggers("deleted"), [])
        with self.assertRaises(IllegalTransition) as caught:
            transition("deleted", "delete", actor="user:alice")
        self.assertIn("allowed: none", str(caught.exception))

    def test_allowed_triggers(self):
        """allowed_triggers lists the table's triggers for a state."""
        self.assertEqual(
            allowed_triggers(State.RUNNING),
            [Trigger.PAUSE, Trigger.FINISH_COMPLETED, Trigger.FINISH_EXPIRED, Trigger.CANCEL],
        )

    def test_unknown_state_and_trigger(self):
        """An unknown state or trigger is an IllegalTransition naming it."""
        with self.assertRaises(IllegalTransition) as caught:
            transition("sleeping", "start", actor="a")
        self.assertIn("'sleeping'", str(caught.exception))
        with self.assertRaises(IllegalTransition) as caught:
            transition("running", "explode", actor="a")
        self.assertIn("'explode'", str(caught.exception))

    def test_actor_required(self):
        """A transition without an actor is refused: the audit record needs one."""
        for actor in ("", "  ", None):
            self.assertRaises(ValueError, transition, "running", "pause", actor=actor)

    def test_note_is_the_reason(self):
        """A non-finishing transition stores the caller's note as its reason."""
        record = transition("running", "pause", actor="api:token-3", note="lunch break")
        self.assertEqual(
            record, Transition(State.RUNNING, State.PAUSED, Trigger.PAUSE, "lunch break", "api:token-3")
        )
        self.assertIsNone(record.finish_reason)


class FinishReasonTests(SynchronousTestCase):
    """
    Finishing transitions record why the campaign finished.
    """

    def test_reasons(self):
        """completed, expired and cancelled come from their triggers, not the note."""
        for trigger, reason in (
            ("finish_completed", FinishReason.COMPLETED),
            ("finish_expired", FinishReason.EXPIRED),
            ("cancel", FinishReason.CANCELLED),
        ):
            record = transition("running", trigger, PERMISSIVE, actor="sweeper", note="x")
            self.assertEqual(record.reason, reason.value)
            self.assertEqual(record.finish_reason, reason)


class GuardTests(SynchronousTestCase):
    """
    Guards allow or refuse a transition on the facts given.
    """

    def assertRefused(self, state, trigger, facts, text):
        with self.assertRaises(GuardRefused) as caught:
            transition(state, trigger, facts, actor="user:alice")
        self.assertIn(text, str(caught.exception))
        self.assertIn(f"Cannot {trigger} a {state} campaign", str(caught.exception))

    def test_confirm_needs_no_problems(self):
        """A draft with validation problems cannot be confirmed; the count is given."""
        problems = [Problem("name", "Give the campaign a name."), Problem("list_id", "x")]
        self.assertRefused("draft", "confirm", Facts(problems=problems), "2 validation problems")
        self.assertRefused("draft", "confirm", Facts(problems=problems[:1]), "1 validation problem must")
        record = transition("draft", "confirm", Facts(problems=[]), actor="u")
        self.assertEqual(record.to_state, State.SCHEDULED)

    def test_start_waits_for_start(self):
        """A scheduled campaign cannot start before its start."""
        facts = Facts(now=NOW, start_at=NOW + timedelta(seconds=1))
        self.assertRefused("scheduled", "start", facts, "has not come yet")

    def test_start_at_start(self):
        """A scheduled campaign starts at its start, or with no start set."""
        self.assertEqual(
            transition("scheduled", "start", Facts(now=NOW, start_at=NOW), actor="u").to_state,
            State.RUNNING,
        )
        self.assertEqual(
            transition("scheduled", "start", Facts(now=NOW), actor="u").to_state, State.RUNNING
        )

    def test_start_needs_now(self):
        """Starting without the current time is refused."""
        self.assertRefused("scheduled", "start", Facts(), "current time is needed")

    def test_start_after_end(self):
        """A scheduled campaign whose end has passed does not start."""
        facts = Facts(now=NOW, start_at=NOW - timedelta(days=2), end_at=NOW)
        self.assertRefused("scheduled", "start", facts, "expires instead")

    def test_completed_needs_no_contacts_left(self):
        """finish_completed needs zero contacts left to dial."""
        self.assertRefused("running", "finish_completed", Facts(contacts_left=3), "3 contacts")
        self.assertRefused("paused", "finish_completed", Facts(), "unknown")
        self.assertEqual(
            transition("paused", "finish_completed", Facts(contacts_left=0), actor="u").to_state,
            State.FINISHED,
        )

    def test_expired_at_end(self):
        """finish_expired is allowed once the end is reached."""
        facts = Facts(now=NOW, end_at=NOW)
        self.assertEqual(transition("running", "finish_expired", facts, actor="u").to_state, State.FINISHED)

    def test_expired_no_window_left(self):
        """finish_expired is allowed when no calling window remains before the end."""
        facts = Facts(now=NOW, end_at=NOW + timedelta(days=1), has_window_left=False)
        self.assertEqual(transition("scheduled", "finish_expired", facts, actor="u").to_state, State.FINISHED)

    def test_not_expired(self):
        """finish_expired is refused before the end while windows remain."""
        facts = Facts(now=NOW, end_at=NOW + timedelta(seconds=1))
        self.assertRefused("running", "finish_expired", facts, "calling windows remain")

    def test_expired_needs_now(self):
        """Checking an end without the current time is refused."""
        self.assertRefused("running", "finish_expired", Facts(end_at=NOW), "current time")

    def test_finalize_waits_for_calls(self):
        """finalize waits until no call is in flight..."""
        self.assertRefused("finalizing", "finalize", Facts(calls_in_flight=2), "2 calls")
        self.assertEqual(
            transition("finalizing", "finalize", Facts(calls_in_flight=0), actor="u").to_state,
            State.FINALIZED,
        )

    def test_finalize_after_bounded_wait(self):
        """... or until the bounded wait is over and stuck calls were hung up."""
        facts = Facts(calls_in_flight=2, stuck_wait_over=True)
        self.assertEqual(transition("finalizing", "finalize", facts, actor="u").to_state, State.FINALIZED)

    def test_unguarded(self):
        """pause, resume, cancel, unschedule, begin_finalizing and delete need no facts."""
        for state, trigger in (
            ("running", "pause"), ("paused", "resume"), ("running", "cancel"),
            ("paused", "cancel"), ("scheduled", "cancel"), ("scheduled", "unschedule"),
            ("finished", "begin_finalizing"), ("finalized", "delete"), ("draft", "delete"),
        ):
            transition(state, trigger, Facts(), actor="u")

    def test_check(self):
        """check() returns None when allowed and the refusal otherwise."""
        self.assertIsNone(check("running", "pause"))
        self.assertIn("2 calls", check("finalizing", "finalize", Facts(calls_in_flight=2)))
        self.assertIn("cannot be moved", check("draft", "pause"))


class TemplateTests(SynchronousTestCase):
    """
    Templates never leave draft.
    """

    def test_template_cannot_be_confirmed(self):
        """Confirming a template is refused, even with no problems."""
        with self.assertRaises(GuardRefused) as caught:
            transition("draft", "confirm", Facts(is_template=True), actor="u")
        self.assertIn("template never leaves draft", str(caught.exception))

    def test_template_can_be_deleted(self):
        """A template can be deleted."""
        record = transition("draft", "delete", Facts(is_template=True), actor="u")
        self.assertEqual(record.to_state, State.DELETED)

    def test_template_refused_everywhere(self):
        """No trigger other than delete moves a template, whatever the state claims."""
        for (state, trigger) in LEGAL:
            if trigger == "delete":
                continue
            facts = Facts(
                is_template=True, now=NOW, has_window_left=False, contacts_left=0
            )
            self.assertRaises(GuardRefused, transition, state, trigger, facts, actor="u")

    def test_create(self):
        """Creating a campaign or template records None -> draft."""
        self.assertEqual(
            create(actor="user:bob"),
            Transition(None, State.DRAFT, Trigger.CREATE, "", "user:bob"),
        )
        self.assertEqual(create(actor="user:bob", is_template=True).reason, "template")
        self.assertEqual(create(actor="user:bob", note="from template 4").reason, "from template 4")
        self.assertRaises(ValueError, create, actor="")


class RecycleTests(SynchronousTestCase):
    """
    Recycling makes a new draft from a finalized campaign.
    """

    def test_recycle_finalized(self):
        """A finalized campaign recycles into a new draft record."""
        selection = RecycleSelection(choices={"busy", "no_answer"}, keys={"2"})
        record = recycle("finalized", selection, actor="user:alice")
        self.assertEqual(record.from_state, None)
        self.assertEqual(record.to_state, State.DRAFT)
        self.assertEqual(record.trigger, Trigger.RECYCLE)
        self.assertEqual(record.reason, "contacts with: busy, no_answer, pressed 2")

    def test_recycle_other_states(self):
        """Only a finalized campaign can be recycled."""
        selection = RecycleSelection(choices={"busy"})
        for state in State:
            if state is State.FINALIZED:
                continue
            with self.assertRaises(IllegalTransition) as caught:
                recycle(state, selection, actor="u")
            self.assertIn(f"A {state.value} campaign cannot be recycled", str(caught.exception))

    def test_recycle_template(self):
        """A template cannot be recycled."""
        with self.assertRaises(IllegalTransition):
            recycle("finalized", RecycleSelection(choices={"busy"}), actor="u", source_is_template=True)

    def test_recycle_needs_selection(self):
        """recycle() needs a RecycleSelection."""
        self.assertRaises(TypeError, recycle, "finalized", {"busy"}, actor="u")
