"""
FastAGI server benchmark: sessions per second, command latency under 10,000
concurrent sessions, and memory per idle session.

The FTS FastAGI server (bench/agi_server.py) runs in its own process, pinned
to CPU 0; this process plays Asterisk over loopback, pinned to CPU 1, with
a hand-written epoll loop (non-blocking sockets, no framework) so that the
load generator costs less CPU than the server it measures.  Each session
sends a ~500-byte environment and answers the 5-command script (ANSWER,
STREAM FILE, WAIT FOR DIGIT, SET VARIABLE, HANGUP) like Asterisk 22 does,
including the HANGUP notice after our HANGUP and the last HANGUP after the
server half-closes.

Phases (each on a fresh server process):

  1. throughput: ``--concurrency`` sessions kept in flight for
     ``--seconds``; prints sessions/s, both processes' CPU use, and the
     server's CPU time per session (which, unlike sessions/s, does not
     depend on what else is running on the machine).
  2. concurrent: ``--sessions`` sessions opened at ``--rate``/s; each stops
     at WAIT FOR DIGIT until all are open and idle; the server's RSS is
     read; then the digits are sent at ``--rate``/s and the sessions finish.
     Prints command latency (from our write to the server's next command,
     over every command of every session) and RSS delta per idle session.

``--server floor`` runs the same load against a bare Twisted protocol that
sends the five commands with no parsing or session (bench/agi_floor_server.py):
the cost of Twisted's TCP transport alone, for comparison (``floor-direct``
writes to the socket the way the FTS protocol does: the comparable floor).
``--driver`` picks how the FTS server runs its ``async def`` script: by its
own coroutine driver (``native``, the default), through
``Deferred.fromCoroutine`` (``deferred``), or written with
``inlineCallbacks`` (``inline``, like fts.callflow).

Output: ``metric: value unit`` lines.

    .venv/bin/python bench/agi_sessions.py [--phase all|throughput|concurrent]
"""

import argparse
import errno
import os
import select
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

ENVIRONMENT = (
    "agi_network: yes\n"
    "agi_network_script: bench\n"
    "agi_request: agi://127.0.0.1:4573/bench\n"
    "agi_channel: Local/%(n)d@callee-sim-%(n)08x;1\n"
    "agi_language: en\n"
    "agi_type: Local\n"
    "agi_uniqueid: 1795347861.%(n)d\n"
    "agi_version: 22.10.1\n"
    "agi_callerid: 5550100\n"
    "agi_calleridname: FTS Dialer\n"
    "agi_callingpres: 0\n"
    "agi_callingani2: 0\n"
    "agi_callington: 0\n"
    "agi_callingtns: 0\n"
    "agi_dnid: unknown\n"
    "agi_rdnis: unknown\n"
    "agi_context: fts-campaign\n"
    "agi_extension: %(n)d\n"
    "agi_priority: 1\n"
    "agi_enhanced: 0.0\n"
    "agi_accountcode: \n"
    "agi_threadid: 1404130%(n)08d\n"
    "\n"
)

WAIT_FOR_DIGIT = b"WAIT FOR DIGIT"
DIGIT_REPLY = b"200 result=49\n"
REPLIES = {
    b"ANSWER": b"200 result=0\n",
    b"STREAM FILE": b"200 result=0 endpos=3404\n",
    WAIT_FOR_DIGIT: DIGIT_REPLY,
    b"SET VARIABLE": b"200 result=1\n",
    b"HANGUP": b"200 result=1\nHANGUP\n",
}


def command_name(line):
    """
    The command word(s) of a line, to pick Asterisk's reply.
    """
    if line.startswith(b"STREAM FILE"):
        return b"STREAM FILE"
    if line.startswith(WAIT_FOR_DIGIT):
        return WAIT_FOR_DIGIT
    if line.startswith(b"SET VARIABLE"):
        return b"SET VARIABLE"
    return line


class Connection:
    """
    Asterisk's side of one FastAGI connection.
    """

    __slots__ = ("sock", "fd", "buffer", "sent_at", "connected", "number")

    def __init__(self, sock, number):
        self.number = number
        self.sock = sock
        self.fd = sock.fileno()
        self.buffer = b""
        self.sent_at = 0.0
        self.connected = False


