"""
The campaign page's live data: progress, calls in flight, the headline
numbers and two outcome charts, and the operation the campaign's job is
running (L{fts.web.campaign_jobs}), sent as server-sent events
(C{/campaigns/<id>/events}) so the page updates without reloads.

One L{fts.web.live.LiveFeed} per campaign being watched: one snapshot per
tick however many browsers watch it, and none while nobody does.

Both reads behind it grow with the campaign's size, so both are reused
for a time that grows with what they cost, which keeps the database time
they take flat (a bounded share of one connection per watched campaign)
whatever the size:

  - the progress (one pass over the campaign's rows,
    L{fts.db.calls.CallsQuery.progress}) lives in a L{ProgressCache}
    shared with the campaign page itself: reused for at least
    C{min_age} (1 s) and for C{cost_factor} (20) times what the last read
    took, and one read at a time per campaign however many pages and
    feeds ask; once stale, the kept reading is still served (up to
    C{max_stale}, 30 s, old) while the next read runs behind it, so only
    the first view of a campaign waits for a read;
  - the report behind the numbers and charts
    (L{fts.db.reports.ReportStore.current}) reads every contact and every
    call of the campaign, so it is rebuilt at most every
    C{report_interval} seconds (10) per campaign, or every
    C{report_cost_factor} (20) times its last build time when that is
    longer (a build of 1 s: every 20 s).

The charts are SVG from L{fts.reports.charts}, which escapes every label;
the page's script puts them in place as they come.
"""

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from fts.reports.charts import COLOURS, bar_chart
from fts.web.live import LiveFeed

log = Logger()

#: Most campaigns with a feed at once (a feed with no watcher costs nothing
#: but its entry; the oldest idle ones are dropped beyond this).
MAX_FEEDS = 200


def report_part(report):
    """
    The numbers and charts of a L{fts.reports.model.Report}, as plain values.
    """
    outcomes = [(row.label, row.contacts or 0) for row in report.final_outcomes]
    calls = [(row.label, row.calls or 0) for row in report.call_outcomes]
    return {
        "kind": report.kind,
        "built_at": report.built_at.timestamp(),
        "figures": [{"key": f.key, "label": f.label, "text": f.text()}
                    for f in report.figures()],
        "charts": {
            "contacts": bar_chart("Contacts per outcome", outcomes, unit="contacts"),
            "calls": bar_chart("Calls per outcome", calls, unit="calls",
                               colour=COLOURS["answered"]),
        },
    }


class ProgressCache:
    """
    The campaigns' progress, each reused for a time that grows with what
    its last read cost (see the module docstring).

    @param clock: C{seconds()}: what ages the entries and times the reads.
    @param read: C{read(campaign_id)} -> Deferred of the progress.
    @ivar max_entries: most campaigns kept (the oldest reads go first).
    """

    def __init__(self, clock, read, min_age=1.0, cost_factor=20.0, max_entries=500,
                 max_stale=30.0):
        self.clock = clock
        self.read = read
        self.min_age = min_age
        self.cost_factor = cost_factor
        self.max_entries = max_entries
        self.max_stale = max_stale
        self._entries = {}  # campaign id -> (read at, good until, progress)
        self._reading = {}  # campaign id -> [Deferreds waiting]

    def get(self, campaign_id):
        """
        A Deferred of the campaign's progress: the kept one while it is
        fresh; once it is stale but read less than C{max_stale} seconds
        ago, still the kept one, at once, while a new read starts behind
        it (so a page never waits on a costly read it was not the first to
        need); else the next read (shared by every caller waiting for it).
        """
        now = self.clock.seconds()
        entry = self._entries.get(campaign_id)
        if entry is not None and now < entry[1]:
            return defer.succeed(entry[2])
        if entry is not None and now - entry[0] < self.max_stale:
            if campaign_id not in self._reading:
                self._start(campaign_id, now, [])
            return defer.succeed(entry[2])
        waiter = defer.Deferred()
        waiting = self._reading.get(campaign_id)
        if waiting is not None:
            waiting.append(waiter)
            return waiter
        self._start(campaign_id, now, [waiter])
        return waiter

    def _start(self, campaign_id, now, waiting):
        self._reading[campaign_id] = waiting
        d = defer.maybeDeferred(self.read, campaign_id)
        d.addBoth(self._read, campaign_id, now)

    def _read(self, result, campaign_id, started):
        waiting = self._reading.pop(campaign_id, [])
        failed = isinstance(result, Failure)
        if failed and not waiting:
            log.failure("campaign {id}: reading its progress failed", result, id=campaign_id)
        if not failed:
            now = self.clock.seconds()
            age = max(self.min_age, self.cost_factor * (now - started))
            self._entries.pop(campaign_id, None)
            self._entries[campaign_id] = (now, now + age, result)
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        for waiter in waiting:
            if failed:
                waiter.errback(result)
            else:
                waiter.callback(result)

    def forget(self, campaign_id):
        """
        Read the campaign's progress afresh next time (it just moved).
        """
        self._entries.pop(campaign_id, None)


