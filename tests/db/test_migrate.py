"""
Tests for L{fts.db.migrate} on a real PostgreSQL.
"""

from pathlib import Path

from twisted.internet import defer
from twisted.trial import unittest

from fts.db import migrate
from fts.db.migrate import Migration, MigrationError
from tests.support.db import DatabaseTestCase


class DiscoverTests(unittest.SynchronousTestCase):
    def folder(self, files):
        path = Path(self.mktemp())
        path.mkdir()
        for name, text in files.items():
            (path / name).write_text(text)
        return path

    def test_order(self):
        """
        Migrations come in version order, whatever their names.
        """
        found = migrate.discover(self.folder({
            "0002_b.sql": "SELECT 2", "0010_a.sql": "SELECT 10", "0001_z.sql": "SELECT 1"}))
        self.assertEqual([m.version for m in found], [1, 2, 10])
        self.assertEqual(found[0].name, "0001_z")

    def test_misnamed(self):
        """
        A file not named NNNN_description.sql is refused by name.
        """
        e = self.assertRaises(MigrationError, migrate.discover,
                              self.folder({"1_init.sql": ""}))
        self.assertIn("1_init.sql", str(e))

    def test_duplicate_version(self):
        """
        Two files with one version are refused.
        """
        self.assertRaises(MigrationError, migrate.discover,
                          self.folder({"0001_a.sql": "", "0001_b.sql": ""}))

    def test_shipped_migrations_are_well_formed(self):
        """
        The shipped migrations are numbered from 1 without gaps.
        """
        versions = [m.version for m in migrate.discover()]
        self.assertEqual(versions, list(range(1, len(versions) + 1)))
        self.assertTrue(versions)


class ApplyTests(DatabaseTestCase):
    """
    The test database is already migrated with the shipped files; these
    tests add their own on top.
    """

    @defer.inlineCallbacks
    def test_applied_twice_is_a_noop(self):
        """
        Applying the shipped migrations again changes nothing.
        """
        before = yield self.pool.runQuery("SELECT version, applied_at FROM schema_version")
        applied = yield migrate.apply(self.pool)
        after = yield self.pool.runQuery("SELECT version, applied_at FROM schema_version")
        self.assertEqual(applied, [])
        self.assertEqual(before, after)

    @defer.inlineCallbacks
    def test_new_migration_applied_once(self):
        """
        A new migration is applied and recorded; the next run skips it.
        """
        extra = migrate.discover() + [
            Migration(900, "0900_extra", "CREATE TABLE extra (x int)")]
        self.assertEqual((yield migrate.apply(self.pool, extra)), [900])
        self.assertEqual((yield migrate.apply(self.pool, extra)), [])
        rows = yield self.pool.runQuery("SELECT name FROM schema_version WHERE version = 900")
        self.assertEqual(rows, [("0900_extra",)])

    @defer.inlineCallbacks
    def test_failure_changes_nothing(self):
        """
        When one migration fails, none of the pending ones is applied, and the
        error names the file.
        """
        extra = migrate.discover() + [
            Migration(901, "0901_good", "CREATE TABLE good (x int)"),
            Migration(902, "0902_bad", "CREATE TABLE bad (x nosuchtype)"),
        ]
        e = yield self.assertFailure(migrate.apply(self.pool, extra), MigrationError)
        self.assertIn("0902_bad.sql failed", str(e))
        rows = yield self.pool.runQuery("SELECT to_regclass('good')")
        self.assertEqual(rows, [(None,)])

    @defer.inlineCallbacks
    def test_concurrent_runs_apply_once(self):
        """
        Two daemons migrating at once: the advisory lock makes one wait, and
        the migration is applied exactly once.
        """
        extra = migrate.discover() + [
            Migration(903, "0903_once", "CREATE TABLE once (x int)")]
        results = yield defer.gatherResults(
            [migrate.apply(self.pool, extra), migrate.apply(self.pool, extra)])
        self.assertEqual(sorted(results), [[], [903]])
