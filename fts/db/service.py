"""
The C{db} service: the embedded PostgreSQL when no DSN is configured, the
connection pool, and the migrations, ready before anything that needs them.
"""

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

from fts import health as H
from fts.db import migrate
from fts.db.embedded import EmbeddedPostgres, shared_buffers
from fts.db.pool import CONNECTION_ERRORS, Pool
from fts.db.store import Store

log = Logger()


class DatabaseUnreachable(Exception):
    """
    PostgreSQL could not be reached within the start-up timeout.
    """


class DatabaseService(service.Service):
    """
    @ivar store: the L{Store}; other services may hold it from the start,
        and use it once this service is ready.
    """

    name = "db"

    def __init__(self, reactor, settings, data_dir, health, embedded_settings=None,
                 phone_rules=None, tts_available=True, default_dial_string=""):
        self.reactor = reactor
        self.settings = settings
        self.health = health.component("db")
        self.embedded = None
        if not settings.dsn:
            server = {"shared_buffers": shared_buffers(settings.embedded_shared_buffers)}
            self.embedded = EmbeddedPostgres(
                reactor, data_dir / "pg", settings={**server, **(embedded_settings or {})})
        self.pool = Pool(reactor, self.dsn, size=settings.pool_size)
        self.store = Store(self.pool, phone_rules, clock=reactor, tts_available=tts_available,
                           default_dial_string=default_dial_string)

    @property
    def dsn(self):
        return self.settings.dsn or self.embedded.dsn()

    @defer.inlineCallbacks
    def startService(self):
        service.Service.startService(self)
        self.health.set(H.STARTING)
        try:
            if self.embedded is not None:
                self.health.set(H.STARTING, embedded=str(self.embedded.directory))
                yield self.embedded.start()
            yield self._connect(self.settings.connect_timeout)
            applied = yield migrate.apply(self.pool)
            if applied:
                log.info("database schema migrated to version {version}",
                         version=applied[-1])
        except Exception as e:
            self.health.set(H.DOWN, error=e)
            yield self._close()
            raise
        self.pool.on_state_change(self._pool_state)
        self.health.set(H.UP)

    def _pool_state(self, state):
        self.health.set({"up": H.UP, "degraded": H.DEGRADED}.get(state, H.DOWN),
                        error=self.pool.last_error if state != "up" else None)

    @defer.inlineCallbacks
    def _connect(self, timeout):
        """
        Open the pool, retrying until C{timeout} seconds have passed (a
        database starting alongside us may take a moment).
        """
        deadline = self.reactor.seconds() + timeout
        delay = 0.2
        while True:
            try:
                yield self.pool.start()
                return
            except CONNECTION_ERRORS as e:
                error = " ".join(str(e).split())
                if self.reactor.seconds() + delay > deadline:
                    raise DatabaseUnreachable(
                        f"PostgreSQL did not answer within {timeout:g} s: {error}")
                log.warn("database not reachable yet ({error}); retrying", error=error)
                yield _sleep(self.reactor, delay)
                delay = min(delay * 2, 2.0)

    @defer.inlineCallbacks
    def _close(self):
        self.pool.close()
        if self.embedded is not None:
            yield self.embedded.stop()

    @defer.inlineCallbacks
    def stopService(self):
        service.Service.stopService(self)
        yield self._close()
        self.health.set(H.STOPPED)


def _sleep(reactor, seconds):
    d = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d
