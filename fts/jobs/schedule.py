"""
When does a job run next?  Pure functions of C{now}: no clock, no Twisted.

Three kinds of schedule, each a frozen value with one method,
C{next_run(now, previous, random_value)}:

  - L{Interval}: every C{every} seconds, each gap moved by a random amount in
    C{[-jitter, +jitter)} (so two daemons, or many jobs started together, do
    not fire in lock step; the mean rate stays one per C{every}).  The gap is
    counted from the instant the schedule fired, not from the end of the run.
  - L{DailyAt}: once a day at a wall-clock time in an IANA timezone.  On a
    spring-forward day a time inside the skipped hour fires at the
    transition (02:30 in New York fires at 03:00 EDT); on a fall-back day a
    time inside the repeated hour fires once, at its first occurrence.  This
    is the rule of L{fts.core.windows}: the first instant at which the local
    clock shows the time or later.
  - L{Once}: a single date-time.  If it is already past when the job is
    added, it fires at once (a one-off missed while the daemon was down
    still happens).

C{previous} is the instant the schedule last fired (L{None} before its
first firing); C{random_value} is a float in C{[0, 1)} drawn by the caller,
so tests pass fixed or seeded values.  Every instant in and out is
timezone-aware; results are in UTC.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attr

_DAY = timedelta(days=1)


def _aware(value, what):
    if not isinstance(value, datetime) or value.tzinfo is None \
            or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, not {value!r}")
    return value


def interval_next(now, every, jitter, random_value):
    """
    The next firing of an interval schedule that fires at C{now}.

    @param every: seconds between firings (> 0).
    @param jitter: seconds (0 <= jitter < every); the gap is
        C{every + jitter * (2 * random_value - 1)}, so in
        C{[every - jitter, every + jitter)}.
    @param random_value: a float in C{[0, 1)}.
    @return: an aware datetime in UTC.
    """
    _aware(now, "now")
    if not 0.0 <= random_value < 1.0:
        raise ValueError(f"random_value must be in [0, 1), not {random_value!r}")
    gap = every + jitter * (2.0 * random_value - 1.0)
    return now.astimezone(UTC) + timedelta(seconds=gap)


def _first_instant_at_or_after(day, at, tz):
    """
    The first instant at which the clock of C{tz} shows C{day} C{at} or later.
    """
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=tz, fold=0)
    as_utc = first.astimezone(UTC)
    if as_utc.astimezone(tz).replace(tzinfo=None) == wall:
        # The wall time exists (fold=0 picks the first of a repeated hour).
        return as_utc
    # Inside a gap: fold=0 reads the wall time with the offset before the
    # transition, fold=1 with the offset after it, and the transition lies
    # between the two readings.  Find it to the second (transitions fall on
    # whole seconds).
    def shows_at_or_after(seconds):
        return datetime.fromtimestamp(seconds, tz).replace(tzinfo=None) >= wall

    readings = sorted([int(as_utc.timestamp()),
                       int(wall.replace(tzinfo=tz, fold=1).timestamp())])
    low, high = readings  # low shows a time before the gap, high after it
    while high - low > 1:
        middle = (low + high) // 2
        if shows_at_or_after(middle):
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def daily_next(now, at, tz):
    """
    The first instant strictly after C{now} at which the wall clock of C{tz}
    shows C{at} (or, on a day C{at} is skipped, the first instant after it).

    @param at: a naive L{datetime.time}.
    @param tz: a L{ZoneInfo}.
    @return: an aware datetime in UTC.
    """
    _aware(now, "now")
    local_day = now.astimezone(tz).date()
    for offset in (-1, 0, 1, 2):
        candidate = _first_instant_at_or_after(local_day + offset * _DAY, at, tz)
        if candidate > now:
            return candidate
    raise AssertionError("no daily firing within three days")  # pragma: no cover


def once_next(now, at, previous):
    """
    The firing of a one-off schedule: C{at} (even if past) until it has
    fired, then never.

    @return: an aware datetime in UTC, or L{None}.
    """
    _aware(now, "now")
    if previous is not None:
        return None
    return at.astimezone(UTC)


def _positive(instance, attribute, value):
    if not value > 0:
        raise ValueError(f"{attribute.name} must be more than 0 seconds, not {value!r}")


def _jitter(instance, attribute, value):
    if not 0 <= value < instance.every:
        raise ValueError(
            f"jitter must be at least 0 and less than every ({instance.every!r} s),"
            f" not {value!r}")


@attr.s(frozen=True, slots=True)
class Interval:
    """
    Every C{every} seconds, plus or minus up to C{jitter} seconds.

    @ivar at_start: fire as soon as the runner starts (else the first firing
        is one gap after the start).
    """

    every = attr.ib(converter=float, validator=_positive)
    jitter = attr.ib(default=0.0, converter=float, validator=_jitter)
    at_start = attr.ib(default=False)

    def next_run(self, now, previous, random_value):
        """
        The next firing after firing (or starting) at C{now}.
        """
        if previous is None and self.at_start:
            return now.astimezone(UTC)
        return interval_next(now, self.every, self.jitter, random_value)

    def describe(self):
        """
        The schedule as an operator reads it, e.g. C{"every 60s ±10s"}.
        """
        text = f"every {self.every:g}s"
        if self.jitter:
            text += f" ±{self.jitter:g}s"
        return text


def _zone(value):
    if isinstance(value, ZoneInfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(f"Unknown timezone {value!r}.") from None


def _naive_time(instance, attribute, value):
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValueError(f"at must be a naive datetime.time, not {value!r}")


@attr.s(frozen=True, slots=True)
class DailyAt:
    """
    Every day at the wall-clock time C{at} in timezone C{tz} (an IANA name or
    a L{ZoneInfo}), DST-correct as described in the module docstring.
    """

    at = attr.ib(validator=_naive_time)
    tz = attr.ib(default="UTC", converter=_zone)

    def next_run(self, now, previous, random_value):
        """
        The first firing strictly after C{now}.
        """
        return daily_next(now, self.at, self.tz)

    def describe(self):
        """
        E.g. C{"daily at 03:00 Europe/Berlin"}.
        """
        return f"daily at {self.at.isoformat('minutes')} {self.tz.key}"


def _aware_validator(instance, attribute, value):
    _aware(value, attribute.name)


@attr.s(frozen=True, slots=True)
class Once:
    """
    Once, at the aware date-time C{at}.
    """

    at = attr.ib(validator=_aware_validator)

    def next_run(self, now, previous, random_value):
        """
        C{at} until the schedule has fired, then L{None}.
        """
        return once_next(now, self.at, previous)

    def describe(self):
        """
        E.g. C{"once at 2026-03-08T07:00:00+00:00"}.
        """
        return f"once at {self.at.astimezone(UTC).isoformat()}"
