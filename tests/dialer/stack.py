"""
The real dialing stack for integration tests, all in this process on the
real reactor over loopback: the PBX simulator (AMI server + FastAGI
client), a FastAGI server holding answered calls until the callee hangs
up, the real AMI client, L{AMILine}, the real event writer, and the
L{Dialer} on a fresh database.
"""

import time

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.task import deferLater

from fts.asterisk.agi.router import ScriptRouter
from fts.asterisk.agi.server import FastAGIServerFactory
from fts.asterisk.ami.client import AMIClient
from fts.db.dialing import DialingStore
from fts.db.events import EventStore
from fts.dialer.amiline import AMILine
from fts.dialer.pacer import Dialer
from fts.events.writer import EventWriter, thread_runner
from fts.pbxsim.service import PBXSimulator


def _hold(session):
    """
    The call flow stand-in: keep the call until the callee hangs up.
    """
    return session.when_hung_up()


def _nothing(session):
    return None


@defer.inlineCallbacks
def agi_server(test):
    """
    A FastAGI server on an ephemeral loopback port; returns its port number.
    """
    factory = FastAGIServerFactory(ScriptRouter({"call": _hold, "hangup": _nothing}),
                                   reactor, max_sessions=100000)
    port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)

    def stop():
        # The shared deadline timer stays armed after its last entry is
        # cancelled; the test reactor must be clean.
        timer = factory.deadlines._timer
        if timer is not None and timer.active():
            timer.cancel()
        return port.stopListening()

    test.addCleanup(stop)
    return port.getHost().port


@defer.inlineCallbacks
def simulator(test, callee, agi_port, scale=0.01, capacity=1000,
              endpoint="tcp:0:interface=127.0.0.1"):
    """
    A started PBX simulator; returns it (its AMI port is
    C{sim.port.getHost().port}).
    """
    sim = PBXSimulator(reactor, ami_endpoint=endpoint,
                       agi_address=("127.0.0.1", agi_port), callee=callee, scale=scale,
                       capacity=capacity)
    sim.startService()
    yield sim.listening
    test.addCleanup(lambda: sim.running and sim.stopService())
    return sim


@defer.inlineCallbacks
def ami_line(test, sim, name="sim", capacity=100, cps=1000.0, port=None):
    """
    A logged-in AMI client to C{sim} and its line.
    """
    port = port if port is not None else sim.port.getHost().port
    client = AMIClient(name, TCP4ClientEndpoint(reactor, "127.0.0.1", port), "fts", "fts",
                       reactor, events="call", keepalive_interval=None,
                       retry_policy=lambda attempt: 0.2, action_timeout=5.0)
    client.startService()
    test.addCleanup(lambda: client.running and client.stopService())
    yield client.when_connected()
    return AMILine(client, reactor, capacity, cps), client


@defer.inlineCallbacks
def event_writer(test, pool):
    """
    The real event writer on C{pool}, started, with a spool in a temporary
    directory.
    """
    writer = EventWriter(EventStore(pool), test.mktemp(), reactor, thread_runner(reactor),
                         max_delay=0.005)
    yield writer.startService()
    test.addCleanup(writer.stopService)
    return writer


def dialer(pool, writer, lines, **kwargs):
    kwargs.setdefault("max_channels", 200)
    kwargs.setdefault("cps", 1000)
    return Dialer(reactor, DialingStore(pool), writer, lines, "it-%d" % (time.monotonic_ns(),),
                  **kwargs)


@defer.inlineCallbacks
def wait_until(predicate, timeout=20.0, interval=0.02):
    """
    Wait (real time) until C{predicate()} (which may return a Deferred) is
    true.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = yield defer.maybeDeferred(predicate)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %s s" % (timeout,))
        yield deferLater(reactor, interval, lambda: None)


def sleep(seconds):
    return deferLater(reactor, seconds, lambda: None)
