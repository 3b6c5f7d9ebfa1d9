"""
Replay recorded scenarios against the PBX simulator, all in memory.

The AMI side: the actions a recorded client sent (the C{APP>AST} blocks of an
C{ami-*.txt} transcript) are fed to simulator AMI sessions at their recorded
times on a L{Clock}.  The FastAGI side: answered calls "connect" to
L{ScriptedAGIServer}s, which send the commands of a recorded
C{agi-session-*.txt} (or a small made-up script) at their recorded times and
half-close when the recorded client did.

L{shape} reduces a message to what must match real Asterisk: event/response
names, header names in order, and values except ids and timestamps.
"""

import re
from collections import Counter

from twisted.internet.defer import fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from fts.asterisk.ami.frames import FrameParser
from fts.pbxsim.callee import transcript_model
from fts.pbxsim.service import PBXSimulator
from tests.support import transcripts
from tests.support.transcripts import FROM_ASTERISK, TO_ASTERISK

# The epoch of the recorded run, so Uniqueids look the same.
EPOCH = 1795347861.0

ID_HEADERS = frozenset(
    """Uniqueid Linkedid DestUniqueid DestLinkedid LocalOneUniqueid LocalOneLinkedid
    LocalTwoUniqueid LocalTwoLinkedid CommandId SessionID EventTV SessionTV LocalAddress
    RemoteAddress Timestamp Uptime LastReload Challenge""".split()
)
CHANNEL_HEADERS = frozenset("Channel DestChannel LocalOneChannel LocalTwoChannel".split())
_SEQUENCE = re.compile(r"-[0-9a-f]{8};")


def run_until(clock, when):
    """
    Advance C{clock} to C{when}, stopping at every scheduled call on the
    way (a plain C{advance} would jump, and calls scheduled by calls would
    start from the end time).
    """
    while True:
        pending = [c.getTime() for c in clock.getDelayedCalls()]
        upcoming = min(pending) if pending else None
        if upcoming is None or upcoming > when:
            if when > clock.seconds():
                clock.advance(when - clock.seconds())
            return
        clock.advance(max(upcoming - clock.seconds(), 0))


def normalize_channel(value):
    return _SEQUENCE.sub("-SEQ;", value)


def shape(message):
    """
    C{((name, value-or-"<id>"), ...)}: what must match the real PBX.
    """
    out = []
    for name, value in message.headers:
        if name in ID_HEADERS:
            value = "<id>"
        elif name in CHANNEL_HEADERS or name == "Value" and value.startswith("Local/"):
            value = normalize_channel(value)
        out.append((name, value))
    return tuple(out)


def parse_ami(data):
    return FrameParser(expect_banner=True).feed(data)


def recorded_connections(name):
    """
    The connections of an AMI transcript: C{[(open_offset, [(offset,
    bytes sent)], bytes received)]}.
    """
    connections = []
    for block in transcripts.load(name):
        if block.direction == FROM_ASTERISK and block.data.startswith(b"Asterisk Call Manager/"):
            connections.append([block.offset, [], []])
        if not connections:
            continue
        if block.direction == TO_ASTERISK:
            connections[-1][1].append((block.offset, block.data))
        else:
            connections[-1][2].append(block.data)
    return [(o, sent, b"".join(got)) for o, sent, got in connections]


def agi_script(name):
    """
    From an AGI transcript: C{([(offset, command bytes)], half_close_offset,
    recorded bytes from Asterisk)}.
    """
    path = transcripts.directory() / (name + ".txt")
    text = path.read_text()
    match = re.search(r"## \[\+([0-9.]+)s\] we half-close", text)
    blocks = transcripts.load(name)
    commands = [(b.offset, b.data) for b in blocks if b.direction == TO_ASTERISK]
    received = transcripts.stream(blocks, FROM_ASTERISK)
    return commands, float(match.group(1)), received


H_SCRIPT = (
    [
        (0.0, b"GET VARIABLE FTS_CONTACT\n"),
        (0.0, b"GET VARIABLE FTS_RESULT\n"),
        (0.0, b"GET FULL VARIABLE ${HANGUPCAUSE}\n"),
        (0.0, b"GET FULL VARIABLE ${DIALSTATUS}\n"),
        (0.0, b"CHANNEL STATUS\n"),
        (0.0, b"ANSWER\n"),
    ],
    0.002,
)


class RecordingTransport(StringTransport):
    """
    A StringTransport that also keeps each write apart.
    """

    def __init__(self):
        StringTransport.__init__(self)
        self.writes = []

    def write(self, data):
        self.writes.append(data)
        StringTransport.write(self, data)


