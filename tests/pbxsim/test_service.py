"""
Tests for L{fts.pbxsim.service} and the command line: the simulator over
real loopback sockets, once, and argument checking.
"""

from twisted.internet import defer, protocol
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from fts.asterisk.ami.frames import FrameParser
from fts.pbxsim.__main__ import main
from fts.pbxsim.callee import transcript_model
from fts.pbxsim.service import PBXSimulator, parse_agi_address

from .replay import LOGIN, originate


class AddressTests(SynchronousTestCase):
    """
    L{parse_agi_address}.
    """

    def test_forms(self):
        """
        HOST:PORT strings and pairs are accepted; other things are not.
        """
        self.assertEqual(parse_agi_address("127.0.0.1:4573"), ("127.0.0.1", 4573))
        self.assertEqual(parse_agi_address(("::1", "4573")), ("::1", 4573))
        self.assertEqual(parse_agi_address("[::1]:4573"), ("::1", 4573))
        self.assertRaises(ValueError, parse_agi_address, "4573")
        self.assertRaises(ValueError, parse_agi_address, "host:port")


class CommandLineTests(SynchronousTestCase):
    """
    C{python -m fts.pbxsim} argument errors stop it before it starts.
    """

    def test_bad_arguments(self):
        """
        A bad FastAGI address, scale or profile file gives exit status 2.
        """
        self.assertEqual(main(["--agi", "nowhere", "--quiet"]), 2)
        self.assertEqual(main(["--scale", "0", "--quiet"]), 2)
        self.assertEqual(main(["--callee-config", self.mktemp(), "--quiet"]), 2)


class ScriptedServer(protocol.Protocol):
    """
    A FastAGI server: ANSWER, then end the script (half-close) once
    answered.
    """

    def __init__(self, done):
        self.done = done
        self.data = b""
        self.sent = False

    def dataReceived(self, data):
        self.data += data
        if b"\n\n" in self.data and not self.sent:
            self.sent = True
            self.transport.write(b"ANSWER\n")
        elif self.sent and self.data.endswith(b"\n") and not self.data.endswith(b"\n\n"):
            # The reply (200 on the live channel, 511 in the h extension).
            self.transport.loseWriteConnection()

    def connectionLost(self, reason):
        self.done.append(self.data)


class AMIClient(protocol.Protocol):
    def __init__(self, until):
        self.parser = FrameParser()
        self.messages = []
        self.until = until
        self.finished = defer.Deferred()

    def dataReceived(self, data):
        for message in self.parser.feed(data):
            self.messages.append(message)
            if self.until(message) and not self.finished.called:
                self.finished.callback(self.messages)


class LoopbackTests(TestCase):
    """
    The simulator on real loopback sockets (integration: the only test here
    that uses the reactor).
    """

    timeout = 20

    @defer.inlineCallbacks
    def test_call_over_sockets(self):
        """
        Login, an answered Originate, the FastAGI connections with
        half-close, and all events until the last Hangup, over TCP.
        """
        from twisted.internet import reactor

        sessions = []
        factory = protocol.Factory.forProtocol(lambda: ScriptedServer(sessions))
        agi_port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        self.addCleanup(agi_port.stopListening)
        sim = PBXSimulator(
            reactor,
            ami_endpoint="tcp:0:interface=127.0.0.1",
            agi_address=("127.0.0.1", agi_port.getHost().port),
            callee=transcript_model(),
            scale=0.01,
        )
        sim.startService()
        ami_port = yield sim.listening
        self.addCleanup(sim.stopService)

        def last_hangup(message):
            return message.name == "Hangup" and message["Channel"].endswith(";1")

        client = AMIClient(last_hangup)
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", ami_port.getHost().port), client)
        client.transport.write(LOGIN + originate("6001"))
        messages = yield client.finished
        names = [m.name for m in messages]
        self.assertIn("OriginateResponse", names)
        hangup = [m for m in messages if m.name == "Hangup"][-1]
        self.assertEqual(hangup["Cause"], "16")
        self.assertEqual(len(sessions), 2)
        self.assertIn(b"agi_network_script: call\n", sessions[0])
        self.assertTrue(sessions[0].endswith(b"200 result=0\nHANGUP\n"))
        self.assertIn(b"agi_arg_1: h-extension\n", sessions[1])
        client.transport.loseConnection()
