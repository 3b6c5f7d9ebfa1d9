"""
Tests for L{fts.asterisk.ami.client.AMIClient}: login, reconnection with
backoff, connection state, subscriptions across reconnects, keepalive.

The far end is a few lines of sans-IO Asterisk in this module answering what
the client writes on a L{StringTransport}; time is a L{Clock}.
"""

import hashlib

from twisted.internet.defer import Deferred, fail
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.test.iosim import ConnectionCompleter
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from fts.asterisk.ami.client import AMIClient
from fts.asterisk.ami.errors import AMIConnectionLost, AMINotConnected
from fts.asterisk.ami.frames import FrameParser, serialize
from tests.support import transcripts

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


class Connection:
    """
    One accepted connection, with a minimal Asterisk on the far end.
    """

    def __init__(self, protocol, transport, secret, challenge="3141592"):
        self.protocol = protocol
        self.transport = transport
        self.secret = secret
        self.challenge = challenge
        self.actions = []
        self.answer_pings = True
        self.answer_login = True

    def receive(self, *messages):
        self.protocol.dataReceived(b"".join(serialize(m) for m in messages))

    def serve(self):
        """
        Answer every action written so far, as Asterisk would.
        """
        while self.transport.value():
            data = self.transport.value()
            self.transport.clear()
            for action in FrameParser(expect_banner=False).feed(data):
                self.actions.append(action)
                self.answer(action)

    def answer(self, action):
        aid = ("ActionID", action.action_id)
        if action.name == "Challenge":
            self.receive([("Response", "Success"), aid, ("Challenge", self.challenge)])
        elif action.name == "Login":
            if not self.answer_login:
                return
            key = hashlib.md5((self.challenge + self.secret).encode()).hexdigest()
            if action.get("Key") == key or action.get("Secret") == self.secret:
                self.receive(
                    [("Response", "Success"), aid, ("Message", "Authentication accepted")],
                    [("Event", "SuccessfulAuth"), ("AccountID", action["Username"])],
                )
            else:
                self.receive([("Response", "Error"), aid, ("Message", "Authentication failed")])
        elif action.name == "Ping":
            if self.answer_pings:
                self.receive([("Response", "Success"), aid, ("Ping", "Pong")])
        elif action.name == "Logoff":
            self.receive([("Response", "Goodbye"), aid, ("Message", "Thanks for all the fish.")])
        # Anything else is left unanswered; tests answer it themselves.

    def drop(self, reason=None):
        self.protocol.connectionLost(Failure(reason or ConnectionDone()))


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """
    An endpoint whose connection attempts the test accepts or refuses.
    """

    def __init__(self, secret="s3cret"):
        self.secret = secret
        self.attempts = []
        self.connections = []

    def connect(self, factory):
        d = Deferred()
        self.attempts.append((factory, d))
        return d

    def accept(self, serve=True):
        factory, d = self.attempts[-1]
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(BANNER)
        connection = Connection(protocol, transport, self.secret)
        self.connections.append(connection)
        d.callback(protocol)
        if serve:
            connection.serve()
        return connection

    def refuse(self):
        _, d = self.attempts[-1]
        d.errback(ConnectionRefusedError("127.0.0.1:5038"))


def make_client(secret="s3cret", **kwargs):
    clock = Clock()
    endpoint = FakeEndpoint()
    kwargs.setdefault("retry_policy", lambda failures: 2.0**failures)
    client = AMIClient("pbx-1", endpoint, "fts", secret, clock, **kwargs)
    return client, endpoint, clock


