"""
Which time-driven life-cycle trigger is due for a campaign now: pure, no
I/O, no Twisted (the sweeper asks the store for the facts and acts).

  - scheduled: expires if its end has passed or no calling window is left
    before the end (it never gets to call); otherwise starts once its start
    has come;
  - running or paused: expires if its end has passed or no calling window
    is left before the end.

Instants are aware; the schedule's start and end are read as
L{fts.core.windows} reads them (a boundary in a DST gap is the transition,
one in a repeated hour its first occurrence), which is also how the store
computed C{starts_at}/C{ends_at}.  Completion (no contact left) is not a
matter of time and is decided from the database.
"""

from fts.core import windows
from fts.core.lifecycle import State, Trigger


def due_trigger(state, now, starts_at, ends_at, schedule):
    """
    The trigger the clock calls for, or C{None}.

    @param state: the campaign's L{State}.
    @param now: the current aware instant.
    @param starts_at: the schedule's start as an aware instant, or C{None}.
    @param ends_at: the schedule's end as an aware instant, or C{None}.
    @param schedule: the L{fts.core.campaign.Schedule}.
    @raise fts.core.windows.UnknownTimezone: for an unknown timezone.
    """
    state = State(state)
    if state not in (State.SCHEDULED, State.RUNNING, State.PAUSED):
        return None
    if ends_at is not None and now >= ends_at:
        return Trigger.FINISH_EXPIRED
    if not windows.has_window_left(schedule, now):
        return Trigger.FINISH_EXPIRED
    if state is State.SCHEDULED and (starts_at is None or now >= starts_at):
        return Trigger.START
    return None
