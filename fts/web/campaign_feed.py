"""
The campaign page's live data: progress, calls in flight, the headline
numbers and two outcome charts, and the operation the campaign's job is
running (L{fts.web.campaign_jobs}), sent as server-sent events
(C{/campaigns/<id>/events}) so the page updates without reloads.

One L{fts.web.live.LiveFeed} per campaign being watched: one snapshot per
tick however many browsers watch it, and none while nobody does.  The
progress is cheap (index counts, L{fts.db.calls.CallsQuery.progress}); the
report behind the numbers and charts (L{fts.db.reports.ReportStore.current})
reads every contact of the campaign, so it is rebuilt at most every
C{report_interval} seconds per campaign and reused in between.

The charts are SVG from L{fts.reports.charts}, which escapes every label;
the page's script puts them in place as they come.
"""

from twisted.logger import Logger

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


class CampaignFeeds:
    """
    The live feeds of the campaigns being watched, and the cached reports.

    @param web: the L{fts.web.app.AdminApp}.
    @param build: C{build(web, campaign_id)} -> Deferred of the snapshot
        without its report part (see L{fts.web.pages.campaigns}).
    """

    def __init__(self, web, build, interval=2.0, report_interval=10.0):
        self.web = web
        self.build = build
        self.interval = interval
        self.report_interval = report_interval
        self._feeds = {}
        self._reports = {}  # campaign id -> (built at, report part)

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

    async def report(self, campaign_id):
        """
        The report part of the campaign's snapshot, rebuilt when older than
        C{report_interval}; L{None} when it cannot be read (said in the log).
        """
        now = self.web.clock.seconds()
        cached = self._reports.get(campaign_id)
        if cached is not None and now - cached[0] < self.report_interval:
            return cached[1]
        reports = getattr(self.web.store, "reports", None)
        if reports is None:
            return None
        try:
            part = report_part(await reports.current(campaign_id))
        except Exception:
            log.failure("campaign {campaign}: reading its live report", campaign=campaign_id)
            part = None
        self._reports[campaign_id] = (now, part)
        return part

    async def snapshot(self, campaign_id):
        data = await self.build(self.web, campaign_id)
        data["report"] = await self.report(campaign_id)
        return data

    def close(self):
        for feed in self._feeds.values():
            feed.close()
        self._feeds.clear()