class LoginTests(SynchronousTestCase):
    """
    Connecting and logging in.
    """

    def test_md5_login(self):
        """
        The client logs in by MD5 challenge with the Events mask, then is
        connected; when_connected and on_connected fire.
        """
        client, endpoint, clock = make_client(events="call")
        waiting = client.when_connected()
        seen = []
        client.on_connected(seen.append)
        client.startService()
        self.assertEqual(client.state.status, "connecting")
        connection = endpoint.accept()
        challenge, login = connection.actions
        self.assertEqual(challenge.name, "Challenge")
        self.assertEqual(challenge["AuthType"], "MD5")
        self.assertEqual(login["Events"], "call")
        self.assertNotIn("Secret", login)
        self.assertIs(self.successResultOf(waiting), client)
        self.assertEqual(seen, [client])
        state = client.state
        self.assertEqual(state.status, "connected")
        self.assertEqual(state.banner, "Asterisk Call Manager/11.0.0")
        self.assertEqual(state.connected_since, clock.seconds())
        self.assertTrue(client.connected)
        self.assertEqual(state.as_dict()["name"], "pbx-1")

    def test_plain_login(self):
        """
        With auth='plain' the Login carries the Secret.
        """
        client, endpoint, _ = make_client(auth="plain", events=None)
        client.startService()
        connection = endpoint.accept()
        [login] = connection.actions
        self.assertEqual((login.name, login["Secret"]), ("Login", "s3cret"))
        self.assertNotIn("Events", login)
        self.assertTrue(client.connected)

    def test_login_failure_backs_off(self):
        """
        A refused login is a clear error; the client closes the connection
        and retries after growing delays, not in a tight loop.
        """
        client, endpoint, clock = make_client(secret="wrong")
        client.startService()
        delays = []
        for attempt in range(1, 4):
            connection = endpoint.accept()
            self.assertTrue(connection.transport.disconnecting)
            state = client.state
            self.assertEqual(state.status, "disconnected")
            self.assertEqual(state.last_error, "login refused: Authentication failed")
            self.assertEqual(state.failures, attempt)
            connection.drop()
            delay = client.state.next_attempt_at - clock.seconds()
            delays.append(delay)
            before = len(endpoint.attempts)
            clock.advance(delay - 0.01)
            self.assertEqual(len(endpoint.attempts), before)
            clock.advance(0.01)
            self.assertEqual(len(endpoint.attempts), before + 1)
        self.assertEqual(delays, [2.0, 4.0, 8.0])
        self.assertFalse(client.connected)

    def test_asterisk_closes_during_login(self):
        """
        Asterisk closing the socket while the login is pending counts as a
        failed attempt and is retried; nothing is logged as an error.
        """
        client, endpoint, clock = make_client()
        client.startService()
        connection = endpoint.accept(serve=False)
        connection.drop()
        self.assertEqual(client.state.status, "disconnected")
        self.assertIn("login did not complete", client.state.last_error)
        clock.advance(2)
        endpoint.accept()
        self.assertTrue(client.connected)
        self.assertEqual(client.state.failures, 0)

    def test_login_timeout(self):
        """
        A login that gets no answer times out, closes and is retried.
        """
        client, endpoint, clock = make_client(login_timeout=5)
        client.startService()
        connection = endpoint.accept(serve=False)
        clock.advance(5)
        self.assertTrue(connection.transport.disconnecting)
        self.assertIn("no answer to Challenge", client.state.last_error)
        connection.drop()
        clock.advance(2)
        self.assertEqual(len(endpoint.attempts), 2)

    def test_connect_refused_backs_off(self):
        """
        Refused connections are retried after growing delays, with the error
        and the time of the next attempt shown in the state.
        """
        client, endpoint, clock = make_client()
        client.startService()
        endpoint.refuse()
        state = client.state
        self.assertEqual(state.status, "disconnected")
        self.assertIn("Connection was refused", state.last_error)
        self.assertEqual(state.next_attempt_at, 2.0)
        clock.advance(2)
        self.assertEqual(client.state.status, "connecting")
        endpoint.refuse()
        self.assertEqual(client.state.next_attempt_at, 2.0 + 4.0)
        clock.advance(4)
        endpoint.accept()
        self.assertEqual(client.state.status, "connected")
        self.assertEqual(client.state.failures, 0)

    def test_state_transitions(self):
        """
        The state goes connecting, logging_in, connected, disconnected,
        connecting... and stopped.
        """
        client, endpoint, clock = make_client()
        moves = []
        client.listen_state(lambda old, new: moves.append(new.status))
        client.startService()
        connection = endpoint.accept()
        connection.drop()
        clock.advance(2)
        endpoint.accept()
        client.stopService()
        self.assertEqual(
            moves,
            [
                "connecting",
                "logging_in",
                "connected",
                "disconnected",
                "connecting",
                "logging_in",
                "connected",
                "stopped",
            ],
        )


