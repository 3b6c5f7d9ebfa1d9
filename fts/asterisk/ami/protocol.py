"""
The AMI client protocol: one connection to one Asterisk.

It feeds bytes to the sans-IO L{FrameParser} and keeps the state that belongs
to one connection:

  - actions in flight, by ActionID (never by order: events arrive between a
    request and its response); each has a timeout on the injected clock and
    ends exactly once, with its response, with the collected events of a list
    action, or with a failure;
  - a bound on actions in flight: extra actions wait in a FIFO queue and are
    sent as answers come back (back-pressure; nothing is dropped);
  - the Originates whose C{OriginateResponse} is awaited
    (L{fts.asterisk.ami.originate.OriginateWatches});
  - login (MD5 challenge or plain text) and the keepalive C{Ping}.

When the connection closes, every pending action fails with
L{AMIConnectionLost} (starpy resolved them successfully with an exception
object).  Events go to the C{subscriptions} it is given (the client's).
"""

import itertools
from collections import deque

from twisted.internet.defer import Deferred, fail
from twisted.internet.protocol import Protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from .actions import LIST_ACTIONS, ListResult, is_list_end, login_key, originate_headers
from .errors import (
    AMIConnectionLost,
    AMIError,
    AMILoginFailed,
    AMINotConnected,
    AMITimeout,
)
from .frames import FrameParser, serialize
from .originate import OriginateWatches
from .subscriptions import EventSubscriptions

log = Logger()

__all__ = ["AMIProtocol"]

_DEFAULT = object()


class _Pending:
    """
    One action sent or queued on this connection.
    """

    __slots__ = (
        "action",
        "action_id",
        "payload",
        "deferred",
        "timeout",
        "timer",
        "sent",
        "events",
        "response",
        "complete",
        "error_class",
    )

    def __init__(self, action, action_id, payload, timeout, events, error_class):
        self.action = action
        self.action_id = action_id
        self.payload = payload
        self.deferred = None
        self.timeout = timeout
        self.timer = None
        self.sent = False
        # A list while the action collects an event list, else None.
        self.events = events
        self.response = None
        self.complete = None
        self.error_class = error_class


