"""
Simulated Asterisk channels: the state every AMI event snapshots.

A simulated call is one Local channel pair, C{Local/<n>@<ctx>-<seq>;1} (the
half that runs the campaign dialplan and the FastAGI session) and C{;2} (the
called party).  L{Channel} holds what real Asterisk prints in the standard
channel block of every event, in the same order and value formats as the
recorded transcripts (C{Channel}, C{ChannelState}, C{ChannelStateDesc},
C{CallerIDNum} ... C{Linkedid}).
"""

from fts.asterisk.ami.frames import serialize

__all__ = [
    "Channel",
    "encode",
    "DOWN",
    "RING",
    "RINGING",
    "UP",
    "BUSY",
    "STATE_NAMES",
    "CAUSE_TEXT",
    "cause_text",
    "UNKNOWN",
]

# Asterisk's AST_STATE_* numbers, as printed in ChannelState.
DOWN = 0
RING = 4
RINGING = 5
UP = 6
BUSY = 7

STATE_NAMES = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
    8: "Dialing Offhook",
    9: "Pre-ring",
}

UNKNOWN = "<unknown>"

# Q.850 cause texts as Asterisk prints them in Cause-txt.
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    27: "Destination out of order",
    28: "Invalid number format (incomplete number)",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
}


def cause_text(cause):
    """
    The C{Cause-txt} Asterisk prints for a hangup cause number.
    """
    return CAUSE_TEXT.get(cause, "Unknown")


def encode(headers):
    """
    The same bytes as L{fts.asterisk.ami.frames.serialize} for C{(name,
    value)} string pairs, about four times faster: the hot path of the
    simulator's events.  Anything C{serialize} would refuse (a CR or LF in
    a value) goes to C{serialize}, which raises its C{ValueError}.
    """
    text = "".join([f"{name}: {value}\r\n" for name, value in headers])
    n = len(headers)
    if text.count("\n") != n or text.count("\r") != n:
        return serialize(headers)
    return (text + "\r\n").encode("utf-8")


class Channel:
    """
    One simulated channel.

    Mutable on purpose: events snapshot it as it changes.  Slots keep a
    thousand concurrent calls cheap.

    @ivar name: e.g. C{Local/1001@callee-sim-00000000;1}.
    @ivar uniqueid: the Uniqueid (an Originate ChannelId when given).
    @ivar linkedid: the Linkedid (the C{;1} Uniqueid for both halves).
    @ivar state: an Asterisk state number (L{DOWN}, L{RING}, L{UP}...).
    @ivar variables: channel variables set on it (dict, insertion order).
    @ivar application, data: the dialplan application now running (what
        C{Status} shows: AGI for the campaign half).
    @ivar last_application, last_data: the last application run, including
        ones started by AGI C{EXEC} (what C{CoreShowChannel} shows).
    @ivar created: creation time on the simulator's clock (simulated seconds).
    @ivar hangup_cause: the cause its Hangup event will carry.
    @ivar alive: C{False} once soft-hung-up (AGI runs in dead mode).
    @ivar gone: C{True} once the Hangup event is sent.
    """

    __slots__ = (
        "name",
        "uniqueid",
        "linkedid",
        "state",
        "caller_num",
        "caller_name",
        "connected_num",
        "connected_name",
        "language",
        "accountcode",
        "context",
        "exten",
        "priority",
        "variables",
        "application",
        "data",
        "last_application",
        "last_data",
        "created",
        "hangup_cause",
        "alive",
        "gone",
        "call",
        "_block",
        "_bytes",
        "_dest_bytes",
    )

    def __init__(self, name, uniqueid, linkedid, state, context, exten, created, call=None):
        self.name = name
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.state = state
        self.caller_num = UNKNOWN
        self.caller_name = UNKNOWN
        self.connected_num = UNKNOWN
        self.connected_name = UNKNOWN
        self.language = "en"
        self.accountcode = ""
        self.context = context
        self.exten = exten
        self.priority = 1
        self.variables = {}
        self.application = ""
        self.data = ""
        self.last_application = ""
        self.last_data = ""
        self.created = created
        self.hangup_cause = 0
        self.alive = True
        self.gone = False
        self.call = call
        self._block = self._bytes = self._dest_bytes = None
        self._bytes = None
        self._dest_bytes = None

    def __repr__(self):
        return "<Channel %s %s>" % (self.name, STATE_NAMES.get(self.state, self.state))

    def changed(self):
        """
        Forget the cached header block (call after changing a field shown in
        it outside the setters below).
        """
        self._block = self._bytes = self._dest_bytes = None

    def set_state(self, state):
        self.state = state
        self._block = self._bytes = self._dest_bytes = None

    def set_place(self, context, exten, priority):
        self.context = context
        self.exten = exten
        self.priority = priority
        self._block = self._bytes = self._dest_bytes = None

    def set_priority(self, priority):
        self.priority = priority
        self._block = self._bytes = self._dest_bytes = None

    def set_caller(self, num, name):
        self.caller_num = num
        self.caller_name = name
        self._block = self._bytes = self._dest_bytes = None

    def set_connected(self, num, name):
        self.connected_num = num
        self.connected_name = name
        self._block = self._bytes = self._dest_bytes = None

    def block(self, prefix=""):
        """
        The standard channel headers, as a tuple of C{(name, value)} pairs,
        in Asterisk's order.  C{prefix} gives C{Dest...}/C{LocalOne...}
        spellings.
        """
        if not prefix:
            block = self._block
            if block is None:
                block = self._block = self._make_block("")
            return block
        return self._make_block(prefix)

    def block_bytes(self, prefix=""):
        """
        L{block} as bytes (without the message's final empty line), cached
        until the channel changes.
        """
        if not prefix:
            data = self._bytes
            if data is None:
                data = self._bytes = encode(self.block())[:-2]
            return data
        if prefix == "Dest":
            data = self._dest_bytes
            if data is None:
                data = self._dest_bytes = encode(self._make_block("Dest"))[:-2]
            return data
        return encode(self._make_block(prefix))[:-2]

    def _make_block(self, p):
        state = self.state
        return (
            (p + "Channel", self.name),
            (p + "ChannelState", str(state)),
            (p + "ChannelStateDesc", STATE_NAMES.get(state, "Unknown")),
            (p + "CallerIDNum", self.caller_num),
            (p + "CallerIDName", self.caller_name),
            (p + "ConnectedLineNum", self.connected_num),
            (p + "ConnectedLineName", self.connected_name),
            (p + "Language", self.language),
            (p + "AccountCode", self.accountcode),
            (p + "Context", self.context),
            (p + "Exten", self.exten),
            (p + "Priority", str(self.priority)),
            (p + "Uniqueid", self.uniqueid),
            (p + "Linkedid", self.linkedid),
        )

    def variable(self, name):
        """
        The value of a channel variable, or C{None} when unset.
        """
        return self.variables.get(name)
