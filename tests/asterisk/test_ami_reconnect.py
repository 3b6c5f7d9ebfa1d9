"""
The AMI client against the PBX simulator when the simulator goes away in
the middle of a campaign: its connection dropped, or the simulator stopped
and started again later.

Pending actions must fail at once with a clear L{AMIConnectionLost} (not
hang), Originates waiting for their C{OriginateResponse} must end as
C{"unknown"}, the client must reconnect with backoff (never in a tight
loop while the simulator is down), log in again, and the event
subscriptions made before must deliver the new connection's events.

The client and the real simulator (L{fts.pbxsim.service.PBXSimulator}: its
AMI server, its PBX) talk over Twisted's in-memory TCP (iosim) on a
L{MemoryReactorClock}, so the backoff is driven by the test's clock.
"""

from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.test.iosim import ConnectionCompleter
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.ami.client import AMIClient
from fts.asterisk.ami.errors import AMIConnectionLost, AMINotConnected
from fts.pbxsim.callee import BUSY, NO_ANSWER, CalleeModel, Override
from fts.pbxsim.service import PBXSimulator

AMI_PORT = 5038
SECRET = "s3cret"


def callee_model():
    """
    Numbers starting with 6 are busy after one second of ringing; numbers
    starting with 7 ring and never answer (their OriginateResponse comes
    only at the Originate's timeout).
    """
    return CalleeModel(
        {BUSY: 1},
        ring_seconds=1,
        overrides=[
            Override("6", outcome=BUSY, ring_seconds=1, rings=True),
            Override("7", outcome=NO_ANSWER, ring_seconds=1, rings=True),
        ],
        seed=1,
    )


