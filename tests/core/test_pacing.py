"""
Tests for L{fts.core.pacing}.
"""

from datetime import UTC, datetime, timedelta

import attr
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from fts.core.pacing import (
    CampaignLoad,
    PbxLoad,
    TokenBucket,
    allocate,
    choose_pbx,
    spread,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


class TokenBucketTests(SynchronousTestCase):
    """
    A token bucket grants whole tokens at its rate, up to its burst.
    """

    def test_full_bucket_grants_burst(self):
        """A full bucket grants up to its burst at once."""
        granted, bucket = TokenBucket.full(1, 3, T0).take(T0, 5)
        self.assertEqual(granted, 3)
        self.assertEqual(bucket.tokens, 0)

    def test_partial_grant(self):
        """Asking for fewer than available grants all asked for."""
        granted, bucket = TokenBucket.full(1, 3, T0).take(T0, 2)
        self.assertEqual((granted, bucket.tokens), (2, 1))

    def test_refills_at_rate(self):
        """An empty bucket at 2 per second grants 1 after half a second, 2 after one."""
        _, empty = TokenBucket.full(2, 2, T0).take(T0, 2)
        self.assertEqual(empty.take(at(0.25), 1)[0], 0)
        self.assertEqual(empty.take(at(0.5), 5)[0], 1)
        self.assertEqual(empty.take(at(1), 5)[0], 2)

    def test_refill_capped_at_burst(self):
        """A long idle time fills the bucket only up to its burst."""
        _, empty = TokenBucket.full(10, 4, T0).take(T0, 4)
        self.assertEqual(empty.available(at(3600)), 4)

    def test_fractional_rate(self):
        """A rate of 1/3 per second grants one call every three seconds."""
        bucket = TokenBucket.full(1 / 3, 1, T0)
        grants = []
        for second in range(10):
            granted, bucket = bucket.take(at(second), 1)
            grants.append(granted)
        self.assertEqual(grants, [1, 0, 0, 1, 0, 0, 1, 0, 0, 1])

    def test_exact_over_many_steps(self):
        """At 0.1 per second, 100 ticks of a second give exactly 10 more tokens."""
        bucket = TokenBucket(0.1, 100, 0.0, T0)
        total = 0
        for tick in range(1, 101):
            granted, bucket = bucket.take(at(tick), 100)
            total += granted
        self.assertEqual(total, 10)

    def test_take_zero(self):
        """Taking nothing changes no tokens."""
        bucket = TokenBucket.full(1, 3, T0)
        granted, after = bucket.take(T0, 0)
        self.assertEqual((granted, after), (0, bucket))

    def test_clock_backwards(self):
        """A clock that goes backwards neither adds tokens nor moves updated_at back."""
        _, empty = TokenBucket.full(1, 1, at(10)).take(at(10), 1)
        granted, after = empty.take(at(5), 1)
        self.assertEqual(granted, 0)
        self.assertEqual(after.updated_at, at(10))

    def test_bad_bucket(self):
        """A negative rate or burst is refused."""
        self.assertRaises(ValueError, TokenBucket, -1, 1, 0.0, T0)
        self.assertRaises(ValueError, TokenBucket, 1, -1, 0.0, T0)

    def test_next_token_now(self):
        """next_token_at is now when a token is available."""
        self.assertEqual(TokenBucket.full(1, 1, T0).next_token_at(at(1)), at(1))

    def test_next_token_later(self):
        """next_token_at is when the next whole token will be there, and it is there then."""
        _, empty = TokenBucket.full(3, 1, T0).take(T0, 1)
        when = empty.next_token_at(T0)
        self.assertEqual(when, T0 + timedelta(microseconds=333334))
        self.assertEqual(empty.take(when, 1)[0], 1)
        self.assertEqual(empty.take(when - timedelta(microseconds=1), 1)[0], 0)

    def test_next_token_never(self):
        """A bucket with rate 0 never refills."""
        _, empty = TokenBucket.full(0, 1, T0).take(T0, 1)
        self.assertIsNone(empty.next_token_at(T0))

    def test_next_token_burst_below_one(self):
        """A burst below one token never yields a whole token."""
        self.assertIsNone(TokenBucket(1, 0.5, 0.0, T0).next_token_at(T0))


def load(id, priority=1, in_flight=0, max_channels=100, tokens=100, ready=True, placed=0):
    return CampaignLoad(id, priority, in_flight, max_channels, tokens, ready, placed)


PBX = [PbxLoad("a", 1000, 0, True)]


class AllocateTests(SynchronousTestCase):
    """
    allocate shares free capacity fairly by priority within every limit.
    """

    def test_equal_priorities_split_evenly(self):
        """Two equal campaigns split 10 free channels 5/5."""
        self.assertEqual(allocate(10, [load(1), load(2)], PBX), {1: 5, 2: 5})

    def test_weighted(self):
        """Priorities 3 and 1 split 8 channels 6/2."""
        self.assertEqual(allocate(8, [load(1, priority=3), load(2, priority=1)], PBX), {1: 6, 2: 2})

    def test_shares_count_calls_in_flight(self):
        """A campaign already holding channels gets fewer new ones."""
        result = allocate(6, [load(1, in_flight=4), load(2)], PBX)
        self.assertEqual(result, {1: 1, 2: 5})

    def test_campaign_channel_limit(self):
        """No campaign exceeds its max channels; the rest goes to others."""
        result = allocate(10, [load(1, in_flight=2, max_channels=3), load(2)], PBX)
        self.assertEqual(result, {1: 1, 2: 9})

    def test_over_limit_after_restart(self):
        """A campaign with more in flight than its limit gets nothing."""
        self.assertEqual(allocate(10, [load(1, in_flight=5, max_channels=3)], PBX), {1: 0})

    def test_campaign_tokens(self):
        """No campaign exceeds its whole calls-per-second tokens."""
        self.assertEqual(allocate(10, [load(1, tokens=2.7), load(2, tokens=0.5)], PBX), {1: 2, 2: 0})

    def test_not_ready(self):
        """A campaign without ready contacts gets nothing."""
        self.assertEqual(allocate(10, [load(1, ready=False), load(2)], PBX), {1: 0, 2: 10})

    def test_global_limit(self):
        """The total never exceeds the global headroom."""
        self.assertEqual(sum(allocate(3, [load(1), load(2)], PBX).values()), 3)

    def test_pbx_limit(self):
        """The total never exceeds the connected PBXes' free capacity."""
        pbxes = [PbxLoad("a", 10, 8, True), PbxLoad("b", 50, 0, False), PbxLoad("c", 5, 4, True)]
        self.assertEqual(sum(allocate(100, [load(1), load(2)], pbxes).values()), 3)

    def test_no_pbx(self):
        """With no PBX connected nothing is placed."""
        self.assertEqual(allocate(10, [load(1)], [PbxLoad("a", 10, 0, False)]), {1: 0})
        self.assertEqual(allocate(10, [load(1)], []), {1: 0})

    def test_negative_free(self):
        """A negative headroom (over the limit) places nothing."""
        self.assertEqual(allocate(-2, [load(1)], PBX), {1: 0})

    def test_unlimited(self):
        """Infinite tokens or global headroom mean no such limit."""
        inf = float("inf")
        self.assertEqual(allocate(inf, [load(1, tokens=inf, max_channels=30)], PBX), {1: 30})
        self.assertEqual(allocate(inf, [load(1, tokens=float("nan"))], PBX), {1: 0})

    def test_no_starvation_low_priority(self):
        """A priority-1 campaign next to a priority-100 one with nothing in flight still gets a call."""
        result = allocate(2, [load(1, priority=100, in_flight=50), load(2, priority=1)], PBX)
        self.assertEqual(result[2], 1)

    def test_one_slot_rotates(self):
        """With one free slot and idle campaigns, the one that placed fewest calls goes next."""
        campaigns = [load(1, placed=5), load(2, placed=3), load(3, placed=4)]
        self.assertEqual(allocate(1, campaigns, PBX), {1: 0, 2: 1, 3: 0})

    def test_tie_goes_to_first(self):
        """Full ties go to the campaign listed first."""
        self.assertEqual(allocate(1, [load(7), load(3)], PBX), {7: 1, 3: 0})

    def test_zero_priority_gets_leftovers(self):
        """Priority 0 only gets what positive-priority campaigns cannot use."""
        result = allocate(10, [load(1, priority=0), load(2, max_channels=7)], PBX)
        self.assertEqual(result, {1: 3, 2: 7})
        self.assertEqual(allocate(10, [load(1, priority=0), load(2)], PBX), {1: 0, 2: 10})

    def test_work_conserving(self):
        """Capacity is used as long as some campaign can take it."""
        result = allocate(20, [load(1, max_channels=2), load(2, tokens=3), load(3, priority=5)], PBX)
        self.assertEqual(result, {1: 2, 2: 3, 3: 15})


campaign_loads = st.lists(
    st.builds(
        CampaignLoad,
        id=st.none(),
        priority=st.sampled_from([0, 1, 2, 5, 10, 0.5]),
        in_flight=st.integers(0, 30),
        max_channels=st.integers(0, 30),
        tokens=st.floats(0, 40, allow_nan=False),
        has_ready_contacts=st.booleans(),
        placed=st.integers(0, 1000),
    ),
    max_size=8,
).map(lambda loads: [attr.evolve(load, id=i) for i, load in enumerate(loads)])


pbx_loads = st.lists(
    st.builds(PbxLoad, id=st.integers(), capacity=st.integers(0, 40),
              in_flight=st.integers(0, 50), connected=st.booleans()),
    max_size=4,
)


class AllocatePropertyTests(SynchronousTestCase):
    """
    Properties of allocate over random loads.
    """

    @settings(max_examples=200, deadline=None)
    @given(st.integers(-5, 80), campaign_loads, pbx_loads)
    def test_never_exceeds_a_limit(self, free_global, campaigns, pbxes):
        """No campaign, the global headroom or the PBXes are ever exceeded, and capacity is not wasted."""
        result = allocate(free_global, campaigns, pbxes)
        self.assertEqual(set(result), {c.id for c in campaigns})
        total_free = max(0, min(free_global, sum(p.free for p in pbxes)))
        for c in campaigns:
            n = result[c.id]
            self.assertGreaterEqual(n, 0)
            if not c.has_ready_contacts:
                self.assertEqual(n, 0)
            self.assertLessEqual(c.in_flight + n, max(c.in_flight, c.max_channels))
            self.assertLessEqual(n, int(c.tokens + 1e-9))
        self.assertLessEqual(sum(result.values()), total_free)
        self.assertEqual(sum(result.values()), min(total_free, sum(c.room for c in campaigns)))

    @settings(max_examples=200, deadline=None)
    @given(campaign_loads)
    def test_idle_ready_campaigns_progress(self, campaigns):
        """Given one slot per campaign, every ready idle campaign with priority > 0 gets a call."""
        result = allocate(len(campaigns), campaigns, PBX)
        for c in campaigns:
            if c.priority > 0 and c.in_flight == 0 and c.room > 0:
                self.assertGreaterEqual(result[c.id], 1)


class PbxChoiceTests(SynchronousTestCase):
    """
    Calls are spread over connected PBXes by free capacity.
    """

    def test_most_free(self):
        """The PBX with the most free channels is chosen."""
        pbxes = [PbxLoad("a", 10, 5, True), PbxLoad("b", 30, 20, True), PbxLoad("c", 8, 0, True)]
        self.assertEqual(choose_pbx(pbxes), "b")

    def test_skips_disconnected_and_full(self):
        """Disconnected and full PBXes are never chosen."""
        pbxes = [PbxLoad("a", 100, 0, False), PbxLoad("b", 5, 5, True), PbxLoad("c", 5, 4, True)]
        self.assertEqual(choose_pbx(pbxes), "c")

    def test_none(self):
        """With no capacity anywhere, no PBX is chosen."""
        self.assertIsNone(choose_pbx([PbxLoad("a", 5, 5, True), PbxLoad("b", 5, 0, False)]))
        self.assertIsNone(choose_pbx([]))

    def test_tie(self):
        """On equal free capacity the one with fewer calls, then the first listed, wins."""
        self.assertEqual(choose_pbx([PbxLoad("a", 10, 5, True), PbxLoad("b", 5, 0, True)]), "b")
        self.assertEqual(choose_pbx([PbxLoad("a", 5, 0, True), PbxLoad("b", 5, 0, True)]), "a")

    def test_spread(self):
        """spread balances calls and stops when capacity runs out."""
        pbxes = [PbxLoad("a", 4, 0, True), PbxLoad("b", 2, 0, True)]
        calls = spread(pbxes, 10)
        self.assertEqual(calls, ["a", "a", "b", "a", "b", "a"])
        self.assertEqual(spread(pbxes, 0), [])
