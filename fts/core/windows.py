"""
Calling-window arithmetic: when may a campaign call a contact?

A L{fts.core.campaign.Schedule} allows calls when all of these hold:

  - the instant is within C{[start, end)} (local wall-clock in the campaign's
    timezone; a missing bound is no bound);
  - it is inside one of the weekly windows, read in the campaign's timezone;
  - if the schedule has recipient hours and the contact has a timezone, it
    is inside those daily hours read in the contact's timezone.

No windows means never open.

Wall-clock to instant: a boundary at local time I{t} is the first instant at
which the local clock shows I{t} or later.  So on a spring-forward day a
boundary inside the skipped hour falls on the transition (window 02:30-04:00
in New York opens at 03:00 EDT; 01:30-03:00 lasts 30 minutes), and on a
fall-back day a boundary inside the repeated hour is its first occurrence
(00:00-01:30 ends at 01:30 EDT, 01:30-03:00 then runs 2.5 real hours).
Adjacent windows stay adjacent and never overlap, whatever the offsets do.

Everything is computed from at most a few days of windows converted to UTC
intervals, never by stepping through minutes.  Searches forward
(L{next_open}, L{next_close}) go up to the campaign's end, or
L{SEARCH_LIMIT} past the given instant (or the start, if later) if it has
none.  A contact timezone only matters, and is only checked, when the
schedule has recipient hours.

All instants in and out are timezone-aware; results are in UTC.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: How far forward searches look when the campaign has no end.
SEARCH_LIMIT = timedelta(days=372)

_FIRST_CHUNK = timedelta(days=8)
_CHUNK = timedelta(days=32)
_DAY = timedelta(days=1)


class UnknownTimezone(ValueError):
    """A timezone name that this system's timezone database does not know."""


def zone(name):
    """
    The timezone called C{name}.

    @param name: an IANA name (C{"Europe/Berlin"}) or a L{ZoneInfo}.
    @raise UnknownTimezone: for a name that is not a known timezone.
    """
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise UnknownTimezone(f"Unknown timezone {name!r}.") from None


def _contact_zone(contact_tz):
    if contact_tz is None or (isinstance(contact_tz, str) and not contact_tz.strip()):
        return None
    return zone(contact_tz.strip() if isinstance(contact_tz, str) else contact_tz)


def _aware(when, what):
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {when.isoformat()}.")
    return when.astimezone(UTC)


def to_instant(wall, tz):
    """
    The first instant at which the clock in C{tz} shows C{wall} or later.

    @param wall: a naive local date-time.
    @param tz: a L{ZoneInfo}.
    @return: an aware UTC datetime.
    """
    first = wall.replace(tzinfo=tz, fold=0)
    candidate = first.astimezone(UTC)
    if candidate.astimezone(tz).replace(tzinfo=None) == wall:
        return candidate  # exists; fold=0 is the first occurrence
    # In a gap: fold=0 applied the offset from before the transition and
    # landed after it, fold=1 the offset from after and landed before it.
    # The transition is the first instant whose local clock is >= wall;
    # find it to the second.
    later = int(candidate.timestamp())
    earlier = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    while later - earlier > 1:
        middle = (earlier + later) // 2
        local = datetime.fromtimestamp(middle, UTC).astimezone(tz).replace(tzinfo=None)
        if local >= wall:
            later = middle
        else:
            earlier = middle
    return datetime.fromtimestamp(later, UTC)


def _span(day, start, end):
    """The local wall-clock start and end of a daily stretch on C{day}."""
    begin = datetime.combine(day, start)
    if end == time(0) or end <= start:
        finish = datetime.combine(day + _DAY, end)
    else:
        finish = datetime.combine(day, end)
    return begin, finish


def _window_intervals(schedule, tz, lo, hi):
    """UTC intervals of the weekly windows overlapping C{[lo, hi)}."""
    by_day = {}
    for window in schedule.windows:
        by_day.setdefault(window.weekday, []).append(window)
    out = []
    day = lo.astimezone(tz).date() - _DAY
    last = hi.astimezone(tz).date()
    while day <= last:
        for window in by_day.get(day.weekday(), ()):
            if window.start == window.end and window.start != time(0):
                continue  # malformed (validation reports it): empty
            begin, finish = _span(day, window.start, window.end)
            out.append((to_instant(begin, tz), to_instant(finish, tz)))
        day += _DAY
    return out


