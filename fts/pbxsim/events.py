"""
AMI events of the simulated PBX: their shapes, their classes, and the bus
that delivers each one to the AMI sessions whose event mask lets it through.

Every builder returns the event, headers in exactly the order real Asterisk
22 sends them (see ../shared/asterisk-transcripts): as C{(name, value)}
pairs, or, for the events built around a channel's standard header block,
as bytes made from the channel's cached block (L{fts.pbxsim.channel.encode},
byte-identical to L{fts.asterisk.ami.frames.serialize}).  Nothing is built
unless some session wants the event: at a thousand calls a second with
C{Events: call} most events (VarSet, Newexten, AGIExec*) are never built.
"""

from twisted.logger import Logger

from fts.asterisk.ami.frames import serialize

from .channel import UNKNOWN, cause_text, encode

__all__ = [
    "EVENT_CLASSES",
    "ALL_CLASSES",
    "parse_event_mask",
    "EventBus",
    "channel_event",
    "dial_event",
    "local_bridge",
    "originate_response",
    "hangup",
    "hangup_request",
    "var_set",
    "new_exten",
    "agi_exec_start",
    "agi_exec_end",
    "dtmf_begin",
    "dtmf_end",
    "new_callerid",
]

log = Logger()

# Asterisk's event classes (manager.h EVENT_FLAG_*), as written in the
# Events: header of Login and in Privilege.
EVENT_CLASSES = (
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
)
ALL_CLASSES = frozenset(EVENT_CLASSES)

_TRUE = ("yes", "true", "y", "t", "1", "on")
_FALSE = ("no", "false", "n", "f", "0", "off")


def parse_event_mask(value):
    """
    The set of event classes an C{Events:} header value asks for.

    C{on}/C{yes}/C{true} mean every class, C{off}/C{no}/C{false} none, and
    otherwise a comma-separated list of class names (unknown names are
    ignored, as Asterisk does).
    """
    text = (value or "").strip().lower()
    if text in _TRUE:
        return ALL_CLASSES
    if text in _FALSE:
        return frozenset()
    if text.isdigit():
        number = int(text)
        return frozenset(c for i, c in enumerate(EVENT_CLASSES) if number & (1 << i))
    return frozenset(part.strip() for part in text.split(",")) & ALL_CLASSES


class EventBus:
    """
    Deliver events to subscribers by event class.

    A subscriber is any object with a C{send_event(data)} method (C{data}
    is the serialized event) and an C{event_classes} attribute (a frozenset
    of class names); call L{update} after changing it.
    """

    def __init__(self):
        self._subscribers = []
        self._by_class = {}
        self.emitted = 0

    def subscribe(self, subscriber):
        if subscriber not in self._subscribers:
            self._subscribers.append(subscriber)
        self.update()

    def unsubscribe(self, subscriber):
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
        self.update()

    def update(self):
        """
        Rebuild the class index after a subscriber's classes changed.
        """
        by_class = {}
        for subscriber in self._subscribers:
            for name in subscriber.event_classes:
                by_class.setdefault(name, []).append(subscriber)
        self._by_class = by_class

    def wants(self, event_class):
        """
        Whether any subscriber would receive an event of this class.
        """
        return event_class in self._by_class

    def emit(self, event_class, build, *args):
        """
        Send an event to every subscriber of C{event_class}.

        @param build: a callable returning the event (its headers, or its
            bytes), called with C{args} only when somebody listens.
        """
        targets = self._by_class.get(event_class)
        if not targets:
            return
        data = build(*args)
        if type(data) is not bytes:
            data = encode(data)
        self.emitted += 1
        for subscriber in tuple(targets):
            try:
                subscriber.send_event(data)
            except Exception:
                log.failure("delivering an AMI event to {subscriber}", subscriber=subscriber)

    @property
    def subscribers(self):
        return tuple(self._subscribers)


_HEADS = {}


def _head(event, privilege):
    head = _HEADS.get((event, privilege))
    if head is None:
        head = _HEADS[(event, privilege)] = serialize(
            (("Event", event), ("Privilege", privilege))
        )[:-2]
    return head


def channel_event(event, privilege, channel, *extra):
    """
    C{Event}, C{Privilege}, the channel block, then C{extra} headers (as
    bytes: the block is serialized once per channel state).
    """
    return _head(event, privilege) + channel.block_bytes() + (encode(extra) if extra else b"\r\n")


def dial_event(event, channel, *extra):
    """
    DialBegin/DialState/DialEnd: only C{Dest*} headers (an Originate has no
    calling channel, so there is no C{Channel:} header).
    """
    return _head(event, "call,all") + channel.block_bytes("Dest") + encode(extra)


def local_bridge(one, two, context, exten):
    return (
        (("Event", "LocalBridge"), ("Privilege", "call,all"))
        + one.block("LocalOne")
        + two.block("LocalTwo")
        + (("Context", context), ("Exten", exten), ("LocalOptimization", "Yes"))
    )


def originate_response(action_id, response, channel, context, exten, reason, uniqueid, cid_num, cid_name):
    headers = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
    if action_id:
        headers.append(("ActionID", action_id))
    headers += [
        ("Response", response),
        ("Channel", channel),
        ("Context", context),
        ("Exten", exten),
        ("Reason", str(reason)),
        ("Uniqueid", uniqueid),
        ("CallerIDNum", cid_num or UNKNOWN),
        ("CallerIDName", cid_name or UNKNOWN),
    ]
    return tuple(headers)


def hangup(channel):
    cause = channel.hangup_cause
    return channel_event(
        "Hangup", "call,all", channel, ("Cause", str(cause)), ("Cause-txt", cause_text(cause))
    )


def hangup_request(event, channel, cause):
    """
    HangupRequest or SoftHangupRequest (whose Cause is Asterisk's internal
    soft-hangup flag, e.g. 16 or 32, not a Q.850 cause).
    """
    return channel_event(event, "call,all", channel, ("Cause", str(cause)))


def var_set(channel, name, value):
    return channel_event("VarSet", "dialplan,all", channel, ("Variable", name), ("Value", value))


def new_exten(channel, application, data):
    return channel_event(
        "Newexten",
        "dialplan,all",
        channel,
        ("Extension", channel.exten),
        ("Application", application),
        ("AppData", data),
    )


def agi_exec_start(channel, command_id, command):
    return channel_event(
        "AGIExecStart", "agi,all", channel, ("CommandId", command_id), ("Command", command)
    )


def agi_exec_end(channel, command_id, command, result_code, result):
    return channel_event(
        "AGIExecEnd",
        "agi,all",
        channel,
        ("CommandId", command_id),
        ("Command", command),
        ("ResultCode", str(result_code)),
        ("Result", result),
    )


def dtmf_begin(channel, digit):
    return channel_event(
        "DTMFBegin", "dtmf,all", channel, ("Digit", digit), ("Direction", "Received")
    )


def dtmf_end(channel, digit, duration_ms):
    return channel_event(
        "DTMFEnd",
        "dtmf,all",
        channel,
        ("Digit", digit),
        ("DurationMs", str(duration_ms)),
        ("Direction", "Received"),
    )


def new_callerid(channel):
    return channel_event(
        "NewCallerid",
        "call,all",
        channel,
        ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"),
    )
