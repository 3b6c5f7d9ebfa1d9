"""
Tests for L{fts.core.windows}.

Dates used: 2026-03-02 is a Monday.  America/New_York springs forward on
Sunday 2026-03-08 (02:00 EST -> 03:00 EDT, 07:00 UTC) and falls back on
Sunday 2026-11-01 (02:00 EDT -> 01:00 EST, 06:00 UTC).  Europe/Berlin springs
forward on Sunday 2026-03-29 (01:00 UTC) and falls back on Sunday
2026-10-25 (01:00 UTC).
"""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from twisted.trial.unittest import SynchronousTestCase

from fts.core.campaign import RecipientHours, Schedule, Window
from fts.core.windows import (
    UnknownTimezone,
    bounds,
    has_window_left,
    is_open,
    next_close,
    next_open,
    open_intervals,
    to_instant,
    zone,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
NY = "America/New_York"
BERLIN = "Europe/Berlin"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def w(weekday, start, end):
    return Window(weekday, time.fromisoformat(start), time.fromisoformat(end))


def sched(*windows, tz="UTC", start=None, end=None, hours=None):
    return Schedule(
        timezone=tz,
        start=datetime.fromisoformat(start) if start else None,
        end=datetime.fromisoformat(end) if end else None,
        windows=windows,
        recipient_hours=RecipientHours(*map(time.fromisoformat, hours), "tz") if hours else None,
    )


class ToInstantTests(SynchronousTestCase):
    """
    A local wall-clock time maps to the first instant the clock shows it or later.
    """

    def test_ordinary(self):
        """An ordinary local time maps to its only instant."""
        self.assertEqual(to_instant(datetime(2026, 3, 2, 9), zone(NY)), utc(2026, 3, 2, 14))

    def test_gap(self):
        """A time skipped by spring-forward maps to the transition."""
        for minute in (0, 1, 30, 59):
            self.assertEqual(
                to_instant(datetime(2026, 3, 8, 2, minute), zone(NY)), utc(2026, 3, 8, 7)
            )

    def test_gap_edges(self):
        """Just before the gap is EST, its end is EDT: both at the transition or before."""
        self.assertEqual(to_instant(datetime(2026, 3, 8, 1, 59), zone(NY)), utc(2026, 3, 8, 6, 59))
        self.assertEqual(to_instant(datetime(2026, 3, 8, 3, 0), zone(NY)), utc(2026, 3, 8, 7))

    def test_repeated_hour(self):
        """A time repeated by fall-back maps to its first occurrence."""
        self.assertEqual(to_instant(datetime(2026, 11, 1, 1, 30), zone(NY)), utc(2026, 11, 1, 5, 30))
        self.assertEqual(to_instant(datetime(2026, 11, 1, 2, 0), zone(NY)), utc(2026, 11, 1, 7, 0))

    def test_half_hour_shift(self):
        """Lord Howe Island's 30-minute spring-forward gap maps to its transition."""
        self.assertEqual(
            to_instant(datetime(2026, 10, 4, 2, 15), zone("Australia/Lord_Howe")),
            utc(2026, 10, 3, 15, 30),
        )

    def test_zone(self):
        """zone() accepts names and ZoneInfo, and refuses unknown names clearly."""
        self.assertIs(zone(ZoneInfo(BERLIN)), ZoneInfo(BERLIN))
        for bad in ("Mars/Base", "", "../etc", None):
            with self.assertRaises(UnknownTimezone) as caught:
                zone(bad)
            self.assertIn(repr(bad), str(caught.exception))


class WeeklyWindowTests(SynchronousTestCase):
    """
    Weekly windows open and close at their local times.
    """

    def test_inside_and_outside(self):
        """A window is open from its start (inclusive) to its end (exclusive)."""
        s = sched(w(MON, "09:00", "17:00"))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 8, 59, 59)))
        self.assertTrue(is_open(s, utc(2026, 3, 2, 9)))
        self.assertTrue(is_open(s, utc(2026, 3, 2, 16, 59, 59)))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 17)))
        self.assertFalse(is_open(s, utc(2026, 3, 3, 10)))

    def test_just_before_start(self):
        """Half a second before a window opens it is still closed."""
        s = sched(w(MON, "09:00", "17:00"))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 8, 59, 59, 500000)))
        self.assertTrue(is_open(s, utc(2026, 3, 2, 16, 59, 59, 999999)))

    def test_campaign_timezone(self):
        """Windows are read in the campaign's timezone, with its offset of the day."""
        s = sched(w(MON, "09:00", "17:00"), tz=NY)
        self.assertEqual(next_open(s, utc(2026, 3, 2)), utc(2026, 3, 2, 14))
        self.assertEqual(next_open(s, utc(2026, 3, 10)), utc(2026, 3, 16, 13))

    def test_other_instant_timezones(self):
        """now may be in any timezone; results are UTC."""
        s = sched(w(MON, "09:00", "17:00"), tz=NY)
        berlin_now = datetime(2026, 3, 2, 10, tzinfo=ZoneInfo(BERLIN))
        result = next_open(s, berlin_now)
        self.assertEqual(result, utc(2026, 3, 2, 14))
        self.assertIs(result.tzinfo, UTC)

    def test_several_per_day(self):
        """Several windows a day leave the gaps between them closed."""
        s = sched(w(MON, "09:00", "12:00"), w(MON, "14:00", "17:00"))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 13)))
        self.assertEqual(next_open(s, utc(2026, 3, 2, 12, 30)), utc(2026, 3, 2, 14))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 10)), utc(2026, 3, 2, 12))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 15)), utc(2026, 3, 2, 17))
        self.assertEqual(
            open_intervals(s, utc(2026, 3, 2), utc(2026, 3, 3)),
            [(utc(2026, 3, 2, 9), utc(2026, 3, 2, 12)), (utc(2026, 3, 2, 14), utc(2026, 3, 2, 17))],
        )

    def test_adjacent_windows_are_one_stretch(self):
        """Windows that touch close only at the end of the last one."""
        s = sched(w(MON, "09:00", "12:00"), w(MON, "12:00", "15:00"))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 10)), utc(2026, 3, 2, 15))

    def test_crossing_midnight(self):
        """A window ending before it starts continues into the next day."""
        s = sched(w(FRI, "22:00", "02:00"))
        self.assertTrue(is_open(s, utc(2026, 3, 6, 23)))
        self.assertTrue(is_open(s, utc(2026, 3, 7, 1, 59)))
        self.assertFalse(is_open(s, utc(2026, 3, 7, 2)))
        self.assertFalse(is_open(s, utc(2026, 3, 6, 1)))
        self.assertEqual(next_close(s, utc(2026, 3, 6, 23)), utc(2026, 3, 7, 2))
        self.assertEqual(next_open(s, utc(2026, 3, 7, 3)), utc(2026, 3, 13, 22))

    def test_crossing_from_sunday_into_monday(self):
        """A Sunday window crossing midnight runs into Monday."""
        s = sched(w(SUN, "23:00", "01:00"))
        self.assertTrue(is_open(s, utc(2026, 3, 2, 0, 30)))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 1, 0)))

    def test_end_midnight(self):
        """An end of 00:00 is the end of that day, not a crossing."""
        s = sched(w(MON, "20:00", "00:00"))
        self.assertTrue(is_open(s, utc(2026, 3, 2, 23, 59)))
        self.assertFalse(is_open(s, utc(2026, 3, 3, 0, 0)))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 21)), utc(2026, 3, 3))

    def test_whole_day(self):
        """00:00-00:00 is the whole day."""
        s = sched(w(TUE, "00:00", "00:00"))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 23, 59)))
        self.assertTrue(is_open(s, utc(2026, 3, 3, 0)))
        self.assertTrue(is_open(s, utc(2026, 3, 3, 23, 59)))
        self.assertFalse(is_open(s, utc(2026, 3, 4, 0)))

    def test_close_across_midnight_join(self):
        """A window to midnight and one from midnight make one stretch."""
        s = sched(w(MON, "20:00", "00:00"), w(TUE, "00:00", "02:00"))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 21)), utc(2026, 3, 3, 2))

    def test_degenerate_window_is_empty(self):
        """A window that starts and ends at the same time (invalid) is never open."""
        s = sched(w(MON, "09:00", "09:00"))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 9)))
        self.assertIsNone(next_open(s, utc(2026, 3, 2), ))

    def test_no_windows(self):
        """Without windows a schedule is never open."""
        s = sched()
        self.assertFalse(is_open(s, utc(2026, 3, 2, 9)))
        self.assertIsNone(next_open(s, utc(2026, 3, 2)))
        self.assertEqual(next_close(s, utc(2026, 3, 2)), utc(2026, 3, 2))
        self.assertFalse(has_window_left(s, utc(2026, 3, 2)))

    def test_naive_instant_refused(self):
        """A naive now is a clear error, not a silent guess."""
        s = sched(w(MON, "09:00", "17:00"))
        with self.assertRaises(ValueError) as caught:
            is_open(s, datetime(2026, 3, 2, 10))
        self.assertIn("timezone-aware", str(caught.exception))


