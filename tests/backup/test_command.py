"""
Tests for C{python -m fts.backup} (L{fts.backup.__main__.run_command}) on a
fresh embedded PostgreSQL: a backup of the test database restored into it
with the data intact, as the README's restore procedure does it.
"""

import io
import os
import shutil
from pathlib import Path

from twisted.internet import defer, reactor

from fts.backup.__main__ import run_command
from fts.backup.dump import BackupJob
from fts.db.embedded import EmbeddedPostgres, running_postmaster
from fts.db.pool import Pool
from tests.backup.test_dump import fingerprint, make_config
from tests.reports import fixture
from tests.support.db import TEST_SETTINGS, DatabaseTestCase


class RestoreCommandTests(DatabaseTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        yield self.pool.runOperation(fixture.setup_sql())
        self.data_dir = Path(self.mktemp())
        self.server = EmbeddedPostgres(reactor, self.data_dir / "pg", settings=TEST_SETTINGS,
                                       fast_init=True)
        self.addCleanup(self._stop_server)

    @defer.inlineCallbacks
    def _stop_server(self):
        if running_postmaster(self.server.directory) is not None:
            self.server.running = True
            yield self.server.stop()
        if self.server.socket_dir != self.server.directory:  # a short path under /tmp
            shutil.rmtree(self.server.socket_dir, ignore_errors=True)

    @defer.inlineCallbacks
    def command(self, *argv):
        out = io.StringIO()
        code = yield run_command(reactor, [*argv, "--data-dir", str(self.data_dir)], out)
        return code, out.getvalue()

    @defer.inlineCallbacks
    def test_backup_now_and_restore_into_fresh_embedded_server(self):
        """
        'now' backs up the running embedded server and leaves it running;
        'restore' (server stopped) replaces its database by another backup,
        saving the previous one; the restored data is intact.
        """
        yield self.server.start()  # a fresh cluster, as a first daemon start makes it
        code, out = yield self.command("now")
        self.assertEqual(code, 0)
        self.assertTrue(out.strip().startswith(str(self.data_dir / "backups" / "fts-")), out)
        self.assertIsNotNone(running_postmaster(self.server.directory))

        code, _ = yield self.command("restore", "--yes", out.strip())
        self.assertEqual(code, 1)  # refused: the server (so the daemon) is running
        yield self.server.stop()

        source = yield BackupJob(reactor, make_config(self.mktemp()), self.dsn).run()
        code, out = yield self.command("restore", "--yes", source)
        self.assertEqual(code, 0)
        self.assertIn("the previous database is saved in", out)
        self.assertIsNone(running_postmaster(self.server.directory))
        saved = [n for n in os.listdir(self.data_dir / "backups") if "pre-restore" in n]
        self.assertEqual(len(saved), 1)

        dsn = yield self.server.start()
        pool = Pool(reactor, dsn, size=1)
        yield pool.start()
        try:
            after = yield fingerprint(pool)
        finally:
            pool.close()
        before = yield fingerprint(self.pool)
        self.assertEqual(after, before)
        self.assertEqual(after["contacts"][0], 12)

    @defer.inlineCallbacks
    def test_restore_needs_confirmation(self):
        """restore without --yes changes nothing and exits 2."""
        code, _ = yield self.command("restore", "some.dump")
        self.assertEqual(code, 2)
        self.assertFalse(self.data_dir.exists())
