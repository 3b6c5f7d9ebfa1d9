"""
Running the PostgreSQL client programs (pg_dump, pg_restore, createdb,
dropdb) as child processes, without blocking the reactor.

Unlike L{fts.process.run}, the Deferred can be cancelled, and cancelling it
stops the child (SIGTERM): the job runner cancels a step that outlives its
timeout, and a dump must not go on writing behind the retry.  Output is
bounded (the last 64 KiB of each stream are kept).

The connection is passed as C{--dbname} (or C{--maintenance-db}) without
the password, which goes in C{PGPASSWORD}, so it never shows in C{ps}.
The child's environment has no other C{PG*} variable, so a stray
C{PGHOST} or C{PGDATABASE} cannot redirect a restore.
"""

import os

import attr
from psycopg2.extensions import make_dsn, parse_dsn
from twisted.internet import defer, error, protocol

from fts.process import ProcessFailed, ProcessResult

_KEEP = 64 * 1024


def connection(dsn, database=None):
    """
    Split a libpq DSN (key=value or URI) for a client program.

    @param database: use this database name instead of the DSN's.
    @return: C{(connection string without password, environment)}.
    """
    params = parse_dsn(dsn)
    password = params.pop("password", None)
    if database is not None:
        params["dbname"] = database
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if password is not None:
        env["PGPASSWORD"] = password
    return make_dsn(**params), env


def database_name(dsn):
    """
    The database a DSN names (libpq's default: the user name).
    """
    params = parse_dsn(dsn)
    return params.get("dbname") or params.get("user") or os.environ.get("USER", "")


class _Child(protocol.ProcessProtocol):
    def __init__(self, argv):
        self.argv = argv
        self.out = b""
        self.err = b""
        self.done = defer.Deferred()

    def connectionMade(self):
        self.transport.closeStdin()

    def outReceived(self, data):
        self.out = (self.out + data)[-_KEEP:]

    def errReceived(self, data):
        self.err = (self.err + data)[-_KEEP:]

    def processEnded(self, reason):
        code, signal = 0, None
        if reason.check(error.ProcessTerminated):
            code, signal = reason.value.exitCode, reason.value.signal
        self.done.callback(ProcessResult(argv=tuple(self.argv), code=code, signal=signal,
                                         out=self.out, err=self.err))


@attr.frozen
class RunningChild:
    """
    A child process started by L{start}.

    @ivar result: fires with the L{ProcessResult} or fails with
        L{ProcessFailed}; cancelling it sends SIGTERM to the child.
    @ivar ended: fires with the L{ProcessResult} once the process is gone
        (also after a cancellation).
    """

    result: defer.Deferred
    ended: defer.Deferred


def start(reactor, argv, env):
    """
    Start C{argv}.

    @rtype: L{RunningChild}
    """
    child = _Child(argv)
    transport = reactor.spawnProcess(child, argv[0], list(argv), env=env)

    def cancel(d):
        try:
            transport.signalProcess("TERM")
        except error.ProcessExitedAlready:
            pass

    result = defer.Deferred(cancel)
    ended = defer.Deferred()

    def finished(outcome):
        if not result.called:  # else cancelled: the caller has moved on
            if outcome.ok:
                result.callback(outcome)
            else:
                result.errback(ProcessFailed(outcome))
        ended.callback(outcome)

    child.done.addCallback(finished)
    return RunningChild(result, ended)


def run(reactor, argv, env):
    """
    Run C{argv}; fail with L{ProcessFailed} on a non-zero exit.

    @return: a cancellable Deferred firing with a L{ProcessResult}.
    """
    return start(reactor, argv, env).result