class ConnectionTests(SynchronousTestCase):
    """
    Life with a connection: actions, subscriptions, loss, keepalive, stop.
    """

    def test_subscriptions_survive_reconnect(self):
        """
        Subscriptions by name and for all events keep working on the next
        connection; unsubscribing stops them.
        """
        client, endpoint, clock = make_client()
        hangups, everything = [], []
        client.subscribe("hangup", hangups.append)
        stop_all = client.subscribe(None, everything.append)
        client.startService()
        first = endpoint.accept()
        first.receive([("Event", "Hangup"), ("Uniqueid", "1")], [("Event", "Newchannel")])
        first.drop()
        clock.advance(2)
        second = endpoint.accept()
        second.receive([("Event", "Hangup"), ("Uniqueid", "2")])
        self.assertEqual([e["Uniqueid"] for e in hangups], ["1", "2"])
        self.assertEqual(
            [e.name for e in everything],
            ["SuccessfulAuth", "Hangup", "Newchannel", "SuccessfulAuth", "Hangup"],
        )
        stop_all()
        stop_all()
        second.receive([("Event", "Hangup"), ("Uniqueid", "3")])
        self.assertEqual(len(everything), 5)
        self.assertEqual(len(hangups), 3)

    def test_subscriber_error_logged(self):
        """
        A subscriber that raises is logged; the others still get the event.
        """
        client, endpoint, _ = make_client()
        got = []
        client.subscribe("Hangup", lambda e: 1 / 0)
        client.subscribe("Hangup", got.append)
        client.startService()
        endpoint.accept().receive([("Event", "Hangup")])
        self.assertEqual(len(got), 1)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_transcript_events_to_subscribers(self):
        """
        The events of a real call reach the subscribers by name.
        """
        client, endpoint, _ = make_client()
        counts = {}
        client.subscribe(None, lambda e: counts.__setitem__(e.name, counts.get(e.name, 0) + 1))
        client.startService()
        connection = endpoint.accept()
        for block in transcripts.load("ami-events-during-call.txt"):
            connection.protocol.dataReceived(block.data)
        self.assertEqual(counts["Hangup"], 2)
        self.assertEqual(counts["OriginateResponse"], 1)
        self.assertEqual(sum(counts.values()), 92 + 1)

    def test_disconnect_fails_pending_then_not_connected(self):
        """
        Losing the connection fails pending actions with AMIConnectionLost;
        while disconnected, actions fail at once with AMINotConnected, naming
        the state.
        """
        client, endpoint, clock = make_client()
        client.startService()
        connection = endpoint.accept()
        pending = client.getvar("Local/1@x-1;1", "FTS_CONTACT")
        connection.drop()
        self.assertTrue(self.failureResultOf(pending, AMIConnectionLost).value.sent)
        failure = self.failureResultOf(client.ping(), AMINotConnected)
        self.assertIn("AMI pbx-1 is disconnected", str(failure.value))
        self.assertEqual(client.state.last_error, "Connection was closed cleanly.")

    def test_on_connected_after_each_login(self):
        """
        on_connected callbacks run after every login; a failing one is
        logged and does not stop the others.
        """
        client, endpoint, clock = make_client()
        calls = []
        client.on_connected(lambda c: fail(RuntimeError("reconcile failed")))
        unsubscribe = client.on_connected(calls.append)
        client.startService()
        endpoint.accept().drop()
        clock.advance(2)
        endpoint.accept()
        self.assertEqual(calls, [client, client])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)
        unsubscribe()

    def test_keepalive(self):
        """
        The client Pings every interval; a missing Pong drops the connection
        and the client reconnects.
        """
        client, endpoint, clock = make_client(keepalive_interval=20, keepalive_timeout=5)
        client.startService()
        connection = endpoint.accept()
        clock.advance(20)
        connection.serve()
        self.assertEqual(connection.actions[-1].name, "Ping")
        self.assertFalse(connection.transport.disconnecting)
        connection.answer_pings = False
        clock.advance(20)
        connection.serve()
        clock.advance(5)
        self.assertTrue(connection.transport.disconnecting)
        connection.drop()
        clock.advance(2)
        endpoint.accept()
        self.assertTrue(client.connected)

    def test_actions_helpers(self):
        """
        The helpers send the right actions and read their answers.
        """
        client, endpoint, _ = make_client()
        client.startService()
        connection = endpoint.accept()
        value = client.getvar("Local/1@x-1;1", "AMDSTATUS")
        output = client.command("core show version")
        channels = client.core_show_channels()
        status = client.status("Local/1@x-1;1", ["A", "B"])
        hung = client.hangup("Local/1@x-1;1", cause=16)
        data = connection.transport.value()
        connection.transport.clear()
        getvar, command, csc, stat, hangup = FrameParser(False).feed(data)
        self.assertEqual(getvar["Variable"], "AMDSTATUS")
        self.assertEqual(stat["Variables"], "A,B")
        self.assertEqual(hangup["Cause"], "16")
        connection.receive(
            [("Response", "Success"), ("ActionID", getvar.action_id), ("Variable", "AMDSTATUS"), ("Value", "MACHINE")],
            [("Response", "Success"), ("ActionID", command.action_id), ("Message", "Command output follows"), ("Output", "a"), ("Output", "b")],
            [("Response", "Success"), ("ActionID", csc.action_id), ("EventList", "start")],
            [("Event", "CoreShowChannelsComplete"), ("ActionID", csc.action_id), ("EventList", "Complete"), ("ListItems", "0")],
            [("Response", "Success"), ("ActionID", stat.action_id), ("EventList", "start")],
            [("Event", "Status"), ("ActionID", stat.action_id), ("Variable", "A=1"), ("Variable", "B=2")],
            [("Event", "StatusComplete"), ("ActionID", stat.action_id), ("EventList", "Complete")],
            [("Response", "Success"), ("ActionID", hangup.action_id), ("Message", "Channel Hungup")],
        )
        self.assertEqual(self.successResultOf(value), "MACHINE")
        self.assertEqual(self.successResultOf(output), ["a", "b"])
        self.assertEqual(len(self.successResultOf(channels)), 0)
        self.assertEqual(self.successResultOf(status)[0].getall("Variable"), ["A=1", "B=2"])
        self.successResultOf(hung)

    def test_originate_through_client(self):
        """
        client.originate reaches the connection and its result callback.
        """
        client, endpoint, _ = make_client()
        client.startService()
        connection = endpoint.accept()
        results = []
        d = client.originate(
            "Local/2001@callee-sim", "fts-campaign", "2001", 1, "fts-9-a",
            variables={"FTS_CONTACT": 9}, timeout_ms=15000, on_result=results.append,
        )
        [action] = FrameParser(False).feed(connection.transport.value())
        connection.receive(
            [("Response", "Success"), ("ActionID", action.action_id), ("Message", "Originate successfully queued")],
            [("Event", "OriginateResponse"), ("ActionID", action.action_id), ("Response", "Failure"),
             ("Channel", "Local/2001@callee-sim"), ("Reason", "5"), ("Uniqueid", "<unknown>")],
        )
        self.successResultOf(d)
        self.assertEqual([(r.outcome, r.reason_name) for r in results], [("failure", "busy")])
        self.assertTrue(action.action_id.startswith("pbx-1-"))

    def test_originate_when_disconnected(self):
        """
        An Originate with no connection fails as not sent.
        """
        client, _, _ = make_client()
        failure = self.failureResultOf(
            client.originate("Local/1@x", "c", "1", 1, "id"), AMINotConnected
        )
        self.assertFalse(failure.value.sent)

    def test_stop_logs_off(self):
        """
        Stopping sends Logoff, closes, and makes no more attempts.
        """
        client, endpoint, clock = make_client()
        client.startService()
        connection = endpoint.accept()
        d = client.stopService()
        connection.serve()
        self.assertEqual(connection.actions[-1].name, "Logoff")
        self.assertTrue(connection.transport.disconnecting)
        connection.drop()
        self.successResultOf(d)
        self.assertEqual(client.state.status, "stopped")
        clock.advance(1000)
        self.assertEqual(len(endpoint.attempts), 1)
        self.failureResultOf(client.when_connected(), AMINotConnected)

    def test_stop_while_disconnected(self):
        """
        Stopping while waiting to retry cancels the retry and fails waiters.
        """
        client, endpoint, clock = make_client()
        client.startService()
        endpoint.refuse()
        waiter = client.when_connected()
        self.successResultOf(client.stopService())
        self.failureResultOf(waiter, AMINotConnected)
        clock.advance(1000)
        self.assertEqual(len(endpoint.attempts), 1)

    def test_two_servers(self):
        """
        Two named clients keep separate states and ActionIDs.
        """
        a, endpoint_a, _ = make_client()
        b = AMIClient("pbx-2", FakeEndpoint(), "fts", "s3cret", Clock())
        a.startService()
        b.startService()
        endpoint_a.accept()
        self.assertEqual((a.state.name, a.state.status), ("pbx-1", "connected"))
        self.assertEqual((b.state.name, b.state.status), ("pbx-2", "connecting"))
        self.assertNotEqual(a._id_prefix, b._id_prefix)


