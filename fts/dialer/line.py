"""
The boundary between the dialer and one PBX (an Asterisk server).

The dialer decides who to call and when; a L{IPBXLine} places the call and
reports what became of it.  L{fts.dialer.amiline.AMILine} is the line to a
real (or simulated) Asterisk through AMI; unit tests of the dialer use a
fake line.

What a line promises:

  - L{IPBXLine.originate} returns a Deferred that fires once the PBX has
    accepted the call (queued it) and fails with:
      - L{OriginateRefused}: the PBX answered with an error; nothing was
        placed;
      - L{PBXUnavailable}: the request could not be sent (not connected);
        nothing was placed;
      - L{OriginateUncertain}: the request was sent but no answer came (an
        action timeout, the connection dropped): the call may exist.  The
        dialer keeps the contact in flight until a reconciliation
        (L{IPBXLine.active_channels}) says whether the channel is there.
  - Every accepted call is later reported through the progress callback
    (L{IPBXLine.on_progress}) as L{CallProgress} of kind C{"answered"} (at
    most once), then C{"ended"} (exactly once while the line stays
    connected), or C{"unknown"} when the line lost track of it while
    connected (no OriginateResponse in time).  A line that disconnects
    reports C{on_connection_change(False)} and nothing more about the calls
    it had; the dialer reconciles them when it reconnects.
"""

import attr
from zope.interface import Attribute, Interface

__all__ = [
    "IPBXLine",
    "OriginateRequest",
    "CallProgress",
    "ChannelInfo",
    "LineError",
    "OriginateRefused",
    "PBXUnavailable",
    "OriginateUncertain",
    "ANSWERED",
    "RINGING",
    "ENDED",
    "UNKNOWN",
    "channel_id_for",
    "other_channel_id_for",
    "call_id_from_channel_id",
]

RINGING = "ringing"
ANSWERED = "answered"
ENDED = "ended"
UNKNOWN = "unknown"

CHANNEL_PREFIX = "fts-"


def channel_id_for(call_id):
    """
    The ChannelId FTS gives the C{;1} half of call C{call_id}: C{"fts-42"}.
    It becomes the channel's Uniqueid and the FastAGI C{agi_uniqueid}.
    """
    return "%s%d" % (CHANNEL_PREFIX, call_id)


def other_channel_id_for(call_id):
    """
    The OtherChannelId of the C{;2} (callee) half of a Local channel pair:
    C{"fts-42-2"}.
    """
    return "%s%d-2" % (CHANNEL_PREFIX, call_id)


def call_id_from_channel_id(channel_id):
    """
    The call id in one of our channel ids (either half), or C{None} when
    C{channel_id} is not one of ours.
    """
    if not channel_id or not channel_id.startswith(CHANNEL_PREFIX):
        return None
    rest = channel_id[len(CHANNEL_PREFIX):]
    if rest.endswith("-2"):
        rest = rest[:-2]
    return int(rest) if rest.isdigit() else None


@attr.frozen
class OriginateRequest:
    """
    One call to place.

    @ivar call_id: C{calls.id}.
    @ivar channel_id: the Uniqueid FTS chose for the C{;1} half.
    @ivar other_channel_id: the Uniqueid for the C{;2} half (Local channels).
    @ivar dial_string: what to dial (C{"Local/15551234@fts-callee"},
        C{"PJSIP/15551234@trunk"}).
    @ivar exten: the extension answered calls enter in the line's campaign
        context (the number dialed).
    @ivar variables: channel variables (C{FTS_CALL}, C{FTS_CAMPAIGN}).
    @ivar caller_id: C{'"Name" <number>'} or C{""}.
    @ivar ring_timeout: seconds to let it ring.
    """

    call_id: int
    channel_id: str
    other_channel_id: str
    dial_string: str
    exten: str
    variables: tuple = ()
    caller_id: str = ""
    ring_timeout: float = 30.0


@attr.frozen
class CallProgress:
    """
    What became of an accepted call.

    @ivar channel_id: the C{;1} ChannelId of the call.
    @ivar kind: C{"ringing"}, C{"answered"}, C{"ended"} or C{"unknown"}.
    @ivar reason: the OriginateResponse C{Reason} (an int) when known.
    @ivar cause: the most telling Q.850 hangup cause seen (the C{;2} half's
        for a Local call that failed, e.g. 17 for busy), or C{None}.
    @ivar cause_text: its text (C{"User busy"}).
    @ivar answered: for C{"ended"}: whether the call had been answered.
    """

    channel_id: str
    kind: str
    reason: int = None
    cause: int = None
    cause_text: str = None
    answered: bool = False


@attr.frozen
class ChannelInfo:
    """
    One channel a PBX reports (CoreShowChannels).

    @ivar uniqueid: its Uniqueid (our ChannelId for channels FTS placed).
    @ivar name: its channel name (C{Local/1001@ctx-00000000;1}).
    @ivar state: C{ChannelStateDesc} (C{Up}, C{Ring}, C{Ringing}, C{Down}).
    """

    uniqueid: str
    name: str = ""
    state: str = ""


class LineError(Exception):
    """
    An originate that did not result in a call we know of.
    """

    def __init__(self, pbx, detail):
        self.pbx = pbx
        self.detail = detail
        super().__init__(pbx, detail)

    def __str__(self):
        return "%s: %s" % (self.pbx, self.detail)


class OriginateRefused(LineError):
    """
    The PBX answered the originate with an error; no call was placed.
    """


class PBXUnavailable(LineError):
    """
    The originate could not be sent (the PBX is not connected).
    """


class OriginateUncertain(LineError):
    """
    The originate was sent but its answer never came (timeout, connection
    lost): the call may exist on the PBX.
    """


class IPBXLine(Interface):
    """
    One PBX as the dialer sees it.
    """

    name = Attribute("The PBX's configured name (unique), as in calls.pbx_name.")
    capacity = Attribute("Calls FTS may have in flight on it at once.")
    cps = Attribute("Originates per second FTS may send it.")
    connected = Attribute("Whether it can take an originate now.")

    def originate(request):
        """
        Place the call described by an L{OriginateRequest}.

        @return: a Deferred firing (with anything) once the PBX accepted it,
            or failing with L{OriginateRefused}, L{PBXUnavailable} or
            L{OriginateUncertain}.
        """

    def on_progress(callback):
        """
        Call C{callback(line, CallProgress)} for every progress of the calls
        this line placed or tracks.
        """

    def on_connection_change(callback):
        """
        Call C{callback(line, connected)} whenever the connection comes up
        (after login) or goes down.
        """

    def hangup(channel_id, cause=16):
        """
        Hang up a call (its C{;1} half).

        @return: a Deferred (failing when the channel is gone).
        """

    def active_channels():
        """
        The channels the PBX has now (CoreShowChannels).

        @return: a Deferred firing with C{{uniqueid: ChannelInfo}}, or
            failing when the PBX cannot be asked.
        """

    def track(channel_id, other_channel_id, answered):
        """
        Follow a call this line did not place in this run (found by a
        reconciliation): report its answer and end like any other.
        """

    def forget(channel_id):
        """
        Stop following a call (the dialer settled it otherwise).
        """
