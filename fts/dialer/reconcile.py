"""
Reconciling what the dialer believes is in flight with what the PBXes and
the database say: after a restart (or takeover), after every PBX reconnect,
when an Originate's answer never came, and periodically.

Rules:

  - A call whose fate is uncertain (its PBX went away, its Originate was not
    answered, it was left in flight by an earlier run) keeps its channel --
    counted against every limit -- until each PBX it may be on has been
    asked (C{CoreShowChannels}).  Found: it is adopted and followed to its
    end like any other.  Found nowhere: it ended while nobody watched; it is
    settled as lost (outcome C{unknown}, retry policy applies), or, if no PBX
    ever accepted it, as a refused originate (no attempt counted).
  - A PBX that stays down longer than a call can last (ring timeout + max
    call duration + a minute) no longer holds its uncertain calls.
  - A call we follow live that a PBX no longer has, twice in a row, is a
    discrepancy: logged and settled as lost.
  - Channels that look like ours (C{fts-…}) but belong to no call we know
    are counted against that PBX and the global limit until the next
    reconciliation: never exceed a limit while unsure.
  - After a restart, contacts left in flight without a calls row were never
    dialed and go straight back to pending; those with a calls row but no
    trace of an Originate sent (claimed ahead, not dialed yet) and on no
    PBX go back as a failed originate (no attempt, due at once).
"""

from twisted.internet import defer, task
from twisted.logger import Logger

from fts.dialer import line as L
from fts.dialer import registry as R

__all__ = ["Reconciler"]

log = Logger()

_GRACE = 60.0


