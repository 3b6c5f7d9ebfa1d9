"""
The dashboard's live feed: server-sent events carrying one JSON snapshot of
the daemon every few seconds, and the call rates it shows.

One snapshot is built per tick however many browsers watch (the cost of the
dashboard does not grow with its viewers), and only while at least one
watches.  A browser's C{EventSource} reconnects by itself after a drop.
"""

import json
from collections import deque

from twisted.internet import defer
from twisted.logger import Logger

log = Logger()


class CallRates:
    """
    Calls per second and answer rate from the calls that left the dialer's
    registry (listener of L{fts.dialer.registry.CallRegistry.on_end}).

    @ivar window: seconds of ended calls kept for the answer rate.
    @ivar cps_window: seconds over which calls per second are averaged.
    """

    def __init__(self, clock, window=300.0, cps_window=10.0):
        self.clock = clock
        self.window = window
        self.cps_window = cps_window
        self._ended = deque()  # (ended at, originated at, answered)

    def ended(self, call):
        if call.originated_at is None or getattr(call, "is_test", False):
            return
        self._ended.append((self.clock.seconds(), call.originated_at, call.answered))

    def _forget_old(self, now):
        while self._ended and self._ended[0][0] < now - self.window:
            self._ended.popleft()

    def summary(self, in_flight=()):
        """
        C{{"cps": …, "answer_rate": …, "ended": …}}: originates per second
        over the last C{cps_window} seconds (ended calls and C{in_flight}
        ones), and the share of calls ended in the last C{window} seconds
        that were answered (L{None} when none ended).
        """
        now = self.clock.seconds()
        self._forget_old(now)
        since = now - self.cps_window
        recent = sum(1 for _, originated, _ in self._ended if originated >= since)
        recent += sum(1 for call in in_flight
                      if call.originated_at is not None and call.originated_at >= since
                      and not getattr(call, "is_test", False))
        ended = len(self._ended)
        answered = sum(1 for _, _, was_answered in self._ended if was_answered)
        return {
            "cps": round(recent / self.cps_window, 2),
            "answer_rate": (answered / ended) if ended else None,
            "ended": ended,
        }


class LiveFeed:
    """
    Server-sent events of C{snapshot()} (a dict, or a Deferred of one) to
    every subscribed request, every C{interval} seconds.
    """

    def __init__(self, clock, snapshot, interval=2.0, max_subscribers=200):
        self.clock = clock
        self.snapshot = snapshot
        self.interval = interval
        self.max_subscribers = max_subscribers
        self._subscribers = {}  # request -> Deferred Klein waits on
        self._timer = None
        self._building = False

    def __len__(self):
        return len(self._subscribers)

    def subscribe(self, request):
        """
        Stream events to C{request} until it goes away or L{close} is called.

        @return: the Deferred for Klein to wait on (cancelled by Klein when
            the client disconnects), or C{bytes} refusing the stream when
            too many are open.
        """
        if len(self._subscribers) >= self.max_subscribers:
            request.setResponseCode(503)
            request.setHeader(b"retry-after", b"30")
            return b"Too many live dashboards are open.\n"
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-accel-buffering", b"no")
        request.write(b"retry: 5000\n\n")
        done = defer.Deferred(lambda d: self._subscribers.pop(request, None))
        self._subscribers[request] = done
        if self._timer is None and not self._building:
            self._tick()
        return done

    def _tick(self):
        self._timer = None
        if not self._subscribers:
            return
        self._building = True
        d = defer.maybeDeferred(self.snapshot)
        d.addCallback(self._send)
        d.addErrback(lambda f: log.failure("building the dashboard snapshot", f))
        d.addBoth(self._built)

    def _built(self, _):
        self._building = False
        if self._subscribers and self._timer is None:
            self._timer = self.clock.callLater(self.interval, self._tick)

    def _send(self, snapshot):
        data = json.dumps(snapshot, default=str, separators=(",", ":"))
        event = b"event: snapshot\ndata: " + data.encode("utf-8") + b"\n\n"
        for request in list(self._subscribers):
            request.write(event)

    def close(self):
        """
        End every stream (the daemon is stopping).
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        subscribers, self._subscribers = self._subscribers, {}
        for done in subscribers.values():
            done.callback(b"")
