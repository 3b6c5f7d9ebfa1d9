"""
The FTS FastAGI server as a benchmark target (run by bench/agi_sessions.py).

It serves one script, ``bench``: ANSWER, STREAM FILE, WAIT FOR DIGIT,
SET VARIABLE, HANGUP, written as a real call flow would be (``async def``).
By default the server runs the coroutine itself (``--driver native``, the
fast path); ``--driver deferred`` wraps it in ``Deferred.fromCoroutine`` and
``--driver inline`` writes it with ``inlineCallbacks`` (like
fts.callflow), for comparison.  It prints ``listening <port>`` once ready,
then runs until killed.

    python bench/agi_server.py --port 0 [--cpu 0] [--gc tuned|default]
        [--driver native|deferred|inline]
"""

import argparse
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--max-sessions", type=int, default=20000)
    parser.add_argument("--driver", choices=["native", "deferred", "inline"], default="native")
    parser.add_argument("--gc", choices=["tuned", "default"], default="tuned")
    parser.add_argument(
        "--gc-threshold",
        default="1000,5,1000000000",
        help="thresholds for --gc tuned (gen0,gen1,gen2)",
    )
    parser.add_argument(
        "--gc-log", action="store_true", help="print every collection over 2 ms to stderr"
    )
    options = parser.parse_args()
    if options.gc_log:
        import time

        started = {}

        def collection(phase, info):
            if phase == "start":
                started["t"] = time.perf_counter()
            else:
                took = time.perf_counter() - started.get("t", time.perf_counter())
                if took > 0.002:
                    sys.stderr.write(
                        "gc gen%d %.1f ms collected %d\n"
                        % (info["generation"], took * 1000, info["collected"])
                    )

        gc.callbacks.append(collection)
    if options.cpu is not None:
        os.sched_setaffinity(0, {options.cpu})

    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred, inlineCallbacks

    from fts.asterisk.agi import FastAGIServerFactory, ScriptRouter

    async def bench_flow(session):
        await session.answer()
        await session.stream_file("beep")
        await session.wait_for_digit(60000)
        await session.set_variable("FTS_RESULT", "done")
        await session.hangup()

    @inlineCallbacks
    def inline_flow(session):
        yield session.answer()
        yield session.stream_file("beep")
        yield session.wait_for_digit(60000)
        yield session.set_variable("FTS_RESULT", "done")
        yield session.hangup()

    async def hangup_flow(session):
        await session.get_variable("FTS_RESULT")

    if options.driver == "native":
        bench, hangup = bench_flow, hangup_flow
    elif options.driver == "deferred":

        def bench(session):
            return Deferred.fromCoroutine(bench_flow(session))

        def hangup(session):
            return Deferred.fromCoroutine(hangup_flow(session))

    else:
        bench, hangup = inline_flow, hangup_flow

    factory = FastAGIServerFactory(
        ScriptRouter({"bench": bench}, h_extension=hangup),
        reactor,
        max_sessions=options.max_sessions,
    )
    port = reactor.listenTCP(options.port, factory, backlog=4096, interface="127.0.0.1")

    def ready():
        if options.gc == "tuned":
            # Everything alive now (modules, the reactor) is never scanned
            # again.  Young collections stay small (gen1 holds at most
            # gen0 x gen1 survivors, a few ms to scan); full collections,
            # which scan every live session (tens of ms with 10,000 of them),
            # are left to the daemon's own schedule: sessions leave no
            # cyclic garbage behind (see tests), so nothing piles up.
            gc.collect()
            gc.freeze()
            gc.set_threshold(*[int(n) for n in options.gc_threshold.split(",")])
        sys.stdout.write("listening %d\n" % (port.getHost().port,))
        sys.stdout.flush()

    reactor.callWhenRunning(ready)
    reactor.run()


if __name__ == "__main__":
    main()
