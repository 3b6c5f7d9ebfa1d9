"""
What becomes of a placed call, part of the L{fts.dialer.pacer.Dialer}: the
Originate request, its acceptance or refusal (refused: no attempt, the
contact back in the queue, the campaign or PBX backed off), the progress a
PBX line reports (answered, ended), the outcome (from the OriginateResponse
reason and the Hangup cause), the retry decision pushed into the next
allowed instant, and the events that carry them.
"""

from twisted.internet import defer
from twisted.logger import Logger

from fts.core.campaign import render_dial_string
from fts.core.outcomes import AttemptOutcome, classify_originate_failure
from fts.core.retry import decide_retry
from fts.db.dialing import NEVER, as_datetime
from fts.dialer import line as L
from fts.dialer import registry as R
from fts.events import model as M

__all__ = ["Outcomes"]

log = Logger()

#: OriginateResponse reasons that, without a hangup cause, mean the PBX
#: could not place the call at all (its trouble, not the callee's).
PBX_TROUBLE_REASONS = (0,)


class Outcomes:
    """
    The call-following half of the L{fts.dialer.pacer.Dialer} (a mixin: it
    uses the dialer's C{registry}, C{lines}, C{campaigns}, C{events},
    C{clock}, C{counts}, C{reconciler}, C{kick}).
    """

    def _request(self, call, line, settings):
        template = settings.dial_string or self.dial_string
        caller = settings.caller_id
        caller_id = ""
        if caller is not None and (caller.number or caller.name):
            caller_id = '"%s" <%s>' % (caller.name.replace('"', ""), caller.number)
        variables = (("FTS_CALL", str(call.call_id)),)
        if call.campaign_id is not None:
            variables += (("FTS_CAMPAIGN", str(call.campaign_id)),)
        return L.OriginateRequest(
            call_id=call.call_id, channel_id=call.channel_id,
            other_channel_id=call.other_channel_id,
            dial_string=render_dial_string(template, call.phone), exten=call.phone,
            variables=variables, caller_id=caller_id,
            ring_timeout=settings.pacing.ring_timeout)

    def _place(self, call, line, settings):
        now = self.clock.seconds()
        self.registry.place(call, line.name, now)
        entry = self.lines.get(line.name)
        if entry is not None:
            entry.originating.add(call.call_id)
        self.counts["placed"] += 1
        self._emit(call.events.once(M.ORIGINATE_SENT, {
            "channel_id": call.channel_id, "pbx": line.name, "number": call.phone}))
        try:
            d = line.originate(self._request(call, line, settings))
        except Exception as e:
            d = defer.fail(e)
        d.addCallbacks(self._accepted, self._refused, callbackArgs=(call, line),
                       errbackArgs=(call, line))
        return d

    def _answered_originate(self, call, line):
        entry = self.lines.get(line.name)
        if entry is not None and call.call_id in entry.originating:
            entry.originating.discard(call.call_id)
            if len(entry.originating) == self.max_originating - 1:
                self.kick()

    def _accepted(self, result, call, line):
        self._answered_originate(call, line)
        self._mark_accepted(call)
        entry = self.lines.get(line.name)
        if entry is not None:
            entry.backoff.succeeded()
        campaign = self.campaigns.get(call.campaign_id)
        if campaign is not None:
            campaign.backoff.succeeded()
        return True

    def _mark_accepted(self, call):
        if call.accepted_at is not None or call.state == R.ENDED:
            return
        call.accepted_at = self.clock.seconds()
        self.registry.advance(call, R.QUEUED)
        self.counts["accepted"] += 1
        # The PBX rides on the acceptance (whose update of the calls row is
        # made anyway) into calls.pbx_name: test calls and campaign calls alike.
        self._emit(call.events.once(M.ORIGINATE_ACCEPTED,
                                    {"pbx": call.pbx} if call.pbx else None))

    def _refused(self, failure, call, line):
        self._answered_originate(call, line)
        now = self.clock.seconds()
        error = failure.value
        if call.state == R.ENDED:
            return failure
        if isinstance(error, L.OriginateUncertain):
            self.counts["uncertain"] += 1
            self._back_off_line(line, error, now)
            self.reconciler.mark_uncertain(call, [line.name])
            log.warn("call {call_id}: no answer from {pbx} to its Originate ({error}); it keeps"
                     " its channel until a reconciliation finds it or not",
                     call_id=call.call_id, pbx=line.name, error=error)
            return failure
        self.counts["refused"] += 1
        if isinstance(error, L.PBXUnavailable):
            self._back_off_line(line, error, now)
        else:
            campaign = self.campaigns.get(call.campaign_id)
            if campaign is not None and not call.is_test:
                delay = campaign.backoff.failed(now, error)
                log.warn("campaign {id}: {pbx} refused an Originate ({error}); contact back to"
                         " the queue, no attempt counted; campaign backs off {delay:.1f} s",
                         id=campaign.id, pbx=line.name, error=error, delay=delay)
            if not isinstance(error, L.LineError):
                log.failure("originate of call {call_id} failed unexpectedly", failure,
                            call_id=call.call_id)
        payload = {"outcome": str(AttemptOutcome.FAILED), "error": str(error),
                   "pbx": line.name}
        if not call.is_test:
            payload["retry_at"] = now
        self._end(call, M.ORIGINATE_FAILED, payload, now)
        return failure

    def _back_off_line(self, line, error, now):
        entry = self.lines.get(line.name)
        if entry is None:
            return
        delay = entry.backoff.failed(now, error)
        log.warn("PBX {pbx}: originate failed ({error}); new calls go to other PBXes for"
                 " {delay:.1f} s", pbx=line.name, error=error, delay=delay)

    def _progress(self, line, progress):
        call = self.registry.by_channel(progress.channel_id)
        if call is None or call.state == R.ENDED:
            return
        if call.pbx is None:
            self.reconciler.found_on(call, line.name)
        now = self.clock.seconds()
        kind = progress.kind
        if kind == L.RINGING:
            self._mark_accepted(call)
            self.registry.advance(call, R.RINGING)
        elif kind == L.ANSWERED:
            self._answered(call, now)
        elif kind == L.ENDED:
            if progress.answered:
                self._answered(call, now)
            self._mark_accepted(call)
            self._ended(call, line, progress, now)
        elif kind == L.UNKNOWN:
            self.reconciler.mark_uncertain(call, [line.name])

    def _answered(self, call, now):
        self._mark_accepted(call)
        call.uncertain = False
        if call.answered_at is None:
            call.answered_at = now
            self.registry.advance(call, R.ANSWERED)
            self.counts["answered"] += 1
            self._emit(call.events.once(M.ANSWERED))

    def _ended(self, call, line, progress, now):
        if call.answered:
            outcome = AttemptOutcome.ANSWERED
        else:
            outcome = classify_originate_failure(progress.reason, progress.cause)
        entry = self.lines.get(line.name)
        if entry is not None and not call.answered:
            if progress.reason in PBX_TROUBLE_REASONS and not progress.cause:
                # Reason 0 with no cause: the PBX could not place the call at
                # all (at its limit, no such extension): its trouble, not the
                # callee's.
                self._back_off_line(line, "OriginateResponse Reason 0 without a cause", now)
        payload = {"outcome": str(outcome)}
        if progress.reason is not None:
            payload["reason"] = progress.reason
        if progress.cause is not None:
            payload["cause"] = progress.cause
        if progress.cause_text:
            payload["cause_text"] = progress.cause_text
        payload.update(self._decision(call, outcome, now))
        self.counts["ended"] += 1
        self._end(call, M.HANGUP, payload, now)

    def settle_lost(self, call, why):
        """
        End a call whose end nobody saw (it is no longer on its PBX):
        outcome C{unknown}, retried per the policy; or, if the PBX never
        accepted it, a refused originate (no attempt).
        """
        now = self.clock.seconds()
        self.counts["lost"] += 1
        log.warn("call {call_id} (campaign {campaign}): {why}; settled as lost",
                 call_id=call.call_id, campaign=call.campaign_id, why=why)
        if not call.accepted and not call.adopted:
            payload = {"outcome": str(AttemptOutcome.FAILED), "error": why}
            if not call.is_test:
                payload["retry_at"] = now
            self._end(call, M.ORIGINATE_FAILED, payload, now)
            return
        payload = {"outcome": str(AttemptOutcome.UNKNOWN), "reason_text": why}
        payload.update(self._decision(call, AttemptOutcome.UNKNOWN, now))
        self._end(call, M.LOST, payload, now)

    def _decision(self, call, outcome, now):
        """
        The retry decision for the contact of a call that ended, as event
        payload fields (C{retry_at}, pushed into the next allowed instant,
        or C{final_outcome}).
        """
        if call.is_test or call.campaign_contact_id is None:
            return {}
        settings = self._settings.get(call.campaign_id)
        campaign = self.campaigns.get(call.campaign_id)
        if settings is None:
            return {"retry_at": now}
        attempts = call.attempts + (1 if call.accepted else 0)
        key = call.option_key or (call.keys[:1] if call.keys else None)
        dt = as_datetime(now)
        decision = decide_retry(settings.retry, outcome, attempts, dt, amd=call.amd,
                                key_pressed=key, opted_out=call.opted_out)
        if not decision.retry:
            return {"final_outcome": str(decision.final), "reason_text": decision.reason}
        at = decision.retry_at
        hours = campaign.hours if campaign is not None else None
        if hours is not None:
            at = hours.next_open(at, call.timezone) or NEVER
        retry_at = at.timestamp()
        if campaign is not None:
            campaign.note_due(max(retry_at, now))
        return {"retry_at": retry_at, "reason_text": decision.reason}

    def _end(self, call, kind, payload, now):
        event = call.events.once(kind, payload)
        retry_at = payload.get("retry_at")
        durable = getattr(self.events, "emit_durable", None)
        if durable is not None:
            # The contact becomes claimable once this event is applied.
            d = durable(event)
            d.addCallback(lambda _: self._end_recorded(call.campaign_id, retry_at))
            d.addErrback(lambda f: log.failure("recording the end of call {call_id}", f,
                                               call_id=call.call_id))
        else:
            self._emit(event)
            if call.campaign_id is not None:
                self._tell_ended(call.campaign_id)
        for name, entry in self.lines.items():
            entry.originating.discard(call.call_id)
            if call.pbx == name:
                try:
                    entry.line.forget(call.channel_id)
                except Exception:
                    log.failure("PBX {pbx}: forgetting {channel}", pbx=name,
                                channel=call.channel_id)
        self.registry.end(call, now)

    def _end_recorded(self, campaign_id, retry_at):
        """
        The end of a call is durable; if its contact is retried at
        C{retry_at}, it is pending again, due then.
        """
        if campaign_id is not None:
            self._tell_ended(campaign_id)
        campaign = self.campaigns.get(campaign_id)
        if campaign is None or retry_at is None:
            return
        campaign.note_due(retry_at)
        self.kick()

    def _emit(self, event):
        try:
            self.events.emit(event)
        except Exception:
            log.failure("emitting {kind} of call {call_id}", kind=event.kind,
                        call_id=event.call_id)
