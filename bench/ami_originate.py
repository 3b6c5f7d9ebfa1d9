"""
Benchmark: asynchronous Originates accepted per second through one AMI
connection.

A separate load process plays a minimal Asterisk: it answers the MD5
Challenge and Login, acknowledges every Originate at once with "Originate
successfully queued", then sends its OriginateResponse (Success, Reason 4,
Uniqueid = the ChannelId), as Asterisk does for an answered call.  This
process runs the real L{AMIClient} on the default reactor and keeps
C{--window} Originates in flight on its one connection for C{--seconds}.

    python bench/ami_originate.py [--seconds 5] [--window 128]

Prints one line, "ami_originate: <originates/s> originates/s" (accepted per
wall-clock second); details, including every OriginateResponse received and
the client's CPU time, go to stderr.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def serve():
    """
    The load process: a minimal AMI server on an ephemeral port.
    """
    import os

    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ServerEndpoint
    from twisted.internet.protocol import Factory, Protocol

    from fts.asterisk.ami.frames import FrameParser

    class FakeAsterisk(Protocol):
        def connectionMade(self):
            self.parser = FrameParser(expect_banner=False, check_lines=False)
            self.challenge = os.urandom(4).hex()
            self.count = 0
            self.transport.write(b"Asterisk Call Manager/11.0.0\r\n")

        def dataReceived(self, data):
            out = []
            for action in self.parser.feed(data):
                aid = (action.action_id or "").encode()
                name = action.name
                if name == "Originate":
                    self.count += 1
                    channel_id = action.get("ChannelId", "").encode()
                    out.append(
                        b"Response: Success\r\nActionID: " + aid
                        + b"\r\nMessage: Originate successfully queued\r\n\r\n"
                        b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: "
                        + aid + b"\r\nResponse: Success\r\nChannel: "
                        + action.get("Channel", "").encode()
                        + b"-00000001;1\r\nContext: fts-campaign\r\nExten: "
                        + action.get("Exten", "").encode()
                        + b"\r\nReason: 4\r\nUniqueid: " + channel_id
                        + b"\r\nCallerIDNum: 5550100\r\nCallerIDName: FTS Dialer\r\n\r\n"
                    )
                elif name == "Challenge":
                    out.append(
                        b"Response: Success\r\nActionID: " + aid
                        + b"\r\nChallenge: " + self.challenge.encode() + b"\r\n\r\n"
                    )
                elif name == "Login":
                    out.append(
                        b"Response: Success\r\nActionID: " + aid
                        + b"\r\nMessage: Authentication accepted\r\n\r\n"
                    )
                elif name == "Logoff":
                    out.append(
                        b"Response: Goodbye\r\nActionID: " + aid
                        + b"\r\nMessage: Thanks for all the fish.\r\n\r\n"
                    )
                    self.transport.write(b"".join(out))
                    self.transport.loseConnection()
                    return
                else:
                    out.append(b"Response: Success\r\nActionID: " + aid + b"\r\n\r\n")
            if out:
                self.transport.write(b"".join(out))

        def connectionLost(self, reason):
            print("server: %d Originates acknowledged" % (self.count,), file=sys.stderr)
            reactor.callLater(0, reactor.stop)

    def listening(port):
        print(port.getHost().port, flush=True)

    endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
    endpoint.listen(Factory.forProtocol(FakeAsterisk)).addCallback(listening)
    reactor.run()


def run(seconds, window):
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from fts.asterisk.ami.client import AMIClient

    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE)
    port = int(child.stdout.readline())
    client = AMIClient(
        "bench",
        TCP4ClientEndpoint(reactor, "127.0.0.1", port),
        "fts",
        "secret",
        reactor,
        events="call",
        keepalive_interval=None,
        max_in_flight=window,
    )
    stats = {"accepted": 0, "failed": 0, "results": 0, "answered": 0, "sent": 0}
    state = {"running": True}

    def result(outcome):
        stats["results"] += 1
        if outcome.outcome == "success" and outcome.reason == 4:
            stats["answered"] += 1

    def accepted(response):
        stats["accepted"] += 1
        send()

    def failed(failure):
        stats["failed"] += 1
        print("originate failed: %s" % (failure.getErrorMessage(),), file=sys.stderr)

    def send():
        if not state["running"]:
            return
        stats["sent"] += 1
        n = stats["sent"]
        d = client.originate(
            "Local/%d@callee-sim" % (1000 + n % 9000,),
            "fts-campaign",
            str(1000 + n % 9000),
            1,
            "fts-bench-%d" % (n,),
            variables={"FTS_CAMPAIGN": 1, "FTS_CONTACT": n},
            caller_id='"FTS Dialer" <5550100>',
            timeout_ms=30000,
            on_result=result,
        )
        d.addCallbacks(accepted, failed)

    def finish():
        state["running"] = False
        stats["wall"] = time.perf_counter() - stats["start"]
        stats["cpu"] = time.process_time() - stats["cpu_start"]
        stats["accepted_in_window"] = stats["accepted"]
        d = client.stopService()
        d.addBoth(lambda _: reactor.callLater(0.2, reactor.stop))

    def connected(client):
        stats["start"] = time.perf_counter()
        stats["cpu_start"] = time.process_time()
        for _ in range(window):
            send()
        reactor.callLater(seconds, finish)

    client.on_connected(connected)
    client.startService()
    reactor.run()
    child.wait()
    rate = stats["accepted_in_window"] / stats["wall"]
    print(
        "ami_originate: %d accepted in %.2f s wall (window %d), %d OriginateResponses"
        " (%d answered), %d failed; client CPU %.2f s (%.0f accepted per CPU second)"
        % (
            stats["accepted_in_window"],
            stats["wall"],
            window,
            stats["results"],
            stats["answered"],
            stats["failed"],
            stats["cpu"],
            stats["accepted_in_window"] / stats["cpu"],
        ),
        file=sys.stderr,
    )
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    rate = run(args.seconds, args.window)
    print("ami_originate: %d originates/s" % (rate,))


if __name__ == "__main__":
    main()
