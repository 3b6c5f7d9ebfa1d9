"""
The calls FTS has in flight, in memory: every call from the moment its
contact is claimed until the call has ended.

The registry is the one place that says how many calls occupy a channel,
per campaign, per PBX and in total, which is what the pacing limits are
checked against.  A call occupies a channel from the moment its Originate
is about to be sent (L{CallRegistry.place}) until it ends
(L{CallRegistry.end}), including while its fate is uncertain (the PBX went
away with it): limits are never exceeded while unsure.  A claimed call
waiting for its turn (state C{claimed}) holds its contact but no channel.

The FastAGI call flow finds its call here by channel id
(C{agi_uniqueid} == the ChannelId FTS chose), without a database round
trip, and records what the callee did (AMD verdict, keys, opt-out) on the
L{ActiveCall}: the dialer needs those for the retry decision at hangup.
"""

from collections import Counter

import attr
from twisted.logger import Logger

from fts.events.model import CallEventSequence

__all__ = [
    "ActiveCall",
    "CallRegistry",
    "CLAIMED",
    "ORIGINATING",
    "QUEUED",
    "RINGING",
    "ANSWERED",
    "ENDED",
    "OCCUPYING",
]

log = Logger()

#: Claimed in the database, waiting to be originated (no channel yet).
CLAIMED = "claimed"
#: Originate sent, not yet accepted by the PBX.
ORIGINATING = "originating"
#: Accepted by the PBX (the attempt counts), not answered yet.
QUEUED = "queued"
RINGING = "ringing"
ANSWERED = "answered"
ENDED = "ended"

#: States in which a call holds a channel.
OCCUPYING = frozenset({ORIGINATING, QUEUED, RINGING, ANSWERED})

_NEXT = {
    CLAIMED: frozenset({ORIGINATING, ENDED}),
    ORIGINATING: frozenset({QUEUED, RINGING, ANSWERED, ENDED}),
    QUEUED: frozenset({RINGING, ANSWERED, ENDED}),
    RINGING: frozenset({ANSWERED, ENDED}),
    ANSWERED: frozenset({ENDED}),
    ENDED: frozenset(),
}


@attr.s(slots=True, eq=False, repr=False)
class ActiveCall:
    """
    One call from claim to end.

    @ivar call_id: C{calls.id} (reserved by the claim).
    @ivar channel_id: the ChannelId of its C{;1} half (C{"fts-<call_id>"}).
    @ivar campaign_contact_id: C{campaign_contacts.id}; C{None} for a test
        call.
    @ivar attempts: attempts the contact had made before this call.
    @ivar timezone: the contact's timezone (recipient hours), or C{None}.
    @ivar pbx: the name of the PBX it was sent to, once sent.
    @ivar state: see the module constants.
    @ivar uncertain: the PBX was lost (or did not answer) while the call was
        up or being placed: it keeps its channel until a reconciliation
        finds it (adopt) or not (settle as lost).
    @ivar events: the call's L{CallEventSequence} (idempotency keys).
    @ivar amd, keys, option_key, opted_out: what the call flow observed.
    """

    call_id = attr.ib()
    channel_id = attr.ib()
    other_channel_id = attr.ib()
    campaign_id = attr.ib()
    campaign_contact_id = attr.ib()
    contact_id = attr.ib()
    phone = attr.ib()
    events = attr.ib()
    attempts = attr.ib(default=0)
    fields = attr.ib(factory=dict)
    timezone = attr.ib(default=None)
    is_test = attr.ib(default=False)
    pbx = attr.ib(default=None)
    state = attr.ib(default=CLAIMED)
    uncertain = attr.ib(default=False)
    adopted = attr.ib(default=False)
    claimed_at = attr.ib(default=None)
    originated_at = attr.ib(default=None)
    accepted_at = attr.ib(default=None)
    answered_at = attr.ib(default=None)
    ended_at = attr.ib(default=None)
    amd = attr.ib(default=None)
    keys = attr.ib(default="")
    option_key = attr.ib(default=None)
    opted_out = attr.ib(default=False)
    absent_checks = attr.ib(default=0)
    check_on = attr.ib(factory=set)

    def __repr__(self):
        return "<ActiveCall %s %s campaign=%s pbx=%s%s>" % (
            self.call_id, self.state, self.campaign_id, self.pbx,
            " uncertain" if self.uncertain else "")

    @property
    def occupies(self):
        """
        Whether it holds a channel now.
        """
        return self.state in OCCUPYING

    @property
    def answered(self):
        return self.answered_at is not None

    @property
    def accepted(self):
        """
        Whether the PBX accepted its originate (the attempt counts).
        """
        return self.accepted_at is not None

    def note_key(self, key):
        """
        The call flow saw C{key} pressed.
        """
        self.keys += key

    @classmethod
    def claimed(cls, clock, call_id, campaign_id, campaign_contact_id, contact_id, phone,
                attempts=0, fields=None, timezone=None, is_test=False):
        """
        A new call in state C{claimed}, with its channel ids and event
        sequence.
        """
        from fts.dialer.line import channel_id_for, other_channel_id_for

        return cls(
            call_id=call_id,
            channel_id=channel_id_for(call_id),
            other_channel_id=other_channel_id_for(call_id),
            campaign_id=campaign_id,
            campaign_contact_id=campaign_contact_id,
            contact_id=contact_id,
            phone=phone,
            events=CallEventSequence(call_id, campaign_id, clock),
            attempts=attempts,
            fields=dict(fields or {}),
            timezone=timezone,
            is_test=is_test,
            claimed_at=clock.seconds(),
        )


