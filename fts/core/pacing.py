"""
Pacing decisions for the dialer: calls-per-second token buckets, sharing
free capacity among campaigns, and spreading calls over PBXes.

Limits are never exceeded: L{allocate} gives no campaign more than its free
channels or whole tokens, and never more in total than the global headroom
and the free capacity of the connected PBXes together.

Fairness: capacity goes one call at a time to the ready campaign with the
smallest share of channels for its priority, C{(in_flight + given) /
priority}, so over time campaigns hold channels in proportion to their
priorities (PRODUCT.md: "share of the global capacity").  Ties go to the
campaign that has placed the fewest calls per unit of priority (C{placed}),
then to the one listed first, so even campaigns whose calls end at once
take turns.
A ready campaign with priority > 0 and nothing in flight always has the
smallest share (0), so it gets a call whenever any call can be placed: no
starvation.  Campaigns with priority <= 0 only get what the others cannot
use.
"""

import heapq
import math
from datetime import datetime, timedelta

import attr

# Float slack when counting whole tokens, so that 0.9999999999 after a
# refill of exactly one token's worth of time still counts as one.
_EPSILON = 1e-9
_UNLIMITED = 2**62


def _whole(value):
    """Whole units in C{value}: floored, infinity as unlimited, NaN as none."""
    if math.isnan(value):
        return 0
    if math.isinf(value):
        return _UNLIMITED if value > 0 else 0
    return math.floor(value + _EPSILON)


@attr.frozen
class TokenBucket:
    """
    A calls-per-second limit.

    @ivar rate: tokens added per second.
    @ivar burst: the most tokens the bucket holds.
    @ivar tokens: tokens held at C{updated_at}.
    @ivar updated_at: when C{tokens} was counted (aware datetime).
    """

    rate: float
    burst: float
    tokens: float
    updated_at: datetime

    def __attrs_post_init__(self):
        if not (self.rate >= 0 and self.burst >= 0):
            raise ValueError(
                "A token bucket needs a rate and burst of 0 or more,"
                f" got {self.rate!r} and {self.burst!r}."
            )

    @classmethod
    def full(cls, rate, burst, now):
        """A bucket holding C{burst} tokens at C{now}."""
        return cls(rate, burst, float(burst), now)

    def refill(self, now):
        """
        The bucket as it is at C{now}.  A clock that went backwards adds
        nothing and keeps the later C{updated_at}.
        """
        if now <= self.updated_at:
            return self
        elapsed = (now - self.updated_at).total_seconds()
        tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        return attr.evolve(self, tokens=tokens, updated_at=now)

    def available(self, now):
        """Whole tokens available at C{now}."""
        return max(0, _whole(self.refill(now).tokens))

    def take(self, now, n=1):
        """
        Take up to C{n} whole tokens at C{now}.

        @return: C{(granted, bucket)}: how many were taken (0 to C{n}) and
            the bucket afterwards.
        """
        bucket = self.refill(now)
        granted = max(0, min(int(n), _whole(bucket.tokens)))
        if granted:
            bucket = attr.evolve(bucket, tokens=max(0.0, bucket.tokens - granted))
        return granted, bucket

    def next_token_at(self, now):
        """
        The first instant at or after C{now} when a whole token is available
        (C{now} if one is); C{None} if the bucket never refills (rate 0, or
        a burst below one token).
        """
        bucket = self.refill(now)
        if bucket.tokens + _EPSILON >= 1:
            return now
        if self.rate <= 0 or self.burst < 1:
            return None
        wait = (1 - bucket.tokens) / self.rate
        return bucket.updated_at + timedelta(microseconds=math.ceil(wait * 1e6))


@attr.frozen
class CampaignLoad:
    """
    A campaign as L{allocate} sees it.

    @ivar priority: weight in the global share (<= 0: leftovers only).
    @ivar tokens: calls its own calls-per-second bucket allows now
        (C{math.inf} for no such limit).
    @ivar placed: calls it has placed (any running counter the dialer keeps),
        used to take turns on ties.
    """

    id: object
    priority: float
    in_flight: int
    max_channels: int
    tokens: float
    has_ready_contacts: bool
    placed: int = 0

    @property
    def room(self):
        """The most calls it may place now on its own limits."""
        if not self.has_ready_contacts:
            return 0
        free = self.max_channels - self.in_flight
        return max(0, min(free, _whole(self.tokens)))


@attr.frozen
class PbxLoad:
    """An Asterisk server as the dialer sees it."""

    id: object
    capacity: int
    in_flight: int
    connected: bool

    @property
    def free(self):
        """Calls it can take now (0 if disconnected)."""
        return max(0, self.capacity - self.in_flight) if self.connected else 0


def _share_out(total, campaigns, weight, result):
    heap = []
    for order, campaign in enumerate(campaigns):
        if campaign.room > 0:
            w = weight(campaign)
            key = (campaign.in_flight / w, campaign.placed / w, order)
            heapq.heappush(heap, (key, order, campaign, w))
    while total > 0 and heap:
        _key, order, campaign, w = heapq.heappop(heap)
        result[campaign.id] += 1
        total -= 1
        given = result[campaign.id]
        if given < campaign.room:
            key = ((campaign.in_flight + given) / w, (campaign.placed + given) / w, order)
            heapq.heappush(heap, (key, order, campaign, w))
    return total


def allocate(free_global, campaigns, pbxes):
    """
    How many calls each campaign may place now.

    @param free_global: calls the global limits allow now: global channels
        free, and whole tokens of the global calls-per-second bucket, the
        smaller of the two (C{math.inf} for no global limit).
    @param campaigns: L{CampaignLoad}s (ids unique).
    @param pbxes: L{PbxLoad}s; only connected ones count.
    @return: C{{campaign id: calls}} for every campaign given (0 included).
    """
    total = max(0, min(_whole(free_global), sum(pbx.free for pbx in pbxes)))
    result = {campaign.id: 0 for campaign in campaigns}
    weighted = [c for c in campaigns if c.priority > 0]
    leftover = [c for c in campaigns if c.priority <= 0]
    total = _share_out(total, weighted, lambda c: c.priority, result)
    _share_out(total, leftover, lambda c: 1, result)
    return result


def choose_pbx(pbxes):
    """
    The connected PBX with the most free capacity (ties: fewest calls in
    flight, then order given), or C{None} if none can take a call.
    """
    best = None
    for order, pbx in enumerate(pbxes):
        if pbx.free <= 0:
            continue
        key = (-pbx.free, pbx.in_flight, order)
        if best is None or key < best[0]:
            best = (key, pbx)
    return best[1].id if best is not None else None


def spread(pbxes, n):
    """
    Assign C{n} calls to PBXes, one at a time with L{choose_pbx}.

    @return: PBX ids, one per call, fewer than C{n} if capacity runs out.
    """
    loads = list(pbxes)
    out = []
    for _ in range(max(0, int(n))):
        chosen = choose_pbx(loads)
        if chosen is None:
            break
        out.append(chosen)
        loads = [
            attr.evolve(p, in_flight=p.in_flight + 1) if p.id == chosen else p
            for p in loads
        ]
    return out
