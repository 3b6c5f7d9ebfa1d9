"""
Run a real C{twistd -n fts} as a child process in tests and benchmarks.
"""

import json
import os
import re
import signal
import sys
from pathlib import Path

import treq
from twisted.internet import defer, protocol, task

ROOT = Path(__file__).resolve().parents[2]

# What the web service logs once it listens (fts.web.service).
_LISTENING = re.compile(r"admin panel and API at (http://[^/\s]+)/")


class _Output(protocol.ProcessProtocol):
    def __init__(self):
        self.output = []
        self.ended = defer.Deferred()
        self.status = None

    def outReceived(self, data):
        self.output.append(data)

    errReceived = outReceived

    def processEnded(self, reason):
        self.status = reason.value.exitCode, reason.value.signal
        self.ended.callback(reason.value.exitCode)


class Daemon:
    """
    One C{twistd -n fts} process with its own data directory and ports.
    """

    def __init__(self, reactor, data_dir, args=(), env=None):
        self.reactor = reactor
        self.data_dir = str(data_dir)
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.env["PYTHONPATH"] = str(ROOT)
        self.process = None
        self.output = _Output()

    @property
    def url(self):
        """
        The panel's base URL, read from the daemon's log once it listens
        (C{None} before).  The daemon picks its own free ports (port 0):
        a port chosen here and handed over could be taken in between, as
        the local port of any outgoing connection, and the daemon would
        then exit at start-up.
        """
        found = _LISTENING.search(self.text())
        return found.group(1) if found else None

    def start(self):
        twistd = str(Path(sys.executable).parent / "twistd")
        argv = [twistd, "-n", "--pidfile=", "fts",
                "--data-dir", self.data_dir,
                "--web", "tcp:0:interface=127.0.0.1",
                "--agi", "tcp:0:interface=127.0.0.1", *self.args]
        self.process = self.reactor.spawnProcess(
            self.output, argv[0], argv, env=self.env, path=str(ROOT))
        return self.output.ended

    @defer.inlineCallbacks
    def health(self, timeout=30.0):
        """
        Poll /health until it answers (or C{timeout} passes, or the process
        ends): C{(code, body)}.
        """
        deadline = self.reactor.seconds() + timeout
        while True:
            if self.output.ended.called:
                raise AssertionError("daemon exited early (exit code, signal: %r):\n%s"
                                     % (self.output.status, self.text()))
            try:
                if self.url is None:
                    raise LookupError("not listening yet")
                response = yield treq.get(self.url + "/health", timeout=2,
                                          persistent=False)
                body = yield response.content()
                return response.code, json.loads(body)
            except Exception:
                if self.reactor.seconds() > deadline:
                    raise AssertionError("no /health within %ss:\n%s" % (timeout, self.text()))
                yield task.deferLater(self.reactor, 0.2, lambda: None)

    def terminate(self):
        """
        Send SIGTERM; the Deferred fires with the exit code.
        """
        if not self.output.ended.called:
            self.process.signalProcess(signal.SIGTERM)
        return self.output.ended

    def kill(self):
        if not self.output.ended.called:
            self.process.signalProcess(signal.SIGKILL)
        return self.output.ended

    def text(self):
        return b"".join(self.output.output).decode("utf-8", "replace")
