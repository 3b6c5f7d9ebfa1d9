"""
Tests for L{fts.db.pool.Pool.runPrepared}: server-side prepared statements,
prepared once per connection, again after a reconnect.
"""

from twisted.internet import defer
from twisted.trial.unittest import SynchronousTestCase

from tests.support.db import DatabaseTestCase

STATEMENT = "SELECT $1::bigint + 1, current_setting('synchronous_commit')"


class RunPreparedTests(DatabaseTestCase):
    pool_size = 1

    @defer.inlineCallbacks
    def prepared_names(self):
        rows = yield self.pool.runQuery("SELECT name FROM pg_prepared_statements ORDER BY name")
        return [r[0] for r in rows]

    @defer.inlineCallbacks
    def test_prepared_once(self):
        """
        The first run prepares the statement on the connection; later runs
        only execute it, with their own arguments.
        """
        self.assertEqual((yield self.prepared_names()), [])
        first = yield self.pool.runPrepared("t_add", ("bigint",), STATEMENT, (41,))
        second = yield self.pool.runPrepared("t_add", ("bigint",), STATEMENT, (1,))
        self.assertEqual([first[0][0], second[0][0]], [42, 2])
        self.assertEqual((yield self.prepared_names()), ["t_add"])

    @defer.inlineCallbacks
    def test_before(self):
        """
        C{before} runs in the same implicit transaction: a C{SET LOCAL} holds
        for the statement and not after it.
        """
        rows = yield self.pool.runPrepared(
            "t_add", ("bigint",), STATEMENT, (1,),
            before="SET LOCAL synchronous_commit TO remote_write; ")
        self.assertEqual(rows[0][1], "remote_write")
        rows = yield self.pool.runQuery("SELECT current_setting('synchronous_commit')")
        self.assertNotEqual(rows[0][0], "remote_write")

    @defer.inlineCallbacks
    def test_deallocated(self):
        """
        A statement deallocated on the server (DISCARD ALL) is prepared
        again.
        """
        yield self.pool.runPrepared("t_add", ("bigint",), STATEMENT, (1,))
        yield self.pool.runOperation("DEALLOCATE ALL")
        rows = yield self.pool.runPrepared("t_add", ("bigint",), STATEMENT, (4,))
        self.assertEqual(rows[0][0], 5)

    @defer.inlineCallbacks
    def test_reconnected(self):
        """
        A connection opened after the old one broke prepares the statement
        again instead of failing on an unknown name.
        """
        yield self.pool.runPrepared("t_add", ("bigint",), STATEMENT, (1,))
        pid = (yield self.pool.runQuery("SELECT pg_backend_pid()"))[0][0]
        # Another session ends ours: the pool sees a broken connection.
        from txpostgres import txpostgres
        admin = txpostgres.Connection()
        yield admin.connect(self.dsn)
        self.addCleanup(admin.close)
        yield admin.runQuery("SELECT pg_terminate_backend(%s)", (pid,))
        failed = []
        while True:
            try:
                rows = yield self.pool.runPrepared("t_add", ("bigint",), STATEMENT, (2,))
                break
            except Exception as e:
                failed.append(e)
                yield self.pool_up()
        self.assertEqual(rows[0][0], 3)
        self.assertLessEqual(len(failed), 1)

    def pool_up(self):
        """
        Fires once the pool has a connection again.
        """
        d = defer.Deferred()

        def changed(state):
            if state == "up" and not d.called:
                d.callback(None)

        self.pool.on_state_change(changed)
        if self.pool.state == "up" and self.pool._up:
            d.callback(None)
        return d