def _daily_intervals(hours, tz, lo, hi):
    """UTC intervals of the daily recipient hours overlapping C{[lo, hi)}."""
    if hours.start == hours.end and hours.start != time(0):
        return []
    out = []
    day = lo.astimezone(tz).date() - _DAY
    last = hi.astimezone(tz).date()
    while day <= last:
        begin, finish = _span(day, hours.start, hours.end)
        out.append((to_instant(begin, tz), to_instant(finish, tz)))
        day += _DAY
    return out


def _merge(intervals):
    out = []
    for start, end in sorted(intervals):
        if start >= end:
            continue
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _intersect(left, right):
    out = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def bounds(schedule):
    """
    The schedule's start and end as UTC instants (C{None} where unset).

    @raise UnknownTimezone: if the schedule's timezone is unknown.
    """
    tz = zone(schedule.timezone)
    start = to_instant(schedule.start, tz) if schedule.start is not None else None
    end = to_instant(schedule.end, tz) if schedule.end is not None else None
    return start, end


def open_intervals(schedule, lo, hi, contact_tz=None):
    """
    The stretches of C{[lo, hi)} in which calls are allowed, as sorted,
    non-overlapping, non-touching C{(start, end)} UTC pairs clipped to
    C{[lo, hi)}.

    @param contact_tz: the contact's timezone (name or L{ZoneInfo}); C{None}
        or blank when the contact has none.
    @raise UnknownTimezone: for an unknown campaign or contact timezone.
    """
    lo = _aware(lo, "lo")
    hi = _aware(hi, "hi")
    tz = zone(schedule.timezone)
    start, end = bounds(schedule)
    if start is not None:
        lo = max(lo, start)
    if end is not None:
        hi = min(hi, end)
    if lo >= hi or not schedule.windows:
        return []
    result = _merge(_window_intervals(schedule, tz, lo, hi))
    if schedule.recipient_hours is not None:
        contact = _contact_zone(contact_tz)
        if contact is not None:
            hours = _merge(_daily_intervals(schedule.recipient_hours, contact, lo, hi))
            result = _intersect(result, hours)
    return _intersect(result, [(lo, hi)])


def is_open(schedule, now, contact_tz=None):
    """
    Whether a call to a contact in C{contact_tz} may be placed at C{now}.

    @raise UnknownTimezone: for an unknown campaign or contact timezone.
    """
    now = _aware(now, "now")
    stretches = open_intervals(schedule, now, now + timedelta(seconds=1), contact_tz)
    return bool(stretches) and stretches[0][0] <= now


def _search_range(schedule, after):
    """Where a forward search starts and where it gives up."""
    start, end = bounds(schedule)
    if start is not None and after < start:
        after = start
    return after, (end if end is not None else after + SEARCH_LIMIT)


def next_open(schedule, after, contact_tz=None):
    """
    The first instant at or after C{after} at which the campaign window and
    the contact's local hours both allow a call, within the campaign's start
    and end; C{after} itself if open then.

    @return: an aware UTC datetime, or C{None} if there is none before the
        end (or within L{SEARCH_LIMIT} for a campaign without end).
    @raise UnknownTimezone: for an unknown campaign or contact timezone.
    """
    if not schedule.windows:
        return None
    lo, limit = _search_range(schedule, _aware(after, "after"))
    step = _FIRST_CHUNK
    while lo < limit:
        hi = min(lo + step, limit)
        stretches = open_intervals(schedule, lo, hi, contact_tz)
        if stretches:
            return stretches[0][0]
        lo, step = hi, _CHUNK
    return None


def next_close(schedule, now, contact_tz=None):
    """
    The first instant at or after C{now} at which calls are no longer
    allowed: the end of the open stretch C{now} is in, or C{now} if closed.

    @return: an aware UTC datetime, or C{None} if the schedule stays open
        through L{SEARCH_LIMIT} (all week, no end).
    @raise UnknownTimezone: for an unknown campaign or contact timezone.
    """
    lo = _aware(now, "now")
    _start, end = bounds(schedule)
    limit = end if end is not None else lo + SEARCH_LIMIT
    step = _FIRST_CHUNK
    while lo < limit:
        hi = min(lo + step, limit)
        stretches = open_intervals(schedule, lo, hi, contact_tz)
        if not stretches or stretches[0][0] > lo:
            return lo
        if stretches[0][1] < hi:
            return stretches[0][1]
        lo, step = hi, _CHUNK
    # Open all the way to the limit: the campaign's end closes it (or it
    # was already past the end); without an end it never closes in sight.
    return lo if schedule.end is not None else None


def has_window_left(schedule, now):
    """
    Whether any calling window remains between C{now} and the campaign's end
    (ignoring recipient hours); C{False} means the campaign has expired.

    @raise UnknownTimezone: for an unknown campaign timezone.
    """
    return next_open(schedule, now) is not None