class ScriptedAGIServer:
    """
    One FastAGI connection from the simulator, served by a script.

    @ivar received: the bytes the simulator sent.
    @ivar environment: the C{agi_*} environment as a list of pairs.
    """

    def __init__(self, clock, protocol, transport):
        self.clock = clock
        self.protocol = protocol
        self.transport = transport
        self.started = clock.seconds()
        self.environment = None
        self.closed = False

    @property
    def received(self):
        return self.transport.value()

    def read_environment(self):
        head = self.transport.value().split(b"\n\n", 1)[0].decode()
        self.environment = [tuple(line.split(": ", 1)) for line in head.split("\n")]
        return dict(self.environment)

    def play(self, commands, half_close):
        for offset, data in commands:
            self.clock.callLater(offset, self.send, data)
        if half_close is not None:
            self.clock.callLater(half_close, self.half_close)

    def send(self, data):
        if not self.transport.disconnecting:
            self.protocol.dataReceived(data)

    def half_close(self):
        if not self.transport.disconnecting:
            self.protocol.readConnectionLost()
        self.finish()

    def finish(self):
        if self.transport.disconnecting and not self.closed:
            self.closed = True
            self.protocol.connectionLost(Failure(ConnectionDone()))


class AGIConnector:
    """
    The simulator's C{connect_agi}: every connection gets a
    L{ScriptedAGIServer} whose script C{choose(environment)} returns
    (C{(commands, half_close)}, or C{None} to stay silent).

    @ivar servers: every L{ScriptedAGIServer}, in connection order.
    """

    def __init__(self, clock, choose=None, refuse=False):
        self.clock = clock
        self.choose = choose or (lambda env: None)
        self.refuse = refuse
        self.servers = []

    def __call__(self, host, port, protocol):
        if self.refuse:
            return fail(ConnectionRefusedError("connection refused"))
        transport = RecordingTransport()
        server = ScriptedAGIServer(self.clock, protocol, transport)
        self.servers.append(server)
        protocol.makeConnection(transport)
        script = self.choose(server.read_environment())
        if script is not None:
            server.play(*script)
        return succeed(protocol)


_FIRST_CHANNEL = re.compile(
    rb"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/[^\r]*-([0-9a-f]{8});1\r\n"
    rb"(?:[^\r]*\r\n)*?Uniqueid: (\d+)\.(\d+)\r\n"
)


def recorded_start(name):
    """
    C{(epoch, sequence, uniqueid_counter)} that make a fresh simulator name
    its first call as the first call of transcript C{name} (so that actions
    naming channels find them).
    """
    for block in transcripts.load(name):
        if block.direction != FROM_ASTERISK:
            continue
        match = _FIRST_CHANNEL.search(block.data)
        if match:
            epoch = int(match.group(2)) - block.offset + 0.5
            return epoch, int(match.group(1), 16), int(match.group(3))
    return EPOCH, 0, 0


def simulator(clock=None, choose=None, refuse=False, callee=None, like=None, **kwargs):
    """
    A started L{PBXSimulator} on a L{Clock} set to the recorded epoch, with
    the transcript dialplan (script C{campaign}), and its L{AGIConnector}.

    @param like: a transcript name: number channels and Uniqueids like its
        first call.
    """
    epoch, sequence, counter = recorded_start(like) if like else (EPOCH, 0, 0)
    if clock is None:
        clock = Clock()
        clock.advance(epoch)
    connector = AGIConnector(clock, choose, refuse)
    kwargs.setdefault("agi_script", "campaign")
    sim = PBXSimulator(
        clock,
        clock,
        ami_endpoint=None,
        callee=callee if callee is not None else transcript_model(),
        connect_agi=connector,
        **kwargs,
    )
    sim.pbx.sequence = sequence
    sim.pbx.uniqueid_counter = counter
    sim.startService()
    return sim, connector


def open_ami(sim):
    """
    A new AMI connection to C{sim}: C{(protocol, transport)}.
    """
    protocol = sim.factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def close_if_dropped(protocol, transport):
    if transport.disconnecting and protocol.connected:
        protocol.connectionLost(Failure(ConnectionDone()))


def replay_ami(sim, name, tail=2.0, at=None):
    """
    Feed the recorded actions of transcript C{name} to C{sim} at their
    recorded times; return the simulator's bytes per connection.

    @param at: C{{offset: callable}} extra things to do at given offsets
        (e.g. stop the service).
    """
    clock = sim.clock
    start = clock.seconds()
    timeline = []
    for index, (opened, sent, _) in enumerate(recorded_connections(name)):
        timeline.append((opened, 0, index, None))
        for offset, data in sent:
            timeline.append((offset, 1, index, data))
    for offset, thing in (at or {}).items():
        timeline.append((offset, 2, -1, thing))
    timeline.sort(key=lambda item: (item[0], item[1]))
    connections = {}
    for offset, kind, index, data in timeline:
        run_until(clock, start + offset)
        for protocol, transport in connections.values():
            close_if_dropped(protocol, transport)
        if kind == 0:
            connections[index] = open_ami(sim)
        elif kind == 1:
            connections[index][0].dataReceived(data)
        else:
            data()
    run_until(clock, start + timeline[-1][0] + tail)
    for protocol, transport in connections.values():
        close_if_dropped(protocol, transport)
    return [connections[i][1].value() for i in sorted(connections)]


_WALL = re.compile(r"^--- \+([0-9.]+)s @(\d\d):(\d\d):(\d\d\.\d+)Z", re.M)


