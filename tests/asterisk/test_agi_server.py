"""
Tests for L{fts.asterisk.agi.server} and L{fts.asterisk.agi.router}: routing
by script name, the h extension, the session limit, failures, counters.
"""

import gc

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.agi.errors import AGIHangup, AGITimeout
from fts.asterisk.agi.router import H_EXTENSION, ScriptRouter
from fts.asterisk.agi.server import FastAGIServerFactory, SessionCounts
from fts.asterisk.agi.wire import Environment
from tests.asterisk.test_agi_session import HalfCloseableTransport
from tests.support import transcripts


def environment_bytes(name):
    """
    The environment block of a transcript.
    """
    data = transcripts.stream(transcripts.load(name))
    return data[: data.index(b"\n\n") + 2]


CAMPAIGN = environment_bytes("agi-session-answered-dtmf")
H_EXT = environment_bytes("agi-session-h-extension")
SECOND_CALL = environment_bytes("agi-session-hangup-midway")


def environment(**values):
    lines = [b"agi_network: yes\n"]
    for key, value in values.items():
        lines.append(("agi_%s: %s\n" % (key, value)).encode("ascii"))
    return b"".join(lines) + b"\n"


class Server:
    """
    A factory with recording scripts, and helpers to open connections.
    """

    def __init__(self, max_sessions=10, scripts=None, h_extension=None):
        self.clock = Clock()
        self.started = []
        self.finish = {}
        if scripts is None:
            scripts = {"campaign": self.script, "hangup": self.script}
        self.factory = FastAGIServerFactory(
            ScriptRouter(scripts, h_extension=h_extension),
            self.clock,
            max_sessions=max_sessions,
        )

    def script(self, session):
        self.started.append(session)
        d = self.finish[session] = Deferred()
        return d

    def connect(self, data=None):
        transport = HalfCloseableTransport()
        protocol = self.factory.buildProtocol(None)
        protocol.makeConnection(transport)
        if data is not None:
            protocol.dataReceived(data)
        return protocol, transport


class RouterTests(SynchronousTestCase):
    """
    Script names and the h extension choose the function.
    """

    def test_by_script_name(self):
        """
        agi_network_script picks the function; slashes are ignored; an
        unknown name gives C{None}.
        """
        call, campaign = object(), object()
        router = ScriptRouter({"call": call, "campaign": campaign})
        self.assertEqual(
            router.resolve(Environment({"agi_network_script": "call"})), ("call", call)
        )
        self.assertEqual(
            router.resolve(Environment({"agi_network_script": "/campaign/"})),
            ("campaign", campaign),
        )
        self.assertEqual(
            router.resolve(Environment({"agi_network_script": "nope"})), ("nope", None)
        )

    def test_h_extension(self):
        """
        An h-extension session goes to the h_extension function whatever
        its script; without one it is routed by name.
        """
        h, hangup = object(), object()
        env = Environment({"agi_network_script": "hangup", "agi_extension": "h"})
        self.assertEqual(ScriptRouter({"hangup": hangup}, h).resolve(env), (H_EXTENSION, h))
        self.assertEqual(ScriptRouter({"hangup": hangup}).resolve(env), ("hangup", hangup))


