"""
A pool of non-blocking PostgreSQL connections (txpostgres) on an injected
reactor.

Each query borrows a free connection, or waits in line for one (callers are
served in order, nothing is dropped).  A connection that breaks is closed and
reconnected in the background with a capped exponential backoff; while no
connection is up, queries fail at once with L{DatabaseUnavailable} so callers
(the event writer, the dialer) can react instead of piling up.
"""

import weakref
from collections import deque

import psycopg2
import psycopg2.errors
import psycopg2.extras
from twisted.internet import defer
from twisted.logger import Logger
from txpostgres import txpostgres

log = Logger()

# Errors that mean the connection (or the server) is gone, not that the
# statement was wrong.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)

# SQLSTATEs of OperationalError that end the session (class 08, connection
# exceptions; 57P01-57P03, the server shutting down or not accepting).
_SESSION_ENDED = ("57P01", "57P02", "57P03")


def connection_lost(error):
    """
    Whether C{error} means the connection is gone -- not a statement that
    failed on a healthy connection (a deadlock, a serialization failure, a
    cancelled query, a full disk), after which the connection stays usable.
    """
    if isinstance(error, psycopg2.InterfaceError):
        return True
    if not isinstance(error, psycopg2.OperationalError):
        return False
    code = getattr(error, "pgcode", None)
    return code is None or code.startswith("08") or code in _SESSION_ENDED


class ClosedSocketSafeReactor:
    """
    The reactor as our txpostgres connections see it.

    libpq closes a connection's socket as soon as it sees the connection
    fail; txpostgres may then still ask the reactor to stop watching it.
    Twisted's epoll reactor removes a descriptor by forgetting its
    selectable, then calling C{epoll_ctl}, and only then dropping the
    descriptor from its read (or write) set: on a closed descriptor
    C{epoll_ctl} fails, and the set keeps a descriptor with no selectable.
    Once the number is reused by the next connection, watching it fails
    (C{FileNotFoundError} from C{epoll_ctl(MOD)}), and the reactor's
    C{removeAll} raises C{KeyError} -- a daemon could stop reconnecting to
    PostgreSQL after an outage.  Here a removal that fails that way is
    finished by hand: the kernel already dropped a closed descriptor from
    the epoll set, so only the reactor's own bookkeeping is left to undo.
    Every other attribute is the reactor's.
    """

    def __init__(self, reactor):
        self._reactor = reactor

    def __getattr__(self, name):
        return getattr(self._reactor, name)

    def removeReader(self, reader):
        self._remove(self._reactor.removeReader, reader)

    def removeWriter(self, writer):
        self._remove(self._reactor.removeWriter, writer)

    def _remove(self, remove, selectable):
        try:
            remove(selectable)
        except OSError as e:
            selectables = getattr(self._reactor, "_selectables", None)
            if selectables is None:
                raise
            log.debug("finishing the removal of a closed database socket ({error})", error=e)
            for fds in (self._reactor._reads, self._reactor._writes):
                for fd in list(fds):
                    owner = selectables.get(fd)
                    if owner is None or owner is selectable:
                        fds.discard(fd)
                        selectables.pop(fd, None)


class WatchedConnection(txpostgres.Connection):
    """
    A txpostgres connection that reports its own death while idle.

    An idle txpostgres connection watches its socket (for C{NOTIFY}); when
    the server ends the session (a restart, C{pg_terminate_backend}, an
    idle timeout), the read finds the error with no query to fail, and
    txpostgres raises it into the reactor, which logs an unhandled error
    and nobody learns the connection is gone until the next query fails on
    it.  Here that error goes to C{on_lost(connection, error)} instead.

    @ivar on_lost: C{on_lost(connection, error)}, or L{None}.
    """

    on_lost = None

    def doRead(self):
        try:
            txpostgres.Connection.doRead(self)
        except CONNECTION_ERRORS as e:
            # Only raised when no query waits on this connection (a query's
            # own poll reports its error to the query).
            self._lost(e)

    def connectionLost(self, reason):
        txpostgres.Connection.connectionLost(self, reason)
        self._lost(reason.value)

    def _lost(self, error):
        on_lost, self.on_lost = self.on_lost, None
        if on_lost is not None:
            on_lost(self, error)


