"""
Tests for L{fts.asterisk.agi.deadlines}: coarse timeouts on an injected clock.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.agi.deadlines import Deadlines


class Entry:
    def __init__(self, log, name, then=None):
        self.log = log
        self.name = name
        self.then = then

    def _deadline_passed(self):
        self.log.append(self.name)
        if self.then is not None:
            self.then()


class DeadlinesTests(SynchronousTestCase):
    """
    Entries fire once their delay has passed (at most one tick late),
    unless cancelled.
    """

    def setUp(self):
        self.clock = Clock()
        self.deadlines = Deadlines(self.clock, tick=0.1)
        self.log = []

    def test_fires_after_delay_within_a_tick(self):
        """
        An entry fires no earlier than its delay and no later than one tick
        after it.
        """
        self.deadlines.schedule(Entry(self.log, "a"), 1.0)
        self.clock.advance(0.99)
        self.assertEqual(self.log, [])
        self.clock.advance(0.11)
        self.assertEqual(self.log, ["a"])
        self.assertEqual(len(self.deadlines), 0)

    def test_cancel(self):
        """
        A cancelled entry never fires; cancelling twice is harmless.
        """
        entry = Entry(self.log, "a")
        ticket = self.deadlines.schedule(entry, 1.0)
        self.deadlines.cancel(entry, ticket)
        self.deadlines.cancel(entry, ticket)
        self.clock.advance(5)
        self.assertEqual(self.log, [])

    def test_order_and_earlier_entries(self):
        """
        Entries fire in deadline order, including one scheduled after a
        later one but due sooner.
        """
        self.deadlines.schedule(Entry(self.log, "late"), 5.0)
        self.deadlines.schedule(Entry(self.log, "soon"), 1.0)
        self.deadlines.schedule(Entry(self.log, "middle"), 3.0)
        for _ in range(70):
            self.clock.advance(0.1)
        self.assertEqual(self.log, ["soon", "middle", "late"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_schedule_while_firing(self):
        """
        An entry may schedule another when it fires; that one fires later.
        """
        second = Entry(self.log, "second")
        first = Entry(self.log, "first", lambda: self.deadlines.schedule(second, 1.0))
        self.deadlines.schedule(first, 1.0)
        self.clock.advance(1.1)
        self.assertEqual(self.log, ["first"])
        self.clock.advance(1.1)
        self.assertEqual(self.log, ["first", "second"])

    def test_one_reactor_timer(self):
        """
        Many entries share one pending reactor timer.
        """
        for i in range(100):
            self.deadlines.schedule(Entry(self.log, i), 1 + i / 10.0)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.assertEqual(len(self.deadlines), 100)


class StopTests(SynchronousTestCase):
    def test_stop_cancels_everything(self):
        """
        After stop() no deadline fires and no timer is left on the clock.
        """
        clock = Clock()
        deadlines = Deadlines(clock)
        fired = []

        class Entry:
            def _deadline_passed(self):
                fired.append(self)

        deadlines.schedule(Entry(), 1.0)
        deadlines.schedule(Entry(), 5.0)
        deadlines.stop()
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(10)
        self.assertEqual(fired, [])
        self.assertEqual(len(deadlines), 0)
