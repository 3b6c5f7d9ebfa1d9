"""
The C{pbx} service: FTS's connections to its Asterisk servers.

With C{[pbx] mode = ami}, one reconnecting L{AMIClient} per configured
C{[ami:NAME]} server.  With C{mode = sim}, the built-in PBX simulator is
started first (clearly labelled as such in the logs and in /health) and one
AMI client connects to it over a real loopback socket, exactly as it would
to an Asterisk: the rest of FTS cannot tell the difference.
"""

import re
import secrets

import attr
from twisted.application import service
from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.logger import Logger
from zope.interface import implementer

from fts import health as H
from fts.asterisk.ami.client import AMIClient
from fts.config import AMIServer
from fts.servicetree import OrderedServices

log = Logger()

SIM_NAME = "sim"


def agi_address(endpoint, port=None):
    """
    C{"HOST:PORT"} of a FastAGI server endpoint string such as
    C{tcp:4573:interface=127.0.0.1}; C{port} overrides the endpoint's (the
    port actually bound when the endpoint asked for port 0).
    """
    match = re.match(r"^tcp6?:(\d+)(.*)$", endpoint)
    if not match:
        raise ValueError(f"cannot tell the FastAGI address of endpoint {endpoint!r}")
    interface = re.search(r"interface=([^:]+)", match.group(2))
    host = interface.group(1) if interface else "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"{host}:{port or match.group(1)}"


@attr.s(frozen=True, slots=True)
class Server:
    """
    One Asterisk as the dialer sees it: its settings and its AMI client.
    """

    settings = attr.ib()
    client = attr.ib()

    @property
    def name(self):
        return self.settings.name


@implementer(IStreamClientEndpoint)
class _SimulatorEndpoint:
    """
    A client endpoint to the simulator's AMI port, which is known only once
    the simulator listens (its endpoint may ask for port 0).
    """

    def __init__(self, reactor, listening):
        self.reactor = reactor
        self.listening = listening

    def connect(self, factory):
        listening = defer.Deferred()

        def ready(port):
            listening.callback(port)
            return port

        self.listening.addCallback(ready)

        def connect(port):
            address = port.getHost()
            endpoint = endpoints.TCP4ClientEndpoint(self.reactor, address.host, address.port)
            return endpoint.connect(factory)

        return listening.addCallback(connect)


class PBXConnections(OrderedServices):
    """
    @ivar servers: the L{Server}s by name, in configuration order.
    @ivar simulator: the L{fts.pbxsim.service.PBXSimulator}, in sim mode.
    """

    name = "pbx"

    def __init__(self, reactor, config, health, agi_port=lambda: None, simulator_factory=None):
        super().__init__()
        self.reactor = reactor
        self.config = config
        self.health = health.component("pbx", critical=False)
        self.health.watch(self._details)
        self.agi_port = agi_port
        self.simulator_factory = simulator_factory
        self.simulator = None
        self.servers = {}
        if self.simulated:
            self._secret = secrets.token_hex(16)
            self._listening = defer.Deferred()
            settings = AMIServer(
                name=SIM_NAME, host="127.0.0.1", port=0, username="fts", secret=self._secret,
                auth="md5", events="call,system", max_channels=config.dialer.max_channels,
                cps=config.dialer.cps, action_timeout=10.0, keepalive=20.0,
                originate_context="fts-campaign")
            self._add(settings, _SimulatorEndpoint(reactor, self._listening))
        else:
            for settings in config.ami_servers:
                self._add(settings, endpoints.HostnameEndpoint(
                    reactor, settings.host, settings.port))

    @property
    def simulated(self):
        return self.config.pbx.mode == "sim"

    def _details(self):
        return {
            "mode": self.config.pbx.mode,
            "simulated": self.simulated,
            "servers": {name: s.client.state.as_dict() for name, s in self.servers.items()},
        }

    @defer.inlineCallbacks
    def startService(self):
        service.Service.startService(self)
        if self.simulated:
            yield self._start_simulator()
        yield OrderedServices.startService(self)
        self._update()

    @defer.inlineCallbacks
    def _start_simulator(self):
        from fts.pbxsim.profile import PROFILE_NAMES, load_profile, named_profile
        from fts.pbxsim.service import PBXSimulator

        name, seed = self.config.pbx.sim_profile, self.config.pbx.sim_seed
        profile = named_profile(name, seed) if name in PROFILE_NAMES \
            else load_profile(name, seed)
        address = agi_address(self.config.agi.endpoint, self.agi_port())
        factory = self.simulator_factory or PBXSimulator
        self.simulator = factory(
            self.reactor, ami_endpoint=self.config.pbx.sim_ami_endpoint,
            agi_address=address, credentials={"fts": self._secret},
            callee=profile.callee, sounds=profile.sounds, transfer=profile.transfer,
            scale=self.config.pbx.sim_scale, seed=self.config.pbx.sim_seed,
            context="fts-campaign", agi_script="call", hangup_script=None)
        self.simulator.startService()
        port = yield self.simulator.listening
        host = port.getHost()
        log.warn("SIMULATED PBX: no Asterisk is used; calls go to the built-in simulator "
                 "(AMI on {host}:{port}, FastAGI to {agi}, time scale {scale})",
                 host=host.host, port=host.port, agi=address, scale=self.config.pbx.sim_scale)
        self._listening.callback(port)

    def _add(self, settings, endpoint):
        client = AMIClient(
            settings.name, endpoint, settings.username, settings.secret, self.reactor,
            auth=settings.auth, events=settings.events,
            action_timeout=settings.action_timeout,
            keepalive_interval=settings.keepalive)
        client.setServiceParent(self)
        client.listen_state(lambda old, new: self._update())
        self.servers[settings.name] = Server(settings=settings, client=client)

    @defer.inlineCallbacks
    def hangup(self, channel_id, cause=16):
        """
        Hang up a channel on whichever connected server has it (the
        finalization's last resort for calls stuck past its bound).

        @return: a Deferred firing with the server's name, or L{None} when
            no server had the channel.
        """
        for name, server in self.servers.items():
            if not server.client.connected:
                continue
            try:
                yield server.client.hangup(channel_id, cause=cause)
            except Exception as e:
                log.debug("{server} did not hang up {channel}: {error}",
                          server=name, channel=channel_id, error=e)
                continue
            return name
        return None

    def _update(self):
        connected = [s for s in self.servers.values() if s.client.connected]
        if connected and len(connected) == len(self.servers):
            self.health.set(H.UP)
        elif connected:
            self.health.set(H.DEGRADED, error="some Asterisk servers are not connected")
        else:
            errors = [s.client.state.last_error for s in self.servers.values()
                      if s.client.state.last_error]
            self.health.set(H.DOWN, error=errors[-1] if errors else "not connected yet")

    @defer.inlineCallbacks
    def stopService(self):
        yield OrderedServices.stopService(self)
        if self.simulator is not None:
            yield self.simulator.stopService()
        self.health.set(H.STOPPED)