class CallRegistry:
    """
    Every call in flight, with counts per campaign, per PBX and in total of
    the calls holding a channel.

    @ivar foreign: per PBX, channels found there that look like ours
        (C{fts-…}) but belong to no call we know: counted against that PBX
        and the global limit until the next reconciliation says otherwise.
    """

    def __init__(self):
        self._by_call = {}
        self._by_channel = {}
        self._per_campaign = Counter()
        self._per_pbx = Counter()
        self._total = 0
        self.foreign = Counter()
        self._end_listeners = []

    # -- lookups -----------------------------------------------------------

    def __len__(self):
        return len(self._by_call)

    def __iter__(self):
        return iter(list(self._by_call.values()))

    def by_channel(self, channel_id):
        """
        The call whose C{;1} (or C{;2}) ChannelId is C{channel_id}, or
        C{None}.
        """
        return self._by_channel.get(channel_id)

    def by_call(self, call_id):
        return self._by_call.get(call_id)

    def on_pbx(self, pbx):
        """
        The calls holding a channel on C{pbx}.
        """
        return [c for c in self._by_call.values() if c.pbx == pbx and c.occupies]

    def of_campaign(self, campaign_id):
        return [c for c in self._by_call.values() if c.campaign_id == campaign_id]

    # -- counts ------------------------------------------------------------

    @property
    def total(self):
        """
        Calls holding a channel, plus foreign channels.
        """
        return self._total + sum(self.foreign.values())

    def campaign_count(self, campaign_id):
        return self._per_campaign[campaign_id]

    def pbx_count(self, pbx):
        return self._per_pbx[pbx] + self.foreign[pbx]

    def per_campaign(self):
        return {k: v for k, v in self._per_campaign.items() if v}

    def per_pbx(self):
        names = set(self._per_pbx) | set(self.foreign)
        return {n: self.pbx_count(n) for n in sorted(names) if self.pbx_count(n)}

    # -- life cycle ----------------------------------------------------------

    def add(self, call):
        """
        Register a claimed call (no channel yet), or an adopted one that
        already holds a channel (its C{state} and C{pbx} set).
        """
        if call.call_id in self._by_call:
            raise ValueError("call %s is already in the registry" % (call.call_id,))
        self._by_call[call.call_id] = call
        self._by_channel[call.channel_id] = call
        self._by_channel[call.other_channel_id] = call
        if call.occupies:
            self._count(call, 1)

    def place(self, call, pbx, now):
        """
        The call's Originate is about to go to C{pbx}: it holds a channel
        from now on.
        """
        self._move(call, ORIGINATING)
        call.pbx = pbx
        call.originated_at = now
        self._count(call, 1)

    def advance(self, call, state):
        """
        Move a call that holds a channel to a later state (queued, ringing,
        answered).  Moving backwards or sideways is ignored.
        """
        if state in _NEXT[call.state]:
            call.state = state

    def end(self, call, now=None):
        """
        The call is over (or was never placed): free its channel, forget
        it, and tell the end listeners.
        """
        if self._by_call.get(call.call_id) is not call:
            return False
        held = call.occupies
        call.state = ENDED
        call.ended_at = now
        if held:
            self._count(call, -1)
        del self._by_call[call.call_id]
        for channel_id in (call.channel_id, call.other_channel_id):
            if self._by_channel.get(channel_id) is call:
                del self._by_channel[channel_id]
        for listener in list(self._end_listeners):
            try:
                listener(call)
            except Exception:
                log.failure("a call-end listener failed for call {call_id}",
                            call_id=call.call_id)
        return True

    def on_end(self, listener):
        """
        Call C{listener(call)} whenever a call leaves the registry.
        """
        self._end_listeners.append(listener)

    def assign_pbx(self, call, pbx):
        """
        The call turned out to be on C{pbx} (found by a reconciliation).
        """
        if call.pbx == pbx:
            return
        held = call.occupies
        if held:
            self._count(call, -1)
        call.pbx = pbx
        if held:
            self._count(call, 1)

    def set_foreign(self, pbx, count):
        """
        Record C{count} unknown FTS-looking channels on C{pbx}.
        """
        if count:
            self.foreign[pbx] = count
        else:
            self.foreign.pop(pbx, None)

    # -- internals -----------------------------------------------------------

    def _move(self, call, state):
        if state not in _NEXT[call.state]:
            raise ValueError("call %s cannot go from %s to %s" % (call.call_id, call.state, state))
        call.state = state

    def _count(self, call, delta):
        self._total += delta
        self._per_campaign[call.campaign_id] += delta
        if call.pbx is not None:
            self._per_pbx[call.pbx] += delta
