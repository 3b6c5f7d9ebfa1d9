"""
The backup job: C{pg_dump -Fc} of FTS's database into the backup directory,
keeping the newest C{[backup] keep} files.

  - The dump is written to C{.fts-YYYYmmdd-HHMMSS.dump.partial} (created
    beforehand with mode 0600: a dump holds phone numbers and password
    hashes) and renamed to C{fts-YYYYmmdd-HHMMSS.dump} only when pg_dump
    succeeded, so a file with the final name is always a complete dump.
    The timestamp is UTC, from the injected reactor's clock; a second
    backup within the same second gets C{-2}, C{-3}... appended.
  - Retention runs after a successful dump only (a failing pg_dump never
    deletes good backups); partial files left by a crash are removed at the
    next run.
  - The binaries are the embedded server's (the C{pgserver} wheel ships
    PostgreSQL 16 client programs) unless C{bin_dir} names others; for a
    configured server newer than 16, pass the matching client's directory.
  - pg_dump runs as the daemon's own user, also with the embedded server
    under root: it is a client (only the server refuses root), root reaches
    the server's socket in its 0700 directory, and the dump file then
    belongs to root in a directory pgserver cannot read.
"""

import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger

from fts.backup import child
from fts.db import embedded as embedded_pg
from fts.jobs.job import Job
from fts.jobs.schedule import Interval
from fts.process import ProcessFailed

log = Logger()

JOB_NAME = "backup-database"
_NAME = re.compile(r"^fts-(\d{8})-(\d{6})(?:-(\d+))?\.dump$")
_PARTIAL = re.compile(r"^\.fts-.*\.dump\.partial$")


class BackupFailed(Exception):
    """
    pg_dump failed; no backup was written and none was deleted.
    """


def backup_key(name):
    """
    The sort key of a backup file name (oldest first), or L{None} if the
    name is not one of ours.
    """
    match = _NAME.match(name)
    if match is None:
        return None
    return match.group(1), match.group(2), int(match.group(3) or 1)


def backups(directory):
    """
    The backup files in C{directory}, oldest first.
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    ours = [n for n in names if backup_key(n) is not None]
    return [Path(directory) / n for n in sorted(ours, key=backup_key)]


def expired(names, keep):
    """
    The names to delete so that only the newest C{keep} backups remain.
    """
    ours = sorted((n for n in names if backup_key(n) is not None), key=backup_key)
    return ours[:max(len(ours) - keep, 0)]


def backup_name(at, taken):
    """
    The file name of a backup taken at C{at} (aware), not in C{taken}.
    """
    stamp = at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    name, sequence = f"fts-{stamp}.dump", 1
    while name in taken:
        sequence += 1
        name = f"fts-{stamp}-{sequence}.dump"
    return name


class BackupJob:
    """
    Backups of one database.

    @param config: the L{fts.config.Config} (C{backup_dir}, C{[backup]
        keep, interval, enabled}).
    @param database: the DSN of a configured server, or the
        L{fts.db.embedded.EmbeddedPostgres} the daemon runs.
    @param bin_dir: directory of pg_dump (default: the pgserver binaries).
    @param clock: what the file names' timestamps are read from (default:
        the reactor).
    """

    def __init__(self, reactor, config, database, bin_dir=None, clock=None):
        self.reactor = reactor
        self.clock = clock or reactor
        self.directory = Path(config.backup_dir)
        self.keep = config.backup.keep
        self.interval = config.backup.interval
        self.enabled = config.backup.enabled
        self.database = database
        self.bin_dir = Path(bin_dir) if bin_dir is not None else None

    @property
    def dsn(self):
        if isinstance(self.database, str):
            return self.database
        return self.database.dsn()

    def _binary(self, name):
        return str((self.bin_dir or embedded_pg.binaries()) / name)

    def job(self, timeout=6 * 3600.0, retries=2, retry_delay=900.0):
        """
        The L{Job} taking a backup every C{[backup] interval} seconds (the
        first one interval after the start).  The lead registers it when
        C{[backup] enabled}.
        """
        return Job(JOB_NAME, [self.run], schedule=Interval(self.interval),
                   timeout=timeout, retries=retries, retry_delay=retry_delay,
                   description=f"Back up the database into {self.directory}"
                               f" (keep {self.keep})")

    @defer.inlineCallbacks
    def run(self, _input=None):
        """
        Take one backup and apply the retention.  A job step.

        @return: a Deferred firing with the backup's path (text).
        @raise BackupFailed: pg_dump failed (nothing deleted).
        """
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._remove_partials()
        at = datetime.fromtimestamp(self.clock.seconds(), UTC)
        name = backup_name(at, set(os.listdir(self.directory)))
        final = self.directory / name
        partial = self.directory / f".{name}.partial"
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        target, env = child.connection(self.dsn)
        argv = [self._binary("pg_dump"), "--format=custom", "--no-password",
                f"--file={partial}", f"--dbname={target}"]
        started = time.monotonic()
        try:
            yield child.run(self.reactor, argv, env)
        except ProcessFailed as e:
            _unlink(partial)
            raise BackupFailed(f"pg_dump of {child.database_name(self.dsn)} failed: {e}")
        except BaseException:
            _unlink(partial)
            raise
        os.replace(partial, final)
        _sync_directory(self.directory)
        deleted = self.apply_retention()
        log.info("database backup written to {path} ({size} bytes in {seconds:.1f} s);"
                 " {kept} kept, {deleted} old deleted", path=str(final),
                 size=final.stat().st_size, seconds=time.monotonic() - started,
                 kept=len(backups(self.directory)), deleted=len(deleted))
        return str(final)

    def apply_retention(self):
        """
        Delete all but the newest C{keep} backups.

        @return: the deleted paths.
        """
        doomed = [self.directory / n for n in expired(os.listdir(self.directory), self.keep)]
        for path in doomed:
            _unlink(path)
            log.info("deleted old backup {path} (keeping the newest {keep})",
                     path=str(path), keep=self.keep)
        return doomed

    def _remove_partials(self):
        for name in os.listdir(self.directory):
            if _PARTIAL.match(name):
                log.warn("removing {path}, left by an interrupted backup",
                         path=str(self.directory / name))
                _unlink(self.directory / name)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _sync_directory(directory):
    """
    Make the rename durable (pg_dump already synced the file itself).
    """
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
