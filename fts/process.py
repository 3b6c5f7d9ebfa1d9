"""
Run a child process without blocking the reactor.
"""

import os

import attr
from twisted.internet import defer, error, protocol


@attr.s(frozen=True, slots=True)
class ProcessResult:
    """
    What a finished child process left: its exit code (or the signal that
    ended it) and everything it printed.
    """

    argv = attr.ib()
    code = attr.ib()
    signal = attr.ib()
    out = attr.ib()
    err = attr.ib()

    @property
    def ok(self):
        return self.code == 0

    def describe(self):
        """
        One line for a log or an error: the command and how it ended, with the
        last line it printed on stderr.
        """
        how = f"exit status {self.code}" if self.signal is None else f"signal {self.signal}"
        last = self.err.decode("utf-8", "replace").strip().splitlines()
        tail = f": {last[-1]}" if last else ""
        return f"{os.path.basename(self.argv[0])} ended with {how}{tail}"


class ProcessFailed(Exception):
    """
    A child process ended with a non-zero status.
    """

    def __init__(self, result):
        self.result = result
        super().__init__(result.describe())


class _Collect(protocol.ProcessProtocol):
    def __init__(self, argv, stdin):
        self.argv = argv
        self.stdin = stdin
        self.out = []
        self.err = []
        self.done = defer.Deferred()

    def connectionMade(self):
        if self.stdin is not None:
            self.transport.write(self.stdin)
        self.transport.closeStdin()

    def outReceived(self, data):
        self.out.append(data)

    def errReceived(self, data):
        self.err.append(data)

    def processEnded(self, reason):
        code, signal = 0, None
        if reason.check(error.ProcessTerminated):
            code, signal = reason.value.exitCode, reason.value.signal
        self.done.callback(ProcessResult(
            argv=tuple(self.argv), code=code, signal=signal,
            out=b"".join(self.out), err=b"".join(self.err),
        ))


def run(reactor, argv, env=None, path=None, uid=None, gid=None, stdin=None, check=True):
    """
    Run C{argv} and collect its output.

    @param env: the child's environment (default: this process's).
    @param uid: run as this user id (only when we are root).
    @param check: fail with L{ProcessFailed} on a non-zero exit.
    @return: a Deferred firing with a L{ProcessResult}.
    """
    collect = _Collect(argv, stdin)
    reactor.spawnProcess(
        collect, argv[0], list(argv),
        env=dict(os.environ) if env is None else env,
        path=path, uid=uid, gid=gid,
    )
    if not check:
        return collect.done

    def checked(result):
        if not result.ok:
            raise ProcessFailed(result)
        return result

    return collect.done.addCallback(checked)
