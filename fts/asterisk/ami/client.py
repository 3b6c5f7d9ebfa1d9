"""
A reconnecting, logged-in AMI client for one Asterisk server.

L{AMIClient} is a L{Service}: it keeps one connection up with
L{twisted.application.internet.ClientService} (backoff between attempts,
login in C{prepareConnection}), and owns what must outlive a connection: the
event subscriptions, the (re)connect callbacks, and the connection state that
the health page shows.  Several clients, one per configured Asterisk, can run
side by side; each has a name that appears in every log line.

Actions go to the current logged-in connection; when there is none they fail
at once with L{AMINotConnected} (they were not sent, so the dialer may retry
elsewhere).
"""

import os
import re

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from .guard import WatchedEndpoint
from .errors import AMIConnectionLost, AMILoginFailed, AMINotConnected, AMITimeout
from .protocol import _DEFAULT, AMIProtocol
from .state import CONNECTED, CONNECTING, DISCONNECTED, LOGGING_IN, STOPPED, ConnectionStatus
from .subscriptions import EventSubscriptions

log = Logger()

__all__ = ["AMIClient"]


class _AMIFactory(Factory):
    def __init__(self, client):
        self.client = client

    def buildProtocol(self, addr):
        protocol = self.client._build_protocol()
        protocol.factory = self
        return protocol


