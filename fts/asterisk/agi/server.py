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

A script is a function of the session.  It may return a Deferred (an
C{inlineCallbacks} function, say) or a coroutine: an C{async def} script is
run by L{_ScriptDriver}, which hands each awaited verb its result directly
instead of going through a Deferred callback chain per verb (what
L{Deferred.fromCoroutine} would do); that is most of the cost of a short
session.  Anything else is taken as an already finished script.

Wire it into the service tree with, for example::

    factory = FastAGIServerFactory(router, reactor)
    strports.service("tcp:4573:interface=127.0.0.1", factory)
"""

from types import CoroutineType

import attr
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from fts.asterisk.agi.commands import Command
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
        try:
            result = script(session)
        except BaseException:
            result = fail()
        if type(result) is CoroutineType:
            # async def: run by our driver (see _ScriptDriver).
            _ScriptDriver(self, name, session, result).send(None)
            return session
        if isinstance(result, Failure):
            result = fail(result)
        elif not isinstance(result, Deferred):
            result = succeed(result)
        result.addErrback(self._script_failed, name, session)
        result.addBoth(self._script_ended, session)
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
        session._close()

    def _script_raised(self, error, name, session):
        """
        A coroutine script ended with C{error}: log it like L{_script_failed}
        (a L{Failure} is only built for a crash, whose traceback is logged).
        """
        try:
            if isinstance(error, AGIError):
                self._log_failure(_Caught(error), name, session)
            else:
                failure = Failure(error, type(error), error.__traceback__)
                try:
                    self._log_failure(failure, name, session)
                finally:
                    failure.cleanFailure()
        finally:
            error.__traceback__ = None
        self._script_ended(None, session)


class _Caught:
    """
    The part of a L{Failure} that L{FastAGIServerFactory._log_failure} uses
    for an L{AGIError} (no traceback to capture).
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def check(self, *kinds):
        for kind in kinds:
            if isinstance(self.value, kind):
                return kind
        return None


class _ScriptDriver:
    """
    Runs one coroutine script: sends each awaited result into it and throws
    each error, like L{Deferred.fromCoroutine} but without a Deferred per
    step when the script awaits a verb of its session (an
    L{fts.asterisk.agi.commands.Command}): the session calls L{send} or
    L{throw} when the reply is in.  Any other Deferred is awaited through
    its callbacks.
    """

    __slots__ = ("_server", "_name", "_session", "_coroutine")

    def __init__(self, server, name, session, coroutine):
        self._server = server
        self._name = name
        self._session = session
        self._coroutine = coroutine

    def send(self, value):
        """
        Resume the script with C{value} as the result of its C{await}.
        """
        try:
            awaited = self._coroutine.send(value)
        except StopIteration:
            self._server._script_ended(None, self._session)
        except BaseException as e:
            self._server._script_raised(e, self._name, self._session)
        else:
            if type(awaited) is Command and awaited.waiter is None and not awaited._callbacks:
                # A verb: the session resumes us when its reply is in.
                awaited.waiter = self
            else:
                self._wait(awaited)

    def throw(self, error):
        """
        Raise C{error} in the script at its C{await}.
        """
        try:
            awaited = self._coroutine.throw(error)
        except StopIteration:
            self._server._script_ended(None, self._session)
        except BaseException as e:
            self._server._script_raised(e, self._name, self._session)
        else:
            self._wait(awaited)

    def _wait(self, awaited):
        if type(awaited) is Command and awaited.waiter is None and not awaited._callbacks:
            awaited.waiter = self
        elif isinstance(awaited, Deferred):
            awaited.addCallbacks(self.send, self._failed)
        else:
            self.throw(
                TypeError(
                    "a FastAGI script may only await Deferreds (and what yields "
                    "them), not %r" % (awaited,)
                )
            )

    def _failed(self, failure):
        error = failure.value
        if failure.tb is not None and error.__traceback__ is None:
            error = error.with_traceback(failure.tb)
        self.throw(error)