class AMIProtocol(Protocol):
    """
    One AMI connection, as a client.

    @ivar banner: the server's banner line once received.
    @ivar logged_in: whether a login succeeded on this connection.
    @ivar shutdown: the C{Shutdown} event if Asterisk announced it is
        stopping, else C{None}.
    @ivar subscriptions: the L{EventSubscriptions} that get every event
        that is not part of an action's answer (list items are not;
        OriginateResponse is, and also goes to its originate callback).
    @ivar on_lost: called with a reason string when the connection closes.
    """

    def __init__(
        self,
        clock,
        subscriptions=None,
        on_event=None,
        action_timeout=10.0,
        max_in_flight=128,
        name="ami",
        id_prefix="fts-",
        originate_grace=60.0,
    ):
        """
        @param clock: L{IReactorTime} for timeouts and keepalive.
        @param subscriptions: where events go (the client's, which outlive
            the connection); by default a new L{EventSubscriptions}.
        @param on_event: if given, subscribed to every event.
        @param action_timeout: default seconds to wait for an action's
            (complete) answer, counted from when it is written.
        @param max_in_flight: actions written and not yet answered, at most.
        @param name: the AMI server's name, for logs and errors.
        @param id_prefix: start of every ActionID; make it unique per process
            so that another client's events on the same Asterisk never match.
        @param originate_grace: seconds after an Originate's own timeout to
            keep waiting for its OriginateResponse.
        """
        self.name = name
        self.banner = None
        self.logged_in = False
        self.shutdown = None
        if subscriptions is None:
            subscriptions = EventSubscriptions(name)
        self.subscriptions = subscriptions
        if on_event is not None:
            subscriptions.subscribe(None, on_event)
        self.on_lost = None
        self._clock = clock
        self._action_timeout = action_timeout
        self._max_in_flight = max_in_flight
        self._id_prefix = id_prefix
        self._ids = itertools.count(1)
        self._originate_grace = originate_grace
        self._parser = FrameParser(expect_banner=True, on_problem=self._parse_problem)
        self._pending = {}
        self._queue = deque()
        self._in_flight = 0
        self._closed = False
        self._watches = OriginateWatches(clock, name)
        self._keepalive = None
        self._ping_outstanding = False
        self._keepalive_timeout = None

    # -- connection -------------------------------------------------------

    def connectionMade(self):
        log.debug("AMI {ami}: connected to {peer}", ami=self.name, peer=self._peer())

    def _peer(self):
        try:
            return self.transport.getPeer()
        except Exception:
            return "?"

    def _parse_problem(self, problem):
        log.warn(
            "AMI {ami}: malformed data from Asterisk, skipped: {problem}",
            ami=self.name,
            problem=str(problem),
        )

    def dataReceived(self, data):
        parser = self._parser
        pending = self._pending
        subscriptions = self.subscriptions
        resolved = subscriptions.resolved
        for message in parser.feed(data):
            kind = message.kind
            if kind == "event":
                action_id = message.action_id
                if action_id is not None:
                    item = pending.get(action_id)
                    if item is not None and item.events is not None:
                        self._collect(item, message)
                        continue
                name = message.name
                if name == "OriginateResponse":
                    self._watches.resolve(message)
                elif name == "Shutdown":
                    self._shutting_down(message)
                # EventSubscriptions.dispatch, inlined: this runs for every
                # event Asterisk sends.
                callbacks = resolved.get(name)
                if callbacks is None:
                    callbacks = subscriptions.callbacks_for(name)
                for callback in callbacks:
                    try:
                        callback(message)
                    except Exception:
                        subscriptions.callback_failed(message)
            elif kind == "response":
                self._respond(message)
            else:
                log.warn(
                    "AMI {ami}: ignored a message that is neither a response nor"
                    " an event: {message!r}",
                    ami=self.name,
                    message=message.headers[:3],
                )
        if self.banner is None and parser.banner is not None:
            self.banner = parser.banner

    def connectionLost(self, reason):
        self._closed = True
        self.stop_keepalive()
        text = reason.getErrorMessage() if reason is not None else "closed"
        if self.shutdown is not None:
            text = "Asterisk shut down (Shutdown: %s, Restart: %s)" % (
                self.shutdown.get("Shutdown", "?"),
                self.shutdown.get("Restart", "?"),
            )
        pending = list(self._pending.values())
        self._pending.clear()
        self._queue.clear()
        self._in_flight = 0
        for item in pending:
            self._cancel_timer(item)
            item.deferred.errback(AMIConnectionLost(item.action, item.sent, text))
        self._watches.lose_all(text)
        if pending:
            log.warn(
                "AMI {ami}: connection lost ({reason}); failed {count} pending actions",
                ami=self.name,
                reason=text,
                count=len(pending),
            )
        on_lost = self.on_lost
        if on_lost is not None:
            on_lost(text)

    def _shutting_down(self, event):
        self.shutdown = event
        log.warn(
            "AMI {ami}: Asterisk announced Shutdown ({how}, restart {restart});"
            " the connection will close and be retried with backoff",
            ami=self.name,
            how=event.get("Shutdown", "?"),
            restart=event.get("Restart", "?"),
        )

    @property
    def is_open(self):
        """
        Whether the transport is open.
        """
        return self.transport is not None and not self._closed

    @property
    def in_flight(self):
        """
        How many actions are written and awaiting their answer.
        """
        return self._in_flight

    @property
    def queued(self):
        """
        How many actions wait for a free slot.
        """
        return len(self._queue)

    @property
    def awaiting_originate_results(self):
        """
        How many Originates still await their OriginateResponse.
        """
        return len(self._watches)

    def close(self):
        """
        Drop the connection at once (pending actions then fail).
        """
        if self.transport is not None and not self._closed:
            abort = getattr(self.transport, "abortConnection", None)
            if abort is not None:
                abort()
            else:
                self.transport.loseConnection()

    # -- actions ----------------------------------------------------------

    def next_action_id(self):
        """
        A new ActionID, unique on this connection.
        """
        return "%s%d" % (self._id_prefix, next(self._ids))

    def send_action(
        self,
        action,
        headers=(),
        timeout=_DEFAULT,
        list_events=None,
        action_id=None,
        priority=False,
        error_class=AMIError,
    ):
        """
        Send an action; return a L{Deferred} that fires with its answer.

        @param action: the action name, e.g. C{"Getvar"}.
        @param headers: more headers, as C{(name, value)} pairs or a dict
            (not C{Action} or C{ActionID}).
        @param timeout: seconds to wait for the answer once written
            (default: the protocol's C{action_timeout}; C{None}: no limit).
        @param list_events: C{True} to collect an event list up to its
            C{...Complete} event; by default for the actions in
            L{LIST_ACTIONS} and for any response with C{EventList: start}.
        @param priority: send at once even when the in-flight bound is
            reached (the keepalive uses this).
        @return: a L{Deferred} firing with the response L{Message}, or a
            L{ListResult} for a list action; failing with L{AMIError}
            (C{Response: Error}), L{AMITimeout} or L{AMIConnectionLost}.
            Cancelling it withdraws a queued action.
        """
        if self._closed or self.transport is None:
            return fail(AMINotConnected(action, "AMI %s is not connected" % (self.name,)))
        if action_id is None:
            action_id = self.next_action_id()
        if hasattr(headers, "items"):
            headers = list(headers.items())
        try:
            for key, _ in headers:
                if key.lower() in ("action", "actionid"):
                    raise ValueError("%s given as a header of %s" % (key, action))
            payload = serialize([("Action", action), ("ActionID", action_id), *headers])
        except ValueError as e:
            return fail(e)
        if list_events is None:
            list_events = action.lower() in LIST_ACTIONS
        if timeout is _DEFAULT:
            timeout = self._action_timeout
        item = _Pending(
            action,
            action_id,
            payload,
            timeout,
            [] if list_events else None,
            error_class,
        )
        if action_id in self._pending:
            return fail(ValueError("ActionID %r is already pending" % (action_id,)))
        item.deferred = Deferred(lambda d: self._withdraw(item))
        self._pending[action_id] = item
        if priority or self._in_flight < self._max_in_flight:
            self._write(item)
        else:
            self._queue.append(item)
        return item.deferred

    def _write(self, item):
        item.sent = True
        self._in_flight += 1
        if item.timeout is not None:
            item.timer = self._clock.callLater(item.timeout, self._timed_out, item)
        self.transport.write(item.payload)

    def _pump(self):
        queue = self._queue
        while queue and self._in_flight < self._max_in_flight and not self._closed:
            self._write(queue.popleft())

    def _cancel_timer(self, item):
        timer = item.timer
        if timer is not None:
            item.timer = None
            if timer.active():
                timer.cancel()

    def _release(self, item):
        """
        Forget C{item}: free its slot, stop its timer, send what waits.
        """
        self._pending.pop(item.action_id, None)
        self._cancel_timer(item)
        if item.sent:
            self._in_flight -= 1
            self._pump()
        else:
            try:
                self._queue.remove(item)
            except ValueError:
                pass

    def _finish(self, item, result):
        self._release(item)
        item.deferred.callback(result)

    def _fail(self, item, error):
        self._release(item)
        item.deferred.errback(error)

    def _withdraw(self, item):
        if self._pending.get(item.action_id) is item:
            self._release(item)

    def _timed_out(self, item):
        item.timer = None
        if self._pending.get(item.action_id) is not item:
            return
        log.warn(
            "AMI {ami}: no answer to {action} ({action_id}) within {seconds} s",
            ami=self.name,
            action=item.action,
            action_id=item.action_id,
            seconds=item.timeout,
        )
        self._fail(item, AMITimeout(item.action, item.action_id, item.timeout))

    def _respond(self, message):
        item = self._pending.get(message.action_id)
        if item is None or not item.sent:
            log.debug(
                "AMI {ami}: response to no pending action (late, after a timeout?):"
                " {action_id}",
                ami=self.name,
                action_id=message.action_id,
            )
            return
        if message.name.lower() == "error":
            self._fail(item, item.error_class(item.action, message))
            return
        if item.events is None and (message.get("EventList") or "").lower() == "start":
            item.events = []
        if item.events is not None:
            item.response = message
            if item.complete is not None:
                self._finish(item, ListResult(message, item.events, item.complete))
            return
        self._finish(item, message)

    def _collect(self, item, event):
        if is_list_end(event):
            item.complete = event
            if item.response is not None:
                self._finish(item, ListResult(item.response, item.events, event))
        else:
            item.events.append(event)

    # -- login ------------------------------------------------------------

    def login(self, username, secret, auth="md5", events=None, timeout=_DEFAULT):
        """
        Log in; return a L{Deferred} firing with the C{Response: Success}.

        @param auth: C{"md5"} (C{Challenge} then C{Login} with
            C{Key = md5(challenge + secret)}; the secret never crosses the
            wire) or C{"plain"}.
        @param events: the C{Events:} mask, e.g. C{"call"} or
            C{"call,system"}; C{None} leaves the user's default (read=).
        @return: fails with L{AMILoginFailed} when Asterisk refuses (it then
            closes the socket about 1 s later).
        """
        extra = [] if events is None else [("Events", events)]
        if auth == "md5":
            d = self.send_action(
                "Challenge", [("AuthType", "MD5")], timeout=timeout, error_class=AMILoginFailed
            )

            def answer(response):
                challenge = response.get("Challenge")
                if not challenge:
                    raise AMILoginFailed("Challenge", response)
                return self.send_action(
                    "Login",
                    [
                        ("AuthType", "MD5"),
                        ("Username", username),
                        ("Key", login_key(challenge, secret)),
                    ]
                    + extra,
                    timeout=timeout,
                    error_class=AMILoginFailed,
                )

            d.addCallback(answer)
        elif auth == "plain":
            d = self.send_action(
                "Login",
                [("Username", username), ("Secret", secret)] + extra,
                timeout=timeout,
                error_class=AMILoginFailed,
            )
        else:
            return fail(ValueError("AMI auth must be 'md5' or 'plain', not %r" % (auth,)))

        def accepted(response):
            self.logged_in = True
            return response

        return d.addCallback(accepted)

    def logoff(self, timeout=2.0):
        """
        Send C{Logoff}; Asterisk answers C{Goodbye} and closes the socket.
        """
        return self.send_action("Logoff", timeout=timeout, priority=True)

    # -- originate --------------------------------------------------------

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
        timeout=_DEFAULT,
        action_id=None,
    ):
        """
        Send an asynchronous C{Originate} (C{Async: true}, C{ChannelId}).

        @param on_result: called once with an
            L{fts.asterisk.ami.actions.OriginateResult} for every Originate
            that was written and not refused: with the C{OriginateResponse}
            (success or failure with its Reason), or with outcome
            C{"unknown"} if the connection closes first or no answer comes
            within C{timeout_ms} plus the grace period.  Never called when
            the returned Deferred fails with L{AMIError} or
            L{AMIConnectionLost} with C{sent=False}.
        @return: a L{Deferred} firing with the immediate C{Response: Success}
            ("Originate successfully queued"), or failing with L{AMIError}
            (e.g. C{Extension does not exist.}), L{AMITimeout},
            L{AMIConnectionLost}, or L{ValueError} for arguments Asterisk
            would misread.
        """
        try:
            headers = originate_headers(
                channel,
                context,
                exten,
                priority,
                channel_id,
                other_channel_id,
                variables,
                caller_id,
                timeout_ms,
                account,
            )
        except ValueError as e:
            return fail(e)
        if self._closed or self.transport is None:
            return fail(AMINotConnected("Originate", "AMI %s is not connected" % (self.name,)))
        if action_id is None:
            action_id = self.next_action_id()
        if on_result is not None:
            self._watches.watch(
                action_id,
                channel,
                channel_id,
                on_result,
                timeout_ms / 1000.0 + self._originate_grace,
            )
        d = self.send_action("Originate", headers, timeout=timeout, action_id=action_id)
        if on_result is not None:

            def refused(failure):
                error = failure.value
                if isinstance(error, AMIError) or (
                    isinstance(error, AMIConnectionLost) and not error.sent
                ):
                    self._watches.forget(action_id)
                return failure

            d.addErrback(refused)
        return d

    # -- keepalive --------------------------------------------------------

    def start_keepalive(self, interval, timeout):
        """
        Send C{Ping} every C{interval} seconds; close the connection when a
        Pong does not come within C{timeout} seconds.
        """
        self.stop_keepalive()
        self._keepalive_timeout = timeout
        loop = LoopingCall(self._ping)
        loop.clock = self._clock
        self._keepalive = loop
        loop.start(interval, now=False).addErrback(
            lambda f: log.failure("AMI {ami}: keepalive loop stopped", f, ami=self.name)
        )

    def stop_keepalive(self):
        """
        Stop the keepalive Pings (if running).
        """
        loop = self._keepalive
        self._keepalive = None
        if loop is not None and loop.running:
            loop.stop()

    def _ping(self):
        if self._ping_outstanding or self._closed:
            return
        self._ping_outstanding = True
        d = self.send_action("Ping", timeout=self._keepalive_timeout, priority=True)

        def done(result):
            self._ping_outstanding = False
            return result

        def failed(failure):
            if failure.check(AMITimeout):
                log.warn(
                    "AMI {ami}: no Pong within {seconds} s; dropping the connection"
                    " to reconnect",
                    ami=self.name,
                    seconds=self._keepalive_timeout,
                )
                self.close()
            elif not failure.check(AMIConnectionLost):
                log.failure("AMI {ami}: keepalive Ping failed", failure, ami=self.name)

        d.addBoth(done).addErrback(failed)
