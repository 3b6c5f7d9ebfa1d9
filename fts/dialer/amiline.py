"""
L{AMILine}: a PBX line over the AMI client (L{fts.asterisk.ami.client}).

Each call is an asynchronous Originate with C{ChannelId} = the FTS channel
id (C{fts-<call id>}, the Uniqueid of the C{;1} half and the FastAGI
C{agi_uniqueid}) and C{OtherChannelId} (C{fts-<call id>-2}, the C{;2} half
of a Local channel), and the variables C{FTS_CALL} and C{FTS_CAMPAIGN}.

How the end of a call is read (asterisk-transcripts/README.md, "Ordering is
not fixed"):

  - answered: C{OriginateResponse} Success (Reason 4), or C{Newstate Up} of
    the C{;1} half, whichever comes first;
  - an answered call ends with the C{Hangup} of the C{;1} half (Uniqueid ==
    ChannelId), which comes only once both FastAGI sessions are over;
  - a call that was not answered ends once its C{OriginateResponse}
    failure and the Hangups of both halves are seen (or of the C{;1} half
    alone when its cause is not 0: a channel that is not Local has no
    C{;2}) -- or C{settle} seconds after the first of these, for the shapes
    that lack some (no channel was created; a call adopted after a
    reconnect, whose OriginateResponse went to an earlier connection).  Its
    cause is the C{;2} half's when that is not 0, else the C{;1} half's: a
    busy line gives OriginateResponse (Reason 5), C{;1} Hangup cause 0, then
    C{;2} Hangup cause 17, so the end waits for the C{;2} Hangup.

Lost track: an OriginateResponse that never came while connected is
reported as C{"unknown"} (the dialer reconciles); a lost connection is
reported through the connection callbacks only.
"""

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from fts.asterisk.ami.errors import AMIConnectionLost, AMIError, AMINotConnected, AMITimeout
from fts.dialer import line as L

__all__ = ["AMILine"]

log = Logger()


class _Tracked:
    __slots__ = ("channel_id", "other_id", "name", "answered", "ringing", "or_seen",
                 "reason", "hangup1", "hangup2", "timer", "ended", "adopted")

    def __init__(self, channel_id, other_id, answered=False, adopted=False):
        self.channel_id = channel_id
        self.other_id = other_id
        self.name = None
        self.answered = answered
        self.ringing = False
        self.or_seen = False
        self.reason = None
        self.hangup1 = None
        self.hangup2 = None
        self.timer = None
        self.ended = False
        self.adopted = adopted


