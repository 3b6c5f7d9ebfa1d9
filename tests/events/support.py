"""
Helpers shared by the event tests.
"""

from twisted.internet import defer
from twisted.logger import globalLogPublisher

from fts.events import model as M
from fts.events.model import CallEvent

T0 = 1_800_000_000.0


def run_now(f, *args):
    """
    A C{run_blocking} that runs the file work at once, on the calling
    thread: deterministic, for tests.
    """
    return defer.maybeDeferred(f, *args)


class ManualRunner:
    """
    A C{run_blocking} that runs each operation only when the test says so
    (L{step}), to look at what is queued meanwhile.
    """

    def __init__(self):
        self.waiting = []

    def __call__(self, f, *args):
        d = defer.Deferred()
        self.waiting.append((f, args, d))
        return d

    def step(self):
        f, args, d = self.waiting.pop(0)
        try:
            result = f(*args)
        except Exception:
            d.errback()
        else:
            d.callback(result)


def events(n, call_id=7, campaign_id=None, start=1, kind=M.KEY):
    """
    C{n} key events of one call, keyed C{"<call_id>:<seq>"}.
    """
    return [CallEvent(key=M.idempotency_key(call_id, seq), kind=kind, campaign_id=campaign_id,
                      call_id=call_id, occurred_at=T0 + seq,
                      payload={"key": str(seq % 10)} if kind == M.KEY else {})
            for seq in range(start, start + n)]


def capture_log(testcase):
    """
    A list that receives every log event until the test ends.
    """
    seen = []
    globalLogPublisher.addObserver(seen.append)
    testcase.addCleanup(globalLogPublisher.removeObserver, seen.append)
    return seen


def messages(seen, level=None):
    from twisted.logger import formatEvent

    return [formatEvent(e) for e in seen
            if level is None or e.get("log_level") == level]
