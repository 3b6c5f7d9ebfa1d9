"""
Benchmark: AMI frames parsed and dispatched to subscribers, per second.

A separate load process plays Asterisk: it accepts one AMI connection, sends
the banner, accepts the plain-text login, then writes the event stream of
ami-events-full-run.txt (the real bytes of a real Asterisk) over and over as
fast as the socket takes it, and closes.  This process runs the real
L{AMIClient} on the default reactor with two subscribers (one for every
event, one by name reading a header, as the dialer would), and measures
frames from the first event to the close.

The rate is frames per second of this process's CPU time (reactor, socket
reads, parsing, dispatch), so that other work on the machine does not distort
it; the wall-clock rate, which is the same on an idle machine, is printed on
stderr.

    python bench/ami_parse.py                    # end to end over TCP
    python bench/ami_parse.py --inprocess        # parser + dispatch only

Prints one line, "ami_parse: <frames/s> frames/s"; details go to stderr.
"""

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRANSCRIPT = "ami-events-full-run.txt"


def event_stream():
    """
    The bytes Asterisk sent on the monitor connection, without the banner
    and the login response (only events and a few responses remain).
    """
    from tests.support import transcripts

    data = transcripts.stream(transcripts.load(TRANSCRIPT))
    _, _, body = data.partition(b"\r\n")  # banner
    first_end = body.index(b"\r\n\r\n") + 4  # login response
    return body[first_end:]


def serve(repeat):
    """
    The load process: one connection, banner, login, the stream N times.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print(listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            return
        buf += chunk
    action_id = b"x"
    for line in buf.split(b"\r\n"):
        if line.lower().startswith(b"actionid: "):
            action_id = line[10:]
    conn.sendall(
        b"Response: Success\r\nActionID: " + action_id
        + b"\r\nMessage: Authentication accepted\r\n\r\n"
    )
    stream = event_stream()
    block = stream * 20
    for _ in range(max(1, repeat // 20)):
        conn.sendall(block)
    conn.shutdown(socket.SHUT_WR)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


def run_tcp(repeat):
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from fts.asterisk.ami.client import AMIClient

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--repeat", str(repeat)],
        stdout=subprocess.PIPE,
    )
    port = int(child.stdout.readline())
    counts = {"all": 0, "hangups": 0, "first": None, "last": None}

    def every(event):
        counts["all"] += 1
        if counts["first"] is None:
            counts["first"] = (time.perf_counter(), time.process_time())

    def hangup(event):
        if event.get("Cause") is not None:
            counts["hangups"] += 1

    client = AMIClient(
        "bench",
        TCP4ClientEndpoint(reactor, "127.0.0.1", port),
        "fts",
        "fts",
        reactor,
        auth="plain",
        events=None,
        keepalive_interval=None,
    )
    client.subscribe(None, every)
    client.subscribe("Hangup", hangup)

    def connected(client):
        protocol = client.protocol
        previous = protocol.on_lost

        def lost(reason):
            counts["last"] = (time.perf_counter(), time.process_time())
            previous(reason)
            client.stopService()
            reactor.callLater(0, reactor.stop)

        protocol.on_lost = lost

    client.on_connected(connected)
    client.startService()
    reactor.run()
    child.wait()
    wall = counts["last"][0] - counts["first"][0]
    cpu = counts["last"][1] - counts["first"][1]
    frames = counts["all"]
    print(
        "ami_parse (tcp): %d events (%d Hangup) in %.3f s wall (%d/s), %.3f s CPU"
        % (frames, counts["hangups"], wall, frames / wall, cpu),
        file=sys.stderr,
    )
    return frames / cpu


def run_inprocess(repeat):
    """
    The parser and the protocol's dispatch alone, fed the stream in the
    transcript's own read sizes (no sockets, no reactor).
    """
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport

    from fts.asterisk.ami.protocol import AMIProtocol
    from fts.asterisk.ami.subscriptions import EventSubscriptions
    from tests.support import transcripts

    blocks = [
        b.data
        for b in transcripts.load(TRANSCRIPT)
        if b.direction == transcripts.FROM_ASTERISK
    ]
    banner, login, rest = blocks[0], blocks[1], blocks[2:]
    best = 0.0
    for _ in range(5):
        subscriptions = EventSubscriptions()
        count = [0]

        def every(event):
            count[0] += 1

        subscriptions.subscribe(None, every)
        subscriptions.subscribe("Hangup", lambda event: event.get("Cause"))
        protocol = AMIProtocol(Clock(), subscriptions=subscriptions)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(banner + login)
        feed = protocol.dataReceived
        start = time.process_time()
        for _ in range(repeat):
            for data in rest:
                feed(data)
        elapsed = time.process_time() - start
        best = max(best, count[0] / elapsed)
    print(
        "ami_parse (in process): best of 5 runs of %d events, per CPU second" % (count[0],),
        file=sys.stderr,
    )
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inprocess", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    if args.serve:
        serve(args.repeat)
        return
    if args.inprocess:
        rate = run_inprocess(args.repeat or 20)
    else:
        rate = run_tcp(args.repeat or 200)
    print("ami_parse: %d frames/s" % (rate,))


if __name__ == "__main__":
    main()