class NextOpenTests(SynchronousTestCase):
    """
    next_open finds the next allowed instant within the campaign's dates.
    """

    def test_open_now(self):
        """When open, next_open is the given instant."""
        s = sched(w(MON, "09:00", "17:00"))
        self.assertEqual(next_open(s, utc(2026, 3, 2, 10, 15)), utc(2026, 3, 2, 10, 15))

    def test_across_the_week(self):
        """A Wednesday-only window is found a week ahead from Thursday."""
        s = sched(w(WED, "10:00", "11:00"))
        self.assertEqual(next_open(s, utc(2026, 3, 5, 9)), utc(2026, 3, 11, 10))
        self.assertEqual(next_open(s, utc(2026, 3, 4, 11)), utc(2026, 3, 11, 10))

    def test_before_start(self):
        """Before the campaign's start the first window after the start counts."""
        s = sched(w(MON, "09:00", "12:00"), start="2026-03-09T00:00", end="2026-04-01T00:00")
        self.assertEqual(next_open(s, utc(2026, 3, 2, 10)), utc(2026, 3, 9, 9))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 10)))

    def test_start_inside_window(self):
        """A start in the middle of a window opens at the start."""
        s = sched(w(MON, "09:00", "12:00"), start="2026-03-02T10:30", end="2026-04-01T00:00")
        self.assertEqual(next_open(s, utc(2026, 3, 2, 8)), utc(2026, 3, 2, 10, 30))

    def test_end_inside_window(self):
        """An end in the middle of a window closes it at the end."""
        s = sched(w(MON, "09:00", "12:00"), end="2026-03-02T11:00")
        self.assertTrue(is_open(s, utc(2026, 3, 2, 10, 59)))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 11)))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 10)), utc(2026, 3, 2, 11))

    def test_across_end(self):
        """No window left before the end gives None."""
        s = sched(w(MON, "09:00", "12:00"), end="2026-03-09T08:00")
        self.assertIsNone(next_open(s, utc(2026, 3, 2, 12)))
        self.assertIsNone(next_open(s, utc(2026, 3, 10)))

    def test_dates_in_campaign_timezone(self):
        """Start and end are local date-times in the campaign's timezone."""
        s = sched(w(MON, "00:00", "00:00"), tz=NY, start="2026-03-02T09:00", end="2026-03-02T10:00")
        self.assertEqual(bounds(s), (utc(2026, 3, 2, 14), utc(2026, 3, 2, 15)))
        self.assertEqual(next_open(s, utc(2026, 3, 2)), utc(2026, 3, 2, 14))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 14, 30)), utc(2026, 3, 2, 15))

    def test_far_window_found(self):
        """A window more than the first search chunk away is still found."""
        s = sched(w(MON, "09:00", "10:00"), start="2026-05-04T00:00", end="2026-06-01T00:00")
        self.assertEqual(next_open(s, utc(2026, 3, 2)), utc(2026, 5, 4, 9))

    def test_start_far_ahead_without_end(self):
        """A start more than the search limit ahead is still found when there is no end."""
        s = sched(w(MON, "09:00", "10:00"), start="2028-01-03T00:00")
        self.assertEqual(next_open(s, utc(2026, 3, 2)), utc(2028, 1, 3, 9))

    def test_no_end_search_limit(self):
        """Without an end, an opening that never comes is None, not a hang."""
        s = sched(w(MON, "09:00", "10:00"), hours=("20:00", "22:00"))
        self.assertIsNone(next_open(s, utc(2026, 3, 2), contact_tz="UTC"))


