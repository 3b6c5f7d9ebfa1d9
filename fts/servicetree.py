"""
A service tree whose children start one after another, each waiting for the
previous one to be ready, and stop in reverse order, each waiting for the one
after it to have stopped.

Twisted's C{MultiService} starts every child at once and ignores the
Deferreds their C{startService} return; the dialer must not start before the
database is migrated, and the database must not close before the event
writer has flushed, so readiness is explicit here (like buildbot's
C{AsyncMultiService}).
"""

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()


class OrderedServices(service.MultiService):
    """
    A C{MultiService} with sequential, Deferred-aware start and stop.

    @ivar on_start_failure: called with the Failure when a child fails to
        start, after the children already started have been stopped.
    """

    def __init__(self, on_start_failure=None):
        super().__init__()
        self.on_start_failure = on_start_failure
        self._waiters = []
        self._ready_result = None  # True, or the start Failure
        self._starting = None
        self._started_children = []

    def when_ready(self):
        """
        A Deferred firing when every child has started (or failing with the
        first start failure).
        """
        if self._ready_result is True:
            return defer.succeed(None)
        if self._ready_result is not None:
            return defer.fail(self._ready_result)
        d = defer.Deferred()
        self._waiters.append(d)
        return d

    def _settle_ready(self, result):
        self._ready_result = result
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            if result is True:
                d.callback(None)
            else:
                d.errback(result)

    def privilegedStartService(self):
        # Children bind their own ports in startService, after their
        # dependencies are ready; nothing is started here.
        service.Service.privilegedStartService(self)

    def startService(self):
        service.Service.startService(self)
        self._starting = self._start_children()
        return self._starting

    @defer.inlineCallbacks
    def _start_children(self):
        for child in list(self):
            if not self.running:
                break
            name = child.name or repr(child)
            try:
                yield defer.maybeDeferred(child.startService)
            except Exception:
                failure = _current_failure()
                log.failure("could not start {service}", failure, service=name)
                yield self._stop_started()
                self._settle_ready(failure)
                if self.on_start_failure is not None:
                    self.on_start_failure(failure)
                return
            self._started_children.append(child)
            log.info("{service} ready", service=name)
        self._settle_ready(True)

    @defer.inlineCallbacks
    def _stop_started(self):
        while self._started_children:
            child = self._started_children.pop()
            try:
                yield defer.maybeDeferred(child.stopService)
            except Exception:
                log.failure("error stopping {service}", _current_failure(),
                            service=child.name)

    @defer.inlineCallbacks
    def stopService(self):
        service.Service.stopService(self)
        if self._starting is not None and not self._starting.called:
            # Let the child being started finish starting, then stop it too.
            yield _settle(self._starting)
        yield self._stop_started()


def _current_failure():
    return Failure()


def _settle(d):
    done = defer.Deferred()
    d.addBoth(lambda r: (done.callback(None), r)[1])
    return done
