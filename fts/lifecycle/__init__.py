"""
Campaign life-cycle jobs: what moves campaigns by the clock and finalizes
them (PRODUCT 4, 7 and 8).

    settings.py    LifecycleSettings: intervals, bounds, chunk sizes
    decisions.py   pure: which time-driven trigger is due for a campaign now
    sweeper.py     CampaignSweeper: one sweep (start, expire, complete,
                   begin finalizing)
    finalizer.py   CampaignFinalizer: the finalization chain of one campaign
                   (wait for calls, archive, report, purge, finalized)
    jobs.py        CampaignLifecycle: registers the sweeper job and one
                   finalization job per finalizing campaign with the JobRunner

Wiring (fts/service.py)::

    lifecycle = CampaignLifecycle(
        reactor, store.campaigns, FinalizationStore(pool), jobs_runner,
        hangup=dialer.hangup, report_builder=ReportStore(pool).build_final,
        settings=LifecycleSettings(stuck_call_timeout=config...))
    lifecycle.install()
    # the dialer, whenever a call of a campaign ends:
    lifecycle.notify_call_ended(campaign_id)
"""

from fts.lifecycle.jobs import CampaignLifecycle
from fts.lifecycle.settings import LifecycleSettings

__all__ = ["CampaignLifecycle", "LifecycleSettings"]
