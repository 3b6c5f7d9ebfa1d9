"""
The campaign call flow: what happens once a callee has answered.

Asterisk runs the shipped dialplan's C{AGI(agi://HOST:4573/call)} on the
answered channel; the FastAGI server routes script C{call} to
L{CallFlow.run}, and the C{h} extension's connection (a dead channel) to
L{CallFlow.run_h_extension}.

The call is found in the dialer's in-memory L{CallRegistry} by
C{agi_uniqueid}, which is the ChannelId FTS chose at Originate time (with
the C{FTS_CALL} channel variable as a fallback): no database round trip.
Its campaign's settings come from C{campaign_settings(campaign_id)} and its
L{Playlist} was made before the call was placed (L{fts.callflow.playlist}).

Then a small state machine (L{fts.callflow.states}) runs::

    answered -> amd -> message -> menu -> action -> end
                   \\-> machine_message -> end

  - answered: C{answered} event; the channel's language; C{SET AUTOHANGUP}
    to the campaign's max call duration (Asterisk enforces it even when we
    are blocked in a transfer).
  - amd: C{EXEC AMD} with the campaign's parameters, AMDSTATUS/AMDCAUSE read
    in one C{GET FULL VARIABLE}; C{amd} event; then hang up, play the
    machine message (after C{WaitForSilence}, i.e. after the greeting), or
    go on.  With AMD off the verdict C{off} is recorded.
  - message: the parts in order, interruptible by the option keys;
    C{message_complete} when all of it played.
  - menu: C{WAIT FOR DIGIT} at once (DTMF that arrives while no command
    runs is lost); an invalid key or no key replays the message (after its
    prompt) up to the configured number of times, then the call ends.
  - action: C{option} event, the option's message, then record only,
    repeat (bounded), transfer (C{EXEC Queue} / C{EXEC Dial}, then
    QUEUESTATUS / DIALSTATUS: C{transfer} event), opt out (C{opt_out} event
    at once, before the confirmation plays), or hang up.
  - end: C{HANGUP}.

Every key pressed is a C{key} event and is noted on the L{ActiveCall}, as
are the AMD verdict, the option and the opt-out, which the dialer's retry
decision reads at hangup.  When the callee hangs up at any point (the
C{HANGUP} notice, or a C{511}), the verb in progress fails with
L{AGIHangup}, and the flow ends there: what was observed is already
recorded; the C{hangup} event itself is the dialer's (from AMI).
"""

from twisted.internet import defer
from twisted.logger import Logger

from fts.asterisk.agi.errors import AGICommandFailed, AGIError, AGIHangup
from fts.audio.spoken import language_command
from fts.callflow import states as S
from fts.callflow.playlist import play
from fts.core.campaign import Action, AmdMode, render_dial_string
from fts.events import model as M

__all__ = ["CallFlow"]

log = Logger()

#: How long a transfer may last when the campaign sets no max call duration.
LONGEST_TRANSFER = 4 * 3600


class _Call:
    """
    One answered call's flow: the session, the call, its settings and
    playlist, and where the state machine is.
    """

    __slots__ = ("session", "call", "settings", "playlist", "flow")

    def __init__(self, session, call, settings, playlist):
        self.session = session
        self.call = call
        self.settings = settings
        self.playlist = playlist
        self.flow = S.FlowState()


