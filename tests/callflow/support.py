"""
The call flow under test against the PBX simulator, in memory, on a Clock.

L{Pipe} connects two protocols like a loopback TCP connection: bytes are
delivered on the next clock turn, in order, and it half-closes (the FastAGI
server's C{loseWriteConnection} reaches the simulator's client as
C{readConnectionLost}, so it sends its last C{HANGUP} and closes, as
Asterisk does).

L{Harness} is the real thing around that: a L{SimulatedPBX} whose answered
calls connect to a real L{FastAGIServerFactory} routing C{call} and the
C{h} extension to a L{CallFlow}, a real L{CallRegistry} with the calls the
test places, playlists made by the real L{prepare} (with the real
L{TTSCache} over an instant engine), and the events in a list.
"""

import itertools
from pathlib import Path

from twisted.internet.address import IPv4Address
from twisted.internet.defer import succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from zope.interface import implementer

from fts.asterisk.agi.router import ScriptRouter
from fts.asterisk.agi.server import FastAGIServerFactory
from fts.audio.tts import Availability, ITTSEngine, TTSCache
from fts.callflow.flow import CallFlow
from fts.callflow.playlist import PreparedPlaylists, prepare
from fts.core.campaign import (
    Action,
    AmdMode,
    AmdSettings,
    AudioPart,
    CampaignSettings,
    KeyOption,
    Menu,
    Pacing,
    Replay,
)
from fts.dialer.registry import ActiveCall, CallRegistry
from fts.pbxsim.callee import ANSWERED, CalleeModel, Override, Step, script_from
from fts.pbxsim.dialplan import Dialplan, SoundLibrary
from fts.pbxsim.pbx import OriginateRequest, SimulatedPBX, TransferSettings
from tests.audio.support import ImmediateThreads, ManualThreadPool, wav_bytes

#: 2030-01-01 00:00 UTC.
T0 = 1893456000.0
CAMPAIGN = 7

#: The audio library of the tests: asset id -> base path, and how long each plays.
HELLO, MENU, THANKS, MACHINE, INVALID, NO_KEY, OPTED_OUT, TRANSFERRING = range(1, 9)
ASSETS = {
    HELLO: "/sounds/hello",
    MENU: "/sounds/menu",
    THANKS: "/sounds/thanks",
    MACHINE: "/sounds/machine",
    INVALID: "/sounds/invalid",
    NO_KEY: "/sounds/no-key",
    OPTED_OUT: "/sounds/opted-out",
    TRANSFERRING: "/sounds/transferring",
}
DURATIONS = {
    "/sounds/hello": 4.0,
    "/sounds/menu": 3.0,
    "/sounds/thanks": 2.0,
    "/sounds/machine": 6.0,
    "/sounds/invalid": 2.0,
    "/sounds/no-key": 2.0,
    "/sounds/opted-out": 3.0,
    "/sounds/transferring": 1.0,
}
#: How long the main message (hello + menu) plays.
MESSAGE_SECONDS = 7.0

OPTIONS = (
    KeyOption("1", Action.RECORD, "yes", message=(AudioPart(THANKS),)),
    KeyOption("2", Action.REPEAT, "repeat"),
    KeyOption("3", Action.QUEUE, "sales", target="sales"),
    KeyOption("4", Action.DIAL, "agent", target="5551000", message=(AudioPart(TRANSFERRING),)),
    KeyOption("9", Action.OPTOUT, "stop calling", message=(AudioPart(OPTED_OUT),)),
    KeyOption("0", Action.HANGUP, "goodbye"),
)


def campaign_settings(amd=AmdMode.OFF, options=OPTIONS, wait=5, invalid_replays=1,
                      silent_replays=1, max_call_duration=600, message=None,
                      amd_parameters=()):
    """
    Settings of the test campaign: hello + menu prompt, the six options,
    replay prompts, and a machine message.
    """
    return CampaignSettings(
        name="test",
        message=message if message is not None else (AudioPart(HELLO), AudioPart(MENU)),
        menu=Menu(options=options, wait_seconds=wait,
                  invalid_key=Replay(invalid_replays, (AudioPart(INVALID),)),
                  no_key=Replay(silent_replays, (AudioPart(NO_KEY),))),
        amd=AmdSettings(mode=amd, machine_message=(AudioPart(MACHINE),),
                        parameters=amd_parameters),
        pacing=Pacing(max_call_duration=max_call_duration),
    )


