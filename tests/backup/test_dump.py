"""
Tests for L{fts.backup}: backups of a real database with pg_dump, retention,
and restores into fresh databases with the data intact.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from fts import config as fts_config
from fts.backup import child
from fts.backup.dump import (
    JOB_NAME, BackupFailed, BackupJob, backup_key, backup_name, backups, expired,
)
from fts.backup.restore import replace_database, restore
from fts.db.pool import Pool
from fts.db.reports import ReportStore
from fts.process import ProcessFailed
from tests.reports import fixture
from tests.support.db import DatabaseTestCase, fresh_database

AT = datetime(2026, 1, 12, 3, 0, 0, tzinfo=UTC)

#: Every table the fixture writes, and the sequences behind their ids.
TABLES = ("contact_lists", "contacts", "campaigns", "campaign_contacts", "calls",
          "campaign_contacts_archive", "report_snapshots", "dnc_lists", "schema_version")


@defer.inlineCallbacks
def fingerprint(pool):
    """
    Row count and a digest of every row of the fixture's tables, plus the
    next value the contacts id would take.
    """
    out = {}
    for table in TABLES:
        rows = yield pool.runQuery(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
            f" FROM {table} t")
        out[table] = rows[0]
    rows = yield pool.runQuery(
        "SELECT last_value FROM pg_sequences WHERE sequencename = 'contacts_id_seq'")
    out["contacts_id_seq"] = rows[0][0]
    return out


def make_config(directory, keep=3):
    return fts_config.load(None, environ={"FTS_BACKUP_DIRECTORY": str(directory),
                                          "FTS_BACKUP_KEEP": str(keep)})


class NamingTests(unittest.SynchronousTestCase):

    def test_name(self):
        """A backup is named by its UTC time; a second one in the same second gets -2."""
        self.assertEqual(backup_name(AT, set()), "fts-20260112-030000.dump")
        self.assertEqual(
            backup_name(AT, {"fts-20260112-030000.dump", "fts-20260112-030000-2.dump"}),
            "fts-20260112-030000-3.dump")

    def test_expired(self):
        """Retention deletes the oldest, by time then sequence, and ignores other files."""
        names = ["fts-20260112-030000-2.dump", "notes.txt", "fts-20260111-030000.dump",
                 "fts-20260112-030000.dump", "fts-20260113-030000.dump",
                 "fts-pre-restore-20260101-000000.dump", ".fts-20260114-030000.dump.partial"]
        self.assertEqual(expired(names, 2), ["fts-20260111-030000.dump",
                                             "fts-20260112-030000.dump"])
        self.assertEqual(expired(names, 10), [])
        self.assertIsNone(backup_key("fts-2026-01-12.dump"))


class BackupTests(DatabaseTestCase):

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        yield self.pool.runOperation(fixture.setup_sql())
        yield self.pool.runOperation(fixture.archive_sql())
        [(campaign,)] = yield self.pool.runQuery("SELECT id FROM campaigns")
        yield ReportStore(self.pool).build_final(campaign)
        self.directory = Path(self.mktemp())
        self.clock = task.Clock()
        self.clock.advance(AT.timestamp())

    def backup_job(self, keep=3, dsn=None):
        return BackupJob(reactor, make_config(self.directory, keep), dsn or self.dsn,
                         clock=self.clock)

    @defer.inlineCallbacks
    def restored_pool(self, dsn):
        pool = Pool(reactor, dsn, size=1)
        yield pool.start()
        self.addCleanup(pool.close)
        return pool

    @defer.inlineCallbacks
    def test_backup_restored_into_empty_database(self):
        """A backup restored into a new, empty database holds the same rows and sequences."""
        path = yield self.backup_job().run()
        self.assertEqual(path, str(self.directory / "fts-20260112-030000.dump"))
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(sorted(os.listdir(self.directory)), ["fts-20260112-030000.dump"])
        target = self.dsn.replace(" dbname=", " dbname=r_")
        self.addCleanup(child.run, reactor, *self._dropdb(target))
        yield replace_database(reactor, path, target)
        pool = yield self.restored_pool(target)
        before = yield fingerprint(self.pool)
        after = yield fingerprint(pool)
        self.assertEqual(after, before)
        self.assertEqual(after["contacts"][0], 12)
        # The restored schema works: reports read the same, ids continue.
        [(campaign,)] = yield pool.runQuery("SELECT id FROM campaigns")
        restored = yield ReportStore(pool).snapshot(campaign)
        original = yield ReportStore(self.pool).snapshot(campaign)
        self.assertEqual(restored, original)
        [(new_id,)] = yield pool.runQuery(
            "INSERT INTO contacts (list_id, row_number, phone, phone_original)"
            " SELECT id, 99, '33699999999', 'x' FROM contact_lists RETURNING id")
        self.assertEqual(new_id, before["contacts_id_seq"] + 1)

    def _dropdb(self, dsn):
        maintenance, env = child.connection(dsn, database="postgres")
        from fts.db.embedded import binaries

        return ([str(binaries() / "dropdb"), "--if-exists", f"--maintenance-db={maintenance}",
                 child.database_name(dsn)], env)

    @defer.inlineCallbacks
    def test_restore_over_a_fresh_migrated_database(self):
        """restore(clean=True) over a freshly migrated database leaves the backup's data."""
        path = yield self.backup_job().run()
        dsn, drop = yield fresh_database()
        self.addCleanup(drop)
        yield restore(reactor, path, dsn, clean=True)
        pool = yield self.restored_pool(dsn)
        before = yield fingerprint(self.pool)
        after = yield fingerprint(pool)
        self.assertEqual(after, before)

    @defer.inlineCallbacks
    def test_retention_keeps_the_newest(self):
        """With keep = 2, after four backups the two newest remain."""
        job = self.backup_job(keep=2)
        paths = []
        for _ in range(3):
            paths.append((yield job.run()))
            self.clock.advance(3600)
        paths.append((yield job.run()))
        self.assertEqual([p.name for p in backups(self.directory)],
                         ["fts-20260112-050000.dump", "fts-20260112-060000.dump"])
        self.assertEqual([Path(p).name for p in paths[2:]],
                         ["fts-20260112-050000.dump", "fts-20260112-060000.dump"])

    @defer.inlineCallbacks
    def test_same_second(self):
        """Two backups within one second both stay, the second suffixed -2."""
        job = self.backup_job()
        yield job.run()
        second = yield job.run()
        self.assertEqual(Path(second).name, "fts-20260112-030000-2.dump")
        self.assertEqual(len(backups(self.directory)), 2)

    @defer.inlineCallbacks
    def test_failed_dump_keeps_old_backups(self):
        """A failing pg_dump raises BackupFailed, leaves no partial file and deletes nothing."""
        yield self.backup_job(keep=1).run()
        self.clock.advance(60)
        broken = self.dsn.replace(" dbname=", " dbname=missing_")
        failure = yield self.assertFailure(self.backup_job(keep=1, dsn=broken).run(),
                                           BackupFailed)
        self.assertIn("pg_dump of missing_", str(failure))
        self.assertIn("does not exist", str(failure))
        self.assertEqual(sorted(os.listdir(self.directory)), ["fts-20260112-030000.dump"])

    @defer.inlineCallbacks
    def test_partial_left_by_a_crash_removed(self):
        """A partial file left by an interrupted backup is removed by the next run."""
        self.directory.mkdir(parents=True)
        (self.directory / ".fts-20260111-030000.dump.partial").write_bytes(b"half")
        yield self.backup_job().run()
        self.assertEqual(sorted(os.listdir(self.directory)), ["fts-20260112-030000.dump"])

    def test_job(self):
        """The job runs every [backup] interval, with retries."""
        job = self.backup_job().job()
        self.assertEqual((job.name, job.schedule.every, job.retries),
                         (JOB_NAME, 86400.0, 2))


