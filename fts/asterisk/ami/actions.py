"""
AMI actions as plain values: the headers FTS sends and the results it reads
back.  Nothing here does I/O; L{fts.asterisk.ami.protocol} sends these.
"""

from hashlib import md5

import attr

__all__ = [
    "LIST_ACTIONS",
    "ListResult",
    "OriginateResult",
    "ORIGINATE_REASONS",
    "login_key",
    "originate_headers",
    "is_list_end",
]

# Actions answered by "Response: Success / EventList: start", one event per
# item, then a "...Complete" event.  Any other action whose response says
# "EventList: start" is collected the same way.
LIST_ACTIONS = frozenset(
    name.lower()
    for name in (
        "CoreShowChannels",
        "Status",
        "QueueStatus",
        "QueueSummary",
        "BridgeList",
        "ParkedCalls",
        "SIPpeers",
        "PJSIPShowEndpoints",
        "PJSIPShowContacts",
        "DeviceStateList",
        "ExtensionStateList",
        "Agents",
        "ConfbridgeList",
    )
)

# OriginateResponse "Reason" codes (the last control frame Asterisk saw on
# the outgoing channel), as observed against Asterisk 22.
ORIGINATE_REASONS = {
    0: "failed",  # rejected, unknown technology, no such Local extension
    1: "hangup",
    3: "no-answer",  # timed out, whether or not it rang
    4: "answered",
    5: "busy",
    8: "congestion",
}


def login_key(challenge, secret):
    """
    The C{Key} of an MD5 login: the hex MD5 of challenge followed by secret.
    """
    return md5((challenge + secret).encode("utf-8")).hexdigest()


def is_list_end(event):
    """
    Whether C{event} ends an event list (C{EventList: Complete} or
    C{Cancelled}; old Asterisk versions only name it C{...Complete}).
    """
    if event.name.endswith("Complete"):
        return True
    return event.get("EventList", "").lower() in ("complete", "cancelled")


@attr.s(frozen=True, slots=True)
class ListResult:
    """
    The answer to a list action (CoreShowChannels, Status, QueueStatus...).

    Iterating over it, or C{len()}, covers the item events.

    @ivar response: the C{Response: Success} message.
    @ivar events: the item events, in order (the closing event excluded).
    @ivar complete: the closing C{...Complete} event.
    """

    response = attr.ib()
    events = attr.ib(converter=tuple)
    complete = attr.ib()

    def __iter__(self):
        return iter(self.events)

    def __len__(self):
        return len(self.events)

    def __getitem__(self, index):
        return self.events[index]


def _check_text(what, value):
    if "\r" in value or "\n" in value:
        raise ValueError("%s holds a line break: %r" % (what, value))
    return value


def originate_headers(
    channel,
    context,
    exten,
    priority,
    channel_id,
    other_channel_id=None,
    variables=None,
    caller_id=None,
    timeout_ms=30000,
    account=None,
):
    """
    The headers of an asynchronous C{Originate} (without Action/ActionID).

    Each variable gets its own C{Variable:} header.  Asterisk splits a
    Variable value on commas, so names and values may not contain commas,
    and names may not contain C{=}.

    @raise ValueError: a value that Asterisk would misread.
    """
    if not channel or "/" not in channel:
        raise ValueError("Originate channel must look like TECH/resource: %r" % (channel,))
    headers = [
        ("Channel", _check_text("channel", channel)),
        ("Context", _check_text("context", str(context))),
        ("Exten", _check_text("exten", str(exten))),
        ("Priority", _check_text("priority", str(priority))),
        ("Async", "true"),
        ("Timeout", str(int(timeout_ms))),
    ]
    if channel_id:
        headers.append(("ChannelId", _check_text("channel id", str(channel_id))))
    if other_channel_id:
        headers.append(
            ("OtherChannelId", _check_text("other channel id", str(other_channel_id)))
        )
    if caller_id:
        headers.append(("CallerID", _check_text("caller id", caller_id)))
    if account:
        headers.append(("Account", _check_text("account", account)))
    for name, value in (variables or {}).items():
        name = str(name)
        value = str(value)
        if not name or "=" in name or "," in name:
            raise ValueError("bad channel variable name %r" % (name,))
        if "," in value:
            raise ValueError(
                "channel variable %s: Asterisk splits values on commas: %r"
                % (name, value)
            )
        headers.append(("Variable", _check_text("variable " + name, name + "=" + value)))
    return headers


@attr.s(frozen=True, slots=True)
class OriginateResult:
    """
    How an asynchronous Originate ended.

    @ivar outcome: C{"success"} (answered), C{"failure"} (see C{reason}),
        or C{"unknown"}: the connection closed, or no OriginateResponse came
        in time, so the call may or may not exist; reconcile by C{channel_id}.
    @ivar reason: the numeric C{Reason} (4 answered, 5 busy, 8 congestion,
        3 no answer, 0 failed...), or C{None}.
    @ivar channel: the C{Channel} Asterisk reported (the requested string on
        failure, the C{;1} half on success), or the requested channel.
    @ivar uniqueid: the C{Uniqueid} (C{None} when Asterisk says
        C{<unknown>}).
    @ivar channel_id: the C{ChannelId} FTS chose, or C{None}.
    @ivar action_id: the ActionID of the Originate.
    @ivar event: the OriginateResponse message, or C{None}.
    @ivar detail: for C{"unknown"}, why.
    """

    outcome = attr.ib()
    reason = attr.ib()
    channel = attr.ib()
    uniqueid = attr.ib()
    channel_id = attr.ib()
    action_id = attr.ib()
    event = attr.ib(default=None, eq=False, repr=False)
    detail = attr.ib(default="")

    @property
    def reason_name(self):
        """
        A word for C{reason}: answered, busy, congestion, no-answer...
        """
        if self.reason is None:
            return self.outcome
        return ORIGINATE_REASONS.get(self.reason, "reason-%d" % (self.reason,))

    @classmethod
    def from_event(cls, event, channel_id=None, action_id=None):
        """
        Read an C{OriginateResponse} event.
        """
        response = (event.get("Response") or "").lower()
        outcome = "success" if response == "success" else "failure"
        raw = event.get("Reason")
        try:
            reason = int(raw)
        except (TypeError, ValueError):
            reason = None
        uniqueid = event.get("Uniqueid")
        if uniqueid in (None, "", "<unknown>"):
            uniqueid = None
        return cls(
            outcome=outcome,
            reason=reason,
            channel=event.get("Channel"),
            uniqueid=uniqueid,
            channel_id=channel_id,
            action_id=action_id if action_id is not None else event.action_id,
            event=event,
        )

    @classmethod
    def unknown(cls, channel, channel_id, action_id, detail):
        """
        The result when Asterisk's answer will never be seen.
        """
        return cls(
            outcome="unknown",
            reason=None,
            channel=channel,
            uniqueid=None,
            channel_id=channel_id,
            action_id=action_id,
            detail=detail,
        )
