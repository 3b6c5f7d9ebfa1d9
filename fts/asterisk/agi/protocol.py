"""
The Twisted protocol for one FastAGI connection: a thin shell that feeds
bytes to the sans-IO L{AGIParser} and the parsed items to the L{AGISession}.

It is also the session's transport (L{FastAGIProtocol.write} and the close
methods).  On a plain TCP connection a command is sent straight to the
socket while nothing is buffered: FastAGI sends one short line per round
trip, and handing each to the transport would cost two C{epoll_ctl} calls
and a trip through the reactor per command.  Whatever the socket does not
take at once (and everything after it) goes through the transport as
usual, so ordering and back-pressure are kept.
"""

from twisted.internet import tcp
from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from fts.asterisk.agi.wire import AGIParser, Environment

__all__ = ["FastAGIProtocol"]

log = Logger()


class FastAGIProtocol(Protocol):
    """
    One connection from Asterisk.

    Until the environment is complete there is no session; then
    C{server.session_started(self, environment)} creates one (and starts
    the call flow) and every later item goes to it.  If the environment does
    not arrive within C{server.environment_timeout} seconds the connection
    is aborted.
    """

    __slots__ = (
        "transport",
        "connected",
        "_server",
        "_parser",
        "_session",
        "_ticket",
        "_socket",
    )

    def __init__(self, server):
        """
        @param server: the L{fts.asterisk.agi.server.FastAGIServerFactory}
            (or anything with C{deadlines}, C{environment_timeout},
            C{session_started} and C{connection_ended}).
        """
        self._server = server
        self._parser = AGIParser()
        self._session = None
        self._ticket = None
        self._socket = None

    def logPrefix(self):
        return "FastAGI"

    def connectionMade(self):
        transport = self.transport
        if isinstance(transport, tcp.Connection):
            self._socket = transport.getHandle()
            # One short command per round trip: never let Nagle hold one back.
            transport.setTcpNoDelay(True)
        server = self._server
        self._ticket = server.deadlines.schedule(self, server.environment_timeout)

    # -- the session's transport ---------------------------------------------

    def write(self, data):
        """
        Send bytes to Asterisk.
        """
        sock = self._socket
        if sock is not None:
            try:
                sent = sock.send(data)
            except OSError:
                # EAGAIN, or a real error the transport will find and report.
                sent = 0
            if sent == len(data):
                return
            self._socket = None
            data = data[sent:]
        self.transport.write(data)

    def loseWriteConnection(self):
        """
        Half-close: Asterisk sees EOF and will send C{HANGUP} and close.
        """
        self._socket = None
        lose_write = getattr(self.transport, "loseWriteConnection", None)
        if lose_write is not None:
            lose_write()
        else:
            self.transport.loseConnection()

    def loseConnection(self):
        self._socket = None
        self.transport.loseConnection()

    def abortConnection(self):
        self._socket = None
        abort = getattr(self.transport, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            self.transport.loseConnection()

    # -- events ----------------------------------------------------------------

    def dataReceived(self, data):
        items = self._parser.feed(data)
        session = self._session
        if session is not None:
            received = session._received
            for item in items:
                received(item)
            return
        for item in items:
            if session is not None:
                session._received(item)
            elif type(item) is Environment:
                self._cancel_timeout()
                session = self._session = self._server.session_started(self, item)
            else:
                log.warn(
                    "malformed FastAGI environment line from {peer}: {error}",
                    peer=self._peer(),
                    error=str(item),
                )

    def connectionLost(self, reason):
        self._socket = None
        self._cancel_timeout()
        session = self._session
        if session is not None:
            # Drop our side of the session <-> protocol cycle so both are
            # freed by reference counting, not left to the cyclic collector.
            self._session = None
            session._connection_lost()
        self._server.connection_ended(session)

    def _cancel_timeout(self):
        ticket = self._ticket
        if ticket is not None:
            self._ticket = None
            self._server.deadlines.cancel(self, ticket)

    def _peer(self):
        try:
            return str(self.transport.getPeer())
        except Exception:
            return "?"

    def _deadline_passed(self):
        """
        The environment did not arrive in time (L{Deadlines} calls this).
        """
        self._ticket = None
        log.warn(
            "no complete FastAGI environment from {peer} within {timeout}s; "
            "closing the connection",
            peer=self._peer(),
            timeout=self._server.environment_timeout,
        )
        self.abortConnection()
