"""
Claiming contacts, part of the L{fts.dialer.pacer.Dialer}: how many to hold
claimed, the claim and the calls rows (L{fts.db.dialing.DialingStore}), the
call flow's preparation, and giving claimed contacts back (pause, stale,
outside their hours, stop) -- with retries while the database is away.
"""

import math

from twisted.internet import defer
from twisted.logger import Logger

from fts.db.dialing import NEVER, as_datetime
from fts.dialer import registry as R
from fts.dialer.campaigns import INFINITY, caller_number

__all__ = ["Claims"]

log = Logger()

#: Claims a campaign may have in progress at once.
CLAIMS_AT_ONCE = 2


class Claims:
    """
    The claiming half of the L{fts.dialer.pacer.Dialer} (a mixin: it uses
    the dialer's C{store}, C{registry}, C{campaigns}, C{clock}, C{kick}).
    """

    def _releases_done(self):
        if self._release_run is not None:
            return self._release_run
        return self._retry_releases()

    def _target(self, campaign, now, dt):
        """
        How many claimed contacts the campaign should hold: what it may
        place now, plus what it will place while the next claim is on its
        way -- its recent rate times twice the claim round trip plus
        C{lookahead}, at least one, at most its channels (or the global
        limit).
        """
        pacing = campaign.pacing
        free = max(0, pacing.max_channels - self.registry.campaign_count(campaign.id))
        free = min(free, max(0, self.max_channels - self.registry.total))
        now_room = min(free, campaign.bucket.available(dt))
        horizon = 2 * campaign.claim_rtt + self.lookahead
        rate = min(campaign.rate(now), pacing.cps, self.cps)
        ahead = max(1, min(math.ceil(rate * horizon),
                           pacing.max_channels, self.max_channels))
        return now_room + ahead

    def _maybe_claim(self, campaign, now, dt):
        if campaign.claiming >= CLAIMS_AT_ONCE or campaign.idle_until > now \
                or campaign.claim_backoff.active(now):
            return
        target = self._target(campaign, now, dt)
        want = target - len(campaign.queue) - campaign.asked
        if want <= 0 or (campaign.claiming and want < target / 2):
            # A second claim only when the first will not cover half of it.
            return
        campaign.claiming += 1
        campaign.asked += want
        d = self._claim(campaign, want, dt)

        def done(result):
            campaign.claiming -= 1
            campaign.asked -= want
            if not campaign.claiming:
                campaign.forget_dues()
            return result

        d.addBoth(done)
        d.addErrback(lambda f: log.failure("claiming contacts of campaign {id}", f,
                                           id=campaign.id))

    @defer.inlineCallbacks
    def _claim(self, campaign, want, dt):
        started = self.clock.seconds()
        mark = campaign.due_mark
        try:
            rows = yield self.store.claim(campaign.id, want, self.instance_id, dt)
        except Exception as e:
            delay = campaign.claim_backoff.failed(self.clock.seconds(), e)
            log.warn("campaign {id}: claim failed ({error}); retrying in {delay:.1f} s",
                     id=campaign.id, error=e, delay=delay)
            self.kick()
            return
        campaign.claim_backoff.succeeded()
        now = self.clock.seconds()
        dt = as_datetime(now)
        calls, releases = [], []
        for row in rows:
            if row.status != "in_flight":
                campaign.dnc_skipped += 1
                self.counts["dnc_skipped"] += 1
                log.info("campaign {campaign}: {phone} skipped, on DNC list {list_id}",
                         campaign=campaign.id, phone=row.phone, list_id=row.dnc_list_id)
                continue
            call = R.ActiveCall.claimed(self.clock, row.call_id, campaign.id, row.id,
                                        row.contact_id, row.phone, row.attempts, row.fields,
                                        row.timezone)
            if row.timezone and not campaign.hours.is_open(dt, row.timezone):
                later = campaign.hours.next_open(dt, row.timezone) or NEVER
                releases.append((row.id, row.call_id, later))
                campaign.outside_hours += 1
                self.counts["outside_hours"] += 1
                continue
            calls.append(call)
        try:
            if calls or releases:
                yield self.store.prepare(
                    campaign.id, [(c.call_id, c.contact_id, c.campaign_contact_id, c.phone)
                                  for c in calls],
                    releases, caller_number(campaign.settings), dt)
        except Exception as e:
            log.warn("campaign {id}: could not write the calls of {n} claimed contacts"
                     " ({error}); they go back to pending", id=campaign.id, n=len(calls),
                     error=e)
            self.release_claims(
                [(campaign.id, c.campaign_contact_id, c.call_id, None) for c in calls]
                + [(campaign.id, r[0], r[1], r[2]) for r in releases])
            campaign.claim_backoff.failed(self.clock.seconds(), e)
            self.kick()
            return
        campaign.note_claim(self.clock.seconds() - started)
        stay = campaign.running and self.active and not self.stopping \
            and self.campaigns.get(campaign.id) is campaign
        for call in calls:
            self.registry.add(call)
            if self._prepare_call is None:
                campaign.queue.append(call)
            else:
                self._prepare(campaign, call)
        if not stay:
            self._release_queue(campaign, "campaign %s" % (campaign.state,))
        if len(rows) < want:
            yield self._went_idle(campaign, mark)
        self.kick()

    def _prepare(self, campaign, call):
        """
        Run the C{prepare_call} hook; the call joins the campaign's queue
        once it succeeds.
        """
        try:
            d = defer.maybeDeferred(self._prepare_call, call, campaign.settings)
        except Exception:
            d = defer.fail()
        synchronous = d.called

        def ready(_):
            if self.registry.by_call(call.call_id) is not call or call.state != R.CLAIMED:
                return
            if campaign.running and self.active and not self.stopping \
                    and self.campaigns.get(campaign.id) is campaign:
                campaign.queue.append(call)
                if not synchronous:
                    self.kick()
            else:
                self._release_later(call, None)

        def failed(failure):
            if self.registry.by_call(call.call_id) is not call:
                return
            now = self.clock.seconds()
            delay = campaign.backoff.failed(now, failure.getErrorMessage())
            log.warn("campaign {id}: the message of call {call_id} cannot be made ready"
                     " ({error}); contact back to pending, campaign backs off {delay:.1f} s",
                     id=campaign.id, call_id=call.call_id, error=failure.getErrorMessage(),
                     delay=delay)
            self._release_later(call, None)

        d.addCallbacks(ready, failed)
        d.addErrback(lambda f: log.failure("preparing call {call_id}", f,
                                           call_id=call.call_id))

    @defer.inlineCallbacks
    def _went_idle(self, campaign, mark):
        """
        The last claim found fewer contacts than asked: none is due now.
        Learn when the next one is, and claim nothing before.
        """
        try:
            found = yield self.store.earliest_pending([campaign.id])
        except Exception as e:
            log.warn("campaign {id}: cannot read its next due contact ({error})",
                     id=campaign.id, error=e)
            campaign.idle_until = self.clock.seconds() + 5.0
            return
        at = found.get(campaign.id)
        now = self.clock.seconds()
        if at is None:
            until = INFINITY
        elif at.timestamp() <= now:
            # Due now but not claimed: locked by a concurrent claim, or the
            # campaign is not running in the database yet; look again soon.
            until = now + 1.0
        else:
            until = at.timestamp()
        # Contacts due again since the claim began (a retry recorded, claims
        # given back) may be missing from the snapshots of both statements.
        campaign.idle_until = min(until, campaign.due_since(mark))

    def _release_queue(self, campaign, why):
        if not campaign.queue:
            return
        calls = list(campaign.queue)
        campaign.queue.clear()
        log.info("campaign {id}: {n} claimed contacts not dialed go back to pending ({why})",
                 id=campaign.id, n=len(calls), why=why)
        for call in calls:
            self._release_later(call, None)

    def _release_queues(self, why):
        for campaign in self.campaigns.values():
            self._release_queue(campaign, why)

    def _release_later(self, call, at):
        self.registry.end(call)
        self.counts["released"] += 1
        self.release_claims([(call.campaign_id, call.campaign_contact_id, call.call_id, at)])

    def release_claims(self, items):
        """
        Put claimed contacts that were never dialed back to pending: at
        C{at}, or (C{None}) as they were.  Retried until the database
        takes it; the campaign looks for due contacts again once done.

        @param items: C{(campaign_id, campaign_contact_id, call_id, at)}.
        """
        self._pending_release.extend(items)
        return self._retry_releases()

    def _retry_releases(self):
        """
        @return: a Deferred firing when the releases started now are done
            (at once if none could start).
        """
        if self._releasing or not self._pending_release:
            return defer.succeed(None)
        batch, self._pending_release = self._pending_release, []
        groups = {}
        for campaign_id, cc_id, call_id, at in batch:
            groups.setdefault(at, []).append((campaign_id, cc_id, call_id))
        self._releasing = True

        @defer.inlineCallbacks
        def run():
            try:
                for at, items in groups.items():
                    try:
                        yield self.store.release([(i[1], i[2]) for i in items], at)
                    except Exception as e:
                        log.warn("could not put {n} claimed contacts back to pending ({error});"
                                 " will retry", n=len(items), error=e)
                        self._pending_release.extend((i[0], i[1], i[2], at) for i in items)
                        continue
                    due = self.clock.seconds() if at is None else at.timestamp()
                    for campaign_id in {i[0] for i in items}:
                        campaign = self.campaigns.get(campaign_id)
                        if campaign is not None:
                            campaign.note_due(due)
            finally:
                self._releasing = False
                self._release_run = None
            if self._pending_release and self.active and not self.stopping and (
                    self._release_timer is None or not self._release_timer.active()):
                # The database refused: try again in a second, not at once.
                self._release_timer = self.clock.callLater(1.0, self._retry_releases)
            self.kick()

        d = run()
        d.addErrback(lambda f: log.failure("releasing claimed contacts", f))
        if self._releasing:
            self._release_run = d
        return d

    def _expire_stale(self, now):
        limit = now - self.stale_after
        for campaign in self.campaigns.values():
            stale = 0
            while campaign.queue and campaign.queue[0].claimed_at < limit:
                self._release_later(campaign.queue.popleft(), None)
                stale += 1
            if stale:
                log.info("campaign {id}: {n} claimed contacts waited over {s} s without a"
                         " channel; back to pending", id=campaign.id, n=stale,
                         s=self.stale_after)
