"""
Tests for the FastAGI fast path: coroutine scripts run by the server's own
driver (L{fts.asterisk.agi.server._ScriptDriver}) with each awaited verb
resumed directly, the one timeout ticket per session, the environment kept
as text until used as a mapping, and the caches of encoded commands and
parsed replies.
"""

import gc

from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.agi import wire
from fts.asterisk.agi.errors import AGIHangup, AGITimeout, AGIUsageError
from fts.asterisk.agi.router import ScriptRouter
from fts.asterisk.agi.server import FastAGIServerFactory
from fts.asterisk.agi.session import SessionSettings
from fts.asterisk.agi.wire import AGIParser, Environment, Reply
from tests.asterisk.test_agi_session import ENVIRONMENT, HalfCloseableTransport

SETTINGS = SessionSettings(
    command_timeout=10.0, media_timeout=600.0, hangup_grace=1.0, close_timeout=5.0
)


class Native:
    """
    A server running C{flow} (an C{async def}) as the C{campaign} script,
    without Deferred.fromCoroutine, and one connection to it.
    """

    def __init__(self, flow, settings=SETTINGS):
        self.clock = Clock()
        self.factory = FastAGIServerFactory(
            ScriptRouter({"campaign": flow}), self.clock, settings=settings
        )
        self.transport = HalfCloseableTransport()
        self.protocol = self.factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        self.protocol.dataReceived(ENVIRONMENT)

    def sent(self):
        value = self.transport.value()
        self.transport.clear()
        return value

    def receive(self, data):
        self.protocol.dataReceived(data)

    def lose(self):
        self.protocol.connectionLost(Failure(Exception("closed")))