def callee(script=(), amd="HUMAN"):
    """
    Everybody answers at once, follows C{script}, and is what C{EXEC AMD}
    concludes C{amd} is.
    """
    return CalleeModel(
        {ANSWERED: 1}, ring_seconds=0,
        overrides=[Override("", outcome=ANSWERED, ring_seconds=0, rings=False,
                            script=tuple(script), amd=amd)],
        seed=1)


def keys(*presses, hangup_after=None):
    """
    A script pressing C{(seconds_after_answer, digit)} keys, hanging up at
    C{hangup_after} (C{None}: stays until we hang up).
    """
    return script_from(hangup_after, presses)


def hangs_up(after):
    return script_from(after)


def machine(greeting=30.0):
    """
    An answering machine: its greeting, then silence until we hang up.
    """
    return (Step("Playback", "greeting", greeting),)


@implementer(ITTSEngine)
class InstantSpeech:
    """A TTS engine answering at once with a short WAV; records what it said."""

    name = "instant"
    options = {}

    def __init__(self):
        self.said = []

    def available(self):
        return Availability(True)

    def render(self, text, voice, language):
        self.said.append(text)
        return succeed(wav_bytes(0.1, 8000))


class _End:
    """
    One side's transport of a L{Pipe}.
    """

    disconnecting = False

    def __init__(self, pipe, index):
        self._pipe = pipe
        self._index = index

    def write(self, data):
        self._pipe.send(self._index, data)

    def writeSequence(self, data):
        self.write(b"".join(data))

    def loseWriteConnection(self):
        self._pipe.half_close(self._index)

    def loseConnection(self):
        self.disconnecting = True
        self._pipe.close()

    abortConnection = loseConnection

    def getPeer(self):
        return IPv4Address("TCP", "127.0.0.1", 40000 + self._index)

    def getHost(self):
        return IPv4Address("TCP", "127.0.0.1", 4573)

    def setTcpNoDelay(self, enabled):
        pass


class Pipe:
    """
    A connection between two protocols, delivered on the clock's next turn.

    @ivar written: what each side wrote, as a list of writes.
    """

    def __init__(self, clock, first, second):
        self.clock = clock
        self.protocols = (first, second)
        self.ends = (_End(self, 0), _End(self, 1))
        self.write_closed = [False, False]
        self.closing = False
        self.closed = False
        self.written = ([], [])

    def start(self):
        for protocol, end in zip(self.protocols, self.ends):
            protocol.makeConnection(end)

    def send(self, index, data):
        if self.closing or self.write_closed[index] or not data:
            return
        self.written[index].append(data)
        self.clock.callLater(0, self._deliver, 1 - index, data)

    def _deliver(self, index, data):
        if not self.closed:
            self.protocols[index].dataReceived(data)

    def half_close(self, index):
        if self.closing or self.write_closed[index]:
            return
        self.write_closed[index] = True
        self.clock.callLater(0, self._eof, 1 - index)

    def _eof(self, index):
        if self.closed:
            return
        protocol = self.protocols[index]
        if IHalfCloseableProtocol.providedBy(protocol):
            protocol.readConnectionLost()
        else:
            self.close()

    def close(self):
        if self.closing:
            return
        self.closing = True
        self.clock.callLater(0, self._closed)

    def _closed(self):
        self.closed = True
        for protocol in self.protocols:
            protocol.connectionLost(Failure(ConnectionDone()))