class FakeAsterisk:
    """
    Many FastAGI connections on one epoll loop.

    @ivar hold: stop sessions at WAIT FOR DIGIT (kept in C{held}).
    @ivar refill: open a new session each time one ends.
    """

    def __init__(self, port):
        self.address = ("127.0.0.1", port)
        self.epoll = select.epoll()
        self.connections = {}
        self.number = 0
        self.completed = 0
        self.errors = 0
        self.latencies = []
        self.record = True
        self.hold = False
        self.held = []
        self.refill = False

    def open(self):
        self.number += 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self.errors += 1
            return
        conn = Connection(sock, self.number)
        self.connections[conn.fd] = conn
        self.epoll.register(conn.fd, select.EPOLLOUT)

    def _connected(self, conn):
        conn.connected = True
        code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._drop(conn)
            self.errors += 1
            return
        self.epoll.modify(conn.fd, select.EPOLLIN)
        conn.sock.send((ENVIRONMENT % {"n": conn.number}).encode("ascii"))
        conn.sent_at = time.perf_counter()

    def _drop(self, conn):
        self.epoll.unregister(conn.fd)
        del self.connections[conn.fd]
        conn.sock.close()
        self.completed += 1
        if self.refill:
            self.open()

    def release(self, conn):
        if conn.fd in self.connections:
            conn.sock.send(DIGIT_REPLY)
            conn.sent_at = time.perf_counter()

    def _readable(self, conn, now):
        try:
            data = conn.sock.recv(65536)
        except ConnectionError:
            self.errors += 1
            self._drop(conn)
            return
        if not data:
            # The server half-closed: Asterisk sends a last HANGUP and closes.
            try:
                conn.sock.send(b"HANGUP\n")
            except OSError:
                pass
            self._drop(conn)
            return
        if conn.buffer:
            data = conn.buffer + data
        end = data.rfind(b"\n")
        if end < 0:
            conn.buffer = data
            return
        conn.buffer = data[end + 1 :]
        for line in data[:end].split(b"\n"):
            if self.record:
                self.latencies.append(now - conn.sent_at)
            name = command_name(line)
            reply = REPLIES.get(name)
            if reply is None:
                self.errors += 1
                reply = b"510 Invalid or unknown command\n"
            elif name is WAIT_FOR_DIGIT and self.hold:
                self.held.append(conn)
                continue
            conn.sock.send(reply)
            conn.sent_at = time.perf_counter()

    def run_until(self, deadline, tick=None, every=None):
        """
        Serve events until C{deadline}; call C{every()} each C{tick} seconds.
        """
        poll = self.epoll.poll
        connections = self.connections
        next_tick = time.perf_counter()
        while True:
            now = time.perf_counter()
            if now >= deadline:
                return
            if every is not None and now >= next_tick:
                if every() is False:
                    return
                next_tick += tick
                now = time.perf_counter()
            wait = deadline - now
            if every is not None:
                wait = min(wait, max(0.0, next_tick - now))
            events = poll(wait, 1024)
            now = time.perf_counter()
            for fd, mask in events:
                conn = connections.get(fd)
                if conn is None:
                    continue
                if not conn.connected:
                    self._connected(conn)
                else:
                    self._readable(conn, now)


SERVERS = {
    "fts": ["agi_server.py"],
    "floor": ["agi_floor_server.py"],
    "floor-direct": ["agi_floor_server.py", "--direct"],
}


def start_server(cpu, extra=(), server="fts"):
    pin = ["--cpu", str(cpu)] if cpu is not None else []
    script = SERVERS[server]
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, script[0])]
        + script[1:]
        + ["--port", "0"]
        + pin
        + list(extra),
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("listening "):
        raise SystemExit("server did not start: %r" % (line,))
    return process, int(line.split()[1])


def rss_kb(pid):
    with open("/proc/%d/status" % (pid,)) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % (pid,)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))
    return values[k]


def report(name, value, unit=""):
    print(("%s: %s %s" % (name, value, unit)).rstrip(), flush=True)


def ms(seconds):
    return round(seconds * 1000, 3)


def throughput(port, server_pid, concurrency, seconds, warmup):
    asterisk = FakeAsterisk(port)
    asterisk.refill = True
    asterisk.record = False
    for _ in range(concurrency):
        asterisk.open()
    asterisk.run_until(time.perf_counter() + warmup)
    asterisk.record = True
    c0, t0, cpu0, mine0 = (
        asterisk.completed,
        time.perf_counter(),
        cpu_seconds(server_pid),
        time.process_time(),
    )
    asterisk.run_until(t0 + seconds)
    c1, t1, cpu1, mine1 = (
        asterisk.completed,
        time.perf_counter(),
        cpu_seconds(server_pid),
        time.process_time(),
    )
    elapsed = t1 - t0
    sessions = c1 - c0
    per_session = (cpu1 - cpu0) / max(sessions, 1)
    report("throughput_sessions_per_second", round(sessions / elapsed), "sessions/s")
    report("throughput_concurrency", concurrency, "sessions")
    report("throughput_server_cpu", round(100 * (cpu1 - cpu0) / elapsed), "%")
    report("throughput_generator_cpu", round(100 * (mine1 - mine0) / elapsed), "%")
    report("server_cpu_per_session", round(per_session * 1e6, 1), "us")
    report("server_sessions_per_cpu_second", round(1 / per_session), "sessions/s")
    report("throughput_command_latency_p50", ms(percentile(asterisk.latencies, 50)), "ms")
    report("throughput_command_latency_p99", ms(percentile(asterisk.latencies, 99)), "ms")
    report("throughput_errors", asterisk.errors)


