"""
Run FTS's benchmarks: C{make bench} (or C{python -m bench [NAME ...]}).

Each benchmark is a script under C{bench/} that starts its own load in a
separate process from the system under test and prints its results as
C{metric: value unit} lines.  This runner runs them one after another, each
as its own process, and writes what they printed, with the machine they ran
on and the command of each, to C{bench/out/results-<time>.md}.  The
curated numbers, with their analysis, live in C{docs/PERFORMANCE.md}.
"""

import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# name -> arguments; the order runs the quick ones first.
BENCHMARKS = {
    "ami_parse": [],
    "ami_originate": [],
    "agi_sessions": [],
    "events_write": [],
    "dialer_occupancy": [],
    "panel_latency": [],
    "import_1m": [],
    "report_csv": [],
    "finalize_1m": [],
}

_METRIC = re.compile(r"^([A-Za-z0-9_.\-/ ]+):\s+([-+0-9.eE]+)\s*(.*)$")


def machine():
    """
    A line describing this machine: CPU model, cores, memory, load.
    """
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        memory = f"{int(memory) / 1024 / 1024:.0f} GiB"
    except OSError:
        memory = "unknown memory"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{model}, {os.cpu_count()} cores, {memory}; Python {platform.python_version()}"
            f" on {platform.system()} {platform.release()}; load average before: {load}")


def run(name, args):
    script = HERE / f"{name}.py"
    command = [sys.executable, str(script.relative_to(ROOT)), *args]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    metrics = [m.groups() for m in map(_METRIC.match, result.stdout.splitlines()) if m]
    return command, result, elapsed, metrics


def main(argv):
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit("unknown benchmark(s): %s (known: %s)" % (", ".join(unknown),
                                                          ", ".join(BENCHMARKS)))
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = [f"# Benchmark results {stamp}", "", f"Machine: {machine()}", ""]
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        command, result, elapsed, metrics = run(name, BENCHMARKS[name])
        shown = " ".join(c if c != sys.executable else "python" for c in command)
        report += [f"## {name}", "", f"Command: `{shown}` ({elapsed:.1f} s)", ""]
        if result.returncode != 0:
            failed += 1
            tail = "\n".join(result.stderr.strip().splitlines()[-10:])
            report += [f"Failed with exit status {result.returncode}:", "", "```", tail, "```", ""]
            print(f"   failed (exit {result.returncode}); see the report", flush=True)
            continue
        report += ["| metric | value | unit |", "| --- | --- | --- |"]
        for metric, value, unit in metrics:
            report.append(f"| {metric.strip()} | {value} | {unit.strip()} |")
            print(f"   {metric.strip()}: {value} {unit.strip()}", flush=True)
        report.append("")
    path = out / f"results-{stamp}.md"
    path.write_text("\n".join(report) + "\n")
    print(f"written to {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
