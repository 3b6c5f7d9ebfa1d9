"""
Tests for L{fts.jobs.schedule}: next-run arithmetic as pure functions of now.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, strategies as st
from twisted.trial import unittest

from fts.jobs.schedule import DailyAt, Interval, Once, daily_next, interval_next

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class IntervalTests(unittest.SynchronousTestCase):

    def test_middle_random_value_is_exact_interval(self):
        """A random value of 0.5 gives a gap of exactly C{every}."""
        self.assertEqual(interval_next(NOW, 60, 10, 0.5), NOW + timedelta(seconds=60))

    def test_jitter_bounds(self):
        """The gap runs from C{every - jitter} (random 0) up to C{every + jitter}."""
        self.assertEqual(interval_next(NOW, 60, 10, 0.0), NOW + timedelta(seconds=50))
        self.assertLess(interval_next(NOW, 60, 10, 0.999999), NOW + timedelta(seconds=70))
        self.assertGreater(interval_next(NOW, 60, 10, 0.999999),
                           NOW + timedelta(seconds=69.99))

    @given(st.floats(min_value=1, max_value=1e6), st.floats(min_value=0, max_value=0.999),
           st.floats(min_value=0, max_value=1, exclude_max=True))
    def test_gap_always_within_bounds(self, every, jitter_share, random_value):
        """Whatever the values, the gap stays within C{[every - jitter, every + jitter]}."""
        jitter = every * jitter_share
        gap = (interval_next(NOW, every, jitter, random_value) - NOW).total_seconds()
        self.assertGreaterEqual(gap, every - jitter - 1e-6)
        self.assertLessEqual(gap, every + jitter + 1e-6)
        self.assertGreater(gap, 0)

    def test_random_value_out_of_range(self):
        """A random value outside [0, 1) is refused."""
        self.assertRaises(ValueError, interval_next, NOW, 60, 10, 1.0)

    def test_naive_now_refused(self):
        """A naive C{now} is refused rather than read in some local zone."""
        self.assertRaises(ValueError, interval_next, datetime(2026, 3, 1), 60, 0, 0.5)

    def test_invalid_values(self):
        """A zero interval, negative jitter or jitter of a whole interval are refused."""
        self.assertRaises(ValueError, Interval, 0)
        self.assertRaises(ValueError, Interval, 60, -1)
        self.assertRaises(ValueError, Interval, 60, 60)

    def test_first_run_one_gap_after_start(self):
        """Without C{at_start} the first firing is one gap after now."""
        self.assertEqual(Interval(30).next_run(NOW, None, 0.5), NOW + timedelta(seconds=30))

    def test_at_start(self):
        """With C{at_start} the first firing is now, the following ones a gap apart."""
        schedule = Interval(30, at_start=True)
        self.assertEqual(schedule.next_run(NOW, None, 0.5), NOW)
        self.assertEqual(schedule.next_run(NOW, NOW, 0.5), NOW + timedelta(seconds=30))

    def test_describe(self):
        """The schedule reads as an operator would write it."""
        self.assertEqual(Interval(60, 10).describe(), "every 60s ±10s")
        self.assertEqual(Interval(86400).describe(), "every 86400s")


class DailyTests(unittest.SynchronousTestCase):

    def test_later_today(self):
        """A time still ahead today fires today, in the zone's offset."""
        now = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # 02:00 in Berlin (CEST)
        self.assertEqual(daily_next(now, time(3, 0), BERLIN),
                         datetime(2026, 6, 1, 1, 0, tzinfo=UTC))

    def test_strictly_after_now(self):
        """At the very instant of a firing, the next one is tomorrow."""
        now = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 03:00 in Berlin
        self.assertEqual(daily_next(now, time(3, 0), BERLIN),
                         datetime(2026, 6, 2, 1, 0, tzinfo=UTC))

    def test_spring_forward_gap_fires_at_transition(self):
        """02:30 does not exist in New York on 2026-03-08: it fires at 03:00 EDT."""
        now = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
        first = daily_next(now, time(2, 30), NEW_YORK)
        self.assertEqual(first, datetime(2026, 3, 8, 7, 0, tzinfo=UTC))
        self.assertEqual(first.astimezone(NEW_YORK).strftime("%H:%M %Z"), "03:00 EDT")
        self.assertEqual(daily_next(first, time(2, 30), NEW_YORK),
                         datetime(2026, 3, 9, 6, 30, tzinfo=UTC))

    def test_fall_back_fires_once_at_first_occurrence(self):
        """01:30 happens twice in New York on 2026-11-01: it fires only at the first."""
        now = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
        first = daily_next(now, time(1, 30), NEW_YORK)
        self.assertEqual(first, datetime(2026, 11, 1, 5, 30, tzinfo=UTC))  # EDT
        second = daily_next(first, time(1, 30), NEW_YORK)
        self.assertEqual(second, datetime(2026, 11, 2, 6, 30, tzinfo=UTC))  # EST

    @given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 1, 1),
                        timezones=st.just(UTC)),
           st.times(), st.sampled_from(["America/New_York", "Europe/Berlin",
                                        "Australia/Lord_Howe", "UTC"]))
    def test_next_is_within_a_day_and_shows_the_time(self, now, at, name):
        """The next firing is after now, at most about a day later, and shows C{at} unless skipped."""
        tz = ZoneInfo(name)
        at = at.replace(microsecond=0)
        fired = daily_next(now, at, tz)
        self.assertGreater(fired, now)
        self.assertLessEqual(fired - now, timedelta(hours=25))
        local = fired.astimezone(tz)
        if local.time() != at:
            # Only in a gap: then the instant before shows an earlier time.
            before = (fired - timedelta(seconds=1)).astimezone(tz)
            self.assertLess(before.time(), at)
            self.assertGreater(local.time(), at)

    def test_unknown_timezone(self):
        """An unknown timezone name is refused with its name in the message."""
        error = self.assertRaises(ValueError, DailyAt, time(3, 0), "Mars/Olympus")
        self.assertIn("Mars/Olympus", str(error))

    def test_aware_time_refused(self):
        """The time of day must be naive; the zone is given separately."""
        self.assertRaises(ValueError, DailyAt, time(3, 0, tzinfo=UTC), "UTC")

    def test_describe(self):
        """The schedule names the time and the zone."""
        self.assertEqual(DailyAt(time(3, 0), "Europe/Berlin").describe(),
                         "daily at 03:00 Europe/Berlin")


class OnceTests(unittest.SynchronousTestCase):

    def test_fires_at_its_time_then_never(self):
        """A one-off fires at its time, then has no next run."""
        at = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
        schedule = Once(at)
        self.assertEqual(schedule.next_run(NOW, None, 0.5), at)
        self.assertIsNone(schedule.next_run(at, at, 0.5))

    def test_past_one_off_still_fires(self):
        """A one-off whose time has passed fires (its due time is in the past)."""
        at = NOW - timedelta(hours=1)
        self.assertEqual(Once(at).next_run(NOW, None, 0.5), at)

    def test_naive_refused(self):
        """A naive date-time is refused."""
        self.assertRaises(ValueError, Once, datetime(2026, 3, 2, 9, 0))