class Reconciler:
    """
    The reconciliation half of a L{fts.dialer.pacer.Dialer}.

    @param settle: seconds to wait before asking a PBX about a call whose
        Originate answer did not come (its channel may be being created).
    @param interval: seconds between periodic reconciliations.
    """

    def __init__(self, dialer, settle=1.0, interval=60.0):
        self.dialer = dialer
        self.settle = settle
        self.interval = interval
        self._busy = {}
        self._scheduled = {}
        self._loop = None

    # -- uncertain calls -------------------------------------------------------

    def mark_uncertain(self, call, pbxes):
        """
        C{call} may or may not exist on C{pbxes}: keep its channel until
        they have been asked.
        """
        call.uncertain = True
        call.check_on.update(pbxes)
        for name in pbxes:
            entry = self.dialer.lines.get(name)
            if entry is not None and entry.line.connected:
                self._schedule(entry.line)

    def found_on(self, call, pbx):
        """
        A call we did not know the PBX of reported progress from C{pbx}.
        """
        self.dialer.registry.assign_pbx(call, pbx)
        call.check_on.discard(pbx)

    def _schedule(self, line):
        if line.name in self._scheduled:
            return

        def run():
            del self._scheduled[line.name]
            d = self.reconcile_line(line)
            d.addErrback(lambda f: log.failure("reconciling PBX {pbx}", f, pbx=line.name))

        self._scheduled[line.name] = self.dialer.clock.callLater(self.settle, run)

    # -- one PBX ---------------------------------------------------------------

    @defer.inlineCallbacks
    def reconcile_line(self, line):
        """
        Compare the calls the dialer has (or may have) on C{line} with its
        channels, and correct the difference.
        """
        name = line.name
        if self._busy.get(name):
            self._busy[name] = "again"
            return
        self._busy[name] = True
        try:
            while True:
                yield self._reconcile_once(line)
                if self._busy.get(name) != "again":
                    break
                self._busy[name] = True
        finally:
            self._busy.pop(name, None)

    @defer.inlineCallbacks
    def _reconcile_once(self, line):
        dialer = self.dialer
        registry = dialer.registry
        name = line.name
        asked = {call.call_id for call in registry
                 if (call.pbx == name and call.occupies)
                 or (call.uncertain and name in call.check_on)}
        try:
            channels = yield line.active_channels()
        except Exception as e:
            log.warn("PBX {pbx}: cannot list its channels ({error}); will reconcile when it"
                     " answers", pbx=name, error=e)
            return
        now = dialer.clock.seconds()
        adopted = settled = 0
        for call in registry:
            if call.call_id not in asked or call.state == R.ENDED:
                continue
            info = channels.get(call.channel_id)
            if info is not None:
                registry.assign_pbx(call, name)
                call.absent_checks = 0
                if call.uncertain:
                    call.uncertain = False
                    call.check_on.clear()
                    call.adopted = True
                    adopted += 1
                    line.track(call.channel_id, call.other_channel_id,
                               answered=info.state == "Up")
                    if info.state == "Up":
                        dialer._answered(call, now)
                    else:
                        dialer._mark_accepted(call)
                continue
            if call.uncertain:
                call.check_on.discard(name)
                if not call.check_on:
                    settled += 1
                    dialer.settle_lost(call, "no longer on PBX %s" % (name,))
            elif call.pbx == name and (call.accepted or call.adopted):
                call.absent_checks += 1
                if call.absent_checks >= 2:
                    settled += 1
                    log.warn("PBX {pbx} no longer has call {call_id} ({channel}) though its"
                             " end was never reported; correcting", pbx=name,
                             call_id=call.call_id, channel=call.channel_id)
                    dialer.settle_lost(call, "missing from PBX %s twice in a row" % (name,))
        foreign = [uid for uid in channels
                   if L.call_id_from_channel_id(uid) is not None
                   and not uid.endswith("-2") and registry.by_channel(uid) is None]
        if len(foreign) != registry.foreign.get(name, 0):
            if foreign:
                log.warn("PBX {pbx} has {n} FTS channels no call here knows of ({sample});"
                         " counted against its limits until they are gone", pbx=name,
                         n=len(foreign), sample=", ".join(sorted(foreign)[:5]))
            registry.set_foreign(name, len(foreign))
        if adopted or settled:
            log.info("PBX {pbx} reconciled: {adopted} calls found and followed, {settled}"
                     " settled as lost, {total} in flight there", pbx=name, adopted=adopted,
                     settled=settled, total=registry.pbx_count(name))
        dialer.kick()

    # -- after a restart -----------------------------------------------------------

    @defer.inlineCallbacks
    def after_restart(self):
        """
        Take over what an earlier run (or the previous leader) left in
        flight in the database.
        """
        dialer = self.dialer
        registry = dialer.registry
        rows = yield dialer.store.in_flight()
        tests = yield dialer.store.open_test_calls()
        names = set(dialer.lines)
        releases = []
        adopted = 0
        for row in rows:
            if row.call_id is not None and registry.by_call(row.call_id) is not None:
                continue
            if row.call_id is None or not row.call_exists or row.ended_at is not None:
                # Never dialed (claimed, then the daemon died before the
                # calls row), or its end is already recorded.
                releases.append((row.campaign_id, row.id, row.call_id, None))
                continue
            call = R.ActiveCall.claimed(dialer.clock, row.call_id, row.campaign_id, row.id,
                                        row.contact_id, row.phone, row.attempts, row.fields,
                                        row.timezone)
            self._restore(call, row.accepted_at, row.answered_at, row.pbx, names)
            adopted += 1
        for open_call in tests:
            if registry.by_call(open_call.id) is not None:
                continue
            call = R.ActiveCall.claimed(dialer.clock, open_call.id, open_call.campaign_id,
                                        None, None, open_call.number, is_test=True)
            self._restore(call, open_call.accepted_at, open_call.answered_at, open_call.pbx,
                          names)
            adopted += 1
        if releases:
            dialer.counts["released"] += len(releases)
            yield dialer.release_claims(releases)
        if rows or tests:
            log.info("dialer took over {calls} calls left in flight ({released} contacts never"
                     " dialed back to pending); asking the PBXes about them",
                     calls=adopted, released=len(releases))
        for entry in list(dialer.lines.values()):
            if entry.line.connected:
                yield self.reconcile_line(entry.line)
        self.start_periodic()

    def _restore(self, call, accepted_at, answered_at, pbx, names):
        call.accepted_at = accepted_at.timestamp() if accepted_at else None
        call.answered_at = answered_at.timestamp() if answered_at else None
        call.originated_at = call.claimed_at
        # A call no PBX accepted and with no record of its Originate being
        # sent was, but for the last few milliseconds before a crash, never
        # dialed: if no PBX has it, it is given back without an attempt
        # (a failed originate), not retried as a lost call.
        call.adopted = accepted_at is not None or pbx is not None
        call.uncertain = True
        call.state = (R.ANSWERED if call.answered_at else
                      R.QUEUED if call.accepted_at else R.ORIGINATING)
        if pbx in names:
            call.pbx = pbx
            call.check_on = {pbx}
        else:
            call.check_on = set(names)
        self.dialer.registry.add(call)

    # -- periodic ------------------------------------------------------------------

    def start_periodic(self):
        if self._loop is not None or not self.interval:
            return
        self._loop = task.LoopingCall(self._periodic)
        self._loop.clock = self.dialer.clock
        d = self._loop.start(self.interval, now=False)
        d.addErrback(lambda f: log.failure("periodic reconciliation stopped", f))

    def stop_periodic(self):
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()
        for call in self._scheduled.values():
            if call.active():
                call.cancel()
        self._scheduled.clear()

    def _periodic(self):
        try:
            self._sweep_down()
            for entry in list(self.dialer.lines.values()):
                if entry.line.connected:
                    d = self.reconcile_line(entry.line)
                    d.addErrback(lambda f, n=entry.line.name: log.failure(
                        "reconciling PBX {pbx}", f, pbx=n))
        except Exception:
            log.failure("periodic reconciliation failed; it runs again in {s} s",
                        s=self.interval)

    def _sweep_down(self):
        """
        Calls held only by PBXes that have been down longer than those
        calls can last are settled.
        """
        dialer = self.dialer
        now = dialer.clock.seconds()
        for call in dialer.registry:
            if not call.uncertain or call.state == R.ENDED:
                continue
            settings = dialer._settings.get(call.campaign_id)
            life = _GRACE
            if settings is not None:
                life += settings.pacing.ring_timeout + settings.pacing.max_call_duration
            started = call.originated_at or call.claimed_at or now
            if now - started < life:
                continue
            for name in list(call.check_on):
                entry = dialer.lines.get(name)
                if entry is None or not entry.line.connected:
                    call.check_on.discard(name)
            if not call.check_on:
                dialer.settle_lost(call, "its PBX stayed away longer than the call could last")
