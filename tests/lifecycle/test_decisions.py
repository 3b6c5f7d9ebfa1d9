"""
Tests for L{fts.lifecycle.decisions.due_trigger}: plain values, no database.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from twisted.trial import unittest

from fts.core.campaign import Schedule, Window
from fts.core.lifecycle import State, Trigger
from fts.core.windows import bounds
from fts.lifecycle.decisions import due_trigger
from tests.lifecycle.fixtures import ALL_WEEK

SECOND = timedelta(seconds=1)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def due(state, schedule, now):
    start, end = bounds(schedule)
    return due_trigger(state, now, start, end, schedule)


class ExpiryTests(unittest.SynchronousTestCase):

    def test_end_in_spring_forward_gap(self):
        """An end at 02:30 on New York's spring-forward night expires at the transition (07:00 UTC)."""
        schedule = Schedule("America/New_York", datetime(2026, 3, 1), datetime(2026, 3, 8, 2, 30),
                            ALL_WEEK)
        self.assertIsNone(due(State.RUNNING, schedule, utc(2026, 3, 8, 7) - SECOND))
        self.assertEqual(due(State.RUNNING, schedule, utc(2026, 3, 8, 7)), Trigger.FINISH_EXPIRED)

    def test_end_in_repeated_hour(self):
        """An end at 01:30 on the fall-back night expires at its first occurrence, not an hour later."""
        schedule = Schedule("America/New_York", datetime(2026, 10, 1), datetime(2026, 11, 1, 1, 30),
                            ALL_WEEK)
        self.assertIsNone(due(State.PAUSED, schedule, utc(2026, 11, 1, 5, 30) - SECOND))
        self.assertEqual(due(State.PAUSED, schedule, utc(2026, 11, 1, 5, 30)),
                         Trigger.FINISH_EXPIRED)

    def test_window_across_midnight(self):
        """
        With only a Friday 22:00-02:00 window and an end on Saturday noon, the
        campaign lives through Saturday 01:59 and expires at 02:00 (no window left).
        """
        schedule = Schedule("Europe/Berlin", datetime(2026, 6, 1), datetime(2026, 6, 6, 12),
                            (Window(4, time(22), time(2)),))
        berlin = ZoneInfo("Europe/Berlin")
        friday_evening = datetime(2026, 6, 5, 20, tzinfo=berlin)
        saturday_1am = datetime(2026, 6, 6, 1, 59, tzinfo=berlin)
        saturday_2am = datetime(2026, 6, 6, 2, 0, tzinfo=berlin)
        self.assertIsNone(due(State.RUNNING, schedule, friday_evening))
        self.assertIsNone(due(State.RUNNING, schedule, saturday_1am))
        self.assertEqual(due(State.RUNNING, schedule, saturday_2am), Trigger.FINISH_EXPIRED)

    def test_midnight_window_on_spring_forward_night(self):
        """
        A Saturday 23:00-03:00 window on Berlin's spring-forward night, with
        the end at 02:30 (skipped): calls until 00:59:59 UTC, expired at 01:00 UTC.
        """
        schedule = Schedule("Europe/Berlin", datetime(2026, 3, 1), datetime(2026, 3, 29, 2, 30),
                            (Window(5, time(23), time(3)),))
        self.assertIsNone(due(State.RUNNING, schedule, utc(2026, 3, 29, 0, 59, 59)))
        self.assertEqual(due(State.RUNNING, schedule, utc(2026, 3, 29, 1)),
                         Trigger.FINISH_EXPIRED)

    def test_last_window_over(self):
        """Past the last window before a far end, the campaign expires at once."""
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 6, 7, 23),
                            (Window(0, time(9), time(17)),))  # Mondays only
        self.assertIsNone(due(State.RUNNING, schedule, utc(2026, 6, 1, 16, 59)))
        self.assertEqual(due(State.RUNNING, schedule, utc(2026, 6, 1, 17)),
                         Trigger.FINISH_EXPIRED)


class StartTests(unittest.SynchronousTestCase):

    def test_start_in_spring_forward_gap(self):
        """A start at 02:30 on the spring-forward night is due at the transition."""
        schedule = Schedule("America/New_York", datetime(2026, 3, 8, 2, 30),
                            datetime(2026, 3, 9), ALL_WEEK)
        self.assertIsNone(due(State.SCHEDULED, schedule, utc(2026, 3, 8, 7) - SECOND))
        self.assertEqual(due(State.SCHEDULED, schedule, utc(2026, 3, 8, 7)), Trigger.START)

    def test_scheduled_past_end_expires(self):
        """A scheduled campaign whose end passed (daemon down meanwhile) expires instead of starting."""
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 6, 2), ALL_WEEK)
        self.assertEqual(due(State.SCHEDULED, schedule, utc(2026, 6, 3)), Trigger.FINISH_EXPIRED)

    def test_scheduled_without_window(self):
        """A scheduled campaign with no window between now and its end expires before starting."""
        schedule = Schedule("UTC", datetime(2026, 6, 2), datetime(2026, 6, 3),
                            (Window(0, time(9), time(17)),))  # Tuesday to Wednesday: no Monday
        self.assertEqual(due(State.SCHEDULED, schedule, utc(2026, 6, 1)), Trigger.FINISH_EXPIRED)

    def test_other_states_untouched(self):
        """Drafts and finished campaigns are never moved by the clock."""
        schedule = Schedule("UTC", datetime(2026, 6, 1), datetime(2026, 6, 2), ALL_WEEK)
        for state in (State.DRAFT, State.FINISHED, State.FINALIZING, State.FINALIZED):
            self.assertIsNone(due(state, schedule, utc(2026, 7, 1)))
