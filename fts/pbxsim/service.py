"""
L{PBXSimulator}: the simulated Asterisk as a Twisted service, for the FTS
daemon (C{--pbx sim}), tests, demos and the standalone C{python -m
fts.pbxsim}.
"""

from twisted.application import service
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger

from .ami_server import AMIServerFactory
from .dialplan import Dialplan
from .pbx import SimulatedPBX, connect_agi_tcp

__all__ = ["PBXSimulator", "parse_agi_address"]

log = Logger()


def parse_agi_address(address):
    """
    C{"host:port"} or C{(host, port)} -> C{(host, port)}.

    @raise ValueError: not a host and a port.
    """
    if isinstance(address, (tuple, list)):
        host, port = address
        return str(host), int(port)
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("FastAGI address must be HOST:PORT, not %r" % (address,))
    return host.strip("[]"), int(port)


class PBXSimulator(service.Service):
    """
    A simulated Asterisk 22: an AMI server on C{ami_endpoint} and FastAGI
    connections to C{agi_address} for answered calls.

    @param reactor: provides listening and TCP connections.
    @param clock: an C{IReactorTime} for the simulation (default: C{reactor}).
    @param ami_endpoint: a server endpoint string, or C{None} to not listen
        (drive L{factory} directly, e.g. with iosim).
    @param agi_address: C{"host:port"} or C{(host, port)} of the FastAGI
        server answered calls connect to.
    @param credentials: C{{username: secret}} accepted by Login.
    @param callee: a L{fts.pbxsim.callee.CalleeModel}.
    @param capacity: calls (Local channel pairs) at once; an Originate
        beyond it gets the short failure (OriginateResponse Reason 0).
    @param scale: clock seconds per simulated second (0.001: a 30 s call
        lasts 30 ms).
    @param sounds: a L{fts.pbxsim.dialplan.SoundLibrary}.
    @param transfer: L{fts.pbxsim.pbx.TransferSettings} for AGI Dial/Queue.
    @param context: the campaign context Originates use.
    @param agi_script: the FastAGI script (URL path) answered calls run.
    @param hangup_script: the script of the C{h} extension (C{None}: none).
    @param hangup_args: its arguments (C{agi_arg_1}...).
    @param dialplan: a complete L{Dialplan} (overrides the four above).
    @param connect_agi: C{connect(host, port, protocol) -> Deferred}
        (default: TCP through C{reactor}).
    @param seed: seed of the ids the PBX makes up.
    """

    name = "pbx"

    def __init__(
        self,
        reactor,
        clock=None,
        ami_endpoint="tcp:5038:interface=127.0.0.1",
        agi_address="127.0.0.1:4573",
        credentials=None,
        callee=None,
        capacity=1000,
        scale=1.0,
        sounds=None,
        transfer=None,
        context="fts-campaign",
        agi_script="call",
        hangup_script="hangup",
        hangup_args=("h-extension",),
        dialplan=None,
        connect_agi=None,
        seed=None,
    ):
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.ami_endpoint = ami_endpoint
        host, port = parse_agi_address(agi_address)
        if dialplan is None:
            dialplan = Dialplan.default(host, port, context, agi_script, hangup_script, hangup_args)
        if connect_agi is None:
            connect_agi = connect_agi_tcp(reactor)
        self.pbx = SimulatedPBX(
            self.clock,
            callee=callee,
            dialplan=dialplan,
            connect_agi=connect_agi,
            sounds=sounds,
            capacity=capacity,
            scale=scale,
            transfer=transfer,
            seed=seed,
        )
        if credentials is None:
            credentials = {"fts": "fts"}
        # Real sockets: coalesce each turn's events into one write.
        coalesce = self.reactor if ami_endpoint is not None else None
        self.factory = AMIServerFactory(self.pbx, credentials, clock=coalesce)
        self.port = None
        self.listening = defer.Deferred()

    @property
    def tally(self):
        """
        The L{fts.pbxsim.tally.Tally} of this simulator.
        """
        return self.pbx.tally

    def active_channels(self):
        """
        The live channels, oldest first.
        """
        return self.pbx.active_channels()

    @property
    def active_calls(self):
        return self.pbx.active_calls

    def startService(self):
        service.Service.startService(self)
        log.info(
            "PBX SIMULATOR (not a real Asterisk) starting: AMI on {ami}, FastAGI to {agi}, "
            "capacity {capacity} calls, time scale {scale}",
            ami=self.ami_endpoint,
            agi=", ".join(
                "%s -> %s" % (name, c.agi.url) for name, c in sorted(self.pbx.dialplan.contexts.items())
            ),
            capacity=self.pbx.capacity,
            scale=self.pbx.scale,
        )
        if self.ami_endpoint is None:
            self.listening.callback(None)
            return
        endpoint = serverFromString(self.reactor, self.ami_endpoint)
        d = endpoint.listen(self.factory)

        def listening(port):
            self.port = port
            log.info("PBX simulator AMI listening on {address}", address=port.getHost())
            self.listening.callback(port)
            return port

        def failed(failure):
            log.failure("PBX simulator could not listen on {ami}", failure, ami=self.ami_endpoint)
            self.listening.errback(failure)

        d.addCallbacks(listening, failed)

    def stopService(self):
        service.Service.stopService(self)
        self.factory.shutdown()
        self.pbx.stop()
        log.info("PBX simulator stopped; tally {tally}", tally=self.pbx.tally.snapshot())
        port, self.port = self.port, None
        if port is not None:
            return defer.maybeDeferred(port.stopListening)
        return None