class ChildTests(unittest.TestCase):

    @defer.inlineCallbacks
    def test_cancel_stops_the_child(self):
        """Cancelling a child's Deferred terminates the process."""
        running = child.start(reactor, ["/bin/sleep", "30"], dict(os.environ))
        running.result.cancel()
        self.failureResultOf(running.result, defer.CancelledError)
        ended = yield running.ended
        self.assertEqual(ended.signal, 15)

    @defer.inlineCallbacks
    def test_failure(self):
        """A non-zero exit fails with ProcessFailed naming the program and its last error."""
        failure = yield self.assertFailure(
            child.run(reactor, ["/bin/sh", "-c", "echo oops >&2; exit 3"], {}), ProcessFailed)
        self.assertEqual(str(failure), "sh ended with exit status 3: oops")

    def test_connection_keeps_password_out_of_argv(self):
        """The password goes to PGPASSWORD, the rest to the connection string."""
        target, env = child.connection("host=db user=fts password='p w' dbname=fts",
                                       database="postgres")
        self.assertNotIn("p w", target)
        self.assertEqual(env["PGPASSWORD"], "p w")
        self.assertIn("dbname=postgres", target)
        target, env = child.connection("postgresql://fts:secret@db:5433/prod")
        self.assertEqual((env["PGPASSWORD"], child.database_name(target)), ("secret", "prod"))
        self.assertNotIn("secret", target)