class AMIClient(Service):
    """
    A named, reconnecting AMI client.

    @ivar name: the server's configured name (logs, health, ActionIDs).
    """

    def __init__(
        self,
        name,
        endpoint,
        username,
        secret,
        clock,
        auth="md5",
        events="call,system",
        action_timeout=10.0,
        login_timeout=10.0,
        keepalive_interval=20.0,
        keepalive_timeout=10.0,
        max_in_flight=128,
        retry_policy=None,
        originate_grace=60.0,
    ):
        """
        @param name: a name for this Asterisk, unique among the configured
            ones.
        @param endpoint: an L{IStreamClientEndpoint} (e.g. from
            C{clientFromString(reactor, "tcp:127.0.0.1:5038")}).
        @param clock: L{IReactorTime} for retries, timeouts and keepalive.
        @param auth: C{"md5"} (challenge, the default) or C{"plain"}.
        @param events: the C{Events:} mask sent at login (C{"call,system"}:
            the call events plus Shutdown; C{None} for the user's read=).
        @param action_timeout: default seconds for an answer to an action.
        @param login_timeout: seconds for the whole login.
        @param keepalive_interval: seconds between Pings (C{None}: none).
        @param keepalive_timeout: seconds to wait for a Pong before
            dropping the connection.
        @param max_in_flight: actions awaiting an answer on the connection;
            more wait in a queue.
        @param retry_policy: C{f(consecutive_failures) -> seconds} between
            attempts; failed logins count, so a wrong secret backs off like
            a refused connection (default: 1 s doubling to 60 s, plus up to
            1 s of jitter).
        @param originate_grace: seconds beyond an Originate's own timeout to
            wait for its OriginateResponse.
        """
        self.name = name
        self._endpoint = endpoint
        self._username = username
        self._secret = secret
        self._clock = clock
        self._auth = auth
        self._events = events
        self._action_timeout = action_timeout
        self._login_timeout = login_timeout
        self._keepalive_interval = keepalive_interval
        self._keepalive_timeout = keepalive_timeout
        self._max_in_flight = max_in_flight
        self._retry_policy = retry_policy or backoffPolicy(1.0, 60.0, 2.0)
        self._originate_grace = originate_grace
        self._status = ConnectionStatus(name, clock)
        self._subscriptions = EventSubscriptions(name)
        self._connected_callbacks = []
        self._waiters = []
        self._protocol = None
        self._building = None
        self._failures = 0
        self._connections = 0
        self._stopped = False
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:24] or "ami"
        self._id_prefix = "%s-%s" % (safe, os.urandom(3).hex())
        self._service = ClientService(
            WatchedEndpoint(endpoint, self),
            _AMIFactory(self),
            retryPolicy=self._retry_delay,
            clock=clock,
            prepareConnection=self._log_in,
        )

    # -- observable state -------------------------------------------------

    @property
    def state(self):
        """
        The current L{fts.asterisk.ami.state.ConnectionState}.
        """
        return self._status.current

    @property
    def connected(self):
        """
        Whether a logged-in connection is up.
        """
        return self._protocol is not None

    @property
    def protocol(self):
        """
        The logged-in L{AMIProtocol}, or C{None}.
        """
        return self._protocol

    def listen_state(self, callback):
        """
        Call C{callback(old, new)} on every state change; return an
        unsubscriber.
        """
        return self._status.listen(callback)

    def subscribe(self, name, callback):
        """
        Call C{callback(message)} for every event called C{name}
        (case-insensitive), or every event if C{name} is C{None}, on this and
        every later connection.  Events that answer a list action are not
        included.

        @return: a callable that unsubscribes.
        """
        return self._subscriptions.subscribe(name, callback)

    def on_connected(self, callback):
        """
        Call C{callback(client)} after every successful login (the first and
        each reconnect), e.g. to reconcile with CoreShowChannels.  If it
        returns a Deferred, a failure of it is logged.

        @return: a callable that unsubscribes.
        """
        self._connected_callbacks.append(callback)

        def unsubscribe():
            if callback in self._connected_callbacks:
                self._connected_callbacks.remove(callback)

        return unsubscribe

    def when_connected(self):
        """
        A L{Deferred} firing with this client once it is logged in (at once
        if it is); it fails with L{AMINotConnected} if the client stops first.
        """
        if self._protocol is not None:
            d = Deferred()
            d.callback(self)
            return d
        if self._stopped:
            return fail(AMINotConnected("connect", "AMI %s stopped" % (self.name,)))
        d = Deferred(lambda d: self._waiters.remove(d) if d in self._waiters else None)
        self._waiters.append(d)
        return d

    # -- service ----------------------------------------------------------

    def startService(self):
        Service.startService(self)
        self._stopped = False
        log.info("AMI {ami}: starting", ami=self.name)
        self._service.startService()

    def stopService(self):
        Service.stopService(self)
        self._stopped = True
        protocol = self._protocol
        self._protocol = None
        self._status.move(STOPPED, next_attempt_at=None, connected_since=None)
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.errback(AMINotConnected("connect", "AMI %s stopped" % (self.name,)))
        if protocol is not None and protocol.is_open:
            d = protocol.logoff()
            d.addErrback(lambda f: None)
            d.addCallback(lambda _: self._service.stopService())
            return d
        return self._service.stopService()

    # -- connection life cycle (called by ClientService's machinery) ------

    def _attempting(self):
        if self.running:
            self._status.move(CONNECTING, next_attempt_at=None)

    def _attempt_failed(self, failure):
        if not self.running:
            return
        self._failures += 1
        reason = failure.getErrorMessage()
        log.warn(
            "AMI {ami}: cannot connect ({reason}); attempt {failures} failed",
            ami=self.name,
            reason=reason,
            failures=self._failures,
        )
        self._status.move(DISCONNECTED, error=reason, failures=self._failures)

    def _retry_delay(self, attempt):
        # ClientService counts refused connections and failed logins alike
        # (a failed prepareConnection), so a wrong secret backs off too.
        delay = self._retry_policy(attempt)
        if self.running:
            self._status.update(next_attempt_at=self._clock.seconds() + delay)
        return delay

    def _build_protocol(self):
        self._connections += 1
        protocol = AMIProtocol(
            self._clock,
            subscriptions=self._subscriptions,
            action_timeout=self._action_timeout,
            max_in_flight=self._max_in_flight,
            name=self.name,
            id_prefix="%s-%d-" % (self._id_prefix, self._connections),
            originate_grace=self._originate_grace,
        )
        protocol.on_lost = lambda reason: self._lost(protocol, reason)
        self._building = protocol
        return protocol

    def _log_in(self, proxy):
        """
        The C{prepareConnection} hook: log in on a new connection.

        A refused or failed login fails the returned Deferred, so that
        ClientService counts it as a failed attempt and backs off; we close
        the connection ourselves (Asterisk would, about 1 s later).
        """
        guard = self._building
        self._building = None
        protocol = guard.protocol
        if self.running:
            self._status.move(LOGGING_IN)
        d = protocol.login(
            self._username,
            self._secret,
            auth=self._auth,
            events=self._events,
            timeout=self._login_timeout,
        )
        d.addCallbacks(
            lambda response: self._logged_in(guard),
            lambda failure: self._login_failed(protocol, failure),
        )
        return d

    def _logged_in(self, guard):
        protocol = guard.protocol
        if not protocol.is_open:
            raise AMIConnectionLost("Login", True, "closed just after login")
        guard.handed_over = True
        self._failures = 0
        self._protocol = protocol
        now = self._clock.seconds()
        self._status.move(
            CONNECTED,
            failures=0,
            next_attempt_at=None,
            connected_since=now,
            banner=protocol.banner,
        )
        log.info(
            "AMI {ami}: logged in as {user} ({banner}), events {events}",
            ami=self.name,
            user=self._username,
            banner=protocol.banner,
            events=self._events,
        )
        if self._keepalive_interval:
            protocol.start_keepalive(self._keepalive_interval, self._keepalive_timeout)
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(self)
        for callback in list(self._connected_callbacks):
            try:
                result = callback(self)
            except Exception:
                log.failure("AMI {ami}: an on-connected callback failed", ami=self.name)
                continue
            if isinstance(result, Deferred):
                result.addErrback(
                    lambda f: log.failure(
                        "AMI {ami}: an on-connected callback failed", f, ami=self.name
                    )
                )
        return None

    def _login_failed(self, protocol, failure):
        protocol.close()
        if not self.running:
            return failure  # stopped while logging in
        self._failures += 1
        error = failure.value
        if isinstance(error, AMILoginFailed):
            reason = "login refused: %s" % (error.message or error,)
            log.error(
                "AMI {ami}: login as {user} refused ({message}); check the secret and"
                " permit= in manager.conf; will retry with backoff",
                ami=self.name,
                user=self._username,
                message=error.message,
            )
        elif isinstance(error, (AMIConnectionLost, AMITimeout)):
            reason = "login did not complete: %s" % (error,)
            log.warn("AMI {ami}: {reason}; will retry", ami=self.name, reason=reason)
        else:
            reason = "login failed: %s" % (failure.getErrorMessage(),)
            log.failure("AMI {ami}: login failed", failure, ami=self.name)
        self._status.move(DISCONNECTED, error=reason, failures=self._failures)
        return failure

    def _lost(self, protocol, reason):
        if protocol is not self._protocol:
            return  # never logged in: _login_failed accounted for it
        self._protocol = None
        if not self.running:
            return
        log.warn(
            "AMI {ami}: connection lost ({reason}); reconnecting with backoff",
            ami=self.name,
            reason=reason,
        )
        self._status.move(DISCONNECTED, error=reason, connected_since=None)

    # -- actions ----------------------------------------------------------

    def _current(self, action):
        protocol = self._protocol
        if protocol is None:
            state = self._status.current
            detail = "AMI %s is %s" % (self.name, state.status)
            if state.last_error:
                detail += " (%s)" % (state.last_error,)
            return None, fail(AMINotConnected(action, detail))
        return protocol, None

    def send_action(self, action, headers=(), timeout=_DEFAULT, list_events=None):
        """
        Send any action; see L{AMIProtocol.send_action}.
        """
        protocol, failed = self._current(action)
        if protocol is None:
            return failed
        return protocol.send_action(action, headers, timeout=timeout, list_events=list_events)

    def originate(
        self,
        channel,
        context,
        exten,
        priority,
        channel_id,
        other_channel_id=None,
        variables=None,
        caller_id=None,
        timeout_ms=30000,
        account=None,
        on_result=None,
    ):
        """
        Asynchronous Originate; see L{AMIProtocol.originate}.
        """
        protocol, failed = self._current("Originate")
        if protocol is None:
            return failed
        return protocol.originate(
            channel,
            context,
            exten,
            priority,
            channel_id,
            other_channel_id=other_channel_id,
            variables=variables,
            caller_id=caller_id,
            timeout_ms=timeout_ms,
            account=account,
            on_result=on_result,
        )

    def core_show_channels(self):
        """
        A L{Deferred} firing with a L{ListResult} of C{CoreShowChannel}
        events (one per channel).
        """
        return self.send_action("CoreShowChannels", list_events=True)

    def status(self, channel=None, variables=()):
        """
        C{Status} of every channel or one; C{variables} adds C{Variable:
        NAME=value} headers to each event.  Fires with a L{ListResult}.
        """
        headers = []
        if channel:
            headers.append(("Channel", channel))
        if variables:
            headers.append(("Variables", ",".join(variables)))
        return self.send_action("Status", headers, list_events=True)

    def getvar(self, channel, variable):
        """
        The value of a channel variable (C{""} when unset).
        """
        d = self.send_action("Getvar", [("Channel", channel), ("Variable", variable)])
        return d.addCallback(lambda response: response.get("Value", ""))

    def setvar(self, channel, variable, value):
        """
        Set a channel variable.
        """
        return self.send_action(
            "Setvar", [("Channel", channel), ("Variable", variable), ("Value", value)]
        )

    def hangup(self, channel, cause=None):
        """
        Hang up a channel (fails with L{AMIError} "No such channel" if gone).
        """
        headers = [("Channel", channel)]
        if cause is not None:
            headers.append(("Cause", str(cause)))
        return self.send_action("Hangup", headers)

    def command(self, command):
        """
        Run a CLI command; fires with its output lines (C{Output:} headers).
        """
        d = self.send_action("Command", [("Command", command)])
        return d.addCallback(lambda response: response.getall("Output"))

    def ping(self):
        """
        C{Ping}; fires with the C{Pong} response.
        """
        return self.send_action("Ping")