class DriverTests(SynchronousTestCase):
    """
    An C{async def} script is driven by the server itself.
    """

    def test_verbs_in_order_with_their_results(self):
        """
        Each awaited verb gets its converted result; when the script
        returns the session is closed and the counters say so.
        """
        seen = []

        async def flow(session):
            seen.append(await session.answer())
            seen.append(await session.stream_file("beep", "12"))
            seen.append(await session.wait_for_digit(5000))
            seen.append(await session.get_variable("FTS_CONTACT"))
            seen.append(await session.set_variable("FTS_STATE", "played it"))

        c = Native(flow)
        self.assertEqual(c.sent(), b"ANSWER\n")
        c.receive(b"200 result=0\n")
        self.assertEqual(c.sent(), b'STREAM FILE beep "12"\n')
        c.receive(b"200 result=50 endpos=1234\n")
        self.assertEqual(c.sent(), b"WAIT FOR DIGIT 5000\n")
        c.receive(b"200 result=0\n")
        self.assertEqual(c.sent(), b"GET VARIABLE FTS_CONTACT\n")
        c.receive(b"200 result=1 (42)\n")
        self.assertEqual(c.sent(), b'SET VARIABLE FTS_STATE "played it"\n')
        self.assertFalse(c.transport.write_closed)
        c.receive(b"200 result=1\n")
        self.assertEqual(seen, [None, ("2", 1234), None, "42", None])
        self.assertTrue(c.transport.write_closed)
        counts = c.factory.counts()
        self.assertEqual((counts.active, counts.total, counts.failed), (0, 1, 0))

    def test_hangup_thrown_into_the_script(self):
        """
        A hang-up fails the awaited verb inside the script, which can catch
        it and go on with the verbs a dead channel allows.
        """
        seen = []

        async def flow(session):
            try:
                await session.stream_file("hello")
            except AGIHangup as e:
                seen.append(type(e))
            seen.append(await session.get_variable("AMDSTATUS"))

        c = Native(flow)
        c.sent()
        c.receive(b"200 result=-1 endpos=160\n")
        self.assertEqual(seen, [])
        c.receive(b"HANGUP\n")
        self.assertIs(seen[0], AGIHangup)
        self.assertEqual(c.sent(), b"GET VARIABLE AMDSTATUS\n")
        c.receive(b"200 result=1 (HUMAN)\n")
        self.assertEqual(seen[1], "HUMAN")
        self.assertEqual(c.factory.counts().failed, 0)

    def test_uncaught_hangup_is_not_a_failure(self):
        """
        A script ended by an uncaught L{AGIHangup} is not counted as failed
        and leaves no logged error.
        """

        async def flow(session):
            await session.wait_for_digit(1000)

        c = Native(flow)
        c.receive(b"200 result=-1\nHANGUP\n")
        self.assertEqual(c.factory.counts().failed, 0)
        self.assertEqual(c.factory.counts().active, 0)
        self.assertTrue(c.transport.write_closed)

    def test_other_errors_counted(self):
        """
        An uncaught AGI error other than a hang-up, and a crash, count as
        failed; the crash is logged with its traceback.
        """

        async def usage(session):
            await session.command("DATABASE GET")

        c = Native(usage)
        c.receive(b"520-Invalid command syntax.  Proper usage follows:\n520 End of proper usage.\n")
        self.assertEqual(c.factory.counts().failed, 1)

        async def crash(session):
            await session.answer()
            1 / 0

        c = Native(crash)
        c.receive(b"200 result=0\n")
        self.assertEqual(c.factory.counts().failed, 1)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertTrue(c.transport.write_closed)

    def test_raises_before_awaiting(self):
        """
        A script that raises at once is a failure like any other.
        """

        async def flow(session):
            raise ValueError("bad campaign")

        c = Native(flow)
        self.assertEqual(c.factory.counts().failed, 1)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        self.assertTrue(c.transport.write_closed)

    def test_other_deferreds(self):
        """
        A script may await any Deferred: its result is sent in, its
        failure thrown in.
        """
        later = Deferred()
        failing = Deferred()
        seen = []

        async def flow(session):
            seen.append(await later)
            try:
                await failing
            except KeyError as e:
                # Not the exception itself: its traceback would make a cycle
                # through this frame and `seen`.
                seen.append(type(e))
            await session.answer()

        c = Native(flow)
        self.assertEqual(c.sent(), b"")
        later.callback("ready")
        failing.errback(KeyError("x"))
        self.assertEqual(seen[0], "ready")
        self.assertIs(seen[1], KeyError)
        self.assertEqual(c.sent(), b"ANSWER\n")

    def test_awaiting_something_else(self):
        """
        Awaiting what is not a Deferred (an asyncio future, say) fails the
        script with a TypeError that says so.
        """

        class Foreign:
            def __await__(self):
                yield "not a deferred"

        async def flow(session):
            await Foreign()

        c = Native(flow)
        [error] = self.flushLoggedErrors(TypeError)
        self.assertIn("may only await Deferreds", str(error.value))
        self.assertEqual(c.factory.counts().failed, 1)

    def test_awaited_verb_left_fired(self):
        """
        After a direct await the verb's Deferred is fired with its result
        consumed, as inlineCallbacks would leave it: awaiting it again or
        adding a callback does not hang.
        """
        verbs = []
        seen = []

        async def flow(session):
            d = session.answer()
            verbs.append(d)
            await d
            seen.append(await d)
            await session.hangup()

        c = Native(flow)
        c.receive(b"200 result=0\n")
        self.assertTrue(verbs[0].called)
        self.assertEqual(seen, [None])
        self.assertIsNone(self.successResultOf(verbs[0]))
        self.assertEqual(c.sent(), b"ANSWER\nHANGUP\n")

    def test_callbacks_added_while_awaited(self):
        """
        Someone else adding callbacks to a verb the script awaits gets the
        result too.
        """
        verbs = []
        seen = []

        async def flow(session):
            d = session.get_variable("X")
            verbs.append(d)
            seen.append(await d)

        c = Native(flow)
        other = []
        verbs[0].addCallback(other.append)
        c.receive(b"200 result=1 (v)\n")
        self.assertEqual((seen, other), (["v"], ["v"]))

    def test_cancel_awaited_verb(self):
        """
        Cancelling a verb the script awaits throws CancelledError in; the
        reply that comes later is ignored.
        """
        verbs = []
        seen = []

        async def flow(session):
            d = session.wait_for_digit(-1)
            verbs.append(d)
            try:
                await d
            except CancelledError:
                seen.append("cancelled")

        c = Native(flow)
        verbs[0].cancel()
        self.assertEqual(seen, ["cancelled"])
        c.receive(b"200 result=49\n")
        self.assertEqual(c.factory.counts().failed, 0)

    def test_connection_lost_while_awaiting(self):
        """
        The connection closing fails the awaited verb in the script.
        """
        seen = []

        async def flow(session):
            try:
                await session.answer()
            except AGIHangup as e:
                seen.append(type(e).__name__)

        c = Native(flow)
        c.lose()
        self.assertEqual(seen, ["AGIConnectionLost"])
        self.assertEqual(c.factory.counts().active, 0)

    def test_inline_callbacks_still_work(self):
        """
        Scripts returning Deferreds (inlineCallbacks, like the call flow)
        run as before.
        """
        seen = []

        @inlineCallbacks
        def flow(session):
            seen.append((yield session.stream_file("beep")))

        c = Native(flow)
        c.receive(b"200 result=0 endpos=99\n")
        self.assertEqual(seen, [(None, 99)])
        self.assertTrue(c.transport.write_closed)


