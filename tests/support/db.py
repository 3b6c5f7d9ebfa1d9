"""
A real PostgreSQL for tests.

By default each trial process starts its own embedded PostgreSQL (pgserver)
under C{var/test-pg-PID} with durability turned off, migrates a template
database once, and gives every test a fresh database cloned from it
(C{CREATE DATABASE … TEMPLATE}, tens of milliseconds).  Set C{FTS_TEST_DSN}
to a server where the user may create databases to use that server instead.

The server is stopped and its directory removed when the process exits;
directories left by killed runs are swept at the next start.
"""

import atexit
import itertools
import os
import shutil
import subprocess
from pathlib import Path

from twisted.internet import defer, reactor
from twisted.trial import unittest
from txpostgres import txpostgres

from fts.db import embedded, migrate
from fts.db.pool import Pool
from fts.db.store import Store

ROOT = Path(__file__).resolve().parents[2]
TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
TEMPLATE = "fts_test_template_%d" % os.getpid()
_names = itertools.count(1)
_server = []  # [Deferred] while starting, then [dsn]


def _sweep_stale():
    """
    Stop and remove test clusters whose trial process is gone.
    """
    for path in (ROOT / "var").glob("test-pg-*"):
        try:
            pid = int(path.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
            continue
        except (ValueError, ProcessLookupError):
            pass
        except PermissionError:
            continue
        _stop_cluster(path)
        shutil.rmtree(path, ignore_errors=True)


def _stop_cluster(path):
    if embedded.running_postmaster(path) is None:
        return
    user = embedded.SYSTEM_USER if os.geteuid() == 0 else None
    subprocess.run(
        [str(embedded.binaries() / "pg_ctl"), "-D", str(path), "-m", "immediate",
         "-w", "stop"],
        user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )


def _admin_dsn_of(dsn, database):
    return "%s dbname=%s" % (dsn, database)


def server():
    """
    A Deferred firing with a DSN (without dbname) of the test server, whose
    template database is migrated.
    """
    if not _server:
        starting = _start_server()
        _server.append(starting)

        def started(base):
            _server[:] = [base]
            return base

        starting.addCallback(started)
    current = _server[0]
    if isinstance(current, defer.Deferred):
        waiter = defer.Deferred()
        current.addBoth(lambda r: (waiter.callback(r) if isinstance(r, str)
                                   else waiter.errback(r), r)[1])
        return waiter
    return defer.succeed(current)


@defer.inlineCallbacks
def _start_server():
    dsn = os.environ.get("FTS_TEST_DSN")
    if not dsn:
        _sweep_stale()
        directory = ROOT / "var" / ("test-pg-%d" % os.getpid())
        pg = embedded.EmbeddedPostgres(reactor, directory, database="postgres",
                                       settings=TEST_SETTINGS, fast_init=True)
        yield pg.start()

        def stop():
            _stop_cluster(directory)
            shutil.rmtree(directory, ignore_errors=True)

        atexit.register(stop)
        dsn = "host=%s port=%d user=%s" % (pg.socket_dir, embedded.PORT, embedded.SUPERUSER)
    base = _strip_dbname(dsn)
    yield _admin(base, 'DROP DATABASE IF EXISTS "%s"' % TEMPLATE)
    yield _admin(base, 'CREATE DATABASE "%s"' % TEMPLATE)
    pool = Pool(reactor, _admin_dsn_of(base, TEMPLATE), size=1)
    yield pool.start()
    try:
        yield migrate.apply(pool)
    finally:
        pool.close()
    if os.environ.get("FTS_TEST_DSN"):
        atexit.register(_drop_sync, base, TEMPLATE)
    return base


def _strip_dbname(dsn):
    return " ".join(p for p in dsn.split() if not p.startswith("dbname="))


@defer.inlineCallbacks
def _admin(base, sql):
    connection = txpostgres.Connection(reactor=reactor)
    yield connection.connect(_admin_dsn_of(base, "postgres"))
    try:
        yield connection.runOperation(sql)
    finally:
        connection.close()


def _drop_sync(base, name):
    import psycopg2

    connection = psycopg2.connect(_admin_dsn_of(base, "postgres"))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    connection.close()


@defer.inlineCallbacks
def fresh_database():
    """
    Create a database cloned from the migrated template.

    @return: a Deferred firing with C{(dsn, drop)}; C{drop()} returns a
        Deferred that removes the database.
    """
    base = yield server()
    name = "fts_test_%d_%d" % (os.getpid(), next(_names))
    yield _admin(base, 'CREATE DATABASE "%s" TEMPLATE "%s"' % (name, TEMPLATE))

    def drop():
        return _admin(base, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)

    return _admin_dsn_of(base, name), drop


class DatabaseTestCase(unittest.TestCase):
    """
    A test with a fresh, migrated database: C{self.dsn}, C{self.pool} and
    C{self.store}.
    """

    pool_size = 2

    @defer.inlineCallbacks
    def setUp(self):
        self.dsn, drop = yield fresh_database()
        self.addCleanup(drop)
        self.pool = Pool(reactor, self.dsn, size=self.pool_size)
        yield self.pool.start()
        self.addCleanup(self.pool.close)
        self.store = Store(self.pool)
