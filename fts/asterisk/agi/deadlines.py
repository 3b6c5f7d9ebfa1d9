"""
Coarse timeouts for many short-lived things, on an injected clock.

Every AGI command has a timeout, and nearly every one is cancelled a few
milliseconds later when its reply arrives.  A reactor C{DelayedCall} per
command costs several microseconds and a few hundred bytes; here a timeout
is an entry in a per-tick bucket (a set add, and a set discard to cancel),
and the reactor holds one timer for the earliest bucket.  Timeouts fire up
to one tick late, which is fine for timeouts measured in seconds.

An entry with a succession of short-lived deadlines (an AGI session, one
command after another) can keep a single ticket: it schedules again only
when a new deadline is earlier than its ticket (L{Deadlines.slot}), and when
the ticket fires it checks what is actually due and schedules the rest.
"""

import heapq

__all__ = ["Deadlines"]


class Deadlines:
    """
    Call C{entry._deadline_passed()} once C{delay} seconds have passed,
    unless cancelled first.

    Entries are hashable objects with a C{_deadline_passed()} method; an
    entry is either pending once or not at all (the caller keeps the ticket
    L{schedule} returns and hands it to L{cancel}).
    """

    __slots__ = (
        "_clock",
        "seconds",
        "per_second",
        "_buckets",
        "_slots",
        "_timer",
        "_timer_slot",
    )

    def __init__(self, clock, tick=0.1):
        """
        @param clock: an C{IReactorTime}.
        @param tick: the resolution in seconds.
        """
        self._clock = clock
        #: The clock's C{seconds} (the current time).
        self.seconds = clock.seconds
        #: Ticks per second: ticket C{n} fires once C{n / per_second} has
        #: passed.
        self.per_second = 1.0 / tick
        self._buckets = {}
        self._slots = []
        self._timer = None
        self._timer_slot = None

    @property
    def clock(self):
        """
        The C{IReactorTime} this uses.
        """
        return self._clock

    def __len__(self):
        """
        The number of pending entries.
        """
        return sum(len(bucket) for bucket in self._buckets.values())

    def schedule(self, entry, delay):
        """
        Arrange for C{entry._deadline_passed()} after C{delay} seconds.

        @return: a ticket for L{cancel}.
        """
        return self.schedule_at(entry, self._clock.seconds() + delay)

    def slot(self, when):
        """
        The ticket L{schedule_at} would give for C{when}: tickets compare
        like the times they fire at, so an entry that already holds a ticket
        no later than C{slot(when)} need not schedule again.
        """
        return int(when * self.per_second) + 1

    def schedule_at(self, entry, when):
        """
        Arrange for C{entry._deadline_passed()} once the clock has passed
        C{when} (a time of the clock's C{seconds()}).

        @return: a ticket for L{cancel}.
        """
        slot = int(when * self.per_second) + 1
        bucket = self._buckets.get(slot)
        if bucket is None:
            self._buckets[slot] = {entry}
            heapq.heappush(self._slots, slot)
            if self._timer_slot is None or slot < self._timer_slot:
                self._arm(slot)
        else:
            bucket.add(entry)
        return slot

    def cancel(self, entry, ticket):
        """
        Forget C{entry}'s pending deadline (no error if it already fired).
        """
        bucket = self._buckets.get(ticket)
        if bucket is not None:
            bucket.discard(entry)

    def stop(self):
        """
        Forget every pending deadline and cancel the timer (the server is
        stopping; its sessions are being closed).
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._timer_slot = None
        self._buckets.clear()
        del self._slots[:]

    def _arm(self, slot):
        timer = self._timer
        if timer is not None and timer.active():
            timer.cancel()
        self._timer_slot = slot
        delay = max(0.0, slot / self.per_second - self._clock.seconds())
        self._timer = self._clock.callLater(delay, self._fire)

    def _fire(self):
        self._timer = None
        self._timer_slot = None
        now = int(self._clock.seconds() * self.per_second)
        slots = self._slots
        buckets = self._buckets
        while slots and slots[0] <= now:
            bucket = buckets.pop(heapq.heappop(slots), None)
            if bucket:
                for entry in bucket:
                    entry._deadline_passed()
        if slots and self._timer_slot is None:
            self._arm(slots[0])