class CallFlow:
    """
    The FastAGI scripts of campaign calls.

    @param registry: the dialer's L{fts.dialer.registry.CallRegistry}.
    @param emit: C{emit(event)}: the event writer's (fire and forget).
    @param campaign_settings: C{campaign_settings(campaign_id) ->
        CampaignSettings or None}, from the dialer's memory.
    @param playlist_of: C{playlist_of(call) -> Playlist or None}, e.g. a
        L{fts.callflow.playlist.PreparedPlaylists}.
    @param prepare_late: C{prepare_late(call, settings) -> Deferred(Playlist)}
        for a call whose playlist was not made before it was placed (the
        answer then waits for it); C{None}: such a call is hung up.
    @param dial_string: the template for transfers to a phone number when
        the campaign has none (C{[dialer] dial_string}).
    @param transfer_ring_timeout: seconds C{Dial} rings a transfer target.
    @param max_repeats: how many times the C{repeat} option replays the
        message in one call.
    @param machine_silence: C{WaitForSilence} arguments (silence ms,
        iterations, timeout s) run before the machine message so it starts
        after the greeting; C{None} to play at once.
    """

    def __init__(self, registry, emit, campaign_settings, playlist_of, *, prepare_late=None,
                 dial_string="Local/{number}@fts-callee", transfer_ring_timeout=30,
                 max_repeats=3, machine_silence=(1500, 1, 20)):
        self.registry = registry
        self.emit = emit
        self.campaign_settings = campaign_settings
        self.playlist_of = playlist_of
        self.prepare_late = prepare_late
        self.dial_string = dial_string
        self.transfer_ring_timeout = int(transfer_ring_timeout)
        self.max_repeats = int(max_repeats)
        self.machine_silence = machine_silence
        self._no_wait_for_silence = False
        self._steps = {
            S.ANSWERED: self._answered,
            S.AMD: self._amd,
            S.MACHINE_MESSAGE: self._machine_message,
            S.MESSAGE: self._message,
            S.MENU: self._menu,
            S.ACTION: self._action,
        }

    # -- the scripts -----------------------------------------------------------

    @defer.inlineCallbacks
    def run(self, session):
        """
        The script C{call}: run the flow of the answered call on C{session}.

        @return: a Deferred firing with the L{fts.callflow.states.FlowState}
            reached (or C{None} when the call was not run), once the flow
            has ended; it fails only for a bug (AGI errors end the flow).
        """
        try:
            current = yield self._start(session)
        except AGIHangup:
            return None
        except AGIError as e:
            self._agi_failed(session, None, e)
            yield self._hang_up(session)
            return None
        if current is None:
            yield self._hang_up(session)
            return None
        flow = current.flow
        steps = self._steps
        try:
            while flow.state != S.END:
                flow.move((yield steps[flow.state](current)))
        except AGIHangup:
            log.debug("call {call_id}: the callee hung up during {state}",
                      call_id=current.call.call_id, state=flow.state)
            return flow
        except AGIError as e:
            self._agi_failed(session, current.call, e)
        yield self._hang_up(session)
        return flow

    def run_h_extension(self, session):
        """
        The C{h} extension's script: the channel is dead and everything was
        recorded; the server closes the session.
        """
        return defer.succeed(None)

    # -- finding the call ------------------------------------------------------

    @defer.inlineCallbacks
    def _start(self, session):
        env = session.environment
        call = self.registry.by_channel(env.uniqueid)
        if call is None:
            value = yield session.get_variable("FTS_CALL")
            if value and value.strip().isdigit():
                call = self.registry.by_call(int(value))
        if call is None:
            log.warn("FastAGI session for channel {channel} (uniqueid {uniqueid}) matches no "
                     "call in flight (restart, or a call FTS did not place); hanging it up",
                     channel=env.channel, uniqueid=env.uniqueid)
            return None
        settings = self.campaign_settings(call.campaign_id)
        if settings is None:
            log.warn("call {call_id}: answered but campaign {campaign} is not loaded; "
                     "hanging it up", call_id=call.call_id, campaign=call.campaign_id)
            return None
        playlist = self.playlist_of(call)
        if playlist is None and self.prepare_late is not None:
            log.warn("call {call_id}: answered without a prepared message; preparing it now "
                     "(the callee waits)", call_id=call.call_id)
            try:
                playlist = yield self.prepare_late(call, settings)
            except Exception as e:
                log.warn("call {call_id}: its message cannot be played ({error}); hanging up",
                         call_id=call.call_id, error=e)
                playlist = None
        if playlist is None:
            log.warn("call {call_id} (campaign {campaign}): answered but no message was "
                     "prepared for it; hanging up", call_id=call.call_id,
                     campaign=call.campaign_id)
            return None
        return _Call(session, call, settings, playlist)

    # -- the steps (each returns the next state) -------------------------------

    @defer.inlineCallbacks
    def _answered(self, current):
        session, call, settings = current.session, current.call, current.settings
        self.emit(call.events.once(M.ANSWERED))
        language = current.playlist.language
        if language and language != session.environment.language:
            yield language_command(language).send(session)
        duration = settings.pacing.max_call_duration
        if duration and duration > 0:
            yield session.set_autohangup(duration)
        if AmdMode(settings.amd.mode) is AmdMode.OFF:
            self._verdict(call, "off", None)
            return S.MESSAGE
        return S.AMD

    @defer.inlineCallbacks
    def _amd(self, current):
        session, call, amd = current.session, current.call, current.settings.amd
        arguments = amd.app_arguments()
        try:
            yield session.exec_("AMD", *([arguments] if arguments else []), live=True)
        except AGICommandFailed as e:
            log.warn("call {call_id}: answering-machine detection did not run ({error}); "
                     "recording notsure and going on", call_id=call.call_id, error=e)
            status, cause = "NOTSURE", "AMD failed"
        else:
            text = yield session.get_full_variable("${AMDSTATUS}|${AMDCAUSE}")
            status, _, cause = (text or "").partition("|")
        verdict = S.verdict_of(status)
        if verdict is None:
            if session.hung_up or status.strip().upper() == "HANGUP":
                raise AGIHangup("the callee hung up during answering-machine detection")
            log.warn("call {call_id}: AMD gave no verdict (AMDSTATUS {status!r}); recording "
                     "notsure", call_id=call.call_id, status=status)
            verdict = "notsure"
        self._verdict(call, verdict, cause or None)
        return S.after_amd(amd.mode, verdict, bool(current.playlist.machine_message))

    @defer.inlineCallbacks
    def _machine_message(self, current):
        session, call = current.session, current.call
        if self.machine_silence and not self._no_wait_for_silence:
            try:
                yield session.exec_("WaitForSilence", *self.machine_silence, live=True)
            except AGICommandFailed as e:
                if e.reply is not None and e.reply.result == "-2":
                    self._no_wait_for_silence = True
                    log.warn("Asterisk has no WaitForSilence application (load "
                             "app_waitforsilence); machine messages now start as soon as "
                             "AMD says machine, possibly over the greeting")
        _, complete = yield play(session, current.playlist.machine_message)
        if complete:
            self.emit(call.events.once(M.MESSAGE_COMPLETE, {"message": "machine"}))
        return S.END

    @defer.inlineCallbacks
    def _message(self, current):
        flow, menu = current.flow, current.settings.menu
        items = flow.prelude + current.playlist.message
        flow.prelude = ()
        digit, complete = yield play(current.session, items, _escape_digits(menu))
        if digit is not None:
            self._key(current.call, digit)
        elif complete and not flow.heard:
            flow.heard = True
            self.emit(current.call.events.once(M.MESSAGE_COMPLETE))
        return S.after_message(flow, menu, digit)

    @defer.inlineCallbacks
    def _menu(self, current):
        menu, playlist = current.settings.menu, current.playlist
        digit = yield current.session.wait_for_digit(int(menu.wait_seconds * 1000))
        if digit is not None:
            self._key(current.call, digit)
        return S.after_menu(current.flow, menu, digit, playlist.invalid_key, playlist.no_key)

    @defer.inlineCallbacks
    def _action(self, current):
        session, call, flow = current.session, current.call, current.flow
        key = flow.key
        option = current.settings.menu.option(key)
        action = Action(option.action)
        call.option_key = key
        self.emit(call.events.next(M.OPTION, {
            "key": key, "action": str(action), "label": option.label}))
        if action is Action.OPTOUT:
            # Recorded before the confirmation plays: a callee who hangs up
            # during it has opted out all the same.
            call.opted_out = True
            self.emit(call.events.once(M.OPT_OUT, {"phone": call.phone}))
        yield play(session, current.playlist.option_message(key))
        if action in (Action.QUEUE, Action.DIAL):
            yield self._transfer(current, option, action)
        return S.after_action(flow, option, self.max_repeats)

    # -- helpers ---------------------------------------------------------------

    @defer.inlineCallbacks
    def _transfer(self, current, option, action):
        """
        EXEC Queue or Dial, then the transfer event with QUEUESTATUS or
        DIALSTATUS.  A hang-up during the transfer (the callee, or the end
        of the bridged call) still records it, then ends the flow.
        """
        session, call, settings = current.session, current.call, current.settings
        if action is Action.QUEUE:
            target = option.target.strip()
            application, arguments, variable = "Queue", (target,), "QUEUESTATUS"
        else:
            target = self._dial_target(option.target, settings)
            application, variable = "Dial", "DIALSTATUS"
            arguments = (target, self.transfer_ring_timeout)
        duration = settings.pacing.max_call_duration
        timeout = duration + 60 if duration and duration > 0 else LONGEST_TRANSFER
        hung_up = failed = None
        try:
            yield session.exec_(application, *arguments, live=True, timeout=timeout)
        except AGIHangup as e:
            hung_up = e
        except AGICommandFailed as e:
            failed = e
            log.warn("call {call_id}: transfer to {target} failed: {error}",
                     call_id=call.call_id, target=target, error=e)
        try:
            status = yield session.get_variable(variable)
        except AGIError:
            status = None
        if status:
            result = status
        elif failed is not None:
            result = "FAILED"
        elif action is Action.QUEUE:
            # Queue sets QUEUESTATUS only when the caller leaves it without
            # being connected (TIMEOUT, FULL, JOINEMPTY...).
            result = "ANSWER"
        else:
            result = "UNKNOWN"
        self.emit(call.events.next(M.TRANSFER, {"target": target, "result": result}))
        if hung_up is not None:
            raise hung_up

    def _dial_target(self, target, settings):
        target = target.strip()
        if "/" in target:
            return target
        return render_dial_string(settings.dial_string or self.dial_string, target)

    def _key(self, call, digit):
        call.note_key(digit)
        self.emit(call.events.next(M.KEY, {"key": digit}))

    def _verdict(self, call, verdict, cause):
        call.amd = verdict
        payload = {"verdict": verdict}
        if cause:
            payload["cause"] = cause
        self.emit(call.events.once(M.AMD, payload))

    @defer.inlineCallbacks
    def _hang_up(self, session):
        """
        End the call (nothing to do when it has already hung up).
        """
        try:
            yield session.hangup()
        except AGIHangup:
            pass
        except AGIError as e:
            log.info("HANGUP on channel {channel} failed: {error}; closing the session",
                     channel=session.environment.channel, error=e)

    def _agi_failed(self, session, call, error):
        env = session.environment
        log.warn("call {call_id} on channel {channel} (uniqueid {uniqueid}): {error}; "
                 "ending its call flow", call_id=call.call_id if call is not None else "?",
                 channel=env.channel, uniqueid=env.uniqueid, error=error)


def _escape_digits(menu):
    return "".join(option.key for option in menu.options)