class NextCloseTests(SynchronousTestCase):
    """
    next_close finds where the current open stretch ends.
    """

    def test_closed_now(self):
        """When closed, next_close is the given instant."""
        s = sched(w(MON, "09:00", "17:00"))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 18)), utc(2026, 3, 2, 18))

    def test_always_open(self):
        """Open all week without an end never closes in sight."""
        s = sched(*(w(day, "00:00", "00:00") for day in range(7)))
        self.assertIsNone(next_close(s, utc(2026, 3, 2, 10)))

    def test_always_open_until_end(self):
        """Open all week closes at the campaign's end, even months ahead."""
        s = sched(*(w(day, "00:00", "00:00") for day in range(7)), end="2026-06-15T12:00")
        self.assertEqual(next_close(s, utc(2026, 3, 2, 10)), utc(2026, 6, 15, 12))

    def test_after_end(self):
        """After the end the schedule is closed."""
        s = sched(w(MON, "00:00", "00:00"), end="2026-03-02T10:00")
        self.assertEqual(next_close(s, utc(2026, 3, 2, 11)), utc(2026, 3, 2, 11))


class SpringForwardTests(SynchronousTestCase):
    """
    Windows on a spring-forward day last the real time the clock spends in them.
    """

    def test_window_across_gap_new_york(self):
        """01:30-03:00 on the spring-forward day is open 30 real minutes."""
        s = sched(w(SUN, "01:30", "03:00"), tz=NY)
        self.assertEqual(
            open_intervals(s, utc(2026, 3, 8), utc(2026, 3, 9)),
            [(utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7))],
        )
        self.assertTrue(is_open(s, utc(2026, 3, 8, 6, 45)))
        self.assertFalse(is_open(s, utc(2026, 3, 8, 7)))
        # The Sunday before it is 90 real minutes.
        self.assertEqual(
            open_intervals(s, utc(2026, 3, 1), utc(2026, 3, 2)),
            [(utc(2026, 3, 1, 6, 30), utc(2026, 3, 1, 8))],
        )

    def test_window_starting_in_gap(self):
        """A window starting inside the skipped hour opens at 03:00 EDT."""
        s = sched(w(SUN, "02:30", "04:00"), tz=NY)
        self.assertEqual(next_open(s, utc(2026, 3, 8)), utc(2026, 3, 8, 7))
        self.assertEqual(next_close(s, utc(2026, 3, 8, 7)), utc(2026, 3, 8, 8))

    def test_window_inside_gap(self):
        """A window entirely inside the skipped hour does not happen that day."""
        s = sched(w(SUN, "02:00", "02:45"), tz=NY)
        self.assertEqual(next_open(s, utc(2026, 3, 8)), utc(2026, 3, 15, 6))

    def test_crossing_midnight_into_spring_forward_berlin(self):
        """Saturday 22:00 to Sunday 04:00 in Berlin lasts 5 real hours on the DST night."""
        s = sched(w(SAT, "22:00", "04:00"), tz=BERLIN)
        self.assertEqual(
            open_intervals(s, utc(2026, 3, 28), utc(2026, 3, 30)),
            [(utc(2026, 3, 28, 21), utc(2026, 3, 29, 2))],
        )
        self.assertTrue(is_open(s, utc(2026, 3, 29, 1, 30)))
        self.assertFalse(is_open(s, utc(2026, 3, 29, 2)))

    def test_crossing_midnight_into_spring_forward_new_york(self):
        """Saturday 23:00 to Sunday 02:30 in New York ends at the transition."""
        s = sched(w(SAT, "23:00", "02:30"), tz=NY)
        self.assertEqual(next_close(s, utc(2026, 3, 8, 5)), utc(2026, 3, 8, 7))


