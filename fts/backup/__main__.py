"""
Backups from the command line::

    python -m fts.backup list    [--config FILE] [--data-dir DIR] [--dsn DSN]
    python -m fts.backup now     [--config FILE] [--data-dir DIR] [--dsn DSN]
    python -m fts.backup restore [--config FILE] [--data-dir DIR] [--dsn DSN]
                                 [--no-save] --yes BACKUP_FILE

The configuration is read as the daemon reads it (C{--config} or
C{FTS_CONFIG}, then C{FTS_*} variables, then the options).  With the
embedded database (no DSN), C{now} uses the server the daemon runs if it is
up and otherwise starts it for the duration; C{restore} requires the daemon
to be stopped (it starts the embedded server itself, replaces the database,
and stops it).  C{restore} first saves the current database as
C{fts-pre-restore-YYYYmmdd-HHMMSS.dump} in the backup directory unless
C{--no-save}.  Exit status: 0 done, 1 failed, 2 usage.
"""

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from twisted.internet import defer, task
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

from fts import config as fts_config
from fts.backup.dump import BackupJob, backups
from fts.backup.restore import replace_database
from fts.db.embedded import EmbeddedPostgres, running_postmaster

log = Logger()


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m fts.backup",
                                     description="FTS database backups.")
    parser.add_argument("command", choices=("list", "now", "restore"))
    parser.add_argument("file", nargs="?", help="the backup to restore")
    parser.add_argument("--config", default=os.environ.get("FTS_CONFIG"),
                        help="FTS configuration file (default: $FTS_CONFIG)")
    parser.add_argument("--data-dir", help="as the daemon's --data-dir")
    parser.add_argument("--dsn", help="as the daemon's --dsn")
    parser.add_argument("--no-save", action="store_true",
                        help="restore without saving the current database first")
    parser.add_argument("--yes", action="store_true",
                        help="confirm that restore replaces the current database")
    return parser.parse_intermixed_args(argv)


@defer.inlineCallbacks
def run_command(reactor, argv, out=sys.stdout):
    """
    Run one command.

    @return: a Deferred firing with the exit status.
    """
    try:
        args = _arguments(argv)
    except SystemExit as e:  # argparse: --help or a usage error, already printed
        return e.code
    try:
        config = fts_config.load(args.config, options={"data-dir": args.data_dir,
                                                        "dsn": args.dsn})
    except fts_config.ConfigError as e:
        print(f"fts.backup: configuration error: {e}", file=sys.stderr)
        return 2
    if args.command == "list":
        for path in backups(config.backup_dir):
            print(f"{path}  {path.stat().st_size} bytes", file=out)
        return 0
    if args.command == "restore" and (not args.file or not args.yes):
        print("fts.backup: restore needs the backup file and --yes (it replaces the current"
              " database; stop the daemon first)", file=sys.stderr)
        return 2
    if args.command == "restore" and not Path(args.file).is_file():
        print(f"fts.backup: no such file: {args.file}", file=sys.stderr)
        return 2

    server = None  # an embedded server started here, to stop at the end
    dsn = config.database.dsn
    if not dsn:
        embedded = EmbeddedPostgres(reactor, config.data_dir / "pg")
        pid = running_postmaster(embedded.directory)
        if pid is not None and args.command == "restore":
            print(f"fts.backup: the embedded PostgreSQL in {embedded.directory} is running"
                  f" (pid {pid}): stop the fts daemon first", file=sys.stderr)
            return 1
        if pid is None:
            yield embedded.start()
            server = embedded
        dsn = embedded.dsn()
    try:
        if args.command == "now":
            path = yield BackupJob(reactor, config, dsn).run()
            print(path, file=out)
        else:
            save_to = None
            if not args.no_save:
                config.backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                stamp = datetime.fromtimestamp(reactor.seconds(), UTC).strftime(
                    "%Y%m%d-%H%M%S")
                save_to = config.backup_dir / f"fts-pre-restore-{stamp}.dump"
            yield replace_database(reactor, Path(args.file).resolve(), dsn, save_to=save_to)
            print(f"restored {args.file}" + (f"; the previous database is saved in {save_to}"
                                             if save_to else ""), file=out)
        return 0
    except Exception as e:
        print(f"fts.backup: {args.command} failed: {e}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            yield server.stop()


def main(argv=None):
    """
    Entry point of C{python -m fts.backup}.
    """
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)],
                                     redirectStandardIO=False)

    def exit_with(code):
        raise SystemExit(code)

    task.react(lambda reactor: run_command(
        reactor, sys.argv[1:] if argv is None else argv).addCallback(exit_with))


if __name__ == "__main__":
    main()
