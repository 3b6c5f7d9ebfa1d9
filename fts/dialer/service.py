"""
The C{dialer} service: runs the L{Dialer} while this daemon holds the
dialer's leadership, and stands by otherwise.

Leadership is a PostgreSQL session-level advisory lock held on a dedicated
connection (L{fts.db.dialing.LeaderLock}): a daemon that dies, even by
SIGKILL, loses its session and so the lock.  A standby tries to take it
every C{standby_retry} seconds (so it takes over within about that, plus
the time to reconcile the calls the other left).  The leader proves its
session alive every C{heartbeat_interval} seconds by writing its heartbeat
and status row through that same connection; if that fails, the lock may
be gone, and it stops placing calls at once (calls in flight are still
followed; the next leader adopts them too, and duplicate events share
their idempotency keys).

Stopping: no new call, claimed contacts back to pending, wait up to
C{[dialer] shutdown_grace} for the calls in flight, release the lock.
"""

import os
import socket

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

from fts import health as H
from fts.db.dialing import DialingStore, LeaderLock, as_datetime
from fts.dialer.pacer import Dialer

__all__ = ["DialerService", "default_instance_id"]

log = Logger()


def default_instance_id():
    return "%s-%d" % (socket.gethostname(), os.getpid())


class DialerService(service.Service):
    """
    @param reactor: the reactor (clock and connections).
    @param pool: the L{fts.db.pool.Pool}, or a callable returning it (the
        database service opens it when it starts).
    @param events: the event writer (see L{Dialer}).
    @param lines: the L{fts.dialer.line.IPBXLine}s.
    @param settings: the C{[dialer]} settings (C{max_channels}, C{cps},
        C{dial_string}, C{shutdown_grace}).
    @param health: the daemon's L{fts.health.Health}, or C{None}.
    @param instance_id: this daemon's id (C{dialer_instances}, claims).
    @param transition: see L{Dialer}.
    @param dialer_options: more keyword arguments for L{Dialer}.

    @ivar dialer: the L{Dialer}.
    @ivar role: C{"starting"}, C{"leader"}, C{"standby"} or C{"stopped"}.
    """

    name = "dialer"

    def __init__(self, reactor, pool, events, lines, settings, health=None, instance_id=None,
                 transition=None, standby_retry=1.0, heartbeat_interval=2.0, version=None,
                 **dialer_options):
        self.reactor = reactor
        self.events = events
        self.lines = list(lines)
        self.settings = settings
        self.health = health.component("dialer", critical=False) if health else None
        self.instance_id = instance_id or default_instance_id()
        self.standby_retry = standby_retry
        self.heartbeat_interval = heartbeat_interval
        self.version = version
        self.store = _LazyStore(pool)
        s = settings
        #: The L{Dialer}, built now so that the call flow (its registry,
        #: C{campaign_settings}), the panel (controls) and the life-cycle
        #: jobs (C{hangup}, C{on_call_ended}) can be wired to it.
        self.dialer = Dialer(reactor, self.store, events, self.lines, self.instance_id,
                             max_channels=s.max_channels, cps=s.cps,
                             dial_string=s.dial_string, transition=transition,
                             **dialer_options)
        self.lock = None
        self.role = "starting"
        self._timer = None
        self._busy = False
        self._activation = None

    # -- service -------------------------------------------------------------

    @defer.inlineCallbacks
    def startService(self):
        service.Service.startService(self)
        pool = self.store.pool
        self.lock = LeaderLock(self.reactor, pool.dsn, self.instance_id)
        self.lock.on_campaign_change(self.dialer.campaign_changed)
        try:
            yield self.store.register_instance(self.instance_id, self._now(), self.version)
        except Exception as e:
            log.warn("dialer {instance}: cannot register in dialer_instances ({error})",
                     instance=self.instance_id, error=e)
        self._report()
        # Leadership is sought in the background: a standby must not hold up
        # the start of the services after it (the panel, the jobs).
        self._schedule(0)

    @defer.inlineCallbacks
    def stopService(self):
        service.Service.stopService(self)
        self._cancel()
        if self._activation is not None:
            yield _settled(self._activation)
        if self.dialer is not None and self.role == "leader":
            remaining = yield self.dialer.drain(self.settings.shutdown_grace)
            log.info("dialer stopped with {n} calls in flight", n=remaining)
        if self.dialer is not None:
            self.dialer.deactivate()
        if self.lock is not None:
            self.lock.drop()
        self.role = "stopped"
        self._report()
        if self.store is not None:
            try:
                yield self.store.instance_stopped(self.instance_id, self._now())
            except Exception as e:
                log.warn("dialer {instance}: cannot record its stop ({error})",
                         instance=self.instance_id, error=e)

    # -- leadership ------------------------------------------------------------

    def _now(self):
        return as_datetime(self.reactor.seconds())

    def _schedule(self, delay):
        self._cancel()
        if self.running:
            self._timer = self.reactor.callLater(delay, self._tick)

    def _cancel(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _tick(self):
        self._timer = None
        if self._busy or not self.running:
            return
        self._busy = True
        d = self._heartbeat() if self.role == "leader" else self._seek()
        d.addErrback(lambda f: log.failure("dialer leadership", f))

        def done(_):
            self._busy = False
            if self.running:
                self._schedule(self.heartbeat_interval if self.role == "leader"
                               else self.standby_retry)

        d.addBoth(done)

    @defer.inlineCallbacks
    def _seek(self):
        try:
            held = yield self.lock.try_acquire(self._now())
        except Exception as e:
            if self.role != "standby":
                log.warn("dialer {instance}: cannot reach the database for leadership ({error});"
                         " retrying", instance=self.instance_id, error=e)
            self.role = "standby"
            self._report(error=e)
            return
        if not held:
            if self.role != "standby":
                log.info("dialer {instance}: standby; another daemon holds the dialer lock",
                         instance=self.instance_id)
            self.role = "standby"
            self._report()
            return
        log.info("dialer {instance}: took the dialer lock; this daemon dials",
                 instance=self.instance_id)
        self.role = "leader"
        self._activation = self.dialer.activate()
        try:
            yield self._activation
        except Exception as e:
            log.failure("dialer {instance}: could not start dialing; giving up the lock",
                        instance=self.instance_id)
            self._lose(e)
        finally:
            self._activation = None
        self._report()

    @defer.inlineCallbacks
    def _heartbeat(self):
        try:
            yield self.lock.heartbeat(self._now(), self.dialer.health_details())
        except Exception as e:
            log.error("dialer {instance}: its leadership connection failed ({error}); no new"
                      " calls until it holds the lock again", instance=self.instance_id,
                      error=e)
            self._lose(e)
            return
        self._report()

    def _lose(self, error):
        self.dialer.deactivate()
        self.lock.drop()
        self.role = "standby"
        self._report(error=error)

    # -- health ----------------------------------------------------------------

    def _report(self, error=None):
        if self.health is None:
            return
        details = {"role": self.role, "instance": self.instance_id}
        if self.dialer is not None and self.role == "leader":
            details.update(self.dialer.health_details())
        state = {"leader": H.UP, "standby": H.UP, "starting": H.STARTING,
                 "stopped": H.STOPPED}[self.role]
        if self.role == "leader" and not self.dialer.active:
            state = H.DEGRADED
        self.health.set(state, error=error, **details)


class _LazyStore:
    """
    A L{DialingStore} on a pool that may only exist once the database
    service has started (given as a callable).
    """

    def __init__(self, pool):
        self._source = pool
        self._store = None

    def _resolve(self):
        if self._store is None:
            pool = self._source() if callable(self._source) else self._source
            self._store = DialingStore(pool)
        return self._store

    @property
    def pool(self):
        return self._resolve().pool

    def __getattr__(self, name):
        return getattr(self._resolve(), name)


def _settled(d):
    done = defer.Deferred()
    d.addBoth(lambda r: (done.callback(None), r)[1])
    return done
