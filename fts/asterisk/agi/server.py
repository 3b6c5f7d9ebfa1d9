"""
The FastAGI server: accepts Asterisk's connections, routes each session to
its call-flow function, bounds how many run at once, and counts them.

Limit policy: a session arriving while C{max_sessions} scripts are running
is refused, not queued.  A queued call would sit in silence on a live
channel; refusing it is immediate and visible: we log the channel and
half-close, Asterisk ends the AGI and its dialplan goes on (to C{Hangup()} in
the shipped dialplan).  The dialer's pacing is meant to keep us below the
limit, so a refusal is a sign of overload, logged as a warning.
C{h}-extension sessions are never refused: they are short and they carry
the call's final bookkeeping.

Wire it into the service tree with, for example::

    factory = FastAGIServerFactory(router, reactor)
    strports.service("tcp:4573:interface=127.0.0.1", factory)
"""

import attr
from twisted.internet.defer import maybeDeferred
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from fts.asterisk.agi.deadlines import Deadlines
from fts.asterisk.agi.errors import AGIError, AGIHangup
from fts.asterisk.agi.protocol import FastAGIProtocol
from fts.asterisk.agi.session import DEFAULT_SETTINGS, AGISession

__all__ = ["FastAGIServerFactory", "SessionCounts"]

log = Logger()


@attr.s(frozen=True, slots=True)
class SessionCounts:
    """
    A snapshot of the server's counters, for C{/health}.

    @ivar connections: TCP connections open now.
    @ivar active: sessions whose script is running now.
    @ivar total: sessions whose script was started since start-up.
    @ivar refused: sessions refused because C{max_sessions} were running.
    @ivar unrouted: sessions for a script name nobody registered.
    @ivar failed: scripts that ended with an error other than a hang-up.
    """

    connections = attr.ib()
    active = attr.ib()
    total = attr.ib()
    refused = attr.ib()
    unrouted = attr.ib()
    failed = attr.ib()


class FastAGIServerFactory(Factory):
    """
    Build a L{FastAGIProtocol} per connection and run the routed script for
    each session; when the script's Deferred fires (either way) the session
    is closed.

    @ivar clock: the C{IReactorTime} used for every timeout.
    @ivar deadlines: the L{Deadlines} all sessions share.
    @ivar environment_timeout: seconds a new connection may take to send
        its environment.
    """

    def __init__(
        self,
        router,
        clock,
        max_sessions=2000,
        settings=DEFAULT_SETTINGS,
        environment_timeout=10.0,
    ):
        """
        @param router: a L{fts.asterisk.agi.router.ScriptRouter}.
        @param clock: an C{IReactorTime} (the reactor; a C{Clock} in tests).
        @param max_sessions: how many non-C{h} scripts may run at once.
        @param settings: the L{SessionSettings} timeouts for every session.
        """
        self.router = router
        self.clock = clock
        self.deadlines = Deadlines(clock)
        self.max_sessions = max_sessions
        self.settings = settings
        self.environment_timeout = environment_timeout
        self.connections = 0
        self.active = 0
        self.total = 0
        self.refused = 0
        self.unrouted = 0
        self.failed = 0

    def counts(self):
        """
        The counters now, as a L{SessionCounts}.
        """
        return SessionCounts(
            connections=self.connections,
            active=self.active,
            total=self.total,
            refused=self.refused,
            unrouted=self.unrouted,
            failed=self.failed,
        )

    def buildProtocol(self, addr):
        self.connections += 1
        return FastAGIProtocol(self)

    def connection_ended(self, session):
        """
        Called by the protocol when its connection has closed.
        """
        self.connections -= 1

    def session_started(self, transport, environment):
        """
        Called by the protocol with the complete environment: create the
        session and start its script.

        @param transport: what the session writes to (the protocol).
        @return: the L{AGISession}.
        """
        session = AGISession(environment, transport, self.deadlines, self.settings)
        name, script = self.router.resolve(environment)
        if script is None:
            self.unrouted += 1
            log.warn(
                "no FastAGI script named {script!r} (request {request}) for "
                "channel {channel} (uniqueid {uniqueid}); closing the session, "
                "Asterisk continues its dialplan",
                script=name,
                request=environment.request,
                channel=environment.channel,
                uniqueid=environment.uniqueid,
            )
            session.close()
            return session
        if self.active >= self.max_sessions and not environment.is_h_extension:
            self.refused += 1
            log.warn(
                "refusing FastAGI session {script} for channel {channel} "
                "(uniqueid {uniqueid}): {active} sessions running, limit "
                "{limit}; Asterisk continues its dialplan",
                script=name,
                channel=environment.channel,
                uniqueid=environment.uniqueid,
                active=self.active,
                limit=self.max_sessions,
            )
            session.close()
            return session
        self.active += 1
        self.total += 1
        d = maybeDeferred(script, session)
        d.addErrback(self._script_failed, name, session)
        d.addBoth(self._script_ended, session)
        return session

    def _script_failed(self, failure, name, session):
        try:
            self._log_failure(failure, name, session)
        finally:
            # The traceback's frames and the exception refer to each other
            # (and to the session): break the cycle so it is freed now rather
            # than left to the cyclic collector.
            failure.cleanFailure()
            failure.value.__traceback__ = None

    def _log_failure(self, failure, name, session):
        env = session.environment
        if failure.check(AGIHangup):
            log.info(
                "{script} script for channel {channel} (uniqueid {uniqueid}) "
                "stopped: {error}",
                script=name,
                channel=env.channel,
                uniqueid=env.uniqueid,
                error=failure.value,
            )
            return None
        self.failed += 1
        if failure.check(AGIError):
            log.warn(
                "{script} script for channel {channel} (uniqueid {uniqueid}) "
                "failed: {error}; closing the session",
                script=name,
                channel=env.channel,
                uniqueid=env.uniqueid,
                error=failure.value,
            )
            return None
        log.failure(
            "{script} script for channel {channel} (uniqueid {uniqueid}) "
            "crashed; closing the session",
            failure,
            script=name,
            channel=env.channel,
            uniqueid=env.uniqueid,
        )
        return None

    def _script_ended(self, ignored, session):
        self.active -= 1
        session.close()
