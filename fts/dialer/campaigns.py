"""
What the dialer keeps in memory about each campaign it dials: its settings,
its calls-per-second bucket, the contacts it has claimed and not yet
dialed, when it may have contacts due again, and its backoff after refused
originates.  Also L{Backoff} (used for PBXes too) and L{OpenHours}, a cache
of calling windows so that the per-call window checks cost a list lookup.
"""

import math
from collections import deque
from datetime import timedelta

import attr

from fts.core import windows
from fts.core.pacing import TokenBucket

__all__ = ["Backoff", "OpenHours", "DialingCampaign", "bucket_for", "caller_number",
           "INFINITY"]

INFINITY = math.inf

#: How far ahead window intervals are computed and cached.
_HORIZON = timedelta(hours=6)


def caller_number(settings):
    """
    The caller ID number of a campaign's settings for C{calls.caller_id_number},
    or L{None} when it has none (no caller ID set: the call goes out with
    the trunk's default).
    """
    caller = settings.caller_id
    return (caller.number or None) if caller is not None else None


def bucket_for(cps, now, burst_seconds=0.01):
    """
    A full calls-per-second bucket: C{cps} tokens per second, holding at
    most C{max(1, cps * burst_seconds)}.  With the default, any interval of
    C{t} seconds holds at most C{burst + cps * t} originates: one call of
    slack below 100 calls/s, 1 % above.
    """
    burst = max(1.0, float(cps) * burst_seconds)
    return TokenBucket.full(float(cps), burst, now)


@attr.s(slots=True)
class Backoff:
    """
    Exponential backoff with a cap: after C{n} failures in a row, wait
    C{initial * factor ** (n - 1)} seconds (at most C{cap}).

    @ivar until: clock seconds before which nothing is tried, or C{None}.
    """

    initial = attr.ib(default=1.0)
    cap = attr.ib(default=60.0)
    factor = attr.ib(default=2.0)
    failures = attr.ib(default=0)
    until = attr.ib(default=None)
    last_error = attr.ib(default=None)

    def failed(self, now, error):
        """
        Record a failure at C{now}; return the delay until the next try.
        Failures while already backing off (calls that were in flight when
        the first failed) do not lengthen it.
        """
        self.last_error = " ".join(str(error).split())
        if self.active(now):
            return self.until - now
        self.failures += 1
        delay = min(self.cap, self.initial * self.factor ** (self.failures - 1))
        self.until = now + delay
        return delay

    def succeeded(self):
        self.failures = 0
        self.until = None

    def active(self, now):
        return self.until is not None and now < self.until

    def as_dict(self, now):
        return {
            "failures": self.failures,
            "until": self.until if self.active(now) else None,
            "last_error": self.last_error,
        }


class OpenHours:
    """
    When a schedule allows calls, computed a few hours at a time with
    L{fts.core.windows.open_intervals} and cached per contact timezone.
    """

    def __init__(self, schedule):
        self.schedule = schedule
        self._cache = {}

    def _intervals(self, now, tz):
        entry = self._cache.get(tz)
        if entry is None or not (entry[0] <= now < entry[1]):
            hi = now + _HORIZON
            try:
                found = windows.open_intervals(self.schedule, now, hi, tz)
            except windows.UnknownTimezone:
                if tz is None:
                    raise
                found = windows.open_intervals(self.schedule, now, hi, None)
            if len(self._cache) > 1000:
                self._cache.clear()
            entry = (now, hi, found)
            self._cache[tz] = entry
        return entry[2]

    def _tz(self, tz):
        if self.schedule.recipient_hours is None or not tz:
            return None
        return tz

    def is_open(self, now, tz=None):
        """
        Whether a call may be placed at C{now} (aware datetime) to a contact
        in C{tz} (ignored unless the schedule has recipient hours).
        """
        tz = self._tz(tz)
        for start, end in self._intervals(now, tz):
            if start <= now < end:
                return True
            if start > now:
                break
        return False

    def next_open(self, now, tz=None):
        """
        The first instant at or after C{now} at which calls are allowed, or
        C{None} if none remains before the campaign's end.
        """
        tz = self._tz(tz)
        for start, end in self._intervals(now, tz):
            if end > now:
                return max(start, now)
        try:
            return windows.next_open(self.schedule, now + _HORIZON, tz)
        except windows.UnknownTimezone:
            return windows.next_open(self.schedule, now + _HORIZON, None)