class ConnectionLostTests(DatabaseTestCase):
    pool_size = 1

    @defer.inlineCallbacks
    def test_idle_connection_replaced(self):
        """
        A connection that dies while waiting in the pool (its session ended
        by the server) is replaced at once: nothing is logged as an
        unhandled error (trial would fail the test), the pool says it
        reconnected, and the next query runs on the new connection without
        failing first.
        """
        from twisted.internet import reactor, task
        from txpostgres import txpostgres

        pid = (yield self.pool.runQuery("SELECT pg_backend_pid()"))[0][0]
        states = []
        self.pool.on_state_change(states.append)
        admin = txpostgres.Connection()
        yield admin.connect(self.dsn)
        self.addCleanup(admin.close)
        yield admin.runQuery("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):
            if states[-2:] == ["down", "up"]:
                break
            yield task.deferLater(reactor, 0.02, lambda: None)
        self.assertEqual(states, ["down", "up"])
        self.assertIn("terminat", self.pool.last_error)
        now = (yield self.pool.runQuery("SELECT pg_backend_pid()"))[0][0]
        self.assertNotEqual(now, pid)

    @defer.inlineCallbacks
    def test_statement_errors_keep_the_connection(self):
        """
        A statement failing with an OperationalError that is not about the
        connection (here an unknown prepared statement) leaves the connection in the
        pool: the next query runs on the same backend.
        """
        from psycopg2 import errors

        pid = (yield self.pool.runQuery("SELECT pg_backend_pid()"))[0][0]
        with self.assertRaises(errors.InvalidSqlStatementName):
            yield self.pool.runOperation("EXECUTE never_prepared")
        self.assertEqual((yield self.pool.runQuery("SELECT pg_backend_pid()"))[0][0], pid)
        self.assertEqual(self.pool.state, "up")

    def test_classification(self):
        """
        Connection exceptions and shutdowns mean a lost connection;
        deadlocks, serialization failures and cancellations do not.
        """
        import psycopg2
        from psycopg2 import errors

        from fts.db.pool import connection_lost

        def error(cls, code):
            e = cls("x")
            # pgcode is read-only on psycopg2's errors: a subclass gives one.
            return type("E", (cls,), {"pgcode": code})("x") if code else e

        self.assertTrue(connection_lost(psycopg2.InterfaceError("closed")))
        self.assertTrue(connection_lost(psycopg2.OperationalError("server closed")))
        self.assertTrue(connection_lost(error(errors.AdminShutdown, "57P01")))
        self.assertTrue(connection_lost(error(errors.ConnectionFailure, "08006")))
        self.assertFalse(connection_lost(error(errors.DeadlockDetected, "40P01")))
        self.assertFalse(connection_lost(error(errors.SerializationFailure, "40001")))
        self.assertFalse(connection_lost(error(errors.QueryCanceled, "57014")))
        self.assertFalse(connection_lost(ValueError("not a database error")))


class ClosedSocketSafeReactorTests(SynchronousTestCase):
    """
    L{ClosedSocketSafeReactor}: removing a selectable whose socket was
    already closed leaves the epoll reactor consistent.
    """

    def setUp(self):
        from twisted.internet import epollreactor

        self.reactor = epollreactor.EPollReactor()
        self.addCleanup(self.reactor._poller.close)

    def watched_then_closed(self, reactor):
        """
        A selectable watched for reading whose socket is then closed
        behind the reactor's back (as libpq does), reporting its old
        number like a psycopg2 connection that has not noticed yet.
        """
        import socket

        a, b = socket.socketpair()
        self.addCleanup(b.close)

        class Selectable:
            def fileno(self):
                return number

            def logPrefix(self):
                return "test"

        number = a.fileno()
        selectable = Selectable()
        reactor.addReader(selectable)
        a.close()
        return number, selectable

    def test_bare_epoll_reactor_breaks(self):
        """
        The bare epoll reactor fails the removal and keeps the number in its
        read set without a selectable (what the wrapper repairs): its
        removeAll then fails.
        """
        fd, selectable = self.watched_then_closed(self.reactor)
        self.assertRaises(OSError, self.reactor.removeReader, selectable)
        self.assertIn(fd, self.reactor._reads)
        self.assertNotIn(fd, self.reactor._selectables)
        self.assertRaises(KeyError, self.reactor.removeAll)

    def test_removal_finished(self):
        """
        Through the wrapper the removal succeeds, the number is forgotten,
        and a new socket that gets the same number can be watched.
        """
        import socket

        from fts.db.pool import ClosedSocketSafeReactor

        safe = ClosedSocketSafeReactor(self.reactor)
        fd, selectable = self.watched_then_closed(safe)
        safe.removeReader(selectable)
        self.assertNotIn(fd, self.reactor._reads)
        self.assertNotIn(fd, self.reactor._selectables)
        c, d = socket.socketpair()
        self.addCleanup(c.close)
        self.addCleanup(d.close)
        self.assertEqual(c.fileno(), fd)

        class Writer:
            def fileno(self):
                return c.fileno()

            def logPrefix(self):
                return "test"

        writer = Writer()
        safe.addWriter(writer)
        self.assertIn(fd, self.reactor._writes)
        self.assertEqual(self.reactor.removeAll(), [writer])