class RoutingTests(SynchronousTestCase):
    """
    The server starts the routed script for each session and closes the
    session when the script ends.
    """

    def test_script_gets_the_session(self):
        """
        The campaign script is called with a session holding the
        environment, once the environment is complete.
        """
        server = Server()
        protocol, transport = server.connect()
        protocol.dataReceived(CAMPAIGN[:100])
        self.assertEqual(server.started, [])
        protocol.dataReceived(CAMPAIGN[100:])
        [session] = server.started
        self.assertEqual(session.environment.uniqueid, "1795347861.0")
        self.assertEqual(server.factory.counts(), SessionCounts(1, 1, 1, 0, 0, 0))

    def test_script_end_closes_session(self):
        """
        When the script's Deferred fires the session half-closes; the
        connection count drops when Asterisk closes.
        """
        server = Server()
        protocol, transport = server.connect(CAMPAIGN)
        [session] = server.started
        self.assertFalse(transport.write_closed)
        server.finish[session].callback(None)
        self.assertTrue(transport.write_closed)
        self.assertEqual(server.factory.counts(), SessionCounts(1, 0, 1, 0, 0, 0))
        protocol.dataReceived(b"HANGUP\n")
        protocol.connectionLost(Failure(Exception("closed")))
        self.assertEqual(server.factory.counts(), SessionCounts(0, 0, 1, 0, 0, 0))

    def test_h_extension_routed_to_its_function(self):
        """
        The h-extension connection goes to the h_extension function, with a
        session that is hung up from the start.
        """
        server = Server()
        h_sessions = []

        def on_hangup(session):
            h_sessions.append(session)
            return succeed(None)

        server.factory.router = ScriptRouter({"campaign": server.script}, on_hangup)
        server.connect(CAMPAIGN)
        protocol, transport = server.connect(H_EXT)
        [session] = h_sessions
        self.assertTrue(session.hung_up)
        self.assertEqual(session.environment.uniqueid, server.started[0].environment.uniqueid)
        self.assertTrue(transport.write_closed)

    def test_unknown_script(self):
        """
        A script name nobody registered is logged and the session closed
        cleanly (no traceback), counted as unrouted.
        """
        server = Server()
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        protocol, transport = server.connect(environment(network_script="nope", channel="X"))
        self.assertTrue(transport.write_closed)
        self.assertEqual(server.started, [])
        self.assertEqual(server.factory.counts().unrouted, 1)
        messages = [e for e in events if "no FastAGI script" in e.get("log_format", "")]
        self.assertEqual(len(messages), 1)
        self.assertEqual(messages[0]["script"], "nope")
        self.assertNotIn("log_failure", messages[0])

    def test_script_crash_is_logged(self):
        """
        A script that raises is logged with its traceback, counted as
        failed, and its session closed.
        """

        def broken(session):
            raise RuntimeError("bug in the call flow")

        server = Server(scripts={"campaign": broken})
        protocol, transport = server.connect(CAMPAIGN)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertTrue(transport.write_closed)
        self.assertEqual(server.factory.counts(), SessionCounts(1, 0, 1, 0, 0, 1))

    def test_hangup_ending_a_script_is_not_a_failure(self):
        """
        A script that lets L{AGIHangup} escape ends normally: no error
        logged, not counted as failed.
        """
        server = Server()
        server.connect(CAMPAIGN)
        [session] = server.started
        server.finish[session].errback(AGIHangup("the channel hung up"))
        self.assertEqual(server.factory.counts().failed, 0)
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_agi_error_is_a_logged_failure(self):
        """
        A script ending with another AGI error (a timeout) is counted as
        failed and logged as a warning, not a traceback.
        """
        server = Server()
        server.connect(CAMPAIGN)
        [session] = server.started
        server.finish[session].errback(AGITimeout("no reply"))
        self.assertEqual(server.factory.counts().failed, 1)
        self.assertEqual(self.flushLoggedErrors(), [])


class LimitTests(SynchronousTestCase):
    """
    At most max_sessions scripts run; excess sessions are refused.
    """

    def test_excess_session_refused(self):
        """
        With the limit reached a new session is half-closed at once and
        counted; once a script ends, a new session is accepted.
        """
        server = Server(max_sessions=1)
        server.connect(CAMPAIGN)
        protocol, transport = server.connect(SECOND_CALL)
        self.assertTrue(transport.write_closed)
        self.assertEqual(len(server.started), 1)
        self.assertEqual(server.factory.counts(), SessionCounts(2, 1, 1, 1, 0, 0))
        server.finish[server.started[0]].callback(None)
        protocol, transport = server.connect(SECOND_CALL)
        self.assertFalse(transport.write_closed)
        self.assertEqual(len(server.started), 2)

    def test_h_extension_never_refused(self):
        """
        The h-extension session runs even at the limit.
        """
        server = Server(max_sessions=1)
        server.connect(CAMPAIGN)
        protocol, transport = server.connect(H_EXT)
        self.assertEqual(len(server.started), 2)
        self.assertFalse(transport.write_closed)
        self.assertEqual(server.factory.counts().active, 2)


