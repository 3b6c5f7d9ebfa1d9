"""
The C{agi} service: the FastAGI server listening on its endpoint, with its
session counters in the health registry.
"""

import attr
from twisted.application import service
from twisted.internet import defer, endpoints
from twisted.logger import Logger

from fts import health as H
from fts.asterisk.agi.server import FastAGIServerFactory
from fts.asterisk.agi.session import SessionSettings

log = Logger()


class FastAGIService(service.Service):
    """
    @ivar factory: the L{FastAGIServerFactory}; its router is given at
        construction and may gain scripts until the service starts.
    """

    name = "agi"

    def __init__(self, reactor, endpoint, router, health, max_sessions=2000,
                 command_timeout=60.0):
        self.reactor = reactor
        self.endpoint = endpoint
        self.factory = FastAGIServerFactory(
            router, reactor, max_sessions=max_sessions,
            settings=SessionSettings(command_timeout=command_timeout))
        self.health = health.component("agi")
        self.health.watch(lambda: attr.asdict(self.factory.counts()))
        self.port = None

    @defer.inlineCallbacks
    def startService(self):
        service.Service.startService(self)
        try:
            self.port = yield endpoints.serverFromString(
                self.reactor, self.endpoint).listen(self.factory)
        except Exception as e:
            self.health.set(H.DOWN, error=e)
            raise
        address = self.port.getHost()
        self.health.set(H.UP, listening=f"{address.host}:{address.port}")
        log.info("FastAGI server listening on {host}:{port}",
                 host=address.host, port=address.port)

    @property
    def bound_port(self):
        """
        The TCP port listened on, once started (the endpoint may say 0).
        """
        return self.port.getHost().port if self.port is not None else None

    def status(self):
        """
        The session counters now (for /health and the status page).
        """
        return self.factory.counts()

    @defer.inlineCallbacks
    def stopService(self):
        service.Service.stopService(self)
        if self.port is not None:
            yield self.port.stopListening()
        self.factory.deadlines.stop()
        self.health.set(H.STOPPED)
