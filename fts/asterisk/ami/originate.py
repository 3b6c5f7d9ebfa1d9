"""
Waiting for the C{OriginateResponse} of asynchronous Originates.

Asterisk accepts an C{Async: true} Originate at once ("Originate successfully
queued") and reports how it ended later, in an C{OriginateResponse} event
that echoes the ActionID.  That event can come after the call's FastAGI
session has started, and before or after the call's other events, so it is
matched by ActionID (or, failing that, by the C{ChannelId} FTS chose, which
becomes the Uniqueid of the C{;1} channel), never by order.

Every watch ends exactly once: with the event, with C{"unknown"} when the
connection closes first, or with C{"unknown"} when no event arrives within
the Originate timeout plus a grace period.
"""

from twisted.logger import Logger

from .actions import OriginateResult

log = Logger()

__all__ = ["OriginateWatches"]


class _Watch:
    __slots__ = ("action_id", "channel", "channel_id", "callback", "timer")

    def __init__(self, action_id, channel, channel_id, callback):
        self.action_id = action_id
        self.channel = channel
        self.channel_id = channel_id
        self.callback = callback
        self.timer = None


class OriginateWatches:
    """
    The Originates of one AMI connection whose outcome is still awaited.

    @param clock: an L{IReactorTime} for the expiry timers.
    @param name: the AMI server's name, for logs.
    """

    def __init__(self, clock, name="ami"):
        self._clock = clock
        self._name = name
        self._by_action = {}
        self._by_channel_id = {}

    def __len__(self):
        return len(self._by_action)

    def watch(self, action_id, channel, channel_id, callback, expire_after):
        """
        Call C{callback(OriginateResult)} once this Originate ends.

        @param expire_after: seconds after which an OriginateResponse is no
            longer expected (the Originate timeout plus a grace period).
        """
        watch = _Watch(action_id, channel, channel_id, callback)
        self._by_action[action_id] = watch
        if channel_id:
            self._by_channel_id[channel_id] = watch
        if expire_after is not None:
            watch.timer = self._clock.callLater(expire_after, self._expire, watch)

    def forget(self, action_id):
        """
        Stop waiting without calling back (the Originate was refused or
        never sent).
        """
        watch = self._by_action.get(action_id)
        if watch is not None:
            self._remove(watch)

    def _remove(self, watch):
        self._by_action.pop(watch.action_id, None)
        if watch.channel_id and self._by_channel_id.get(watch.channel_id) is watch:
            del self._by_channel_id[watch.channel_id]
        if watch.timer is not None and watch.timer.active():
            watch.timer.cancel()
        watch.timer = None

    def _deliver(self, watch, result):
        self._remove(watch)
        try:
            watch.callback(result)
        except Exception:
            log.failure(
                "AMI {ami}: the originate result callback for {channel_id} failed",
                ami=self._name,
                channel_id=watch.channel_id,
            )

    def resolve(self, event):
        """
        Deliver an C{OriginateResponse} event to its watch, if it has one.

        @return: C{True} if the event matched a watch.
        """
        watch = None
        action_id = event.action_id
        if action_id is not None:
            watch = self._by_action.get(action_id)
        uniqueid = event.get("Uniqueid")
        if watch is None:
            if uniqueid:
                watch = self._by_channel_id.get(uniqueid)
            if watch is None:
                return False
        elif (
            watch.channel_id
            and uniqueid
            and uniqueid != "<unknown>"
            and uniqueid != watch.channel_id
        ):
            # Same ActionID, different call: another client's Originate.
            log.warn(
                "AMI {ami}: OriginateResponse {action_id} is for Uniqueid {uniqueid},"
                " not the ChannelId {channel_id} we asked for; ignored",
                ami=self._name,
                action_id=action_id,
                uniqueid=uniqueid,
                channel_id=watch.channel_id,
            )
            return False
        self._deliver(
            watch,
            OriginateResult.from_event(event, watch.channel_id, watch.action_id),
        )
        return True

    def _expire(self, watch):
        watch.timer = None
        log.warn(
            "AMI {ami}: no OriginateResponse for {channel} ({channel_id}) in time;"
            " its outcome is unknown until reconciled",
            ami=self._name,
            channel=watch.channel,
            channel_id=watch.channel_id,
        )
        self._deliver(
            watch,
            OriginateResult.unknown(
                watch.channel,
                watch.channel_id,
                watch.action_id,
                "no OriginateResponse in time",
            ),
        )

    def lose_all(self, reason):
        """
        The connection closed: every watch ends with C{"unknown"}.
        """
        watches = list(self._by_action.values())
        for watch in watches:
            self._deliver(
                watch,
                OriginateResult.unknown(
                    watch.channel,
                    watch.channel_id,
                    watch.action_id,
                    "AMI connection lost before OriginateResponse: %s" % (reason,),
                ),
            )
