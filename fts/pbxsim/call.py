"""
One originated Local call, from Originate to the last Hangup event.

L{Call} is an explicit state machine::

    dialing --(ring)--> ringing
    dialing|ringing --(answer)--> up --(campaign AGI ends)--> h --(h AGI ends)--> gone
    dialing|ringing --(busy|congestion|reject|timeout|cancel)--> gone
    (capacity / missing extension: the short failure shape, straight to gone)

Every transition emits the AMI events real Asterisk 22 emits at that point,
in its order (see ../shared/asterisk-transcripts/README.md).  Times come from
the callee plan and are scheduled with the PBX's scaled clock; nothing polls.
"""

from twisted.logger import Logger

from . import events as ev
from .callee import ANSWERED, BUSY, CONGESTION, NO_ANSWER, REJECTED, UNAVAILABLE
from .channel import BUSY as STATE_BUSY
from .channel import DOWN, RING, RINGING, UP, Channel

__all__ = ["Call", "DIALING", "RINGING_STATE", "UP_STATE", "HANGUP_EXTENSION", "GONE"]

log = Logger()

DIALING = "dialing"
RINGING_STATE = "ringing"
UP_STATE = "up"
HANGUP_EXTENSION = "h"
GONE = "gone"

_TRANSITIONS = {
    DIALING: (RINGING_STATE, UP_STATE, GONE),
    RINGING_STATE: (UP_STATE, GONE),
    UP_STATE: (HANGUP_EXTENSION, GONE),
    HANGUP_EXTENSION: (GONE,),
    GONE: (),
}

# OriginateResponse Reason codes (Asterisk's AST_CONTROL_* values).
REASON_FAILURE = 0
REASON_HANGUP = 1
REASON_NO_ANSWER = 3
REASON_ANSWERED = 4
REASON_BUSY = 5
REASON_CONGESTION = 8

_CALL = "call"
_DIALPLAN = "dialplan"
_DTMF = "dtmf"


