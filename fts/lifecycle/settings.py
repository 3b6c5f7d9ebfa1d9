"""
The knobs of the life-cycle jobs, with the defaults an operator gets.
"""

import attr


def _positive(instance, attribute, value):
    if not value > 0:
        raise ValueError(f"{attribute.name} must be more than 0, not {value!r}")


def _not_negative(instance, attribute, value):
    if value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, not {value!r}")


@attr.frozen(kw_only=True)
class LifecycleSettings:
    """
    @ivar sweep_interval: seconds between sweeps (start, expire, complete,
        begin finalizing), give or take C{sweep_jitter}.
    @ivar stuck_call_timeout: seconds a finalizing campaign waits for its
        calls in flight before hanging up the rest through AMI.
    @ivar poll_interval: while waiting, how often the database is asked
        again even if the dialer reported no call end (the safety net).
    @ivar hangup_grace: after the hang-ups, seconds to let their hangup
        events arrive (recording the real outcome) before the calls still
        open are recorded as hung up by FTS.
    @ivar archive_chunk: campaign_contacts ids archived per statement.
    @ivar purge_chunk: ids of rows deleted per statement.
    @ivar parallelism: archive and purge statements a finalization runs at
        once, each on its own pool connection (keep it below the pool size;
        the database server needs that many cores free to gain from it).
    @ivar finalize_timeout: seconds one attempt of a finalization job may
        take (it must exceed C{stuck_call_timeout}).
    @ivar finalize_retries: retries of a failed finalization step, each
        after C{finalize_retry_delay} seconds.
    @ivar failure_backoff: seconds before a finalization whose job failed
        is started again by the sweeper.
    """

    sweep_interval: float = attr.field(default=5.0, validator=_positive)
    sweep_jitter: float = attr.field(default=1.0, validator=_not_negative)
    sweep_timeout: float = attr.field(default=120.0, validator=_positive)
    stuck_call_timeout: float = attr.field(default=120.0, validator=_not_negative)
    poll_interval: float = attr.field(default=5.0, validator=_positive)
    hangup_grace: float = attr.field(default=5.0, validator=_not_negative)
    archive_chunk: int = attr.field(default=50_000, validator=_positive)
    purge_chunk: int = attr.field(default=50_000, validator=_positive)
    parallelism: int = attr.field(default=2, validator=_positive)
    finalize_timeout: float = attr.field(default=3600.0, validator=_positive)
    finalize_retries: int = attr.field(default=3, validator=_not_negative)
    finalize_retry_delay: float = attr.field(default=30.0, validator=_not_negative)
    failure_backoff: float = attr.field(default=300.0, validator=_not_negative)

    def __attrs_post_init__(self):
        if self.sweep_jitter >= self.sweep_interval:
            raise ValueError("sweep_jitter must be less than sweep_interval")
        if self.finalize_timeout <= self.stuck_call_timeout + self.hangup_grace:
            raise ValueError(
                "finalize_timeout must exceed stuck_call_timeout + hangup_grace,"
                " or the wait for calls would always time out")