class DatabaseUnavailable(Exception):
    """
    No connection to PostgreSQL is up.
    """


class Pool:
    """
    @ivar state: C{"starting"}, C{"up"} (every connection open),
        C{"degraded"} (some reconnecting) or C{"down"}.
    @ivar last_error: the last connection error, as text, or L{None}.
    """

    def __init__(self, reactor, dsn, size=4, max_backoff=5.0):
        self.reactor = reactor
        self.dsn = dsn
        self.size = size
        self.max_backoff = max_backoff
        self.state = "starting"
        self.last_error = None
        self._free = deque()
        self._waiting = deque()
        self._up = 0
        self._closed = False
        self._reconnects = {}
        self._listeners = []
        # connection -> names of the statements prepared on it
        self._prepared = weakref.WeakKeyDictionary()

    def _connect_one(self):
        connection = WatchedConnection(reactor=ClosedSocketSafeReactor(self.reactor))
        # connect() can raise synchronously (e.g. the reactor refusing a
        # stale descriptor after the server went away): make it a failure.
        d = defer.maybeDeferred(connection.connect, self.dsn)
        d.addCallback(lambda _: connection)
        return d

    @defer.inlineCallbacks
    def start(self):
        """
        Open every connection.  Fails if the first cannot be opened.
        """
        first = yield self._connect_one()
        self._added(first)
        for _ in range(self.size - 1):
            try:
                connection = yield self._connect_one()
            except CONNECTION_ERRORS as e:
                self._note_error(e)
                self._schedule_reconnect(1)
            else:
                self._added(connection)
        return self

    def _added(self, connection):
        connection.on_lost = self._idle_lost
        self._up += 1
        self._update_state()
        self._give(connection)

    def _update_state(self):
        previous = self.state
        if self._up == 0:
            self.state = "down"
        elif self._up < self.size:
            self.state = "degraded"
        else:
            self.state = "up"
        if previous != self.state:
            for listener in list(self._listeners):
                listener(self.state)

    def on_state_change(self, listener):
        """
        Call C{listener(state)} whenever L{state} changes.
        """
        self._listeners.append(listener)

    def _give(self, connection):
        if self._waiting:
            self._waiting.popleft().callback(connection)
        else:
            self._free.append(connection)

    def _borrow(self):
        if self._closed:
            return defer.fail(DatabaseUnavailable("the database pool is closed"))
        if self._free:
            return defer.succeed(self._free.popleft())
        if self._up == 0:
            return defer.fail(DatabaseUnavailable(
                "PostgreSQL is unreachable: %s" % (self.last_error,)))
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    def _returned(self, result, connection):
        if self._closed:
            connection.close()
        else:
            self._give(connection)
        return result

    def _broken(self, failure, connection):
        self._lose(connection, failure.value, "database connection")
        return failure

    def _idle_lost(self, connection, error):
        """
        A connection waiting in the pool died: replace it now rather than
        fail the next query on it.
        """
        if connection in self._free:
            self._free.remove(connection)
            self._lose(connection, error, "idle database connection")

    def _lose(self, connection, error, what):
        """
        Close a connection that is gone and reconnect in the background.
        """
        self._note_error(error)
        self._up -= 1
        try:
            connection.close()
        except Exception:
            pass
        self._update_state()
        if self._up == 0:
            # Nobody will give a connection back to those waiting.
            waiting, self._waiting = self._waiting, deque()
            for d in waiting:
                d.errback(DatabaseUnavailable(
                    "PostgreSQL is unreachable: %s" % (self.last_error,)))
        if not self._closed:
            log.warn("{what} lost ({error}); reconnecting", what=what, error=self.last_error)
            self._schedule_reconnect(0.1)

    def _note_error(self, error):
        self.last_error = " ".join(str(error).split()) or type(error).__name__

    def _schedule_reconnect(self, delay):
        token = object()

        def attempt():
            del self._reconnects[token]
            if self._closed:
                return
            d = self._connect_one()

            def failed(f):
                # Whatever went wrong, keep trying: a pool that stops
                # reconnecting never recovers without a restart.
                self._note_error(f.value)
                if not f.check(*CONNECTION_ERRORS):
                    log.failure("unexpected error reconnecting to the database", f)
                self._schedule_reconnect(min(delay * 2, self.max_backoff))

            def connected(connection):
                if self._closed:
                    connection.close()
                    return
                log.info("database connection re-established")
                self._added(connection)

            d.addCallbacks(connected, failed)

        self._reconnects[token] = self.reactor.callLater(delay, attempt)

    def _use(self, method, *args, **kwargs):
        """
        Borrow a connection, call C{method} on it (a method name, or a
        callable taking the connection), give the connection back.
        """
        def run(connection):
            if callable(method):
                d = defer.maybeDeferred(method, connection, *args, **kwargs)
            else:
                d = defer.maybeDeferred(getattr(connection, method), *args, **kwargs)

            def done(result):
                return self._returned(result, connection)

            def failed(failure):
                if connection_lost(failure.value):
                    return self._broken(failure, connection)
                return self._returned(failure, connection)

            return d.addCallbacks(done, failed)

        return self._borrow().addCallback(run)

    def runQuery(self, sql, args=None):
        """
        Run one statement and return its rows (a list of tuples).
        """
        return self._use("runQuery", sql, args)

    def runOperation(self, sql, args=None):
        """
        Run one statement for its effect.
        """
        return self._use("runOperation", sql, args)

    def runPrepared(self, name, types, statement, args, before=""):
        """
        Run a server-side prepared statement and return its rows: a hot
        statement is parsed and analysed once per connection instead of on
        every run (PostgreSQL still picks a custom or a generic plan each
        time; for the dialer's claim it keeps custom plans, which measured
        faster).  Each connection prepares it the first time it runs it; a
        reconnected connection prepares it again.

        @param name: the statement's name, unique in the pool.
        @param types: the SQL types of C{$1}, C{$2}..., e.g. C{("bigint",
            "text")}.
        @param statement: the SQL, with C{$n} placeholders.
        @param args: the values, in order.
        @param before: statements sent first in the same round trip and the
            same implicit transaction, e.g. C{"SET LOCAL ...;"}.
        """
        placeholders = ", ".join(["%s"] * len(types))
        execute = f"{before}EXECUTE {name} ({placeholders})"

        prepare = f"PREPARE {name} ({', '.join(types)}) AS {statement}"

        @defer.inlineCallbacks
        def run(connection):
            known = self._prepared.setdefault(connection, set())
            if name in known:
                try:
                    return (yield connection.runQuery(execute, tuple(args)))
                except psycopg2.errors.InvalidSqlStatementName:
                    # Deallocated behind our back (DISCARD ALL): prepare again.
                    known.discard(name)
            yield connection.runOperation(prepare)
            known.add(name)
            return (yield connection.runQuery(execute, tuple(args)))

        return self._use(run)

    def runInteraction(self, interaction, *args, **kwargs):
        """
        Run C{interaction(cursor, *args, **kwargs)} in one transaction: it
        commits when the interaction's Deferred succeeds, rolls back when it
        fails.
        """
        return self._use("runInteraction", interaction, *args, **kwargs)

    def close(self):
        """
        Close every connection and refuse new work.
        """
        self._closed = True
        for call in self._reconnects.values():
            if call.active():
                call.cancel()
        self._reconnects.clear()
        while self._free:
            self._free.popleft().close()
        waiting, self._waiting = self._waiting, deque()
        for d in waiting:
            d.errback(DatabaseUnavailable("the database pool is closed"))
        self._up = 0
        self.state = "down"