class FallBackTests(SynchronousTestCase):
    """
    Windows on a fall-back day use the first occurrence of a repeated time.
    """

    def test_window_across_repeated_hour_new_york(self):
        """01:30-03:00 on the fall-back day is one stretch of 2.5 real hours."""
        s = sched(w(SUN, "01:30", "03:00"), tz=NY)
        self.assertEqual(
            open_intervals(s, utc(2026, 11, 1), utc(2026, 11, 2)),
            [(utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 8))],
        )
        # 01:15 EST, the second time the clock shows 01:15: inside the stretch.
        self.assertTrue(is_open(s, utc(2026, 11, 1, 6, 15)))

    def test_window_inside_repeated_hour(self):
        """01:00-01:30 on the fall-back day happens once, in the first occurrence."""
        s = sched(w(SUN, "01:00", "01:30"), tz=NY)
        self.assertTrue(is_open(s, utc(2026, 11, 1, 5, 15)))
        self.assertFalse(is_open(s, utc(2026, 11, 1, 6, 15)))

    def test_adjacent_windows_stay_adjacent(self):
        """00:00-01:30 and 01:30-03:00 neither overlap nor leave a gap on fall-back day."""
        s = sched(w(SUN, "00:00", "01:30"), w(SUN, "01:30", "03:00"), tz=NY)
        self.assertEqual(
            open_intervals(s, utc(2026, 11, 1), utc(2026, 11, 2)),
            [(utc(2026, 11, 1, 4), utc(2026, 11, 1, 8))],
        )
        self.assertEqual(next_close(s, utc(2026, 11, 1, 4, 30)), utc(2026, 11, 1, 8))

    def test_crossing_midnight_into_fall_back_berlin(self):
        """Saturday 22:00 to Sunday 04:00 in Berlin lasts 7 real hours on the DST night."""
        s = sched(w(SAT, "22:00", "04:00"), tz=BERLIN)
        self.assertEqual(
            open_intervals(s, utc(2026, 10, 24), utc(2026, 10, 26)),
            [(utc(2026, 10, 24, 20), utc(2026, 10, 25, 3))],
        )

    def test_ordinary_window_on_fall_back_day(self):
        """A daytime window on the fall-back day uses the new offset."""
        s = sched(w(SUN, "09:00", "17:00"), tz=NY)
        self.assertEqual(next_open(s, utc(2026, 11, 1)), utc(2026, 11, 1, 14))


