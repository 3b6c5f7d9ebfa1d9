"""
A PostgreSQL server of one test's own, which the test can stop and start
again: for the outage tests (the shared test server of L{tests.support.db}
serves every other test of the process and must stay up).

The server is an embedded PostgreSQL (pgserver) under C{var/test-pg-*-PID}
with durability turned off like the shared one, so that a run killed before
its clean-up is swept by the next run's L{tests.support.db._sweep_stale}.
Its database is migrated once, at the first start.
"""

import itertools
import os
import shutil

from twisted.internet import defer, reactor

from fts.db import embedded, migrate
from fts.db.pool import Pool
from tests.support.db import ROOT, TEST_SETTINGS

_numbers = itertools.count(1)


class StoppablePostgres:
    """
    One embedded PostgreSQL server with a migrated database C{fts}.

    @ivar dsn: the database's DSN (set by L{start}).
    """

    def __init__(self, test):
        self.test = test
        self.directory = ROOT / "var" / ("test-pg-outage%d-%d" % (next(_numbers), os.getpid()))
        self.server = embedded.EmbeddedPostgres(reactor, self.directory, database="fts",
                                                settings=TEST_SETTINGS, fast_init=True)
        self.dsn = None
        self._migrated = False
        self._cleanup = False

    @defer.inlineCallbacks
    def start(self):
        """
        Start the server (initialising and migrating it the first time).

        @return: a Deferred firing with the DSN.
        """
        if not self._cleanup:
            self._cleanup = True
            self.test.addCleanup(self._remove)
        self.dsn = yield self.server.start()
        if not self._migrated:
            pool = Pool(reactor, self.dsn, size=1)
            yield pool.start()
            try:
                yield migrate.apply(pool)
            finally:
                pool.close()
            self._migrated = True
        return self.dsn

    def stop(self):
        """
        Stop the server (fast shutdown: every open session is ended).
        """
        return self.server.stop()

    @property
    def running(self):
        return self.server.running

    @defer.inlineCallbacks
    def _remove(self):
        if self.server.running:
            yield self.server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