def paced(asterisk, count, rate, action):
    """
    Call C{action()} C{count} times at C{rate} per second while serving.
    """
    state = {"done": 0, "start": time.perf_counter()}

    def every():
        target = min(count, int((time.perf_counter() - state["start"]) * rate) + 1)
        while state["done"] < target:
            action(state["done"])
            state["done"] += 1
        return state["done"] < count

    asterisk.run_until(time.perf_counter() + count / rate + 60, 0.002, every)


def wait_for(asterisk, condition, limit):
    asterisk.run_until(time.perf_counter() + limit, 0.01, lambda: not condition())


def concurrent(port, server_pid, sessions, rate):
    # Warm the server up with a few complete sessions first.
    warm = FakeAsterisk(port)
    warm.hold = True
    paced(warm, 200, rate, lambda i: warm.open())
    wait_for(warm, lambda: len(warm.held) + warm.errors >= 200, 10)
    held, warm.held = warm.held, []
    paced(warm, len(held), rate, lambda i: warm.release(held[i]))
    wait_for(warm, lambda: warm.completed >= 200, 10)
    warm.run_until(time.perf_counter() + 1.0)
    baseline = rss_kb(server_pid)

    asterisk = FakeAsterisk(port)
    asterisk.hold = True
    t0, cpu0, mine0 = time.perf_counter(), cpu_seconds(server_pid), time.process_time()
    paced(asterisk, sessions, rate, lambda i: asterisk.open())
    open_seconds = time.perf_counter() - t0
    wait_for(asterisk, lambda: len(asterisk.held) + asterisk.errors >= sessions, 30)
    t1, cpu1, mine1 = time.perf_counter(), cpu_seconds(server_pid), time.process_time()
    report("concurrent_open_server_cpu", round(100 * (cpu1 - cpu0) / (t1 - t0)), "%")
    report("concurrent_open_generator_cpu", round(100 * (mine1 - mine0) / (t1 - t0)), "%")
    idle = len(asterisk.held)
    asterisk.run_until(time.perf_counter() + 2.0)
    loaded = rss_kb(server_pid)
    open_latencies = list(asterisk.latencies)
    report("concurrent_sessions_idle", idle, "sessions")
    report("concurrent_open_rate", round(sessions / open_seconds), "sessions/s")
    report("server_rss_baseline", baseline, "KB")
    report("server_rss_idle", loaded, "KB")
    report("memory_per_idle_session", round((loaded - baseline) / max(idle, 1), 2), "KB")
    report("concurrent_open_latency_p50", ms(percentile(open_latencies, 50)), "ms")
    report("concurrent_open_latency_p99", ms(percentile(open_latencies, 99)), "ms")
    report("concurrent_open_latency_max", ms(max(open_latencies)), "ms")

    asterisk.latencies = []
    held, asterisk.held = asterisk.held, []
    paced(asterisk, len(held), rate, lambda i: asterisk.release(held[i]))
    wait_for(asterisk, lambda: asterisk.completed >= idle, 30)
    close_latencies = asterisk.latencies
    every = open_latencies + close_latencies
    report("concurrent_sessions_completed", asterisk.completed, "sessions")
    report("concurrent_release_latency_p99", ms(percentile(close_latencies, 99)), "ms")
    report("command_latency_p50", ms(percentile(every, 50)), "ms")
    report("command_latency_p99", ms(percentile(every, 99)), "ms")
    report("command_latency_max", ms(max(every)), "ms")
    report("concurrent_errors", asterisk.errors)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", choices=["all", "throughput", "concurrent"], default="all")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--gc", choices=["tuned", "default"], default="tuned")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness for both processes (negative needs root): on a shared "
        "machine, measures the server rather than the neighbours",
    )
    parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        default="fts",
        help="fts, or the bare-Twisted floor (bench/agi_floor_server.py) for comparison",
    )
    parser.add_argument(
        "--driver",
        choices=["native", "deferred", "inline"],
        default="native",
        help="how the fts server runs the script (see bench/agi_server.py)",
    )
    parser.add_argument("--gc-log", action="store_true", help="server prints long collections")
    parser.add_argument("--gc-threshold", default=None, help="server gc thresholds a,b,c")
    options = parser.parse_args()
    if options.pin:
        os.sched_setaffinity(0, {1})
    if options.nice:
        # Inherited by the server process started below.
        os.nice(options.nice)
    # Other work on the machine skews every number here; say how busy it was.
    report("machine_load_1min_before", os.getloadavg()[0])
    extra = ["--gc", options.gc] + (["--gc-log"] if options.gc_log else [])
    if options.gc_threshold:
        extra += ["--gc-threshold", options.gc_threshold]
    if options.server == "fts":
        extra += ["--driver", options.driver]
    cpu = 0 if options.pin else None
    if options.phase in ("all", "throughput"):
        server, port = start_server(cpu, extra, options.server)
        try:
            throughput(port, server.pid, options.concurrency, options.seconds, options.warmup)
        finally:
            server.kill()
            server.wait()
    if options.phase in ("all", "concurrent"):
        server, port = start_server(cpu, extra, options.server)
        try:
            concurrent(port, server.pid, options.sessions, options.rate)
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
