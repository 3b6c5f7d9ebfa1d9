"""
Call-flow benchmark: answered calls per second through the FTS call flow.

The PBX simulator (C{python -m fts.pbxsim}) runs in its own process with a
callee profile in which everybody answers at once, and its time scaled down
(C{--scale}, default 0.05: a 3-second prompt lasts 150 ms; much less and
the callees' scripts run out before a loaded machine has connected their
FastAGI sessions: check C{flow_end_states}, which should be mostly C{end}).  This process
runs what the daemon runs for an answered call: the real FastAGI server,
the L{CallFlow} with a real L{CallRegistry} and playlists made by the real
L{prepare}, events emitted to a counter (the event writer is measured by
bench/events_write.py), and one AMI client that originates the calls with
the ChannelId the registry knows.  C{--concurrency} calls are kept in
flight: each flow that ends frees its call from the registry and
originates the next.

Scenarios (C{--scenario}):

  - C{key} (default): the callee presses 1 during the first prompt; the
    flow records the option, plays the thank-you, hangs up (SET AUTOHANGUP,
    STREAM FILE x2, HANGUP, plus the h-extension connection).
  - C{listen}: the callee hears the two prompts and presses nothing; the
    flow waits for a key, then hangs up (SET AUTOHANGUP, STREAM FILE x2,
    WAIT FOR DIGIT, HANGUP).
  - C{amd}: as C{key}, after EXEC AMD and the AMDSTATUS read.

C{--events off} (default) logs the AMI client in without events, so the
number is the call flow's (plus one Originate action per call);
C{--events call} adds the call events the dialer subscribes to.

    .venv/bin/python bench/callflow_sessions.py [--seconds 10] [--concurrency 200]

Output: C{metric: value unit} lines.
"""

import argparse
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from twisted.internet import reactor  # noqa: E402  (a benchmark script, not fts/)
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint  # noqa: E402

from fts.asterisk.agi.router import ScriptRouter  # noqa: E402
from fts.asterisk.agi.server import FastAGIServerFactory  # noqa: E402
from fts.asterisk.ami.client import AMIClient  # noqa: E402
from fts.callflow.flow import CallFlow  # noqa: E402
from fts.callflow.playlist import PreparedPlaylists, prepare  # noqa: E402
from fts.core.campaign import (  # noqa: E402
    Action,
    AmdMode,
    AmdSettings,
    AudioPart,
    CampaignSettings,
    KeyOption,
    Menu,
    Replay,
)
from fts.dialer.registry import ActiveCall, CallRegistry  # noqa: E402

CAMPAIGN = 1
ASSETS = {1: "/sounds/hello", 2: "/sounds/menu", 3: "/sounds/thanks"}

PROFILES = {
    "key": {"hangup_after": 30, "keys": [[2.0, "1"]], "amd": "HUMAN"},
    "listen": {"hangup_after": 30, "amd": "HUMAN"},
    "amd": {"hangup_after": 30, "keys": [[2.5, "1"]], "amd": "HUMAN"},
}


def profile(scenario):
    spec = {"prefix": "", "ring_seconds": 0, "rings": False}
    spec.update(PROFILES[scenario])
    return {
        "seed": 1,
        "outcomes": {"answered": 1},
        "ring_seconds": 0,
        "amd": {"human_seconds": 0.5},
        "overrides": [spec],
        "sounds": {"default": 3.0, "durations": {
            "/sounds/hello": 3.0, "/sounds/menu": 3.0, "/sounds/thanks": 2.0}},
    }