def _int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@implementer(L.IPBXLine)
class AMILine:
    """
    One Asterisk server as a L{fts.dialer.line.IPBXLine}.

    @param client: its L{fts.asterisk.ami.client.AMIClient} (logs in with
        an event mask that includes C{call}).
    @param clock: C{IReactorTime}.
    @param capacity: calls FTS may have in flight there (C{[ami:NAME]
        max_channels}).
    @param cps: originates per second FTS may send it.
    @param context: the campaign context answered calls enter.
    @param settle: seconds to wait for the second half of an unanswered
        call's end (see the module docstring).
    """

    def __init__(self, client, clock, capacity, cps, context="fts-campaign", settle=0.5):
        self.client = client
        self.clock = clock
        self.name = client.name
        self.capacity = capacity
        self.cps = cps
        self.context = context
        self.settle = settle
        self._calls = {}
        self._progress = []
        self._connection = []
        self._was_connected = client.connected
        client.subscribe("Hangup", self._hangup_event)
        client.subscribe("Newstate", self._newstate_event)
        client.subscribe("Newchannel", self._newchannel_event)
        client.subscribe("OriginateResponse", self._response_event)
        client.listen_state(self._state_changed)

    # -- IPBXLine ------------------------------------------------------------

    @property
    def connected(self):
        return self.client.connected

    def on_progress(self, callback):
        self._progress.append(callback)

    def on_connection_change(self, callback):
        self._connection.append(callback)

    def originate(self, request):
        tracked = _Tracked(request.channel_id, request.other_channel_id)
        self._calls[request.channel_id] = tracked
        if request.other_channel_id:
            self._calls[request.other_channel_id] = tracked
        try:
            d = self.client.originate(
                request.dial_string, self.context, request.exten, 1, request.channel_id,
                other_channel_id=request.other_channel_id or None,
                variables=dict(request.variables), caller_id=request.caller_id or None,
                timeout_ms=int(request.ring_timeout * 1000),
                on_result=lambda result: self._result(tracked, result))
        except Exception as e:
            d = defer.fail(e)
        d.addErrback(self._refused, tracked)
        return d

    def hangup(self, channel_id, cause=16):
        tracked = self._calls.get(channel_id)
        name = tracked.name if tracked is not None and tracked.name else channel_id
        d = self.client.hangup(name, cause)
        d.addErrback(self._translate, "Hangup")
        return d

    def active_channels(self):
        d = self.client.core_show_channels()

        def channels(result):
            out = {}
            for event in result:
                uid = event.get("Uniqueid")
                if uid:
                    out[uid] = L.ChannelInfo(uid, event.get("Channel") or "",
                                             event.get("ChannelStateDesc") or "")
            return out

        d.addCallback(channels)
        d.addErrback(self._translate, "CoreShowChannels")
        return d

    def track(self, channel_id, other_channel_id, answered):
        tracked = self._calls.get(channel_id)
        if tracked is None:
            tracked = _Tracked(channel_id, other_channel_id, answered=answered, adopted=True)
            self._calls[channel_id] = tracked
            if other_channel_id:
                self._calls[other_channel_id] = tracked
        elif answered:
            tracked.answered = True

    def forget(self, channel_id):
        tracked = self._calls.get(channel_id)
        if tracked is not None:
            self._drop(tracked)

    # -- originate results -------------------------------------------------------

    def _refused(self, failure, tracked):
        error = failure.value
        if isinstance(error, AMIError):
            self._drop(tracked)
            raise L.OriginateRefused(self.name, error.message or str(error))
        if isinstance(error, AMINotConnected) or (
                isinstance(error, AMIConnectionLost) and not error.sent):
            self._drop(tracked)
            raise L.PBXUnavailable(self.name, str(error))
        if isinstance(error, (AMITimeout, AMIConnectionLost)):
            raise L.OriginateUncertain(self.name, str(error))
        if isinstance(error, ValueError):
            self._drop(tracked)
            raise L.OriginateRefused(self.name, str(error))
        return failure

    def _translate(self, failure, action):
        error = failure.value
        if isinstance(error, AMIError):
            raise L.OriginateRefused(self.name, error.message or str(error))
        if isinstance(error, (AMIConnectionLost, AMITimeout)):
            raise L.PBXUnavailable(self.name, str(error))
        return failure

    def _result(self, tracked, result):
        if tracked.ended:
            return
        if result.outcome == "unknown":
            protocol = self.client.protocol
            if protocol is not None and protocol.is_open and tracked is self._calls.get(
                    tracked.channel_id):
                # Connected, yet no answer in time: the dialer asks the PBX.
                self._report(L.CallProgress(tracked.channel_id, L.UNKNOWN))
            return
        tracked.or_seen = True
        tracked.reason = result.reason
        if result.outcome == "success":
            if result.channel and not tracked.name:
                tracked.name = result.channel
            self._answered(tracked)
        self._maybe_ended(tracked)

    def _response_event(self, event):
        """
        An OriginateResponse seen as a plain event: used only for calls
        adopted after a reconnect (no originate watch of ours); a success
        carries their Uniqueid.
        """
        tracked = self._calls.get(event.get("Uniqueid") or "")
        if tracked is None or not tracked.adopted or tracked.or_seen or tracked.ended:
            return
        tracked.or_seen = True
        tracked.reason = _int(event.get("Reason"))
        if (event.get("Response") or "").lower() == "success":
            self._answered(tracked)
        self._maybe_ended(tracked)

    # -- channel events ----------------------------------------------------------

    def _newchannel_event(self, event):
        tracked = self._calls.get(event.get("Uniqueid") or "")
        if tracked is not None and event.get("Uniqueid") == tracked.channel_id:
            tracked.name = event.get("Channel") or tracked.name

    def _newstate_event(self, event):
        uid = event.get("Uniqueid") or ""
        tracked = self._calls.get(uid)
        if tracked is None or uid != tracked.channel_id or tracked.ended:
            return
        state = event.get("ChannelStateDesc")
        if state == "Up":
            self._answered(tracked)
        elif state == "Ringing" and not tracked.ringing and not tracked.answered:
            tracked.ringing = True
            self._report(L.CallProgress(tracked.channel_id, L.RINGING))

    def _hangup_event(self, event):
        uid = event.get("Uniqueid") or ""
        tracked = self._calls.get(uid)
        if tracked is None or tracked.ended:
            return
        cause = (_int(event.get("Cause")), event.get("Cause-txt"))
        if uid == tracked.channel_id:
            tracked.hangup1 = cause
        else:
            tracked.hangup2 = cause
        self._maybe_ended(tracked)

    # -- deciding the end ----------------------------------------------------------

    def _answered(self, tracked):
        if tracked.answered:
            return
        tracked.answered = True
        self._report(L.CallProgress(tracked.channel_id, L.ANSWERED))

    def _maybe_ended(self, tracked):
        if tracked.ended:
            return
        if tracked.answered:
            if tracked.hangup1 is not None:
                self._ended(tracked)
            return
        # Both halves gone -- or the ;1 half alone with a telling cause (a
        # channel that is not Local has no ;2; busy gives ;1 cause 0 and the
        # ;2 Hangup with 17 just after it).
        first, second = tracked.hangup1, tracked.hangup2
        gone = first is not None and (second is not None or bool(first[0]))
        if gone and (tracked.or_seen or tracked.adopted):
            self._ended(tracked)
            return
        seen = tracked.or_seen or first is not None or second is not None
        if seen and tracked.timer is None:
            tracked.timer = self.clock.callLater(self.settle, self._settled, tracked)

    def _settled(self, tracked):
        tracked.timer = None
        if not tracked.ended:
            self._ended(tracked)

    def _ended(self, tracked):
        cause, text = None, None
        for seen in (tracked.hangup2, tracked.hangup1):
            if seen is not None and seen[0]:
                cause, text = seen
                break
        else:
            if tracked.hangup1 is not None:
                cause, text = tracked.hangup1
            elif tracked.hangup2 is not None:
                cause, text = tracked.hangup2
        if tracked.answered and tracked.hangup1 is not None and tracked.hangup1[0]:
            # After an answer the C{;1} half says how the call ended.
            cause, text = tracked.hangup1
        self._drop(tracked)
        tracked.ended = True
        self._report(L.CallProgress(tracked.channel_id, L.ENDED, reason=tracked.reason,
                                    cause=cause, cause_text=text, answered=tracked.answered))

    def _drop(self, tracked):
        for key in (tracked.channel_id, tracked.other_id):
            if key and self._calls.get(key) is tracked:
                del self._calls[key]
        if tracked.timer is not None and tracked.timer.active():
            tracked.timer.cancel()
        tracked.timer = None

    def _report(self, progress):
        for callback in list(self._progress):
            try:
                callback(self, progress)
            except Exception:
                log.failure("PBX {pbx}: progress callback failed for {channel}", pbx=self.name,
                            channel=progress.channel_id)

    # -- connection ------------------------------------------------------------------

    def _state_changed(self, old, new):
        connected = new.connected
        if connected == self._was_connected:
            return
        self._was_connected = connected
        # Calls half-seen keep their state: the dialer reconciles them on
        # reconnect (still there: followed on; gone: settled, forgotten).
        for callback in list(self._connection):
            try:
                callback(self, connected)
            except Exception:
                log.failure("PBX {pbx}: connection callback failed", pbx=self.name)
