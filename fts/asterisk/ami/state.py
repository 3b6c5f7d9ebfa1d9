"""
The state of one AMI server's connection, for the dialer and the health page.

One transition table says which moves are legal; anything else is a bug and
is logged loudly (the move still happens, so the health page never lies).
"""

import attr
from twisted.logger import Logger

log = Logger()

__all__ = ["ConnectionState", "ConnectionStatus", "TRANSITIONS"]

STOPPED = "stopped"
CONNECTING = "connecting"
LOGGING_IN = "logging_in"
CONNECTED = "connected"
DISCONNECTED = "disconnected"

TRANSITIONS = {
    STOPPED: frozenset({CONNECTING}),
    CONNECTING: frozenset({LOGGING_IN, DISCONNECTED, STOPPED}),
    LOGGING_IN: frozenset({CONNECTED, DISCONNECTED, STOPPED}),
    CONNECTED: frozenset({DISCONNECTED, STOPPED}),
    DISCONNECTED: frozenset({CONNECTING, STOPPED}),
}


@attr.s(frozen=True, slots=True)
class ConnectionState:
    """
    A snapshot of one AMI connection's state.

    @ivar name: the AMI server's configured name.
    @ivar status: C{"stopped"}, C{"connecting"}, C{"logging_in"},
        C{"connected"} or C{"disconnected"}.
    @ivar since: clock time of the last change of C{status}.
    @ivar last_error: why the last attempt or connection ended, or C{None}.
    @ivar last_error_at: clock time of C{last_error}, or C{None}.
    @ivar failures: attempts in a row that did not reach C{connected}.
    @ivar next_attempt_at: when the next attempt is due (while
        disconnected), or C{None}.
    @ivar connected_since: when the current login succeeded, or C{None}.
    @ivar banner: the banner of the current or last connection.
    """

    name = attr.ib()
    status = attr.ib()
    since = attr.ib()
    last_error = attr.ib(default=None)
    last_error_at = attr.ib(default=None)
    failures = attr.ib(default=0)
    next_attempt_at = attr.ib(default=None)
    connected_since = attr.ib(default=None)
    banner = attr.ib(default=None)

    @property
    def connected(self):
        """
        Whether the status is C{"connected"}.
        """
        return self.status == CONNECTED

    def as_dict(self):
        """
        A JSON-ready dict (for the health endpoint).
        """
        return attr.asdict(self)


class ConnectionStatus:
    """
    The current L{ConnectionState} of one AMI server and its legal moves.

    @param name: the AMI server's name.
    @param clock: L{IReactorTime} for timestamps.
    """

    def __init__(self, name, clock):
        self._clock = clock
        self.current = ConnectionState(name=name, status=STOPPED, since=clock.seconds())
        self._listeners = []

    def listen(self, callback):
        """
        Call C{callback(old, new)} on every change; return an unsubscriber.
        """
        self._listeners.append(callback)

        def unlisten():
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unlisten

    def move(self, status, error=None, **changes):
        """
        Change status (and any other fields); record C{error} if given.
        """
        old = self.current
        if status != old.status and status not in TRANSITIONS[old.status]:
            log.error(
                "AMI {ami}: unexpected connection state change {old} -> {new}",
                ami=old.name,
                old=old.status,
                new=status,
            )
        now = self._clock.seconds()
        if status != old.status:
            changes["since"] = now
        if error is not None:
            changes["last_error"] = error
            changes["last_error_at"] = now
        new = attr.evolve(old, status=status, **changes)
        self.current = new
        for callback in list(self._listeners):
            try:
                callback(old, new)
            except Exception:
                log.failure("AMI {ami}: connection state listener failed", ami=old.name)
        return new

    def update(self, **changes):
        """
        Change fields other than the status.
        """
        self.current = attr.evolve(self.current, **changes)
        return self.current