class Harness:
    """
    The simulator, the FastAGI server and the call flow, on one Clock.

    @ivar events: every event the call flow emitted, in order.
    @ivar flows: the L{fts.callflow.states.FlowState} of each finished
        C{call} script (C{None} when the call was not run).
    @ivar pipes: every FastAGI connection, in order.
    """

    def __init__(self, test, script=(), amd="HUMAN", settings=None, transfer=None,
                 durations=None, **flow_options):
        self.clock = Clock()
        self.clock.advance(T0)
        self.settings = settings if settings is not None else campaign_settings()
        self.registry = CallRegistry()
        self.events = []
        self.flows = []
        self.campaigns = {CAMPAIGN: self.settings}
        self.playlists = PreparedPlaylists(self.registry)
        self.speech = InstantSpeech()
        self.tts = TTSCache(Path(test.mktemp()), self.speech, ImmediateThreads(),
                            ManualThreadPool(immediate=True))
        flow_options.setdefault("dial_string", "Local/{number}@transfer")
        self.flow = CallFlow(self.registry, self.events.append, self.campaigns.get,
                             self.playlists, **flow_options)
        router = ScriptRouter({"call": self._run, "hangup": self.flow.run_h_extension},
                              h_extension=self.flow.run_h_extension)
        self.server = FastAGIServerFactory(router, self.clock)
        self.dialplan = Dialplan.default()
        sounds = dict(DURATIONS)
        sounds.update(durations or {})
        self.pbx = SimulatedPBX(self.clock, callee=callee(script, amd), dialplan=self.dialplan,
                                connect_agi=self._connect, sounds=SoundLibrary(sounds),
                                transfer=transfer or TransferSettings())
        self.pipes = []
        self._ids = itertools.count(1001)

    # -- plumbing --------------------------------------------------------------

    def _run(self, session):
        d = self.flow.run(session)
        d.addCallback(lambda flow: (self.flows.append(flow), flow)[1])
        return d

    def _connect(self, host, port, protocol):
        pipe = Pipe(self.clock, protocol, self.server.buildProtocol(None))
        self.pipes.append(pipe)
        pipe.start()
        return succeed(protocol)

    # -- driving ---------------------------------------------------------------

    def place(self, phone="15551234567", fields=None, prepared=True, language="en",
              call=None, channel_id=None):
        """
        Register a call as the dialer would (claimed, its playlist
        attached, placed) and originate it; returns the L{ActiveCall}.

        @param call: an L{ActiveCall} to use (its campaign must be in
            C{self.campaigns}); default: a new one for C{phone}.
        @param channel_id: the ChannelId to originate with, when not the
            call's own.
        """
        if call is None:
            call_id = next(self._ids)
            call = ActiveCall.claimed(self.clock, call_id, CAMPAIGN, call_id + 10,
                                      call_id + 20, phone, fields=fields or {})
        self.registry.add(call)
        if prepared:
            playlists = []
            settings = self.campaigns[call.campaign_id]
            prepare(settings, call.fields, self.tts, ASSETS, language).addCallback(
                playlists.append)
            self.playlists.attach(call, playlists[0])
        self.registry.place(call, "sim", self.clock.seconds())
        channel_id = channel_id or call.channel_id
        self.originate(call.phone, channel_id, channel_id + "-2", call.call_id)
        return call

    def originate(self, phone, channel_id, other_channel_id, call_id=None):
        context = self.dialplan.find("fts-campaign")
        variables = (("FTS_CALL", str(call_id)),) if call_id is not None else ()
        self.pbx.originate(OriginateRequest(
            action_id="orig-%s" % (phone,), channel="Local/%s@callee-sim" % (phone,),
            technology="Local", number=phone, local_context="callee-sim",
            local_base="Local/%s@callee-sim" % (phone,), dial_string="%s@callee-sim" % (phone,),
            context="fts-campaign", exten=phone, priority=1, timeout_ms=30000,
            caller_num="5550100", caller_name="FTS", variables=variables,
            channel_id=channel_id, other_channel_id=other_channel_id,
            agi_target=context.agi, hangup_target=context.hangup))

    def run(self, limit=3600.0):
        """
        Advance the clock call by call until nothing is scheduled (or
        C{limit} simulated seconds have passed); returns the seconds used.
        """
        start = self.clock.seconds()
        end = start + limit
        while True:
            pending = [c.getTime() for c in self.clock.getDelayedCalls()]
            if not pending:
                break
            upcoming = min(pending)
            if upcoming > end:
                self.clock.advance(end - self.clock.seconds())
                break
            self.clock.advance(max(0.0, upcoming - self.clock.seconds()))
        return self.clock.seconds() - start

    def call_once(self, phone="15551234567", fields=None, limit=3600.0):
        """
        Place one call and run until it is over; returns the L{ActiveCall}.
        """
        call = self.place(phone, fields)
        self.run(limit)
        return call

    # -- looking -----------------------------------------------------------------

    def kinds(self):
        return [event.kind for event in self.events]

    def payloads(self, kind):
        return [event.payload for event in self.events if event.kind == kind]

    @property
    def tally(self):
        return self.pbx.tally

    def commands(self):
        """
        The AGI verbs the simulator ran, with their counts.
        """
        return dict(self.pbx.tally.agi_commands)

    def sent(self, session=0):
        """
        The command lines the call flow wrote on the C{session}-th FastAGI
        connection, as text.
        """
        data = b"".join(self.pipes[session].written[1])
        return data.decode("utf-8").splitlines()
