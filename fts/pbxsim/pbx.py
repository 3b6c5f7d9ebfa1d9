"""
The simulated PBX core: channels, calls, capacity, ids, the event bus, and
the FastAGI connections answered calls open.

It knows nothing of sockets for AMI: L{fts.pbxsim.ami_server} parses actions
into calls on this object and subscribes its sessions to L{SimulatedPBX.bus}.
Time is the injected clock multiplied by C{scale}: with C{scale=0.001} a
30 s call lasts 30 ms of clock time, and every duration the PBX reports
(Duration, Seconds, DIALEDTIME...) is in simulated seconds.
"""

import random

import attr
from twisted.internet import defer
from twisted.internet.protocol import ClientFactory
from twisted.logger import Logger

from . import events as ev
from .agi_client import AGIClientProtocol, AGISession
from .call import Call
from .callee import CalleeModel
from .dialplan import Dialplan, SoundLibrary
from .events import EventBus
from .tally import Tally

__all__ = ["OriginateRequest", "SimulatedPBX", "TransferSettings", "connect_agi_tcp"]

log = Logger()

@attr.frozen
class TransferSettings:
    """
    What the target of an AGI C{EXEC Dial} / C{EXEC Queue} does: ring
    C{ring_seconds}, then answer and talk C{talk_seconds} (C{status}
    C{ANSWER}) or end with C{status} (C{BUSY}, C{NOANSWER}, C{CONGESTION},
    C{CHANUNAVAIL}).
    """

    status: str = "ANSWER"
    ring_seconds: float = 3.0
    talk_seconds: float = 10.0


@attr.frozen
class OriginateRequest:
    """
    A validated Originate action.

    @ivar channel: the Channel header as requested (C{Local/1001@ctx}).
    @ivar technology: its technology (C{Local}).
    @ivar number: the Local extension dialed (the callee number).
    @ivar local_context: the Local channel's context.
    @ivar local_base: the channel name without the C{-seq;n} suffix.
    @ivar dial_string: what DialBegin shows (C{1001@ctx}).
    @ivar agi_target: the AGI the answered C{;1} runs (C{None} for an
        Application other than AGI, which is just shown, then hung up).
    @ivar hangup_target: the AGI of the C{h} extension, or C{None}.
    @ivar variables: C{((name, value), ...)} in the order given.
    @ivar session: the AMI session that sent it (for a synchronous reply).
    """

    action_id: str
    channel: str
    technology: str
    number: str
    local_context: str
    local_base: str
    dial_string: str
    context: str
    exten: str
    priority: int
    timeout_ms: int
    caller_num: str
    caller_name: str
    variables: tuple = ()
    account: str = ""
    channel_id: str = ""
    other_channel_id: str = ""
    async_: bool = True
    agi_target: object = None
    hangup_target: object = None
    application: str = "AGI"
    application_data: str = ""
    session: object = attr.field(default=None, eq=False)


class _OneConnection(ClientFactory):
    """
    Connect one given protocol, quietly (no "Starting factory" log lines:
    at a thousand calls a second they cost more than the connection).
    """

    noisy = False

    def __init__(self, protocol):
        self.protocol_instance = protocol
        self.deferred = defer.Deferred()

    def buildProtocol(self, addr):
        if not self.deferred.called:
            self.deferred.callback(self.protocol_instance)
        return self.protocol_instance

    def clientConnectionFailed(self, connector, reason):
        if not self.deferred.called:
            self.deferred.errback(reason)


def connect_agi_tcp(reactor, timeout=5):
    """
    A connector for L{SimulatedPBX}: C{connect(host, port, protocol)}
    returning a Deferred that fires when the TCP connection is made (or
    fails: refused, unreachable, C{timeout} seconds).
    """

    def connect(host, port, protocol):
        factory = _OneConnection(protocol)
        reactor.connectTCP(host, port, factory, timeout=timeout)
        return factory.deferred

    return connect


