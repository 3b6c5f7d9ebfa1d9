"""
Plumbing between L{ClientService} and L{fts.asterisk.ami.client.AMIClient}.

ClientService (Twisted 26) raises C{NoTransition} when a connection whose
C{prepareConnection} failed or was cancelled closes afterwards.  With AMI
that is the normal course after a refused login (Asterisk closes the socket
about 1 s later) and after a stop during login.  So each connection gets a
L{ConnectionGuard} between the transport and ClientService's protocol proxy,
which tells ClientService about the loss only once the connection was handed
over (logged in); before that, the loss goes to the AMI protocol alone.

L{WatchedEndpoint} wraps the configured endpoint: it reports each attempt
and each failure to the client (for its connection state) and puts the guard
in place.  The client is reached through three private hooks:
C{_attempting()}, C{_attempt_failed(failure)} and C{_building} (the
AMIProtocol its factory just built, replaced here by its guard).
"""

from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from zope.interface import implementer

__all__ = ["ConnectionGuard", "WatchedEndpoint"]


class ConnectionGuard(Protocol):
    """
    Sits between a transport and ClientService's protocol proxy, and passes
    the connection's loss on to ClientService only once C{handed_over} is
    set (after the login); before that, only to the AMI protocol.
    """

    def __init__(self, proxy, protocol):
        self.proxy = proxy
        self.protocol = protocol
        self.handed_over = False
        # Straight to the AMI protocol: no proxy hop per read.
        self.dataReceived = protocol.dataReceived

    def makeConnection(self, transport):
        self.connected = 1
        self.transport = transport
        self.proxy.makeConnection(transport)

    def connectionLost(self, reason):
        self.connected = 0
        if self.handed_over:
            self.proxy.connectionLost(reason)
        else:
            self.protocol.connectionLost(reason)

    def logPrefix(self):
        return "AMI %s" % (self.protocol.name,)


class _GuardFactory(Factory):
    """
    Wraps ClientService's factory so each connection gets a
    L{ConnectionGuard}.
    """

    def __init__(self, factory, client):
        self.factory = factory
        self.client = client

    def buildProtocol(self, addr):
        proxy = self.factory.buildProtocol(addr)
        if proxy is None:
            return None
        guard = ConnectionGuard(proxy, self.client._building)
        self.client._building = guard
        return guard


@implementer(IStreamClientEndpoint)
class WatchedEndpoint:
    """
    The configured endpoint, as ClientService sees it: it reports each
    attempt and its failure to the client, and guards each connection.
    """

    def __init__(self, endpoint, client):
        self._endpoint = endpoint
        self._client = client

    def connect(self, factory):
        self._client._attempting()
        d = self._endpoint.connect(_GuardFactory(factory, self._client))

        def failed(failure):
            self._client._attempt_failed(failure)
            return failure

        return d.addCallbacks(lambda guard: guard.proxy, failed)