class CampaignFeeds:
    """
    The live feeds of the campaigns being watched, and the cached reports.

    @param web: the L{fts.web.app.AdminApp}.
    @param build: C{build(web, campaign_id)} -> Deferred of the snapshot
        without its report part (see L{fts.web.pages.campaigns}).
    @param progress: C{progress(campaign_id)} -> Deferred of the
        campaign's L{fts.db.calls.Progress}, kept in L{progress}
        (a L{ProgressCache}) for the page and the feeds; or L{None}.
    """

    def __init__(self, web, build, interval=2.0, report_interval=10.0, progress=None,
                 report_cost_factor=20.0):
        self.web = web
        self.build = build
        self.interval = interval
        self.report_interval = report_interval
        self.report_cost_factor = report_cost_factor
        self.progress = ProgressCache(web.clock, progress) if progress is not None else None
        self._feeds = {}
        self._reports = {}  # campaign id -> (rebuild after, Report or None)

    def subscribe(self, campaign_id, request):
        feed = self._feeds.get(campaign_id)
        if feed is None:
            self._forget_idle()
            feed = self._feeds[campaign_id] = LiveFeed(
                self.web.clock, lambda: self.snapshot(campaign_id), interval=self.interval,
                max_subscribers=50)
        return feed.subscribe(request)

    def _forget_idle(self):
        if len(self._feeds) < MAX_FEEDS:
            return
        for campaign_id, feed in list(self._feeds.items()):
            if not len(feed):
                del self._feeds[campaign_id]
                self._reports.pop(campaign_id, None)

    async def current_report(self, campaign_id):
        """
        The campaign's live (or final) L{fts.reports.model.Report}, rebuilt
        when older than C{report_interval} or C{report_cost_factor} times
        what its last build took, whichever is longer -- shared by the
        feeds and C{GET /api/v1/campaigns/{id}/stats}; L{None} when it
        cannot be read (said in the log).
        """
        now = self.web.clock.seconds()
        cached = self._reports.get(campaign_id)
        if cached is not None and now < cached[0]:
            return cached[1]
        reports = getattr(self.web.store, "reports", None)
        if reports is None:
            return None
        try:
            report = await reports.current(campaign_id)
        except Exception:
            log.failure("campaign {campaign}: reading its live report", campaign=campaign_id)
            report = None
        built = self.web.clock.seconds()
        wait = max(self.report_interval, self.report_cost_factor * (built - now))
        self._reports[campaign_id] = (built + wait, report)
        return report

    async def report(self, campaign_id):
        """
        The report part of the campaign's snapshot (L{report_part} of
        L{current_report}), or L{None}.
        """
        report = await self.current_report(campaign_id)
        return report_part(report) if report is not None else None

    async def snapshot(self, campaign_id):
        data = await self.build(self.web, campaign_id)
        data["report"] = await self.report(campaign_id)
        return data

    def close(self):
        for feed in self._feeds.values():
            feed.close()
        self._feeds.clear()
