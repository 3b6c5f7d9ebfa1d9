"""
Restoring a backup.

  - L{restore}: C{pg_restore} of a dump into an existing (normally empty)
    database, in a single transaction: it either all applies or nothing
    does.  Owners and privileges are not restored, so the objects belong
    to the restoring user (a backup of the embedded server restores into a
    managed one and back).
  - L{replace_database}: what C{python -m fts.backup restore} does, the
    daemon being stopped: save the current database with pg_dump (unless
    told not to), drop it, create it empty (from template0, UTF-8), restore
    the backup into it.  C{dropdb} refuses while anyone is connected, so a
    daemon still running makes it fail before anything is dropped.
"""

from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger

from fts.backup import child
from fts.db import embedded as embedded_pg

log = Logger()


def _binary(bin_dir, name):
    return str((Path(bin_dir) if bin_dir is not None else embedded_pg.binaries()) / name)


def restore(reactor, dump, dsn, bin_dir=None, clean=False):
    """
    Restore the custom-format dump C{dump} into the database of C{dsn}.

    @param clean: drop the dump's objects first (C{--clean --if-exists}),
        to restore over a database holding the same schema.
    @return: a Deferred firing with the L{fts.process.ProcessResult}, or
        failing with L{fts.process.ProcessFailed} (pg_restore's last error
        line in its message).
    """
    target, env = child.connection(dsn)
    argv = [_binary(bin_dir, "pg_restore"), "--exit-on-error", "--single-transaction",
            "--no-owner", "--no-privileges", "--no-password", f"--dbname={target}"]
    if clean:
        argv += ["--clean", "--if-exists"]
    argv.append(str(dump))
    return child.run(reactor, argv, env)


@defer.inlineCallbacks
def replace_database(reactor, dump, dsn, bin_dir=None, save_to=None):
    """
    Replace the database of C{dsn} by the backup C{dump}.

    @param save_to: where to dump the current database first (a file path),
        or L{None} not to.
    @return: a Deferred firing when the database holds the backup.
    """
    name = child.database_name(dsn)
    maintenance, env = child.connection(dsn, database="postgres")
    if save_to is not None:
        target, _ = child.connection(dsn)
        yield child.run(reactor, [_binary(bin_dir, "pg_dump"), "--format=custom",
                                  "--no-password", f"--file={save_to}",
                                  f"--dbname={target}"], env)
        log.info("saved the current database {name} to {path}", name=name, path=str(save_to))
    yield child.run(reactor, [_binary(bin_dir, "dropdb"), "--if-exists", "--no-password",
                              f"--maintenance-db={maintenance}", name], env)
    yield child.run(reactor, [_binary(bin_dir, "createdb"), "--template=template0",
                              "--encoding=UTF8", "--no-password",
                              f"--maintenance-db={maintenance}", name], env)
    yield restore(reactor, dump, dsn, bin_dir)
    log.info("database {name} restored from {path}", name=name, path=str(dump))