class FakeAsteriskServer(Protocol):
    """
    A minimal AMI server for the in-memory loopback tests: banner, MD5
    challenge, login, Ping; it closes the socket after a refused login, as
    Asterisk does.
    """

    secret = "s3cret"

    def connectionMade(self):
        self.parser = FrameParser(expect_banner=False)
        self.factory.servers.append(self)
        self.transport.write(BANNER)

    def send(self, *messages):
        self.transport.write(b"".join(serialize(m) for m in messages))

    def dataReceived(self, data):
        for action in self.parser.feed(data):
            aid = ("ActionID", action.action_id)
            if action.name == "Challenge":
                self.send([("Response", "Success"), aid, ("Challenge", "42")])
            elif action.name == "Login":
                key = hashlib.md5(("42" + self.secret).encode()).hexdigest()
                if action.get("Key") == key:
                    self.send([("Response", "Success"), aid, ("Message", "Authentication accepted")])
                else:
                    self.send([("Response", "Error"), aid, ("Message", "Authentication failed")])
                    self.transport.loseConnection()
            elif action.name == "Ping":
                self.send([("Response", "Success"), aid, ("Ping", "Pong")])
            elif action.name == "Logoff":
                self.send([("Response", "Goodbye"), aid])
                self.transport.loseConnection()