class RecipientHoursTests(SynchronousTestCase):
    """
    Recipient-local hours narrow the campaign window for contacts with a timezone.
    """

    # Monday 09:00-21:00 New York = 14:00 Monday - 02:00 Tuesday UTC in March (EST).
    CAMPAIGN = sched(w(MON, "09:00", "21:00"), tz=NY, hours=("09:00", "20:00"))

    def test_no_contact_timezone(self):
        """A contact without a timezone follows only the campaign window."""
        for tz in (None, "", "  "):
            self.assertTrue(is_open(self.CAMPAIGN, utc(2026, 3, 2, 15), contact_tz=tz))

    def test_los_angeles(self):
        """A Los Angeles contact is called from 09:00 PST (17:00 UTC) to the window's end."""
        s = self.CAMPAIGN
        self.assertFalse(is_open(s, utc(2026, 3, 2, 15), "America/Los_Angeles"))
        self.assertEqual(next_open(s, utc(2026, 3, 2, 14), "America/Los_Angeles"), utc(2026, 3, 2, 17))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 18), "America/Los_Angeles"), utc(2026, 3, 3, 2))

    def test_berlin(self):
        """A Berlin contact is called from the window's start to 20:00 CET (19:00 UTC)."""
        s = self.CAMPAIGN
        self.assertTrue(is_open(s, utc(2026, 3, 2, 15), BERLIN))
        self.assertEqual(next_close(s, utc(2026, 3, 2, 15), BERLIN), utc(2026, 3, 2, 19))
        self.assertFalse(is_open(s, utc(2026, 3, 2, 19, 30), BERLIN))

    def test_tokyo_next_day(self):
        """A Tokyo contact's 09:00 Tuesday falls in the tail of Monday's New York window."""
        s = self.CAMPAIGN
        self.assertEqual(next_open(s, utc(2026, 3, 2, 14), "Asia/Tokyo"), utc(2026, 3, 3, 0))
        self.assertEqual(next_close(s, utc(2026, 3, 3, 0), "Asia/Tokyo"), utc(2026, 3, 3, 2))

    def test_zoneinfo_accepted(self):
        """The contact timezone may be a ZoneInfo."""
        self.assertTrue(is_open(self.CAMPAIGN, utc(2026, 3, 2, 15), ZoneInfo(BERLIN)))

    def test_never_overlapping(self):
        """Hours that never meet the window give None before the end."""
        s = sched(w(MON, "09:00", "10:00"), tz=NY, end="2026-04-01T00:00", hours=("09:00", "17:00"))
        self.assertIsNone(next_open(s, utc(2026, 3, 2), "Asia/Tokyo"))
        self.assertIsNotNone(next_open(s, utc(2026, 3, 2)))

    def test_recipient_dst_shift(self):
        """Berlin hours move by an hour in UTC across Berlin's spring-forward."""
        s = sched(*(w(day, "00:00", "00:00") for day in range(7)), hours=("09:00", "17:00"))
        self.assertEqual(next_open(s, utc(2026, 3, 28), BERLIN), utc(2026, 3, 28, 8))
        self.assertEqual(next_open(s, utc(2026, 3, 30), BERLIN), utc(2026, 3, 30, 7))
        self.assertEqual(next_close(s, utc(2026, 3, 30, 8), BERLIN), utc(2026, 3, 30, 15))

    def test_hours_crossing_midnight(self):
        """Recipient hours may cross midnight like windows."""
        s = sched(*(w(day, "00:00", "00:00") for day in range(7)), hours=("22:00", "02:00"))
        self.assertTrue(is_open(s, utc(2026, 3, 3, 1), "UTC"))
        self.assertFalse(is_open(s, utc(2026, 3, 3, 3), "UTC"))

    def test_contact_timezone_unused(self):
        """Without recipient hours the contact timezone is ignored, even a bad one."""
        s = sched(w(MON, "09:00", "17:00"))
        self.assertTrue(is_open(s, utc(2026, 3, 2, 10), "Mars/Olympus"))

    def test_unknown_contact_timezone(self):
        """A contact timezone that does not exist is a clear error."""
        with self.assertRaises(UnknownTimezone) as caught:
            is_open(self.CAMPAIGN, utc(2026, 3, 2, 15), "Mars/Olympus")
        self.assertIn("Mars/Olympus", str(caught.exception))