def wall_zero(name):
    """
    The UTC time of day (seconds) at offset 0 of transcript C{name}: the
    same clock in every file, so AGI files line up with AMI files.
    """
    text = (transcripts.directory() / (name + ".txt")).read_text()
    match = _WALL.search(text)
    offset, h, m, sec = match.groups()
    return int(h) * 3600 + int(m) * 60 + float(sec) - float(offset)


def agi_chooser(mapping, default=None, clock=None, ami=None):
    """
    Choose AGI scripts by C{(number, agi_extension)} (the number is the
    Local extension in agi_channel); unmapped sessions get C{default}
    (C{H_SCRIPT} for the h extension when C{default} is None).

    With C{clock} and C{ami} (the AMI transcript being replayed from now),
    a recorded AGI script runs at its recorded wall-clock times relative to
    the AMI transcript, whenever the simulator connected.
    """
    start = clock.seconds() if clock is not None else None

    def choose(env):
        number = env["agi_channel"].split("/", 1)[1].split("@", 1)[0]
        key = (number, env["agi_extension"])
        if key in mapping:
            commands, half_close, _ = agi_script(mapping[key])
            if clock is not None and ami is not None:
                shift = (wall_zero(mapping[key]) - wall_zero(ami)) - (clock.seconds() - start)
                # Both files have millisecond times; on a tie the AMI action
                # goes first (half a millisecond later for the AGI side).
                shift = max(shift, 0.0) + 0.0005
                commands = [(offset + shift, data) for offset, data in commands]
                half_close += shift
            return commands, half_close
        if env["agi_extension"] == "h":
            return H_SCRIPT
        return default

    return choose


def channel_key(message):
    """
    The channel an event is about (its C{-seq} normalized), or C{""} for
    responses, OriginateResponse and events about no single channel (their
    relative order is not fixed on the real PBX).
    """
    if message.kind != "event" or message.name == "OriginateResponse":
        return ""
    channel = message.get("Channel") or message.get("DestChannel") or ""
    if channel[-2:] in (";1", ";2"):
        return normalize_channel(channel)
    return ""


def grouped(messages):
    groups = {}
    for message in messages:
        groups.setdefault(channel_key(message), []).append(shape(message))
    return groups


class RecordingAssertions:
    """
    Compare simulator AMI output with a recording.
    """

    def assertMatchesRecording(self, recorded, produced):
        """
        Same events and responses, with the same header names in the same
        order and the same non-id values; per channel in the same order;
        responses in the same order; the rest as a multiset.
        """
        expected = parse_ami(recorded)
        actual = parse_ami(produced)
        self.assertTrue(expected, "nothing recorded")
        want, got = grouped(expected), grouped(actual)
        self.assertEqual(sorted(want), sorted(got), "channels differ")
        for key in want:
            if key:
                self.assertEqual(want[key], got[key], "events of %s differ" % (key,))
        self.assertEqual(Counter(want[""]) if "" in want else Counter(), Counter(got.get("", ())))
        responses = lambda ms: [shape(m) for m in ms if m.kind == "response"]
        self.assertEqual(responses(expected), responses(actual))


LOGIN = b"Action: Login\r\nActionID: login\r\nUsername: fts\r\nSecret: fts\r\n\r\n"


def originate(number, action_id=None, extra=b"", async_=b"true"):
    """
    The bytes of an Originate like the recorded ones.
    """
    return (
        b"Action: Originate\r\nActionID: %s\r\nChannel: Local/%s@callee-sim\r\n"
        b"Context: fts-campaign\r\nExten: %s\r\nPriority: 1\r\nAsync: %s\r\n"
        b"Timeout: 15000\r\nCallerID: \"FTS Dialer\" <5550100>\r\n"
        b"Variable: FTS_CAMPAIGN=1,FTS_CONTACT=42\r\n%s\r\n"
        % ((action_id or "orig-" + number).encode(), number.encode(), number.encode(), async_, extra)
    )


class Line:
    """
    A simulator with one logged-in AMI session and silent FastAGI servers
    that a test drives by hand.
    """

    def __init__(self, callee=None, events=None, **kwargs):
        self.sim, self.connector = simulator(callee=callee, **kwargs)
        self.clock = self.sim.clock
        self.ami, self.transport = open_ami(self.sim)
        login = LOGIN if events is None else LOGIN[:-2] + b"Events: " + events + b"\r\n\r\n"
        self.ami.dataReceived(login)
        self.transport.clear()

    def send(self, data):
        self.ami.dataReceived(data)

    def wait(self, seconds):
        run_until(self.clock, self.clock.seconds() + seconds)

    def messages(self):
        """
        Everything the AMI session received so far (and forget it).
        """
        data = self.transport.value()
        self.transport.clear()
        return FrameParser(expect_banner=False).feed(data)

    def events(self, name=None):
        return [m for m in self.messages() if m.kind == "event" and (name is None or m.name == name)]

    def agi(self, index=-1):
        return self.connector.servers[index]

    def command(self, line, server=None, wait=0.0):
        """
        Send one AGI command; return what the simulator answered (after
        C{wait} seconds).
        """
        server = server or self.agi()
        before = len(server.received)
        server.send(line + b"\n")
        if wait:
            self.wait(wait)
        return server.received[before:]