class NoCyclesTests(SynchronousTestCase):
    """
    Sessions run by the driver are freed by reference counting alone.
    """

    OURS = ("AGISession", "FastAGIProtocol", "AGIParser", "Command", "Environment",
            "_ScriptDriver")

    def garbage_of(self, flow, replies):
        gc.collect()
        gc.disable()
        self.addCleanup(gc.enable)
        gc.set_debug(gc.DEBUG_SAVEALL)
        self.addCleanup(gc.set_debug, 0)
        self.addCleanup(gc.garbage.clear)
        for _ in range(20):
            c = Native(flow)
            for line in replies:
                c.receive(line)
            c.lose()
            self.assertEqual(c.factory.counts().active, 0)
        gc.collect()
        return [type(o).__name__ for o in gc.garbage if type(o).__name__ in self.OURS]

    def test_completed(self):
        async def flow(session):
            await session.answer()
            await session.stream_file("beep")
            await session.hangup()

        replies = [b"200 result=0\n", b"200 result=0 endpos=3404\n", b"200 result=1\n", b"HANGUP\n"]
        self.assertEqual(self.garbage_of(flow, replies), [])

    def test_hangup_escaping(self):
        async def flow(session):
            await session.answer()
            await session.stream_file("beep")

        replies = [b"200 result=0\n", b"200 result=-1 endpos=10\n", b"HANGUP\n", b"HANGUP\n"]
        self.assertEqual(self.garbage_of(flow, replies), [])

    def test_hangup_caught(self):
        async def flow(session):
            try:
                await session.wait_for_digit(1000)
            except AGIHangup:
                await session.get_variable("FTS_CONTACT")

        replies = [b"200 result=-1\n", b"HANGUP\n", b"200 result=1 (42)\n", b"HANGUP\n"]
        self.assertEqual(self.garbage_of(flow, replies), [])


class OneTicketTests(SynchronousTestCase):
    """
    A session keeps one timeout ticket for its commands and its close.
    """

    def test_short_timeout_after_a_long_one(self):
        """
        A command with a 10 s timeout after one with a 600 s timeout still
        times out after 10 s (the ticket is moved earlier).
        """
        errors = []

        async def flow(session):
            await session.stream_file("long")
            try:
                await session.get_variable("X")
            except AGITimeout as e:
                errors.append(e)

        c = Native(flow)
        c.clock.advance(300)
        c.receive(b"200 result=0 endpos=1\n")
        c.clock.advance(9.5)
        self.assertEqual(errors, [])
        c.clock.advance(0.7)
        self.assertEqual(len(errors), 1)
        self.assertTrue(c.transport.aborted)

    def test_long_timeout_after_a_short_one(self):
        """
        The early ticket of a completed short command fires without
        effect and the long command's own timeout still applies.
        """
        errors = []

        async def flow(session):
            await session.answer()
            try:
                await session.stream_file("long")
            except AGITimeout as e:
                errors.append(e)

        c = Native(flow)
        c.receive(b"200 result=0\n")
        c.clock.advance(20)
        self.assertFalse(c.transport.aborted)
        c.clock.advance(560)
        self.assertEqual(errors, [])
        c.clock.advance(20.2)
        self.assertEqual(len(errors), 1)

    def test_grace_then_close_timeout(self):
        """
        After a -1 result the grace applies (1 s), then the close timeout
        (5 s) once the script ended.
        """
        errors = []

        async def flow(session):
            try:
                await session.stream_file("missing")
            except Exception as e:
                errors.append(type(e).__name__)

        c = Native(flow)
        c.receive(b"200 result=-1 endpos=0\n")
        c.clock.advance(1.2)
        self.assertEqual(errors, ["AGICommandFailed"])
        self.assertTrue(c.transport.write_closed)
        c.clock.advance(4.5)
        self.assertFalse(c.transport.aborted)
        c.clock.advance(0.7)
        self.assertTrue(c.transport.aborted)

    def test_no_ticket_left_after_the_connection_closed(self):
        async def flow(session):
            await session.stream_file("x")

        c = Native(flow)
        c.lose()
        self.assertEqual(len(c.factory.deadlines), 0)


