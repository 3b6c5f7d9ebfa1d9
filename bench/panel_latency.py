"""
Benchmark: dashboard and campaign page latency while the daemon has 1,000
simulated calls in flight (issue 7; target p99 <= 100 ms).

Four processes, none sharing a reactor:

  - the PBX simulator (C{python -m fts.pbxsim}), standing in for Asterisk:
    every callee answers after C{--ring} seconds and hangs up after
    C{--hold} seconds (uniform), while the call flow's message is still
    playing (each sound lasts 600 s in the simulator);
  - the daemon, C{twistd -n fts}, on its embedded PostgreSQL (fsync on),
    with C{[pbx] mode = ami} and one C{[ami:sim]} server pointing at the
    simulator (the daemon's own C{mode = sim} runs the simulator on the
    daemon's reactor and has no setting for call lengths, so it would
    measure a PBX inside the panel's process); global, PBX and campaign
    limits of C{--calls} channels and C{--cps} originates per second;
  - the loader (C{--role load}): creates a list of C{--contacts} contacts
    through the real importer, a campaign (text-to-speech message, AMD
    off) through the campaign store, and an operator API token, in the
    daemon's database; confirms and starts the campaign through the JSON
    API (C{POST /api/v1/campaigns/ID/confirm}, C{/start}), waits until
    C{GET /api/v1/stats} shows C{--calls} calls in flight, then samples
    that figure every 0.5 s until told to stop;
  - the prober (C{--role probe}): logs in through C{/login} like a
    browser, keeps C{--streams} live dashboards open (server-sent events),
    and requests C{GET /} (the dashboard) and C{GET /campaigns/ID}, each on
    its own keep-alive connection, C{--rate} times a second each, on a
    fixed schedule (a late response delays the next request: no
    coordinated-omission correction), for C{--seconds} seconds, starting
    C{--settle} seconds after the target was reached (so that calls are
    ending and being replaced during the probe).

    python bench/panel_latency.py            # 1,000 calls, 30 s of probing
    python bench/panel_latency.py --quick    # 50 calls, 5 s: a smoke run

Prints "metric: value unit" lines (latency p50/p95/p99/max per page, calls
in flight during the probe, CPU of each process, the machine); details go
to stderr.  Exits 1, after probing anyway, when the target number of calls
was not reached, saying what the dialer reported.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ADMIN_PASSWORD = "bench-panel-latency-1"
SIM_SECRET = "bench-sim-secret"
PAGES = (("dashboard", "/"), ("campaign", "/campaigns/{id}"))


def note(message):
    print(message, file=sys.stderr, flush=True)


def metric(name, value, unit=""):
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def cpu_seconds(pids):
    """
    CPU seconds (user + system) used so far by C{pids} and their children
    still alive, from C{/proc}.
    """
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    wanted, total, grew = set(pids), 0, True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                grew = True
    for pid in wanted:
        if pid in stats:
            total += stats[pid][1]
    return total / os.sysconf("SC_CLK_TCK")


def machine():
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return model, os.cpu_count()


# -- the loader --------------------------------------------------------------


def settings_for(list_id, args, now):
    """
    The campaign: one text-to-speech part (no placeholder: rendered once),
    a two-key menu, AMD off, open all week, C{--calls} channels at
    C{--cps}, no retries.
    """
    from datetime import time as dtime
    from datetime import timedelta

    from fts.core.campaign import (
        Action, CallerId, CampaignSettings, KeyOption, Menu, Pacing, RetryPolicy, RetryRule,
        Schedule, TextPart, Window)

    start = now.replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
    no = RetryRule(False, 0)
    return CampaignSettings(
        name="Panel latency benchmark", list_id=list_id,
        caller_id=CallerId("5550100", "FTS Bench"),
        message=(TextPart("Hello. This is a benchmark call. Press 1 to confirm."),),
        menu=Menu(options=(KeyOption("1", Action.RECORD, label="Confirmed"),
                           KeyOption("9", Action.OPTOUT, label="Stop calls")), wait_seconds=5),
        schedule=Schedule(timezone="UTC", start=start, end=start + timedelta(days=2),
                          windows=tuple(Window(d, dtime(0), dtime(0)) for d in range(7))),
        pacing=Pacing(max_channels=args.calls, cps=args.cps, ring_timeout=30,
                      max_call_duration=600),
        retry=RetryPolicy(max_attempts=1, busy=no, no_answer=no, failed=no, machine=no,
                          answered_without_key=no))


def load(args):
    """
    The loader process: see the module docstring.  Prints C{ready ID
    REACHED} once the target is reached (or C{--ramp-timeout} passed), then
    the C{(time, calls in flight)} samples as JSON when stdin closes.
    """
    from datetime import datetime, timezone

    import treq
    from twisted.internet import defer, task, threads

    from fts.contacts.imports import ContactImports
    from fts.core.phones import PhoneRules
    from fts.db.audit import Actor
    from fts.db.auth import AuthStore
    from fts.db.embedded import EmbeddedPostgres
    from fts.db.pool import Pool
    from fts.db.store import Store
    from fts.web import security

    data_dir = Path(args.data_dir)
    base = args.url

    @defer.inlineCallbacks
    def api(method, path, token, body=None):
        headers = {"Authorization": f"Bearer {token}"}
        if method == "GET":
            response = yield treq.get(base + "/api/v1" + path, headers=headers, timeout=10)
        else:
            response = yield treq.request(method, base + "/api/v1" + path, headers=headers,
                                          json=body or {}, timeout=10)
        content = yield response.json()
        if response.code >= 300:
            raise RuntimeError(f"{method} {path}: {response.code} {content}")
        return content

    @defer.inlineCallbacks
    def main(reactor):
        pool = Pool(reactor, EmbeddedPostgres(reactor, data_dir / "pg").dsn(), size=2)
        yield pool.start()
        try:
            store = Store(pool, PhoneRules(), clock=reactor)
            started = time.perf_counter()
            csv_path = data_dir / "bench" / "contacts.csv"
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            with open(csv_path, "w") as f:
                f.write("first_name,phone\n")
                f.writelines(f"Contact{n},555{n:07d}\n" for n in range(1, args.contacts + 1))
            lst = yield store.contacts.create_list("Panel latency benchmark",
                                                   source_filename=csv_path.name)
            imports = ContactImports(reactor, store.contacts, data_dir, PhoneRules())
            detected = yield imports.uploaded(lst.id, str(csv_path), csv_path.name)
            run = yield imports.start(lst.id, detected.format())
            final = yield run.when_done()
            note(f"loader: list {lst.id}: {final.accepted_rows} contacts imported "
                 f"({final.import_status}) in {time.perf_counter() - started:.1f} s")
            now = datetime.fromtimestamp(reactor.seconds(), timezone.utc)
            campaign = yield store.campaigns.create(settings_for(lst.id, args, now),
                                                    "system:bench")
            admin = yield store.users.by_username("admin")
            token, prefix = security.new_api_token()
            yield AuthStore(pool).create_token("bench loader", admin.id,
                                               security.token_hash(token), prefix,
                                               security.OPERATOR, None, Actor.system("bench"))
        finally:
            pool.close()
        # Confirmed, a campaign whose schedule has begun is started by the
        # dialer itself; otherwise start it.
        state = yield api("POST", f"/campaigns/{campaign.id}/confirm", token)
        if state.get("state") == "scheduled":
            try:
                state = yield api("POST", f"/campaigns/{campaign.id}/start", token)
            except RuntimeError:
                state = yield api("GET", f"/campaigns/{campaign.id}", token)
        if state.get("state") != "running":
            raise RuntimeError(f"campaign {campaign.id} is {state.get('state')}, not running")
        note(f"loader: campaign {campaign.id} running; ramping to {args.calls} calls")
        ramp_started = time.perf_counter()
        deadline = ramp_started + args.ramp_timeout
        reached, last_print, best = False, 0.0, 0
        while time.perf_counter() < deadline:
            stats = yield api("GET", "/stats", token)
            total = (stats.get("calls") or {}).get("total") or 0
            best = max(best, total)
            if total >= args.calls:
                reached = True
                break
            if time.perf_counter() - last_print > 5:
                last_print = time.perf_counter()
                note(f"loader: {total} calls in flight after "
                     f"{last_print - ramp_started:.0f} s")
            yield task.deferLater(reactor, 0.5, lambda: None)
        ramp = time.perf_counter() - ramp_started
        if not reached:
            status = yield api("GET", "/status", token)
            dialer = status.get("components", {}).get("dialer", {})
            pbx = status.get("components", {}).get("pbx", {})
            note("loader: target NOT reached; dialer: " + json.dumps(dialer.get("details", dialer))
                 + "\nloader: pbx: " + json.dumps(pbx.get("details", pbx)))
        print(f"ready {campaign.id} {best} {ramp:.1f}",
              flush=True)

        stop = threads.deferToThread(sys.stdin.read)
        samples = []
        while not stop.called:
            stats = yield api("GET", "/stats", token)
            samples.append((time.time(), (stats.get("calls") or {}).get("total") or 0))
            yield task.deferLater(reactor, 0.5, lambda: None)
        print(json.dumps(samples), flush=True)

    task.react(main)


# -- the prober --------------------------------------------------------------


class Client:
    """
    A minimal HTTP/1.1 client on one keep-alive connection (so that the
    prober's own cost stays small and visible).
    """

    def __init__(self, port, cookie=None):
        self.port = port
        self.cookie = cookie
        self.sock = None

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, path, body=None, headers=()):
        if self.sock is None:
            self.connect()
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        if self.cookie:
            lines.append(f"Cookie: {self.cookie}")
        lines += list(headers)
        if body is not None:
            lines += ["Content-Type: application/x-www-form-urlencoded",
                      f"Content-Length: {len(body)}"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        self.sock.sendall(data)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers = [tuple(h.split(":", 1)) for h in header_lines if ":" in h]
        found = {k.strip().lower(): v.strip() for k, v in headers}
        if found.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked(rest)
        else:
            length = int(found.get("content-length", "0"))
            while len(rest) < length:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the daemon closed the connection")
                rest += chunk
            body = rest[:length]
        if found.get("connection", "").lower() == "close":
            self.sock.close()
            self.sock = None
        cookies = [v.strip() for k, v in headers if k.strip().lower() == "set-cookie"]
        return status, body, cookies

    def _chunked(self, rest):
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += self.sock.recv(65536)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                rest += self.sock.recv(65536)
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                return body


def login(port):
    """
    Log in as the first admin through the login form; the session cookie.
    """
    client = Client(port)
    status, body, cookies = client.request("GET", "/login")
    login_cookie = next(c.split(";")[0] for c in cookies if c.startswith("fts_login="))
    token = re.search(rb'name="login_token" value="([^"]+)"', body).group(1).decode()
    client.cookie = login_cookie
    from urllib.parse import urlencode

    form = urlencode({"username": "admin", "password": ADMIN_PASSWORD, "login_token": token,
                      "next": "/"}).encode()
    status, body, cookies = client.request("POST", "/login", form)
    session = [c.split(";")[0] for c in cookies if c.startswith("fts_session=") and
               not c.startswith("fts_session=;")]
    if status != 303 or not session:
        raise SystemExit(f"prober: login failed ({status}): {body[:300]!r}")
    return session[0]


def _drain(sock):
    """Read a live dashboard's stream and throw it away."""
    while sock.recv(65536):
        pass


def probe(args):
    """
    The prober process: see the module docstring.  Prints C{ready} once
    logged in and the live dashboards are open, then, after C{--seconds},
    the results as JSON.
    """
    cookie = login(args.port)
    for _ in range(args.streams):
        sock = socket.create_connection(("127.0.0.1", args.port))
        sock.sendall((f"GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
                      f"Cookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n").encode())
        threading.Thread(target=_drain, args=(sock,), daemon=True).start()
    paths = {name: path.format(id=args.campaign) for name, path in PAGES}
    for name, path in paths.items():
        status, body, _ = Client(args.port, cookie).request("GET", path)
        if status != 200:
            raise SystemExit(f"prober: GET {path} answered {status}: {body[:300]!r}")
    print("ready", flush=True)
    results = {name: [] for name in paths}
    start = time.perf_counter() + 0.05
    end = start + args.seconds
    interval = 1.0 / args.rate

    def worker(name, path, offset):
        client = Client(args.port, cookie)
        client.connect()
        due = start + offset
        while due < end:
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            try:
                status, body, _ = client.request("GET", path)
            except OSError as e:
                status, body = 0, str(e).encode()
                client.sock = None
            results[name].append((time.time(), (time.perf_counter() - sent) * 1000, status,
                                  len(body)))
            due += interval

    workers = [threading.Thread(target=worker, args=(name, path, i * interval / len(paths)))
               for i, (name, path) in enumerate(paths.items())]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(json.dumps(results), flush=True)


# -- the orchestrator --------------------------------------------------------


class Run:
    """
    The simulator, the daemon, the loader and the prober of one run, and
    their clean-up.
    """

    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="fts-bench-panel-"))
        self.data_dir = self.work / "data"
        self.web_port, self.agi_port, self.ami_port = free_port(), free_port(), free_port()
        self.processes = []

    def spawn(self, argv, **kwargs):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        process = subprocess.Popen(argv, cwd=ROOT, env=env, **kwargs)
        self.processes.append(process)
        return process

    def start_simulator(self):
        args = self.args
        profile = {"outcomes": {"answered": 1}, "ring_seconds": args.ring,
                   "behaviours": {"hold": {"weight": 1, "hangup_after": args.hold}},
                   "sounds": {"default": 600.0}}
        path = self.work / "callee.json"
        path.write_text(json.dumps(profile))
        self.sim_log = open(self.work / "sim.log", "wb")
        self.sim = self.spawn(
            [sys.executable, "-m", "fts.pbxsim",
             "--ami", f"tcp:{self.ami_port}:interface=127.0.0.1",
             "--agi", f"127.0.0.1:{self.agi_port}", "--callee-config", str(path),
             "--capacity", str(args.calls * 2), "--seed", "1", "--secret", SIM_SECRET,
             "--quiet"], stdout=subprocess.PIPE, stderr=self.sim_log)

    def start_daemon(self):
        args = self.args
        config = self.work / "fts.ini"
        config.write_text(f"""\
[fts]
instance_name = bench
[pbx]
mode = ami
[ami:sim]
host = 127.0.0.1
port = {self.ami_port}
username = fts
secret = {SIM_SECRET}
max_channels = {args.calls}
cps = {args.cps}
[dialer]
max_channels = {args.calls}
cps = {args.cps}
shutdown_grace = 2
[web]
admin_password = {ADMIN_PASSWORD}
[backup]
enabled = no
""")
        twistd = str(Path(sys.executable).parent / "twistd")
        self.daemon_log = open(self.work / "daemon.log", "wb")
        self.daemon = self.spawn(
            [twistd, "-n", "--pidfile=", "fts", "--config", str(config),
             "--data-dir", str(self.data_dir),
             "--web", f"tcp:{self.web_port}:interface=127.0.0.1",
             "--agi", f"tcp:{self.agi_port}:interface=127.0.0.1:backlog=1024"],
            stdout=self.daemon_log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout=120):
        deadline = time.monotonic() + timeout
        client = Client(self.web_port)
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise SystemExit("the daemon exited:\n" + self.tail("daemon.log"))
            try:
                status, body, _ = client.request("GET", "/health")
                report = json.loads(body)
                states = {k: v["state"] for k, v in report["components"].items()}
                if status == 200 and states.get("pbx") == "up" and \
                        states.get("dialer") == "up":
                    return
            except (OSError, ValueError, KeyError):
                client.sock = None
            time.sleep(0.5)
        raise SystemExit("the daemon was not up in time:\n" + self.tail("daemon.log"))

    def tail(self, name, lines=30):
        try:
            return "\n".join((self.work / name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def role(self, name, *extra):
        return self.spawn([sys.executable, __file__, "--role", name, *extra],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # The embedded PostgreSQL stops with the daemon; make sure of it.
        from fts.db.embedded import running_postmaster

        pid = running_postmaster(self.data_dir / "pg")
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if running_postmaster(self.data_dir / "pg") is None:
                    break
                time.sleep(0.1)
        if self.args.keep:
            note(f"kept {self.work} (daemon.log, sim.log)")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def postmaster_pid(data_dir):
    from fts.db.embedded import running_postmaster

    return running_postmaster(data_dir / "pg")


def orchestrate(args):
    # A thousand calls are a thousand FastAGI sockets in the daemon and as
    # many in the simulator: lift the soft limit on open files for them.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    run = Run(args)
    try:
        return _orchestrate(run, args)
    finally:
        run.stop()


def _orchestrate(run, args):
    model, cpus = machine()
    command = " ".join(["python", "bench/panel_latency.py", *sys.argv[1:]])
    note(f"work directory {run.work}")
    run.start_simulator()
    run.start_daemon()
    started = time.perf_counter()
    run.wait_healthy()
    note(f"daemon up in {time.perf_counter() - started:.1f} s")
    loader = run.role("load", "--url", f"http://127.0.0.1:{run.web_port}",
                      "--data-dir", str(run.data_dir), "--calls", str(args.calls),
                      "--cps", str(args.cps), "--contacts", str(args.contacts),
                      "--ramp-timeout", str(args.ramp_timeout))
    line = loader.stdout.readline().split()
    if not line or line[0] != "ready":
        loader.wait()
        raise SystemExit("the loader failed:\n" + run.tail("daemon.log"))
    campaign_id, reached, ramp = int(line[1]), int(line[2]), float(line[3])
    note(f"{reached} calls in flight after {ramp:.1f} s; settling {args.settle:g} s")
    time.sleep(args.settle)
    prober = run.role("probe", "--port", str(run.web_port), "--campaign", str(campaign_id),
                      "--seconds", str(args.seconds), "--rate", str(args.rate),
                      "--streams", str(args.streams))
    if prober.stdout.readline().strip() != "ready":
        prober.wait()
        raise SystemExit("the prober failed")
    pg = postmaster_pid(run.data_dir)
    cpu0 = (cpu_seconds([run.daemon.pid]), cpu_seconds([run.sim.pid]),
            cpu_seconds([pg]) if pg else 0.0, time.perf_counter(), os.getloadavg()[0])
    results = json.loads(prober.stdout.readline())
    cpu1 = (cpu_seconds([run.daemon.pid]), cpu_seconds([run.sim.pid]),
            cpu_seconds([pg]) if pg else 0.0, time.perf_counter(), os.getloadavg()[0])
    prober.wait()
    loader.stdin.close()
    samples = json.loads(loader.stdout.readline())
    loader.wait()
    times = [t for rows in results.values() for t, *_ in rows]
    window = [n for t, n in samples if min(times) <= t <= max(times)] or \
        [n for _, n in samples]
    wall = cpu1[3] - cpu0[3]

    metric("calls_target", args.calls, "calls")
    metric("ramp_seconds", round(ramp, 1), "s")
    metric("in_flight_min", min(window), "calls")
    metric("in_flight_mean", round(sum(window) / len(window)), "calls")
    metric("in_flight_max", max(window), "calls")
    for name, rows in results.items():
        ms = [r[1] for r in rows if r[2] == 200]
        errors = sum(1 for r in rows if r[2] != 200)
        metric(f"{name}_requests", len(rows))
        metric(f"{name}_errors", errors)
        metric(f"{name}_p50", round(percentile(ms, 50), 1), "ms")
        metric(f"{name}_p95", round(percentile(ms, 95), 1), "ms")
        metric(f"{name}_p99", round(percentile(ms, 99), 1), "ms")
        metric(f"{name}_max", round(max(ms), 1) if ms else float("nan"), "ms")
        metric(f"{name}_bytes", round(sum(r[3] for r in rows) / max(1, len(rows))), "bytes")
    metric("daemon_cpu", round(100 * (cpu1[0] - cpu0[0]) / wall), "% of a core")
    metric("simulator_cpu", round(100 * (cpu1[1] - cpu0[1]) / wall), "% of a core")
    metric("postgres_cpu", round(100 * (cpu1[2] - cpu0[2]) / wall), "% of a core")
    metric("load_average_before", round(cpu0[4], 2))
    metric("load_average_after", round(cpu1[4], 2))
    metric("cpus", cpus, "cores")
    print(f"machine: {model}, {cpus} cores", flush=True)
    print(f"command: {command}", flush=True)
    print(f"setup: contacts {args.contacts}, {args.calls} channels at {args.cps:g} cps, ring "
          f"{args.ring:g} s, hold {args.hold[0]:g}-{args.hold[1]:g} s, probe {args.seconds:g} s"
          f" at {args.rate:g}/s per page, {args.streams} live dashboards", flush=True)
    if reached < args.calls:
        note(f"TARGET NOT REACHED: at most {reached} of {args.calls} calls in flight within "
             f"{args.ramp_timeout:g} s (see the dialer's status above)")
        return 1
    return 0


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 50 calls, 500 contacts, 5 s of probing")
    parser.add_argument("--calls", type=int, default=1000, help="calls in flight to reach")
    parser.add_argument("--cps", type=float, default=100.0, help="originates per second")
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--ring", type=float, default=0.5, help="seconds before answering")
    parser.add_argument("--hold", type=float, nargs=2, default=(20.0, 40.0),
                        metavar=("MIN", "MAX"), help="seconds a callee stays on the line")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of probing")
    parser.add_argument("--rate", type=float, default=10.0, help="requests/s per page")
    parser.add_argument("--streams", type=int, default=2, help="live dashboards kept open")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds between reaching the target and probing")
    parser.add_argument("--ramp-timeout", type=float, default=180.0)
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (daemon.log, sim.log)")
    parser.add_argument("--role", choices=("load", "probe"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--campaign", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.contacts, args.seconds, args.settle = 50, 500, 5.0, 2.0
        args.hold, args.cps = (3.0, 6.0), 50.0
    return args


def main():
    args = parse()
    if args.role == "load":
        load(args)
    elif args.role == "probe":
        probe(args)
    else:
        sys.exit(orchestrate(args))


if __name__ == "__main__":
    main()
