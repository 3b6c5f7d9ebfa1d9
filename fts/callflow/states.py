"""
The call flow's states and the decisions between them, pure (no Twisted, no
I/O): what follows the AMD verdict, a key, no key, an option.

    answered -> amd -> message -> menu -> action -> end
                  \\-> machine_message -> end

The transition table L{NEXT} is the whole graph; L{FlowState.move} refuses
any other step, so a bug shows up as an error naming the two states instead
of a call doing something nobody designed.  Loops back to C{message} are
the replays (invalid key, no key) and the C{repeat} option; all of them are
bounded by counters kept in L{FlowState}.
"""

import attr

from fts.core.campaign import Action, AmdMode

__all__ = [
    "ANSWERED",
    "AMD",
    "MACHINE_MESSAGE",
    "MESSAGE",
    "MENU",
    "ACTION",
    "END",
    "NEXT",
    "FlowState",
    "InvalidTransition",
    "verdict_of",
    "after_amd",
    "after_message",
    "after_menu",
    "after_action",
]

ANSWERED = "answered"
AMD = "amd"
MACHINE_MESSAGE = "machine_message"
MESSAGE = "message"
MENU = "menu"
ACTION = "action"
END = "end"

#: Every allowed step.
NEXT = {
    ANSWERED: frozenset({AMD, MESSAGE, END}),
    AMD: frozenset({MESSAGE, MACHINE_MESSAGE, END}),
    MACHINE_MESSAGE: frozenset({END}),
    MESSAGE: frozenset({MENU, ACTION, END}),
    MENU: frozenset({MESSAGE, ACTION, END}),
    ACTION: frozenset({MESSAGE, END}),
    END: frozenset(),
}

# AMDSTATUS as app_amd sets it -> the verdict FTS records.
_VERDICTS = {"HUMAN": "human", "MACHINE": "machine", "NOTSURE": "notsure"}


class InvalidTransition(RuntimeError):
    """
    A step the transition table does not allow (a bug in the flow).
    """


@attr.s(slots=True)
class FlowState:
    """
    Where one call's flow is, and the counters that bound its loops.

    @ivar state: one of the state names.
    @ivar key: the option key chosen (pressed during the message or the
        menu wait), for the C{action} state.
    @ivar invalid_replays: replays used after an invalid key.
    @ivar silent_replays: replays used after no key.
    @ivar repeats: times the C{repeat} option replayed the message.
    @ivar prelude: what to play before the message on the next pass (the
        invalid-key or no-key prompt, or the repeat option's message).
    @ivar heard: the whole message has been played at least once.
    @ivar history: the states entered, in order.
    """

    state = attr.ib(default=ANSWERED)
    key = attr.ib(default=None)
    invalid_replays = attr.ib(default=0)
    silent_replays = attr.ib(default=0)
    repeats = attr.ib(default=0)
    prelude = attr.ib(default=())
    heard = attr.ib(default=False)
    history = attr.ib(factory=lambda: [ANSWERED])

    def move(self, state):
        """
        Go to C{state}.

        @raise InvalidTransition: the table does not allow it.
        """
        if state not in NEXT[self.state]:
            raise InvalidTransition(
                "the call flow cannot go from %s to %s" % (self.state, state))
        self.state = state
        self.history.append(state)

    @property
    def ended(self):
        return self.state == END


def verdict_of(status):
    """
    The verdict (C{human}, C{machine}, C{notsure}) for an C{AMDSTATUS}
    value, or C{None} when there is none (C{HANGUP}: the callee hung up
    during detection; empty or unknown: AMD did not run).
    """
    return _VERDICTS.get((status or "").strip().upper())


def after_amd(mode, verdict, has_machine_message=True):
    """
    The state after answering-machine detection.

    @param mode: the campaign's L{AmdMode}.
    @param verdict: from L{verdict_of}; C{None} is treated as a person (the
        flow ends anyway when the channel hung up).
    """
    mode = AmdMode(mode)
    if verdict != "machine" or mode in (AmdMode.OFF, AmdMode.TREAT_AS_HUMAN):
        return MESSAGE
    if mode is AmdMode.HANGUP:
        return END
    return MACHINE_MESSAGE if has_machine_message else END


def after_message(state, menu, key):
    """
    The state after the message was played.

    @param key: the option key that interrupted it, or C{None} when it
        played to its end.
    """
    if key is not None:
        state.key = key
        return ACTION
    return MENU if menu.options else END


def after_menu(state, menu, key, invalid_prompt=(), silent_prompt=()):
    """
    The state after the wait for a key: the option's action, a replay of the
    message (with the invalid-key or no-key prompt first), or the end once
    the replays are used up.

    @param key: the key pressed, or C{None} when none came in time.
    @param invalid_prompt: what to play before replaying after an invalid key.
    @param silent_prompt: likewise after no key.
    """
    if key is not None and menu.option(key) is not None:
        state.key = key
        return ACTION
    if key is not None:
        if state.invalid_replays >= menu.invalid_key.replays:
            return END
        state.invalid_replays += 1
        state.prelude = tuple(invalid_prompt)
        return MESSAGE
    if state.silent_replays >= menu.no_key.replays:
        return END
    state.silent_replays += 1
    state.prelude = tuple(silent_prompt)
    return MESSAGE


def after_action(state, option, max_repeats):
    """
    The state after an option's confirmation was played (transfers have
    happened by then): C{repeat} goes back to the message at most
    C{max_repeats} times; everything else ends the call.
    """
    if Action(option.action) is Action.REPEAT and state.repeats < max_repeats:
        state.repeats += 1
        state.prelude = ()
        state.key = None
        return MESSAGE
    return END