def settings(scenario):
    return CampaignSettings(
        name="bench",
        message=(AudioPart(1), AudioPart(2)),
        menu=Menu(options=(KeyOption("1", Action.RECORD, "yes", message=(AudioPart(3),)),),
                  wait_seconds=5, no_key=Replay(0), invalid_key=Replay(0)),
        amd=AmdSettings(mode=AmdMode.HANGUP if scenario == "amd" else AmdMode.OFF),
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % (pid,)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(name, value, unit=""):
    print(("%s: %s %s" % (name, value, unit)).rstrip(), flush=True)


class Bench:
    def __init__(self, options):
        self.options = options
        self.settings = settings(options.scenario)
        self.registry = CallRegistry()
        self.playlists = PreparedPlaylists(self.registry)
        self.events = 0
        self.flow = CallFlow(self.registry, self._emit, {CAMPAIGN: self.settings}.get,
                             self.playlists)
        self.router = ScriptRouter({"call": self._run, "hangup": self.flow.run_h_extension},
                                   h_extension=self.flow.run_h_extension)
        self.factory = FastAGIServerFactory(self.router, reactor, max_sessions=100000)
        prepared = []
        prepare(self.settings, {}, None, ASSETS, "en").addCallback(prepared.append)
        self.playlist = prepared[0]
        self.ids = 0
        self.completed = 0
        self.ends = {}
        self.refused = 0
        self.running = True
        self.recording = False
        self.latencies = []

    def _emit(self, event):
        self.events += 1

    def _run(self, session):
        d = self.flow.run(session)
        d.addBoth(self._ended, session)
        return d

    def _ended(self, flow, session):
        call = self.registry.by_channel(session.environment.uniqueid)
        if call is not None:
            if self.recording:
                self.completed += 1
                state = getattr(flow, "state", "error")
                self.ends[state] = self.ends.get(state, 0) + 1
                self.latencies.append(time.perf_counter() - call.claimed_at)
            self.registry.end(call)
        self.originate()
        return flow

    def originate(self):
        if not self.running:
            return
        self.ids += 1
        call_id = self.ids
        phone = "1555%07d" % (call_id % 10000000,)
        call = ActiveCall.claimed(_PerfClock, call_id, CAMPAIGN, call_id, call_id, phone)
        self.registry.add(call)
        self.playlists.attach(call, self.playlist)
        self.registry.place(call, "sim", 0.0)
        d = self.client.originate(
            "Local/%s@callee-sim" % (phone,), "fts-campaign", phone, 1, call.channel_id,
            other_channel_id=call.other_channel_id, variables={"FTS_CALL": call_id},
            timeout_ms=30000)
        d.addErrback(self._refused, call)

    def _refused(self, failure, call):
        self.refused += 1
        print("originate refused: %s" % (failure.getErrorMessage(),), file=sys.stderr)
        self.registry.end(call)
        reactor.callLater(0.1, self.originate)


class _PerfClock:
    """ActiveCall.claimed stamps claimed_at from this: the wall clock here."""

    @staticmethod
    def seconds():
        return time.perf_counter()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--scenario", choices=sorted(PROFILES), default="key")
    parser.add_argument("--events", choices=["off", "call"], default="off")
    parser.add_argument("--backlog", type=int, default=1024,
                        help="listen backlog of the FastAGI port (Twisted's default is 50)")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    options = parser.parse_args()
    pin = options.pin and os.cpu_count() > 1
    if pin:
        os.sched_setaffinity(0, {0})
    report("machine_load_1min_before", os.getloadavg()[0])
    gc.freeze()
    gc.set_threshold(20000, 20, 20)

    bench = Bench(options)
    port = TCP4ServerEndpoint(reactor, 0, backlog=options.backlog,
                              interface="127.0.0.1").listen(bench.factory)
    agi_port = []
    port.addCallback(lambda p: agi_port.append(p.getHost().port))
    reactor.iterate(0)
    while not agi_port:
        reactor.iterate(0.01)
    ami_port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(profile(options.scenario), f)
        profile_path = f.name
    sim = subprocess.Popen([
        sys.executable, "-m", "fts.pbxsim", "--ami", "tcp:%d:interface=127.0.0.1" % ami_port,
        "--agi", "127.0.0.1:%d" % agi_port[0], "--scale", str(options.scale),
        "--callee-config", profile_path, "--capacity", "1000000", "--quiet"],
        cwd=str(ROOT), stdout=subprocess.PIPE,
        preexec_fn=(lambda: os.sched_setaffinity(0, {1})) if pin else None)
    client = AMIClient("sim", TCP4ClientEndpoint(reactor, "127.0.0.1", ami_port), "fts", "fts",
                       reactor, events=options.events, keepalive_interval=None,
                       max_in_flight=options.concurrency + 10,
                       retry_policy=lambda attempt: 0.1)
    bench.client = client
    marks = {}

    def start_recording():
        bench.recording = True
        marks["t0"] = time.perf_counter()
        marks["cpu0"] = time.process_time()
        marks["sim0"] = cpu_seconds(sim.pid)
        reactor.callLater(options.seconds, finish)

    def finish():
        marks["t1"] = time.perf_counter()
        marks["cpu1"] = time.process_time()
        marks["sim1"] = cpu_seconds(sim.pid)
        bench.recording = False
        bench.running = False
        drain(time.perf_counter() + 30)

    def drain(deadline):
        # Let the calls in flight end, so no FastAGI connection is refused.
        if len(bench.registry) and time.perf_counter() < deadline:
            reactor.callLater(0.1, drain, deadline)
            return
        marks["left_in_flight"] = len(bench.registry)
        d = client.stopService()
        d.addBoth(lambda _: reactor.callLater(0.5, reactor.stop))

    def connected(_):
        for _ in range(options.concurrency):
            bench.originate()
        reactor.callLater(options.warmup, start_recording)

    client.on_connected(connected)
    client.startService()
    reactor.run()
    sim.terminate()
    tally = sim.communicate(timeout=30)[0]
    os.unlink(profile_path)

    elapsed = marks["t1"] - marks["t0"]
    calls = bench.completed
    cpu = marks["cpu1"] - marks["cpu0"]
    report("scenario", options.scenario)
    report("calls_per_second", round(calls / elapsed), "calls/s")
    report("calls_completed", calls)
    report("concurrency", options.concurrency, "calls")
    report("server_cpu", round(100 * cpu / elapsed), "%")
    report("server_cpu_per_call", round(cpu / max(calls, 1) * 1e6), "us")
    report("server_calls_per_cpu_second", round(calls / cpu) if cpu else 0, "calls/s")
    report("simulator_cpu", round(100 * (marks["sim1"] - marks["sim0"]) / elapsed), "%")
    lat = sorted(bench.latencies)
    if lat:
        report("call_setup_to_flow_end_p50", round(lat[len(lat) // 2] * 1000, 1), "ms")
        report("call_setup_to_flow_end_p99", round(lat[int(len(lat) * 0.99)] * 1000, 1), "ms")
    report("flow_end_states", json.dumps(bench.ends, sort_keys=True))
    report("events_per_call", round(bench.events / max(bench.ids, 1), 2))
    counts = bench.factory.counts()
    report("agi_failed_scripts", counts.failed)
    report("originates_refused", bench.refused)
    report("calls_left_in_flight", marks.get("left_in_flight"))
    try:
        sim_tally = json.loads(tally.decode().strip().splitlines()[-1])
        report("sim_agi_failures", sim_tally.get("agi_failures", 0))
    except (ValueError, IndexError):
        pass


if __name__ == "__main__":
    main()
