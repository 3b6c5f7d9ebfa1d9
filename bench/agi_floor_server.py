"""
The floor for bench/agi_sessions.py: a bare Twisted protocol that sends the
same five commands with no parsing, no session, no Deferreds, no timeouts.
What it costs per session is what Twisted's TCP transport and reactor cost on
this machine; the FTS server cannot be cheaper than that.

    python bench/agi_floor_server.py --port 0 [--cpu 0] [--direct]

``--direct`` writes to the socket like fts.asterisk.agi.protocol does;
without it every write goes through ``transport.write``.
"""

import argparse
import gc
import os
import sys

COMMANDS = [
    b"ANSWER\n",
    b'STREAM FILE beep ""\n',
    b"WAIT FOR DIGIT 60000\n",
    b"SET VARIABLE FTS_RESULT done\n",
    b"HANGUP\n",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--direct", action="store_true")
    parser.add_argument("--gc", default="tuned")
    parser.add_argument("--gc-threshold", default="1000,5,1000000000")
    parser.add_argument("--gc-log", action="store_true")
    options = parser.parse_args()
    if options.cpu is not None:
        os.sched_setaffinity(0, {options.cpu})

    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory, Protocol

    direct = options.direct

    class Floor(Protocol):
        def connectionMade(self):
            self.step = -1
            self.buffer = b""
            self.sock = self.transport.getHandle()

        def send(self, data):
            if direct:
                self.sock.send(data)
            else:
                self.transport.write(data)

        def dataReceived(self, data):
            if self.step < 0:
                self.buffer += data
                if b"\n\n" not in self.buffer:
                    return
                self.step = 0
                self.send(COMMANDS[0])
                return
            self.step += data.count(b"200 ")
            if self.step < len(COMMANDS):
                self.send(COMMANDS[self.step])
            elif self.step == len(COMMANDS):
                self.step += 1
                self.transport.loseWriteConnection()

    factory = Factory.forProtocol(Floor)
    port = reactor.listenTCP(options.port, factory, backlog=4096, interface="127.0.0.1")

    def ready():
        if options.gc == "tuned":
            gc.collect()
            gc.freeze()
            gc.set_threshold(*[int(n) for n in options.gc_threshold.split(",")])
        sys.stdout.write("listening %d\n" % (port.getHost().port,))
        sys.stdout.flush()

    reactor.callWhenRunning(ready)
    reactor.run()


if __name__ == "__main__":
    main()