class LoopbackTests(SynchronousTestCase):
    """
    The client over Twisted's in-memory TCP (iosim), where closing a
    transport really delivers connectionLost.
    """

    def setUp(self):
        self.reactor = MemoryReactorClock()
        factory = Factory.forProtocol(FakeAsteriskServer)
        factory.servers = []
        self.servers = factory.servers
        TCP4ServerEndpoint(self.reactor, 5038).listen(factory)
        self.completer = ConnectionCompleter(self.reactor)
        self.endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", 5038)

    def client(self, secret="s3cret"):
        client = AMIClient(
            "loop", self.endpoint, "fts", secret, self.reactor,
            retry_policy=lambda attempt: 3.0 * attempt,
            keepalive_interval=None,
        )
        hangups = []
        client.subscribe("Hangup", hangups.append)
        client.startService()
        return client, hangups

    def test_reconnect_after_server_closes(self):
        """
        When Asterisk closes the socket, pending actions fail, the client
        reconnects after the backoff, and subscriptions still work.
        """
        client, hangups = self.client()
        pump = self.completer.succeedOnce()
        pump.flush()
        self.assertTrue(client.connected)
        pending = client.send_action("CoreShowChannels")
        pump.flush()
        self.servers[-1].transport.loseConnection()
        pump.flush()
        self.failureResultOf(pending, AMIConnectionLost)
        self.assertEqual(client.state.status, "disconnected")
        self.reactor.advance(3.0)
        pump = self.completer.succeedOnce()
        pump.flush()
        self.assertEqual(client.state.status, "connected")
        self.servers[-1].send([("Event", "Hangup"), ("Cause", "16")])
        pump.flush()
        self.assertEqual([e["Cause"] for e in hangups], ["16"])
        pong = client.ping()
        pump.flush()
        self.assertEqual(self.successResultOf(pong)["Ping"], "Pong")

    def test_refused_login_then_close(self):
        """
        After a refused login Asterisk closes the socket; the client retries
        with growing delays and logs no unexpected error.
        """
        client, _ = self.client(secret="wrong")
        for delay in (3.0, 6.0):
            pump = self.completer.succeedOnce()
            pump.flush()
            self.assertEqual(client.state.last_error, "login refused: Authentication failed")
            self.assertEqual(client.state.next_attempt_at, self.reactor.seconds() + delay)
            self.reactor.advance(delay)
        self.assertFalse(client.connected)

    def test_stop_while_logging_in(self):
        """
        Stopping during the login cancels it and stops cleanly, even though
        the connection closes afterwards.
        """
        client, _ = self.client()
        pump = self.completer.succeedOnce(greet=False)
        self.assertEqual(client.state.status, "logging_in")
        d = client.stopService()
        pump.flush()
        self.successResultOf(d)
        self.assertEqual(client.state.status, "stopped")
        self.reactor.advance(100)
        self.assertIsNone(self.completer.succeedOnce())

    def test_stop_while_connected(self):
        """
        Stopping a connected client logs off and closes the connection.
        """
        client, _ = self.client()
        pump = self.completer.succeedOnce()
        pump.flush()
        d = client.stopService()
        pump.flush()
        self.successResultOf(d)
        self.assertEqual(client.state.status, "stopped")
        self.assertEqual(self.servers[-1].parser.frames, 3)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