class EnvironmentTimeoutTests(SynchronousTestCase):
    """
    A connection that never completes its environment is dropped.
    """

    def test_incomplete_environment_aborted(self):
        """
        No empty line within environment_timeout: the connection is aborted.
        """
        server = Server()
        protocol, transport = server.connect(b"agi_network: yes\n")
        server.clock.advance(9.5)
        self.assertFalse(transport.aborted)
        server.clock.advance(1)
        self.assertTrue(transport.aborted)
        protocol.connectionLost(Failure(Exception("aborted")))
        self.assertEqual(server.factory.counts(), SessionCounts(0, 0, 0, 0, 0, 0))

    def test_complete_environment_not_aborted(self):
        """
        Once the environment is complete the timeout no longer applies.
        """
        server = Server()
        protocol, transport = server.connect(CAMPAIGN)
        server.clock.advance(60)
        self.assertFalse(transport.aborted)


class CyclicGarbageTests(SynchronousTestCase):
    """
    A finished session is freed by reference counting alone, so a server
    can run with automatic full collections off (long pauses with thousands
    of live sessions) without garbage piling up.
    """

    OURS = ("AGISession", "FastAGIProtocol", "AGIParser", "_Command", "Environment")

    def run_sessions(self, flow, replies):
        server = Server(scripts={"campaign": lambda s: Deferred.fromCoroutine(flow(s))})
        for _ in range(20):
            protocol, transport = server.connect(CAMPAIGN)
            for line in replies:
                protocol.dataReceived(line)
            protocol.connectionLost(Failure(Exception("closed")))
        self.assertEqual(server.factory.counts().active, 0)

    def garbage_of(self, flow, replies):
        gc.collect()
        gc.disable()
        self.addCleanup(gc.enable)
        gc.set_debug(gc.DEBUG_SAVEALL)
        self.addCleanup(gc.set_debug, 0)
        self.addCleanup(gc.garbage.clear)
        self.run_sessions(flow, replies)
        gc.collect()
        return [type(o).__name__ for o in gc.garbage if type(o).__name__ in self.OURS]

    def test_completed_session(self):
        """
        A script that runs to its end leaves no cycle.
        """

        async def flow(session):
            await session.answer()
            await session.stream_file("beep")
            await session.hangup()

        replies = [
            b"200 result=0\n",
            b"200 result=0 endpos=3404\n",
            b"200 result=1\n",
            b"HANGUP\n",
        ]
        self.assertEqual(self.garbage_of(flow, replies), [])

    def test_hangup_escaping_the_script(self):
        """
        A script ended by an uncaught L{AGIHangup} leaves no cycle (the
        server breaks the traceback's).
        """

        async def flow(session):
            await session.answer()
            await session.stream_file("beep")

        replies = [b"200 result=0\n", b"200 result=-1 endpos=10\n", b"HANGUP\n", b"HANGUP\n"]
        self.assertEqual(self.garbage_of(flow, replies), [])

    def test_hangup_caught_by_the_script(self):
        """
        A script that catches L{AGIHangup} and goes on leaves no cycle.
        """

        async def flow(session):
            try:
                await session.wait_for_digit(1000)
            except AGIHangup:
                await session.get_variable("FTS_CONTACT")

        replies = [b"200 result=-1\n", b"HANGUP\n", b"200 result=1 (42)\n", b"HANGUP\n"]
        self.assertEqual(self.garbage_of(flow, replies), [])