class SimulatorGoneTests(SynchronousTestCase):
    """
    Mid-campaign loss of the simulated Asterisk.
    """

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.completer = ConnectionCompleter(self.reactor)
        self.simulators = []
        self.sim = self.start_simulator()
        self.client = AMIClient(
            "sim",
            TCP4ClientEndpoint(self.reactor, "127.0.0.1", AMI_PORT),
            "fts",
            SECRET,
            self.reactor,
            retry_policy=lambda failures: 2.0**failures,
            keepalive_interval=None,
        )
        self.events = []
        self.hangups = []
        self.client.subscribe(None, self.events.append)
        self.client.subscribe("Hangup", self.hangups.append)
        self.logins = []
        self.client.on_connected(self.logins.append)
        self.client.startService()
        self.addCleanup(self.stop)

    def stop(self):
        self.client.stopService()
        for sim in self.simulators:
            if sim.running:
                sim.stopService()

    def start_simulator(self):
        """
        A simulator whose AMI listens on L{AMI_PORT} of the memory reactor.
        """
        sim = PBXSimulator(
            self.reactor,
            ami_endpoint="tcp:%d:interface=127.0.0.1" % (AMI_PORT,),
            agi_address="127.0.0.1:4573",
            credentials={"fts": SECRET},
            callee=callee_model(),
            seed=len(self.simulators) + 1,
        )
        sim.startService()
        self.successResultOf(sim.listening)
        self.simulators.append(sim)
        return sim

    def kill_listener(self, sim):
        """
        Stop C{sim} and take its port away: connection attempts are refused
        until another simulator listens.
        """
        sim.stopService()
        self.reactor.tcpServers[:] = [
            server for server in self.reactor.tcpServers if server[1] is not sim.factory
        ]

    def connect(self):
        """
        Complete the client's pending connection attempt and log in.
        """
        pump = self.completer.succeedOnce()
        self.assertIsNotNone(pump, "the client made no connection attempt")
        pump.flush()
        return pump

    def wait_for_next_attempt(self, expected_delay):
        """
        The client is waiting to retry in C{expected_delay} seconds; let
        them pass (just short of it, nothing happens).
        """
        state = self.client.state
        self.assertEqual(state.status, "disconnected")
        self.assertEqual(state.next_attempt_at - self.reactor.seconds(), expected_delay)
        self.reactor.advance(expected_delay - 0.01)
        self.assertEqual(self.reactor.tcpClients, [], "retried before the backoff")
        self.reactor.advance(0.01)
        self.assertEqual(len(self.reactor.tcpClients), 1)

    def originate(self, number, results, pump):
        d = self.client.originate(
            "Local/%s@callee-sim" % (number,),
            "fts-campaign",
            number,
            1,
            "fts-%s" % (number,),
            timeout_ms=30000,
            on_result=results.append,
        )
        pump.flush()
        return self.successResultOf(d)

    def busy_call(self, pump):
        """
        A call that ends busy: its OriginateResponse and Hangup events.
        """
        results = []
        hangups = len(self.hangups)
        self.originate("6%03d" % (len(self.events),), results, pump)
        self.reactor.advance(1.5)
        pump.flush()
        self.assertEqual([(r.outcome, r.reason_name) for r in results], [("failure", "busy")])
        self.assertGreater(len(self.hangups), hangups)

    def test_connection_dropped(self):
        """
        The simulator drops the AMI connection with an action pending and an
        Originate still ringing: the action fails with AMIConnectionLost
        (sent) at once, the Originate's result is "unknown"; the client
        reconnects after its backoff, logs in again, and the subscriptions
        deliver the events of the next call.
        """
        pump = self.connect()
        self.assertTrue(self.client.connected)
        self.busy_call(pump)

        ringing = []
        self.originate("7001", ringing, pump)
        pending = self.client.send_action("CoreShowChannels", list_events=True)
        [session] = self.sim.factory.sessions
        session.close()
        pump.flush()

        error = self.failureResultOf(pending, AMIConnectionLost).value
        self.assertTrue(error.sent)
        self.assertIn("AMI connection lost with CoreShowChannels pending", str(error))
        self.assertEqual([r.outcome for r in ringing], ["unknown"])
        self.assertIn("connection lost before OriginateResponse", ringing[0].detail)
        self.assertFalse(self.client.connected)
        self.assertIsInstance(
            self.failureResultOf(self.client.ping(), AMINotConnected).value, AMINotConnected
        )

        self.wait_for_next_attempt(2.0)
        pump = self.connect()
        self.assertEqual(self.client.state.status, "connected")
        self.assertEqual(len(self.logins), 2)
        [session] = self.sim.factory.sessions
        self.assertTrue(session.authenticated)
        self.busy_call(pump)
        pong = self.client.ping()
        pump.flush()
        self.assertEqual(self.successResultOf(pong)["Ping"], "Pong")

    def test_simulator_stopped_and_restarted(self):
        """
        The simulator stops (Shutdown event, connection closed, port gone)
        with an action pending: it fails naming the shutdown; while the
        simulator is down the client retries with growing delays; once a
        new simulator listens, the client logs in to it and the same
        subscriptions deliver its events.
        """
        pump = self.connect()
        self.busy_call(pump)
        ringing = []
        self.originate("7002", ringing, pump)
        pending = self.client.send_action("CoreShowChannels", list_events=True)
        self.kill_listener(self.sim)
        pump.flush()

        error = self.failureResultOf(pending, AMIConnectionLost).value
        self.assertTrue(error.sent)
        self.assertIn("Asterisk shut down (Shutdown: Cleanly", str(error))
        self.assertEqual([r.outcome for r in ringing], ["unknown"])
        self.assertIn("Shutdown", [e.name for e in self.events])

        self.wait_for_next_attempt(2.0)
        self.completer.failOnce()
        self.assertEqual(self.client.state.failures, 1)
        self.wait_for_next_attempt(4.0)
        self.completer.failOnce()
        self.assertEqual(self.client.state.failures, 2)

        self.sim = self.start_simulator()
        self.wait_for_next_attempt(8.0)
        pump = self.connect()
        self.assertEqual(self.client.state.status, "connected")
        self.assertEqual(self.client.state.failures, 0)
        self.assertEqual(len(self.logins), 2)
        hangups = len(self.hangups)
        self.busy_call(pump)
        self.assertTrue(all(h["Channel"].startswith("Local/6") for h in self.hangups[hangups:]))