class SimulatedPBX:
    """
    A PBX that places Local calls according to a L{CalleeModel}.

    @param clock: an C{IReactorTime}.
    @param callee: the L{CalleeModel}.
    @param dialplan: the L{Dialplan} (campaign contexts).
    @param connect_agi: C{connect(host, port, protocol) -> Deferred};
        required for answered calls to reach a FastAGI server.
    @param sounds: a L{SoundLibrary}.
    @param capacity: calls (Local channel pairs) in progress at once; an
        Originate beyond it fails like a PBX at its call limit.
    @param scale: seconds of clock time per simulated second.
    @param transfer: L{TransferSettings} for AGI Dial/Queue.
    @param seed: seed for the ids the PBX makes up (CommandId, threadid).

    @ivar sequence: the number in the name of the next Local channel pair
        (C{Local/...-0000000a;1}); @ivar uniqueid_counter: the number after
        the dot of the next Uniqueid.  Both start at 0 like a fresh Asterisk.
    """

    version = "22.10.1"

    def __init__(
        self,
        clock,
        callee=None,
        dialplan=None,
        connect_agi=None,
        sounds=None,
        capacity=1000,
        scale=1.0,
        transfer=None,
        seed=None,
    ):
        if scale <= 0:
            raise ValueError("time scale must be > 0, not %r" % (scale,))
        self.clock = clock
        self.callee = callee if callee is not None else CalleeModel()
        self.dialplan = dialplan if dialplan is not None else Dialplan.default()
        self.connect_agi = connect_agi
        self.sounds = sounds if sounds is not None else SoundLibrary()
        self.capacity = capacity
        self.scale = float(scale)
        self.transfer = transfer if transfer is not None else TransferSettings()
        self.random = random.Random(seed)
        self.bus = EventBus()
        self.tally = Tally()
        self.channels = {}
        self._uniqueids = {}
        self.calls = set()
        self.globals = {}
        self.astdb = {}
        self._started = clock.seconds()
        self.uniqueid_counter = 0
        self.sequence = 0

    # -- time and ids ---------------------------------------------------

    def later(self, seconds, function, *args):
        """
        Call C{function} after C{seconds} simulated seconds.
        """
        return self.clock.callLater(seconds * self.scale, function, *args)

    def now(self):
        """
        Simulated seconds since the PBX started.
        """
        return (self.clock.seconds() - self._started) / self.scale

    def epoch(self):
        """
        The PBX's idea of the Unix time (start time + simulated seconds).
        """
        return self._started + self.now()

    def next_uniqueid(self):
        uid = "%d.%d" % (int(self.epoch()), self.uniqueid_counter)
        self.uniqueid_counter += 1
        return uid

    def command_id(self):
        return str(self.random.getrandbits(31) | 0x4000000)

    # -- channels -------------------------------------------------------

    def remember_channel(self, channel):
        self.channels[channel.name] = channel
        self._uniqueids[channel.uniqueid] = channel

    def forget_channel(self, channel):
        if self.channels.get(channel.name) is channel:
            del self.channels[channel.name]
        if self._uniqueids.get(channel.uniqueid) is channel:
            del self._uniqueids[channel.uniqueid]

    def find_channel(self, name):
        return self.channels.get(name)

    def uniqueid_in_use(self, uniqueid):
        return uniqueid in self._uniqueids

    @property
    def active_calls(self):
        return len(self.calls)

    def active_channels(self):
        """
        Every live channel, oldest first.
        """
        return sorted(self.channels.values(), key=lambda c: (c.created, c.name))

    # -- originate ------------------------------------------------------

    def originate(self, request):
        """
        Place a call for an accepted (queued) Originate.
        """
        tally = self.tally
        tally.calls_placed += 1
        if request.technology.lower() != "local" or (
            request.channel_id and self.uniqueid_in_use(request.channel_id)
        ):
            # Unknown technology, or the ChannelId is taken: no channel is
            # created at all.
            tally.outcomes["failed"] += 1
            self._early_failure(request)
            return None
        sequence = self.sequence
        self.sequence += 1
        if len(self.calls) >= self.capacity:
            call = Call(self, request, None, sequence)
            self.calls.add(call)
            call.start(over_capacity=True)
            return call
        plan = self.callee.plan(request.number)
        call = Call(self, request, plan, sequence)
        self.calls.add(call)
        if len(self.calls) > tally.peak_calls:
            tally.peak_calls = len(self.calls)
        call.start()
        return call

    def _early_failure(self, request):
        if not request.async_:
            self.sync_originate_result(request, False)
            return
        self.bus.emit(
            "call",
            ev.originate_response,
            request.action_id,
            "Failure",
            request.channel,
            request.context,
            request.exten,
            0,
            "<unknown>",
            request.caller_num,
            request.caller_name,
        )

    def sync_originate_result(self, request, success):
        session = request.session
        if session is None or not session.connected:
            return
        if success:
            session.respond(request.action_id, "Success", "Originate successfully queued")
        else:
            session.respond(request.action_id, "Error", "Originate failed")

    def call_ended(self, call):
        self.calls.discard(call)

    def hangup_channel(self, channel, cause):
        """
        Action: Hangup on a channel of a call.
        """
        call = channel.call
        if call is not None:
            call.hangup_from_ami(channel, cause)

    # -- FastAGI --------------------------------------------------------

    def agi_session(self, call, target, extension, dead):
        """
        A new L{AGISession} for C{call}'s C{;1} channel (not connected yet:
        see L{connect}).
        """
        return AGISession(self, call, target, extension, dead)

    def connect(self, session):
        """
        Open the FastAGI connection of C{session}; a failure ends it with
        AGISTATUS=FAILURE (possibly before this returns).
        """
        host, port = session.target.address
        if self.connect_agi is None:
            session.connect_failed("no FastAGI connector configured")
            return
        try:
            d = self.connect_agi(host, port, AGIClientProtocol(session))
        except Exception as e:
            session.connect_failed(str(e))
            return
        d.addErrback(lambda f: session.connect_failed(f.getErrorMessage()))
        d.addErrback(
            lambda f: log.failure("FastAGI connection for {channel}", f, channel=session.channel.name)
        )

    def stop(self):
        """
        Drop every call (the PBX is stopping).
        """
        for call in list(self.calls):
            call.stop()
        self.calls.clear()
        self.channels.clear()
        self._uniqueids.clear()