class LazyEnvironmentTests(SynchronousTestCase):
    """
    The parser hands a usual environment over as text.
    """

    BLOCK = (
        b"agi_network: yes\n"
        b"agi_request: agi://10.0.0.1:4573/call\n"
        b"agi_extension: h\n"
        b"agi_arg_1: one\n"
        b"agi_arg_2: \n"
        b"agi_priority: 3\n"
        b"agi_callerid: a: b\n"
        b"agi_callerid: second\n"
        b"agi_dnid:unspaced\n"
        b"\n"
    )

    def test_accessors_match_the_mapping(self):
        [env] = AGIParser().feed(self.BLOCK)
        self.assertIsNotNone(env._text)
        self.assertEqual(env.request, "agi://10.0.0.1:4573/call")
        self.assertTrue(env.is_h_extension)
        self.assertEqual(env.arguments, ("one", ""))
        self.assertEqual(env.priority, 3)
        self.assertEqual(env.callerid, "second")
        self.assertEqual(env.dnid, "unspaced")
        self.assertEqual(env.channel, "")
        self.assertIsNotNone(env._text, "accessors do not build the dict")
        accessors = (env.request, env.callerid, env.dnid, env.arguments, env.priority)
        self.assertEqual(env["agi_callerid"], "second")
        self.assertIsNone(env._text)
        self.assertEqual(
            (env.request, env.callerid, env.dnid, env.arguments, env.priority), accessors
        )
        self.assertEqual(len(env), 8)
        self.assertEqual(
            env,
            Environment({
                "agi_network": "yes", "agi_request": "agi://10.0.0.1:4573/call",
                "agi_extension": "h", "agi_arg_1": "one", "agi_arg_2": "",
                "agi_priority": "3", "agi_callerid": "second", "agi_dnid": "unspaced",
            }),
        )

    def test_unusual_lines_take_the_checked_path(self):
        """
        A line that is not C{agi_name:} is reported as before.
        """
        items = AGIParser().feed(b"agi_network: yes\nbogus\nAGI_X: 1\n\n")
        self.assertEqual(
            items,
            [
                wire.ProtocolError("environment line without 'key:'", b"bogus"),
                Environment({"agi_network": "yes", "AGI_X": "1"}),
            ],
        )


class CacheTests(SynchronousTestCase):
    """
    Encoded commands and parsed replies are remembered, never confused.
    """

    def test_lines_keyed_by_their_text(self):
        """
        Arguments that compare equal but print differently (1 and True)
        give their own lines.
        """
        lines = []

        async def flow(session):
            await session.exec_("Wait", 1)
            await session.exec_("Wait", True)
            await session.set_variable("X", "1")
            await session.set_variable("X", 1)
            await session.set_variable("X", True)

        c = Native(flow)
        for _ in range(5):
            lines.append(c.sent())
            c.receive(b"200 result=0\n")
        self.assertEqual(
            lines,
            [b"EXEC Wait 1\n", b"EXEC Wait True\n", b"SET VARIABLE X 1\n",
             b"SET VARIABLE X 1\n", b"SET VARIABLE X True\n"],
        )

    def test_bad_argument_not_cached(self):
        async def flow(session):
            await session.set_variable("X", "a\nb")

        c = Native(flow)
        self.assertEqual(c.sent(), b"")
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    def test_replies_cache_bounded(self):
        self.patch(wire, "_SEEN", {})
        self.patch(wire, "_SEEN_LIMIT", 3)
        parser = AGIParser()
        parser.feed(b"\n")
        for n in range(5):
            [item] = parser.feed(b"200 result=0 endpos=%d\n" % (n,))
            self.assertEqual(item, Reply(200, "0", None, n))
        self.assertLessEqual(len(wire._SEEN), 3)
        [again] = parser.feed(b"200 result=0 endpos=4\n")
        self.assertIs(again, item)

    def test_usage_error_not_cached_as_reply(self):
        parser = AGIParser()
        parser.feed(b"\n")
        [item] = parser.feed(b"520 Invalid command syntax.\n")
        self.assertIsInstance(item, wire.UsageError)
        self.assertIsInstance(AGIUsageError("x", None, item).lines, tuple)