class PerSecond:
    """
    A count of events per whole second of the clock: L{rate} is the last
    whole second's count, or the current second's if that is already
    higher.
    """

    __slots__ = ("_second", "_this", "_last")

    def __init__(self):
        self._second = None
        self._this = 0
        self._last = 0

    def add(self, now, n=1):
        second = int(now)
        if second != self._second:
            self._last = self._this if self._second is not None and \
                second == self._second + 1 else 0
            self._this = 0
            self._second = second
        self._this += n

    def rate(self, now):
        second = int(now)
        if self._second is None or second > self._second + 1:
            return 0
        if second == self._second + 1:
            return self._this
        return max(self._last, self._this)


class DialingCampaign:
    """
    One scheduled, running or paused campaign, as the dialer tracks it.

    @ivar queue: claimed calls (L{fts.dialer.registry.ActiveCall} in state
        C{claimed}) waiting for a channel, oldest first.
    @ivar idle_until: clock seconds before which no claim is tried (its
        next pending contact is due then; C{INFINITY}: none known until
        something changes); 0 means "claim when there is room".
    @ivar claiming: how many claims are in progress.
    @ivar asked: contacts those claims asked for.
    @ivar placed: calls placed since the dialer started (fairness ties).
    """

    def __init__(self, record, now, burst_seconds=0.01):
        self.id = record.id
        self.queue = deque()
        self.idle_until = 0.0
        self._due_seq = 0
        self._dues = []
        self.claiming = 0
        self.placed = 0
        self.dnc_skipped = 0
        self.outside_hours = 0
        self.backoff = Backoff()
        self.claim_backoff = Backoff(initial=0.5, cap=30.0)
        self.starting = False
        self.claim_rtt = 0.01
        self.asked = 0
        self._placed_rate = PerSecond()
        self._ended_rate = PerSecond()
        self._burst_seconds = burst_seconds
        self.record = None
        self.bucket = None
        self.update(record, now)

    def note_placed(self, now, n=1):
        """
        Count C{n} calls placed at C{now} (clock seconds) for L{rate}.
        """
        self._placed_rate.add(now, n)
        self.placed += n

    def note_ended(self, now):
        """
        Count a call of the campaign that ended (a channel it may refill).
        """
        self._ended_rate.add(now, 1)

    def rate(self, now):
        """
        How many calls per second the campaign is placing, or could place:
        the busier of its recent placements and its recent call ends.
        """
        return max(self._placed_rate.rate(now), self._ended_rate.rate(now))

    def note_due(self, at):
        """
        Contacts of the campaign are (or will be) due at C{at} (clock
        seconds): a retry recorded, claims given back, settings changed.
        """
        self.idle_until = min(self.idle_until, at)
        self._due_seq += 1
        if self.claiming:
            # Only a claim in progress can have missed it.
            self._dues.append((self._due_seq, at))

    @property
    def due_mark(self):
        """
        A mark to pass to L{due_since} later.
        """
        return self._due_seq

    def due_since(self, mark):
        """
        The earliest instant noted by L{note_due} after C{mark} was taken
        (C{INFINITY} if none): what a claim that started at C{mark} may not
        have seen.
        """
        return min((at for seq, at in self._dues if seq > mark), default=INFINITY)

    def forget_dues(self):
        """
        No claim is in progress: the noted instants are no longer needed.
        """
        self._dues.clear()

    def note_claim(self, seconds):
        """
        A claim (claim and calls rows) took C{seconds}: smoothed.
        """
        self.claim_rtt = 0.7 * self.claim_rtt + 0.3 * seconds

    def update(self, record, now):
        """
        Take the campaign's current settings (after a reload).
        """
        old = self.record
        self.record = record
        self.starting = False
        if old is None or old.settings.schedule != record.settings.schedule:
            self.hours = OpenHours(record.settings.schedule)
        if old is None or old.settings.pacing.cps != record.settings.pacing.cps:
            self.bucket = bucket_for(record.settings.pacing.cps, now, self._burst_seconds)

    @property
    def state(self):
        return self.record.state

    @property
    def settings(self):
        return self.record.settings

    @property
    def pacing(self):
        return self.record.settings.pacing

    @property
    def running(self):
        return self.record.state == "running"

    def as_dict(self, now, in_flight):
        return {
            "name": self.record.name,
            "state": self.record.state,
            "in_flight": in_flight,
            "max_channels": self.pacing.max_channels,
            "cps": self.pacing.cps,
            "priority": self.pacing.priority,
            "claimed_waiting": len(self.queue),
            "placed": self.placed,
            "dnc_skipped": self.dnc_skipped,
            "released_outside_hours": self.outside_hours,
            "next_due": None if self.idle_until in (0.0, INFINITY) else self.idle_until,
            "backoff": self.backoff.as_dict(now),
        }
