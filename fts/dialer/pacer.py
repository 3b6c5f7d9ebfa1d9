"""
The dialer: decides, whenever something changes, how many calls each
campaign may place now, places them, and follows them to their end.

Event-driven, never polling.  L{Dialer.kick} schedules one pump on the next
reactor turn (kicks in the same turn coalesce); it is called when a call
ends, a claim returns, a campaign starts or resumes, a PBX connects or
answers an Originate, the event log becomes durable again, and by the one
wake-up timer, set for the earliest future instant the dialer knows
something will change: a retry due, a calling window opening, a token
bucket refilling, a backoff ending, a scheduled start, a claimed contact
getting stale.

A pump (L{Dialer._pump}, synchronous, never re-entrant):

  1. gives the capacity free now to the campaigns that have claimed
     contacts waiting (or a claim on its way), with
     L{fts.core.pacing.allocate}: global channels and calls per second,
     per-PBX channels, calls per second and unanswered Originates,
     per-campaign channels and calls per second, priority as the share;
  2. places those calls on the connected PBXes with the most free capacity
     (L{fts.core.pacing.choose_pbx});
  3. starts a claim for each campaign whose waiting contacts do not cover
     what it may place now plus what it will place while the next claim is
     on its way (its recent rate times twice the claim round trip, plus
     C{lookahead}); up to two claims per campaign run at once;
  4. sets the wake-up timer.

A freed channel is refilled at once, not on the next turn (L{_refill}):
with a single campaign to dial, the next claimed contact is placed on the
PBX the call freed after the same limit checks a pump makes; otherwise a
pump runs right away unless one ran within the last 2 ms (the ends of one
read of AMI events then share the next turn's pump).

Limits are exact because calls are only placed by these two paths, both
synchronous, both checking the counts of the L{CallRegistry} (every call
holding a channel, including calls whose PBX went away) at the moment they
decide; claimed contacts hold no channel.  Claimed contacts are held at
most C{stale_after} seconds (then given back): the DNC check done by the
claim is that recent when the call is placed.

What is written where: the claim and the calls rows are written before the
Originate (L{fts.db.dialing.DialingStore}); everything that follows is an
event (C{originate_sent}, C{originate_accepted}, C{originate_failed},
C{answered}, C{hangup}, C{lost}), and the end events carry the outcome and
the retry decision (C{retry_at} or C{final_outcome}) that the event writer
applies to C{calls} and C{campaign_contacts} in the same transaction.  While
the event writer cannot make events durable (C{accepting_calls} false) no
new call is placed.  C{calls.originated_at} is when the calls row was
written, just before the call was queued for dialing; the C{originate_sent}
event has the exact instant.
"""

from twisted.internet import defer
from twisted.logger import Logger

from fts.core import lifecycle
from fts.core.outcomes import AttemptOutcome
from fts.core.pacing import CampaignLoad, PbxLoad, allocate, choose_pbx
from fts.db.campaigns import CampaignStore
from fts.db.dialing import NEVER, as_datetime
from fts.dialer import line as L
from fts.dialer import registry as R
from fts.dialer.campaigns import INFINITY, Backoff, DialingCampaign, bucket_for, caller_number
from fts.dialer.claims import Claims
from fts.dialer.outcomes import Outcomes
from fts.dialer.reconcile import Reconciler
from fts.events import model as M

__all__ = ["Dialer", "NoCapacity"]

log = Logger()

#: Ends within this many seconds of a pump wait for the next turn's pump.
_COALESCE = 0.002


class NoCapacity(Exception):
    """
    A test call could not be placed: no connected PBX or channel is free.
    """


class _Line:
    """
    A line as the pump sees it: its bucket and backoff.
    """

    __slots__ = ("line", "bucket", "backoff", "down_since", "originating")

    def __init__(self, line, now, burst_seconds):
        self.line = line
        self.bucket = bucket_for(line.cps, now, burst_seconds)
        self.backoff = Backoff()
        self.down_since = None
        #: Call ids whose Originate the PBX has not answered yet.
        self.originating = set()