class Call:
    """
    A Local channel pair placed by one Originate.

    @ivar one: the C{;1} L{Channel} (runs the campaign dialplan and AGI).
    @ivar two: the C{;2} L{Channel} (the called party).
    @ivar state: one of the module's state names.
    @ivar outcome: the callee outcome once known (for the tally).
    """

    def __init__(self, pbx, request, plan, sequence):
        self.pbx = pbx
        self.request = request
        self.plan = plan
        self.state = DIALING
        self.outcome = None
        self.session = None
        self.h_session = None
        self._timers = []
        self._step = 0
        self._two_priority = 0
        base = "%s-%08x" % (request.local_base, sequence)
        uid1 = request.channel_id or pbx.next_uniqueid()
        if request.other_channel_id:
            uid2 = request.other_channel_id
        elif request.channel_id:
            uid2 = request.channel_id + ";2"
        else:
            uid2 = pbx.next_uniqueid()
        now = pbx.now()
        self.one = Channel(base + ";1", uid1, uid1, DOWN, request.local_context, request.number, now, self)
        self.two = Channel(base + ";2", uid2, uid1, RING, request.local_context, request.number, now, self)
        self.one.accountcode = self.two.accountcode = request.account

    def __repr__(self):
        return "<Call %s %s>" % (self.one.name, self.state)

    # -- plumbing -------------------------------------------------------

    def _move(self, state):
        if state not in _TRANSITIONS[self.state]:
            raise RuntimeError("call %s: no transition %s -> %s" % (self.one.name, self.state, state))
        self.state = state

    def later(self, seconds, function, *args):
        timers = self._timers
        if len(timers) > 8:
            timers[:] = [t for t in timers if t.active()]
        timer = self.pbx.later(seconds, self._run, function, args)
        timers.append(timer)
        return timer

    def _run(self, function, args):
        try:
            function(*args)
        except Exception:
            log.failure("simulated call {channel} failed in {function}", channel=self.one.name, function=function)

    def cancel_timers(self):
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._timers = []

    def emit(self, event_class, build, *args):
        self.pbx.bus.emit(event_class, build, *args)

    def _var_set(self, channel, name, value):
        channel.variables[name] = value
        self.emit(_DIALPLAN, ev.var_set, channel, name, value)

    def _new_exten(self, channel, application, data):
        channel.application = channel.last_application = application
        channel.data = channel.last_data = data
        self.emit(_DIALPLAN, ev.new_exten, channel, application, data)

    def _two_app(self, application, data):
        self._two_priority += 1
        self.two.set_priority(self._two_priority)
        self._new_exten(self.two, application, data)

    def _hangup_event(self, channel, cause):
        channel.hangup_cause = cause
        channel.alive = False
        channel.gone = True
        self.emit(_CALL, ev.hangup, channel)
        self.pbx.forget_channel(channel)

    def _originate_response(self, success, reason):
        request = self.request
        if not request.async_:
            self.pbx.sync_originate_result(request, success)
            return
        if success:
            channel, uniqueid = self.one.name, self.one.uniqueid
        else:
            channel, uniqueid = request.channel, "<unknown>"
        self.emit(
            _CALL,
            ev.originate_response,
            request.action_id,
            "Success" if success else "Failure",
            channel,
            request.context,
            request.exten,
            reason,
            uniqueid,
            request.caller_num,
            request.caller_name,
        )

    # -- dialing --------------------------------------------------------

    def start(self, over_capacity=False):
        """
        Create the channel pair and dial the callee.

        @param over_capacity: the PBX is at its call limit: the call fails
            like one to a Local extension that does not exist.
        """
        one, two = self.one, self.two
        request = self.request
        self.pbx.remember_channel(one)
        self.pbx.remember_channel(two)
        self.emit(_CALL, ev.channel_event, "Newchannel", "call,all", one)
        self.emit(_CALL, ev.channel_event, "Newchannel", "call,all", two)
        one.application, one.data = "AppDial2", "(Outgoing Line)"
        self.emit(_DIALPLAN, ev.new_exten, one, "AppDial2", "(Outgoing Line)")
        for name, value in reversed(request.variables):
            self._var_set(one, name, value)
        has_cid = bool(request.caller_num or request.caller_name)
        num = request.caller_num or "<unknown>"
        name = request.caller_name or "<unknown>"
        if has_cid:
            one.set_caller(num, name)
            self.emit(_CALL, ev.new_callerid, one)
            one.set_connected(num, name)
            self.emit(_CALL, ev.channel_event, "NewConnectedLine", "call,all", one)
        for var, value in request.variables:
            self._var_set(two, var, value)
        if has_cid:
            two.set_connected(num, name)
            two.set_caller(num, name)
            self.emit(_CALL, ev.new_callerid, two)
            self.emit(_CALL, ev.channel_event, "NewConnectedLine", "call,all", two)
        if over_capacity:
            self._short_failure("over_capacity")
            return
        if self.plan.outcome == UNAVAILABLE:
            self._short_failure(UNAVAILABLE)
            return
        self.emit(_CALL, ev.local_bridge, one, two, two.context, two.exten)
        self.emit(_CALL, ev.dial_event, "DialBegin", one, ("DialString", request.dial_string))
        self._dial()

    def _short_failure(self, outcome):
        """
        The Local extension does not exist (or the PBX is at its call
        limit): the dial fails before any LocalBridge: Hangup ;2,
        OriginateResponse Failure Reason 0, Hangup ;1 (all cause 0).
        """
        self.outcome = outcome
        self.pbx.tally.outcomes[outcome] += 1
        self._hangup_event(self.two, 0)
        self._originate_response(False, REASON_FAILURE)
        self._hangup_event(self.one, 0)
        self._gone()

    def _dial(self):
        plan = self.plan
        timeout = self.request.timeout_ms / 1000.0
        outcome = plan.outcome
        ring = plan.ring_seconds
        never = outcome == NO_ANSWER or ring >= timeout
        if plan.rings:
            self._two_app("Ringing", "")
            self.one.set_state(RINGING)
            self.emit(_CALL, ev.channel_event, "Newstate", "call,all", self.one)
            self._two_app("Wait", "3600" if never else "%g" % ring)
            self.emit(_CALL, ev.dial_event, "DialState", self.one, ("DialStatus", "RINGING"))
            self._move(RINGING_STATE)
        elif never or ring > 0:
            self._two_app("Wait", "3600" if never else "%g" % ring)
        if never:
            self.later(timeout, self._no_answer)
            return
        action = {
            ANSWERED: self._answer,
            BUSY: self._busy,
            CONGESTION: self._congestion,
            REJECTED: self._reject,
        }[outcome]
        if ring > 0:
            self.later(ring, action)
        else:
            action()

    def _end_dial(self, outcome):
        self.outcome = outcome
        self.pbx.tally.outcomes[outcome] += 1

    def _busy(self):
        one, two = self.one, self.two
        self._end_dial(BUSY)
        self._originate_response(False, REASON_BUSY)
        self._two_app("Busy", "")
        two.set_state(STATE_BUSY)
        self.emit(_CALL, ev.channel_event, "Newstate", "call,all", two)
        self.emit(_CALL, ev.dial_event, "DialEnd", one, ("DialStatus", "BUSY"))
        self.emit(_CALL, ev.hangup_request, "HangupRequest", two, 0)
        self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", two, 16)
        self._hangup_event(one, 0)
        self._hangup_event(two, 17)
        self._gone()

    def _congestion(self):
        one, two = self.one, self.two
        self._end_dial(CONGESTION)
        self._two_app("Congestion", "")
        two.set_state(STATE_BUSY)
        self.emit(_CALL, ev.channel_event, "Newstate", "call,all", two)
        self.emit(_CALL, ev.dial_event, "DialEnd", one, ("DialStatus", "CONGESTION"))
        self.emit(_CALL, ev.hangup_request, "HangupRequest", two, 0)
        self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", two, 16)
        self._hangup_event(two, 34)
        self._hangup_event(one, 0)
        self._originate_response(False, REASON_CONGESTION)
        self._gone()

    def _reject(self):
        one, two = self.one, self.two
        self._end_dial(REJECTED)
        self._two_app("Hangup", "21")
        self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", two, 16)
        self.emit(_CALL, ev.hangup_request, "HangupRequest", one, 21)
        self._hangup_event(two, 21)
        self.emit(_CALL, ev.dial_event, "DialEnd", one, ("DialStatus", "NOANSWER"))
        self._originate_response(False, REASON_FAILURE)
        self._hangup_event(one, 21)
        self._gone()

    def _no_answer(self):
        one, two = self.one, self.two
        self._end_dial(NO_ANSWER)
        self.emit(_CALL, ev.hangup_request, "HangupRequest", two, 19)
        if one.state == RINGING:
            self._hangup_event(one, 19)
            self._originate_response(False, REASON_NO_ANSWER)
            self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", two, 16)
            self._hangup_event(two, 19)
        else:
            self._originate_response(False, REASON_NO_ANSWER)
            self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", two, 16)
            self._hangup_event(two, 19)
            self._hangup_event(one, 19)
        self._gone()

    def cancel(self, cause):
        """
        AMI Hangup of either half before the answer: the Originate fails
        with Reason 1 (hangup).
        """
        one, two = self.one, self.two
        self.cancel_timers()
        self._end_dial("cancelled")
        self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", one, 16)
        self._hangup_event(one, cause)
        self._originate_response(False, REASON_HANGUP)
        self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", two, 16)
        self._hangup_event(two, cause)
        self._gone()

    # -- answered -------------------------------------------------------

    def _answer(self):
        one, two = self.one, self.two
        request = self.request
        self._end_dial(ANSWERED)
        self.pbx.tally.behaviours[self.plan.behaviour or "answered"] += 1
        self._move(UP_STATE)
        self._two_app("Answer", "")
        two.set_state(UP)
        self.emit(_CALL, ev.channel_event, "Newstate", "call,all", two)
        one.set_state(UP)
        self.emit(_CALL, ev.channel_event, "Newstate", "call,all", one)
        self.emit(_CALL, ev.dial_event, "DialEnd", one, ("DialStatus", "ANSWER"))
        one.set_place(request.context, request.exten, request.priority)
        target = request.agi_target
        if target is not None:
            self._new_exten(one, "AGI", target.app_data)
        else:
            self._new_exten(one, request.application, request.application_data)
        self._originate_response(True, REASON_ANSWERED)
        # The callee's next application starts a moment after Answer (so a
        # call dropped at once, e.g. AGI unreachable, never shows it).
        self.later(0.001, self._next_step)
        if target is None:
            # Application other than AGI: it runs, then the call is hung up.
            self.later(0, self._script_ended, "SUCCESS")
            return
        self.session = self.pbx.agi_session(self, target, request.exten, dead=False)
        self.pbx.connect(self.session)

    def _next_step(self):
        """
        Run the callee script's next step on ;2.
        """
        script = self.plan.script
        if self._step >= len(script) or self.two.gone:
            return
        step = script[self._step]
        self._step += 1
        self._two_app(step.application, step.data)
        if step.application == "Hangup":
            self.callee_hangup(16)
            return
        if step.digit:
            self.pbx.tally.keys_pressed[step.digit] += 1
            self.later(0.1, self._dtmf_begin, step.digit)
            self.later(0.2, self._dtmf_end, step.digit)
        self.later(step.seconds, self._next_step)

    def _dtmf_begin(self, digit):
        if self.one.alive:
            self.emit(_DTMF, ev.dtmf_begin, self.one, digit)

    def _dtmf_end(self, digit):
        if not self.one.alive:
            return
        self.emit(_DTMF, ev.dtmf_end, self.one, digit, 100)
        if self.session is not None and not self.session.ended:
            self.session.dtmf(digit)
        else:
            self.pbx.tally.keys_lost += 1

    def callee_hangup(self, cause=16):
        """
        The called party hangs up (C{;2}); C{;1} is hung up too and its AGI
        session learns it (the running command returns, then C{HANGUP}).
        """
        one, two = self.one, self.two
        if two.gone:
            return
        self.pbx.tally.hangups["callee"] += 1
        self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", two, 16)
        if one.alive:
            self.emit(_CALL, ev.hangup_request, "HangupRequest", one, cause)
            self._kill_one(cause)
        two.alive = False
        self._hangup_event(two, cause)

    def _kill_one(self, cause):
        one = self.one
        if not one.alive:
            return
        one.alive = False
        one.hangup_cause = cause
        if self.session is not None:
            self.session.channel_hung_up()

    def hangup_from_ami(self, channel, cause):
        """
        Action: Hangup on one of this call's channels.
        """
        if self.state in (DIALING, RINGING_STATE):
            self.cancel(cause if cause > 0 else 16)
            return
        if channel is self.two:
            self.callee_hangup(cause if cause > 0 else 16)
            return
        if self.one.alive:
            self.pbx.tally.hangups["ami"] += 1
            self._kill_one(max(cause, 0))

    def hangup_from_agi(self):
        """
        The AGI C{HANGUP} command: soft hangup of C{;1}, cause 0.
        """
        if self.one.alive:
            self.pbx.tally.hangups["agi"] += 1
            self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", self.one, 32)
            self._kill_one(0)

    def hangup_from_pbx(self, reason, cause):
        """
        A hangup the dialplan decides (EXEC Hangup, autohangup, a transfer
        that ended).
        """
        if self.one.alive:
            self.pbx.tally.hangups[reason] += 1
            self._kill_one(cause)

    def agi_session_ended(self, session, status):
        """
        A FastAGI session finished with C{AGISTATUS} C{status} (SUCCESS,
        HANGUP or FAILURE).
        """
        one = self.one
        if session is self.h_session:
            self._var_set(one, "AGISTATUS", status)
            self._destroy()
            return
        if self.state != UP_STATE:
            return
        self._var_set(one, "AGISTATUS", status)
        if status == "HANGUP":
            self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", one, 16)
        else:
            self._script_ended(status)
            return
        self._hangup_extension()

    def _script_ended(self, status):
        """
        The campaign dialplan goes on to C{Hangup()} (priority 2).
        """
        one = self.one
        if one.alive:
            self.pbx.tally.hangups["script_end" if status == "SUCCESS" else "agi_failure"] += 1
        one.set_priority(2)
        self._new_exten(one, "Hangup", "")
        if one.alive:
            one.alive = False
            one.hangup_cause = 16
        self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", one, 16)
        self._hangup_extension()

    def _hangup_extension(self):
        one = self.one
        self._move(HANGUP_EXTENSION)
        target = self.request.hangup_target
        if target is None:
            self._destroy()
            return
        one.set_place(one.context, "h", 1)
        self._new_exten(one, "AGI", target.app_data)
        self.h_session = self.pbx.agi_session(self, target, "h", dead=True)
        self.pbx.connect(self.h_session)

    def _destroy(self):
        one, two = self.one, self.two
        cause = one.hangup_cause
        if one.exten == "h":
            one.set_priority(2)
        if not two.gone:
            self.emit(_CALL, ev.hangup_request, "HangupRequest", two, cause)
        self._hangup_event(one, cause)
        if not two.gone:
            if two.application == "Playback":
                self._var_set(two, "PLAYBACKSTATUS", "SUCCESS")
            self.emit(_CALL, ev.hangup_request, "SoftHangupRequest", two, 16)
            self._hangup_event(two, cause)
        self._gone()

    def _gone(self):
        if self.state != GONE:
            self._move(GONE)
        self.cancel_timers()
        self.pbx.call_ended(self)

    def stop(self):
        """
        The PBX is shutting down: forget timers and AGI sessions.
        """
        self.cancel_timers()
        for session in (self.session, self.h_session):
            if session is not None:
                session.abort()