class HasWindowLeftTests(SynchronousTestCase):
    """
    has_window_left says whether the campaign can still call before its end.
    """

    def test_window_ahead(self):
        """A window before the end remains."""
        s = sched(w(MON, "09:00", "17:00"), end="2026-03-10T00:00")
        self.assertTrue(has_window_left(s, utc(2026, 3, 3)))

    def test_inside_window(self):
        """Being inside a window means one remains."""
        s = sched(w(MON, "09:00", "17:00"), end="2026-03-10T00:00")
        self.assertTrue(has_window_left(s, utc(2026, 3, 9, 16, 59)))

    def test_none_before_end(self):
        """No window between now and the end: expired."""
        s = sched(w(MON, "09:00", "17:00"), end="2026-03-10T08:00")
        self.assertFalse(has_window_left(s, utc(2026, 3, 9, 17)))

    def test_end_reached(self):
        """At or after the end: expired."""
        s = sched(w(MON, "09:00", "17:00"), end="2026-03-02T12:00")
        self.assertFalse(has_window_left(s, utc(2026, 3, 2, 12)))

    def test_ignores_recipient_hours(self):
        """Recipient hours do not expire a campaign."""
        s = sched(w(MON, "09:00", "10:00"), end="2026-03-03T00:00", hours=("20:00", "22:00"))
        self.assertTrue(has_window_left(s, utc(2026, 3, 2)))