class Dialer(Claims, Outcomes):
    """
    The dialer core (not a service: L{fts.dialer.service.DialerService}
    runs it while this daemon holds the dialer's leadership).  Claiming is
    in L{fts.dialer.claims}, what becomes of placed calls in
    L{fts.dialer.outcomes}; this module has the controls and the pump.

    @param clock: C{IReactorTime} (the reactor; a C{Clock} in tests).
    @param store: a L{fts.db.dialing.DialingStore}.
    @param events: the event writer: C{emit(event)}, C{accepting_calls},
        C{on_durability_change(callback)}, and optionally
        C{emit_durable(event) -> Deferred}.
    @param lines: the L{fts.dialer.line.IPBXLine}s (names unique).
    @param instance_id: this daemon's id (C{claimed_by}).
    @param max_channels: global calls in flight.
    @param cps: global originates per second.
    @param dial_string: default dial string template (C{{number}}).
    @param lookahead: seconds of dialing to keep claimed ahead.
    @param stale_after: seconds after which a claimed contact not yet
        dialed goes back to pending (its DNC check would be too old).
    @param burst_seconds: token bucket burst, in seconds of rate (at least
        one token).
    @param transition: C{transition(campaign_id, trigger, actor) ->
        Deferred(Transition)}, the one place campaigns change state
        (L{fts.db.campaigns.CampaignStore.transition}); by default a
        C{CampaignStore} on the store's pool and this clock.
    @param reconcile_interval: seconds between periodic reconciliations
        with the PBXes.
    @param max_originating: Originates a PBX may have unanswered at once:
        a PBX that slows down (the first sign of overload is a rising
        Originate-to-response time) gets fewer new calls, by itself.
    @param prepare_call: C{prepare_call(call, settings)} (may return a
        Deferred), run for every claimed call before it may be dialed: the
        call flow makes its playlist there (text-to-speech rendered before
        the call is placed).  A failure puts the contact back to pending
        (no attempt) and backs the campaign off.
    """

    def __init__(self, clock, store, events, lines, instance_id, max_channels=200, cps=100.0,
                 dial_string="Local/{number}@fts-callee", lookahead=0.25, stale_after=10.0,
                 burst_seconds=0.01, reconcile_settle=1.0, transition=None,
                 reconcile_interval=60.0, max_originating=100, prepare_call=None):
        self.clock = clock
        self._prepare_call = prepare_call
        self.max_originating = max_originating
        self.store = store
        if transition is None:
            transition = CampaignStore(store.pool, clock).transition
        self._transition = transition
        self.events = events
        self.instance_id = instance_id
        self.max_channels = max_channels
        self.cps = cps
        self.dial_string = dial_string
        self.lookahead = lookahead
        self.stale_after = stale_after
        self.burst_seconds = burst_seconds
        self.registry = R.CallRegistry()
        now = as_datetime(clock.seconds())
        self.bucket = bucket_for(cps, now, burst_seconds)
        self.lines = {}
        for line in lines:
            if line.name in self.lines:
                raise ValueError("two PBX lines are named %r" % (line.name,))
            self.lines[line.name] = _Line(line, now, burst_seconds)
            line.on_progress(self._progress)
            line.on_connection_change(self._connection_changed)
        self.campaigns = {}
        self._settings = {}  # campaign id -> settings, kept for calls that outlive it
        self.active = False
        self.stopping = False
        self._kick = None
        self._wake = None
        self._pumping = False
        self._last_pump = -1.0
        self._sole = None
        self._pending_release = []
        self._releasing = False
        self._release_run = None
        self._release_timer = None
        self._drained = []
        self.counts = dict(placed=0, accepted=0, refused=0, uncertain=0, answered=0, ended=0,
                           lost=0, adopted=0, dnc_skipped=0, outside_hours=0, released=0,
                           test_calls=0)
        self._ended_listeners = []
        self.reconciler = Reconciler(self, settle=reconcile_settle,
                                     interval=reconcile_interval)
        self.registry.on_end(self._call_left)
        events.on_durability_change(self._durability_changed)

    # -- public controls -------------------------------------------------------

    @defer.inlineCallbacks
    def activate(self):
        """
        Start dialing (this daemon just became the leader): reconcile the
        contacts left in flight, load the campaigns, pump.
        """
        self.stopping = False
        log.info("dialer {instance} active: reconciling calls left in flight, then dialing",
                 instance=self.instance_id)
        yield self.reload()
        yield self.reconciler.after_restart()
        self.active = True
        self.kick()

    def deactivate(self):
        """
        Stop placing calls (leadership lost): calls in flight are still
        followed, so their events still land.
        """
        if self.active:
            log.warn("dialer {instance} no longer active: no new calls",
                     instance=self.instance_id)
        self.active = False
        self._cancel_timers()
        self.reconciler.stop_periodic()
        self._release_queues("the dialer is no longer active")

    @defer.inlineCallbacks
    def drain(self, grace):
        """
        Stop placing calls, give back the claimed contacts not dialed, and
        wait up to C{grace} seconds for the calls in flight to end.

        @return: a Deferred firing with the number of calls still in flight.
        """
        self.stopping = True
        self._cancel_timers()
        self.reconciler.stop_periodic()
        self._release_queues("the dialer is stopping")
        yield self._releases_done()
        if self.registry.total == 0 or grace <= 0:
            return self.registry.total
        log.info("dialer stopping: waiting up to {grace} s for {n} calls in flight",
                 grace=grace, n=self.registry.total)
        d = defer.Deferred()
        timer = self.clock.callLater(grace, self._drain_done, d)
        self._drained.append((d, timer))
        remaining = yield d
        return remaining

    def _drain_done(self, d):
        self._drained = [(w, t) for (w, t) in self._drained if w is not d]
        if not d.called:
            remaining = self.registry.total
            if remaining:
                log.warn("dialer stopping with {n} calls still in flight; the next start"
                         " reconciles them", n=remaining)
            d.callback(remaining)

    def start(self, campaign_id, actor="system:dialer"):
        """
        Start a scheduled campaign (its start time has come).

        @return: a Deferred firing with the L{lifecycle.Transition}.
        """
        return self._control(campaign_id, lifecycle.Trigger.START, actor)

    def pause(self, campaign_id, actor="system:dialer"):
        """
        Pause: no new call from the next pump on; calls in flight end
        normally; claimed contacts not yet dialed go back to pending.
        """
        return self._control(campaign_id, lifecycle.Trigger.PAUSE, actor)

    def resume(self, campaign_id, actor="system:dialer"):
        return self._control(campaign_id, lifecycle.Trigger.RESUME, actor)

    def cancel(self, campaign_id, actor="system:dialer"):
        """
        Cancel (finish, reason cancelled): as pause, for good.
        """
        return self._control(campaign_id, lifecycle.Trigger.CANCEL, actor)

    @defer.inlineCallbacks
    def _control(self, campaign_id, trigger, actor):
        move = yield self._transition(campaign_id, trigger, actor)
        log.info("campaign {id}: {trigger} by {actor} ({from_state} -> {to_state})",
                 id=campaign_id, trigger=str(trigger), actor=actor,
                 from_state=str(move.from_state), to_state=str(move.to_state))
        campaign = self.campaigns.get(campaign_id)
        if campaign is not None and move.to_state is not lifecycle.State.RUNNING:
            # Stop at once, before the reload round trip.
            campaign.record = _with_state(campaign.record, str(move.to_state))
            self._release_queue(campaign, "campaign %s" % (move.to_state,))
        yield self.reload([campaign_id])
        return move

    @defer.inlineCallbacks
    def reload(self, campaign_ids=None):
        """
        Read the campaigns (all, or those of C{campaign_ids}) again and pump.
        """
        records = yield self.store.campaigns(campaign_ids)
        now = self.clock.seconds()
        dt = as_datetime(now)
        seen = set()
        for record in records:
            seen.add(record.id)
            self._settings[record.id] = record.settings
            campaign = self.campaigns.get(record.id)
            if campaign is None:
                campaign = self.campaigns[record.id] = DialingCampaign(record, dt,
                                                                       self.burst_seconds)
            else:
                was_running = campaign.running
                campaign.update(record, dt)
                if campaign.running and not was_running:
                    campaign.idle_until = 0.0
                    campaign.backoff.succeeded()
            if not campaign.running:
                self._release_queue(campaign, "campaign %s" % (campaign.state,))
            else:
                # Something changed (contacts added, settings): look again.
                campaign.note_due(0.0)
        wanted = set(self.campaigns) if campaign_ids is None else set(campaign_ids)
        for gone in wanted - seen:
            campaign = self.campaigns.pop(gone, None)
            if campaign is not None:
                self._release_queue(campaign, "campaign no longer dialable")
        self.kick()

    def campaign_changed(self, campaign_id):
        """
        Something changed a campaign in the database (NOTIFY): reload it.
        """
        d = self.reload([campaign_id])
        d.addErrback(lambda f: log.failure("reloading campaign {id}", f, id=campaign_id))
        return d

    @defer.inlineCallbacks
    def test_call(self, campaign_id, number, actor="system:dialer", fields=None):
        """
        Call one number now with a campaign's settings, outside its list
        (a test call: no contact, no retry; C{calls.is_test_call}).
        C{fields}: the values the message's placeholders take (a sample
        contact's), default none.

        @return: a Deferred firing with the call id once the PBX accepted
            it; failing with L{NoCapacity} or the line's error.
        """
        if not self._may_dial():
            raise NoCapacity("this daemon places no calls now (standby, stopping, or events"
                             " cannot be made durable)")
        records = yield self.store.campaigns([campaign_id], any_state=True)
        if not records:
            raise KeyError("no campaign %s" % (campaign_id,))
        settings = records[0].settings
        self._settings[campaign_id] = settings
        now = self.clock.seconds()
        line = self._pick_line(now)
        if line is None or self.registry.total >= self.max_channels:
            raise NoCapacity("no PBX can take a call now (channels in use: %d of %d)"
                             % (self.registry.total, self.max_channels))
        call_id = yield self.store.insert_test_call(
            campaign_id, number, caller_number(settings), as_datetime(now))
        call = R.ActiveCall.claimed(self.clock, call_id, campaign_id, None, None, number,
                                    fields=fields, is_test=True)
        self.registry.add(call)
        self.counts["test_calls"] += 1
        if self._prepare_call is not None:
            try:
                yield defer.maybeDeferred(self._prepare_call, call, settings)
            except Exception as e:
                self._end(call, M.ORIGINATE_FAILED, {
                    "outcome": str(AttemptOutcome.FAILED),
                    "error": "message not ready: %s" % (e,)}, self.clock.seconds())
                raise
        log.info("test call {call_id} of campaign {campaign} to {number} by {actor}",
                 call_id=call_id, campaign=campaign_id, number=number, actor=actor)
        line = self._pick_line(self.clock.seconds()) or line
        yield self._place(call, line, settings)
        return call_id

    def hangup(self, channel_id, cause=16):
        """
        Hang up a call in flight (finalization's stuck calls, an operator).

        @return: a Deferred; it fails when no PBX has that channel.
        """
        call = self.registry.by_channel(channel_id)
        names = [call.pbx] if call is not None and call.pbx in self.lines else list(self.lines)
        lines = [self.lines[n].line for n in names if self.lines[n].line.connected]
        if not lines:
            return defer.fail(L.PBXUnavailable(",".join(names) or "-",
                                               "no connected PBX to hang up %s" % (channel_id,)))

        @defer.inlineCallbacks
        def attempt():
            error = None
            for line in lines:
                try:
                    result = yield line.hangup(channel_id, cause)
                except Exception as e:
                    error = e
                    continue
                log.info("hung up {channel} on {pbx} (cause {cause})", channel=channel_id,
                         pbx=line.name, cause=cause)
                return result
            raise error

        return attempt()

    def on_call_ended(self, callback):
        """
        Call C{callback(campaign_id)} whenever a call of a campaign has
        ended (or a claim was given back) and its end is recorded --
        finalization waits for that.
        """
        self._ended_listeners.append(callback)

    def _tell_ended(self, campaign_id):
        for callback in list(self._ended_listeners):
            try:
                d = defer.maybeDeferred(callback, campaign_id)
            except Exception:
                log.failure("call-ended listener failed")
                continue
            d.addErrback(lambda f: log.failure("call-ended listener failed", f))

    def kick(self):
        """
        Pump on the next reactor turn (coalesced).
        """
        if (self._kick is None or not self._kick.active()) and self.active \
                and not self.stopping:
            self._kick = self.clock.callLater(0, self._pump)

    # -- health ----------------------------------------------------------------

    def health_details(self):
        now = self.clock.seconds()
        return {
            "active": self.active,
            "accepting_events": bool(self.events.accepting_calls),
            "in_flight": self.registry.total,
            "max_channels": self.max_channels,
            "cps": self.cps,
            "campaigns": {str(cid): c.as_dict(now, self.registry.campaign_count(cid))
                          for cid, c in sorted(self.campaigns.items())},
            "pbx": {name: {"connected": bool(entry.line.connected),
                           "in_flight": self.registry.pbx_count(name),
                           "foreign": self.registry.foreign.get(name, 0),
                           "capacity": entry.line.capacity,
                           "originates_unanswered": len(entry.originating),
                           "cps": entry.line.cps,
                           "backoff": entry.backoff.as_dict(now)}
                    for name, entry in sorted(self.lines.items())},
            "counts": dict(self.counts),
        }

    # -- the pump --------------------------------------------------------------

    def _may_dial(self):
        return self.active and not self.stopping and bool(self.events.accepting_calls)

    def _pump(self):
        if self._pumping:
            self.kick()
            return
        self._pumping = True
        try:
            self._pump_once()
        finally:
            self._pumping = False

    def _pump_once(self):
        self._kick = None
        if not self._may_dial():
            return
        now = self.clock.seconds()
        self._last_pump = now
        dt = as_datetime(now)
        # Refill every bucket once: later reads at the same instant are free.
        self.bucket = self.bucket.refill(dt)
        for entry in self.lines.values():
            entry.bucket = entry.bucket.refill(dt)
        for campaign in self.campaigns.values():
            campaign.bucket = campaign.bucket.refill(dt)
        self._retry_releases()
        self._expire_stale(now)
        self._start_due_schedules(now)
        lines = [entry for entry in self.lines.values()
                 if entry.line.connected and not entry.backoff.active(now)]
        pbx_loads = []
        for entry in lines:
            name = entry.line.name
            in_flight = self.registry.pbx_count(name)
            free = max(0, entry.line.capacity - in_flight)
            window = max(0, self.max_originating - len(entry.originating))
            room = min(free, entry.bucket.available(dt), window)
            pbx_loads.append(PbxLoad(name, in_flight + room, in_flight, True))
        loads = []
        dialable = []
        for campaign in self.campaigns.values():
            if not campaign.running or campaign.backoff.active(now):
                continue
            if not campaign.hours.is_open(dt):
                continue
            dialable.append(campaign)
            pacing = campaign.pacing
            # A campaign whose claim is in flight (or due) takes its share
            # now, so the first claim to return does not take everything;
            # its share stays unused until its contacts arrive.
            due = campaign.idle_until <= now and not campaign.claim_backoff.active(now)
            ready = bool(campaign.queue) or campaign.claiming or due
            in_flight = self.registry.campaign_count(campaign.id)
            # What it could use now: its queue, plus what its claims in
            # progress (or one due) will bring -- not more, so the share
            # loop stays short.
            usable = len(campaign.queue) + campaign.asked + (1 if due else 0)
            loads.append(CampaignLoad(
                campaign.id, pacing.priority, in_flight,
                min(pacing.max_channels, in_flight + usable),
                campaign.bucket.available(dt), ready, campaign.placed))
        free_global = max(0, min(self.max_channels - self.registry.total,
                                 self.bucket.available(dt)))
        shares = allocate(free_global, loads, pbx_loads) if loads else {}
        # With a single campaign to dial there is no share to keep: a freed
        # channel can be refilled at once, without a pump (see _refill).
        self._sole = dialable[0].id if len(dialable) == 1 else None
        for campaign in dialable:
            n = shares.get(campaign.id, 0)
            if n:
                pbx_loads = self._dial_from_queue(campaign, n, pbx_loads, dt)
        for campaign in dialable:
            self._maybe_claim(campaign, now, dt)
        self._set_wake(now, dt)

    def _dial_from_queue(self, campaign, n, pbx_loads, dt):
        n = min(n, len(campaign.queue))
        if n <= 0:
            return pbx_loads
        now = self.clock.seconds()
        granted, campaign.bucket = campaign.bucket.take(dt, n)
        got, self.bucket = self.bucket.take(dt, granted)
        if got < granted:
            campaign.bucket = _refund(campaign.bucket, granted - got)
        placed = released = 0
        while placed < got and campaign.queue and not campaign.backoff.active(now):
            call = campaign.queue.popleft()
            if not campaign.hours.is_open(dt, call.timezone):
                self._release_later(call, campaign.hours.next_open(dt, call.timezone) or NEVER)
                campaign.outside_hours += 1
                released += 1
                continue
            # A PBX that refused an originate synchronously is out at once.
            pbx_loads = [p for p in pbx_loads if not self.lines[p.id].backoff.active(now)]
            name = choose_pbx(pbx_loads)
            if name is None:
                campaign.queue.appendleft(call)
                break
            entry = self.lines[name]
            _, entry.bucket = entry.bucket.take(dt, 1)
            pbx_loads = [PbxLoad(p.id, p.capacity, p.in_flight + 1, p.connected)
                         if p.id == name else p for p in pbx_loads]
            placed += 1
            campaign.note_placed(now)
            d = self._place(call, entry.line, campaign.settings)
            d.addErrback(lambda f: None)  # handled and logged in _refused
        if placed < got:
            campaign.bucket = _refund(campaign.bucket, got - placed)
            self.bucket = _refund(self.bucket, got - placed)
            if released:
                # Capacity left unused by contacts outside their hours: let
                # the others have it.
                self.kick()
        return pbx_loads

    def campaign_settings(self, campaign_id):
        """
        The settings of a campaign the dialer knows (for the call flow), or
        C{None}.
        """
        return self._settings.get(campaign_id)

    # -- refilling freed channels ---------------------------------------------------

    def _call_left(self, call):
        if call.originated_at is not None:
            campaign = self.campaigns.get(call.campaign_id)
            if campaign is not None:
                campaign.note_ended(self.clock.seconds())
        if self.registry.total == 0 and self._drained:
            waiters, self._drained = self._drained, []
            for d, timer in waiters:
                if timer.active():
                    timer.cancel()
                if not d.called:
                    d.callback(0)
        if call.originated_at is not None:
            self._refill(call)
        else:
            self.kick()

    def _refill(self, ended):
        """
        A channel was freed by C{ended}: refill it now rather than on the
        next reactor turn, which may come only after every other socket's
        data has been handled.

        When one campaign is being dialed (no share to keep among several)
        and it has a claimed contact waiting, the call is placed at once on
        the PBX the ended call freed, after the same checks a pump makes
        (channels: global, campaign, PBX; calls per second: global,
        campaign, PBX; the PBX's window of unanswered Originates; the
        calling window and the contact's hours).  Otherwise -- or when a
        pump ran less than C{_COALESCE} seconds ago -- the pump runs (now,
        or on the next turn).  Either way a pump follows on the next turn
        for the rest (claims, timers), shared by all the ends of that turn.
        """
        if self._pumping or not self._may_dial():
            self.kick()
            return
        if self._sole is not None and self._sole == ended.campaign_id \
                and self._place_one(ended):
            self.kick()
            return
        if self.clock.seconds() - self._last_pump < _COALESCE:
            self.kick()
            return
        if self._kick is not None and self._kick.active():
            self._kick.cancel()
        self._kick = None
        self._pump()

    def _place_one(self, ended):
        """
        Place one call of C{ended}'s campaign on C{ended}'s PBX if every
        limit allows it now; return whether it did.
        """
        campaign = self.campaigns.get(ended.campaign_id)
        entry = self.lines.get(ended.pbx)
        if campaign is None or entry is None or not campaign.queue or not campaign.running:
            return False
        now = self.clock.seconds()
        line = entry.line
        if campaign.backoff.active(now) or entry.backoff.active(now) or not line.connected:
            return False
        pacing = campaign.pacing
        registry = self.registry
        if registry.total >= self.max_channels \
                or registry.campaign_count(campaign.id) >= pacing.max_channels \
                or registry.pbx_count(line.name) >= line.capacity \
                or len(entry.originating) >= self.max_originating:
            return False
        dt = as_datetime(now)
        call = campaign.queue[0]
        if not campaign.hours.is_open(dt, call.timezone):
            return False
        buckets = [b.refill(dt) for b in (self.bucket, campaign.bucket, entry.bucket)]
        if any(b.available(dt) < 1 for b in buckets):
            return False
        self.bucket, campaign.bucket, entry.bucket = (b.take(dt, 1)[1] for b in buckets)
        campaign.queue.popleft()
        campaign.note_placed(now)
        d = self._place(call, line, campaign.settings)
        d.addErrback(lambda f: None)  # handled and logged in _refused
        return True

    # -- PBX connections -------------------------------------------------------

    def _connection_changed(self, line, connected):
        entry = self.lines.get(line.name)
        if entry is None:
            return
        now = self.clock.seconds()
        if connected:
            entry.down_since = None
            entry.backoff.succeeded()
            if self.active or any(c.uncertain for c in self.registry):
                log.info("PBX {pbx} connected: reconciling its calls", pbx=line.name)
                d = self.reconciler.reconcile_line(line)
                d.addErrback(lambda f: log.failure("reconciling PBX {pbx}", f,
                                                   pbx=line.name))
            self.kick()
        else:
            entry.down_since = now
            calls = self.registry.on_pbx(line.name)
            for call in calls:
                self.reconciler.mark_uncertain(call, [line.name])
            if calls:
                log.warn("PBX {pbx} disconnected with {n} calls in flight: they keep their"
                         " channels until it returns and is reconciled; new calls go to the"
                         " other PBXes", pbx=line.name, n=len(calls))

    def _pick_line(self, now):
        loads = []
        for entry in self.lines.values():
            if entry.line.connected and not entry.backoff.active(now):
                name = entry.line.name
                loads.append(PbxLoad(name, entry.line.capacity, self.registry.pbx_count(name),
                                     True))
        name = choose_pbx(loads)
        return self.lines[name].line if name is not None else None

    # -- scheduled starts --------------------------------------------------------

    def _start_due_schedules(self, now):
        for campaign in list(self.campaigns.values()):
            record = campaign.record
            if record.state != "scheduled" or campaign.starting or record.starts_at is None:
                continue
            if record.starts_at.timestamp() > now:
                continue
            campaign.starting = True

            def done(result, campaign=campaign):
                campaign.starting = False
                return result

            d = self.start(campaign.id, actor="system:dialer-schedule")
            d.addCallback(done)
            d.addErrback(self._start_refused, campaign)

    def _start_refused(self, failure, campaign):
        """
        A scheduled start did not happen.  It is not tried again before the
        campaign changes (a reload), or 30 s for any other error.
        """
        if failure.check(lifecycle.IllegalTransition):
            # Started (or changed) by someone else meanwhile, e.g. the
            # sweeper: the reload tells us where it stands.
            log.info("campaign {id}: not started by its schedule: {error}", id=campaign.id,
                     error=failure.getErrorMessage())
            return self.campaign_changed(campaign.id)
        log.warn("campaign {id}: scheduled start refused: {error}", id=campaign.id,
                 error=failure.getErrorMessage())
        if not failure.check(lifecycle.TransitionError):
            def again():
                campaign.starting = False
                self.kick()

            self.clock.callLater(30.0, again)

    # -- the wake-up timer -----------------------------------------------------

    def _set_wake(self, now, dt):
        times = []
        for campaign in self.campaigns.values():
            record = campaign.record
            if record.state == "scheduled" and record.starts_at is not None \
                    and not campaign.starting:
                times.append(record.starts_at.timestamp())
                continue
            if not campaign.running:
                continue
            if campaign.backoff.active(now):
                times.append(campaign.backoff.until)
                continue
            if not campaign.hours.is_open(dt):
                opens = campaign.hours.next_open(dt)
                if opens is not None:
                    times.append(opens.timestamp())
                continue
            if campaign.claim_backoff.active(now):
                times.append(campaign.claim_backoff.until)
            if campaign.idle_until > now and campaign.idle_until != INFINITY:
                times.append(campaign.idle_until)
            if campaign.queue:
                times.append(campaign.queue[0].claimed_at + self.stale_after)
                if self.registry.campaign_count(campaign.id) < campaign.pacing.max_channels:
                    for bucket in (campaign.bucket, self.bucket):
                        at = bucket.next_token_at(dt)
                        if at is not None and at > dt:
                            times.append(at.timestamp())
                    for entry in self.lines.values():
                        if not entry.line.connected:
                            continue
                        if entry.backoff.active(now):
                            times.append(entry.backoff.until)
                        else:
                            at = entry.bucket.next_token_at(dt)
                            if at is not None and at > dt:
                                times.append(at.timestamp())
        future = [t for t in times if t > now]
        if not future:
            if self._wake is not None and self._wake.active():
                self._wake.cancel()
            self._wake = None
            return
        when = min(future)
        if self._wake is not None and self._wake.active():
            if abs(self._wake.getTime() - when) < 1e-6:
                return
            self._wake.cancel()
        self._wake = self.clock.callLater(max(0.0, when - now), self._woken)

    def _woken(self):
        self._wake = None
        self.kick()

    def _cancel_timers(self):
        for call in (self._kick, self._wake, self._release_timer):
            if call is not None and call.active():
                call.cancel()
        self._kick = self._wake = self._release_timer = None

    def _durability_changed(self, accepting):
        if accepting:
            log.info("events are durable: the dialer places calls again")
            self.kick()
        else:
            log.warn("events cannot be made durable: the dialer places no new call until"
                     " they can")


def _refund(bucket, n):
    """
    Give back C{n} tokens taken but not used.
    """
    import attr

    return attr.evolve(bucket, tokens=min(float(bucket.burst), bucket.tokens + n))


def _with_state(record, state):
    import attr

    return attr.evolve(record, state=state)
