"""
The AGI commands that take time: playing sound, waiting for keys, AMD,
transfers.  Each is an L{Operation} that an L{fts.pbxsim.agi_client.AGISession}
starts, feeds with the called party's keys and with the hangup, and that ends
by calling C{session.finish(reply, kind, varsets)} with exactly the reply
real Asterisk 22 gives in that situation (see the transcripts' README):

  - STREAM FILE: C{200 result=0 endpos=N} played to the end,
    C{200 result=<ascii> endpos=N} cut by an escape digit, C{200 result=-1
    endpos=N} cut by a hangup (PLAYBACKSTATUS FAILED when cut short).
  - GET DATA: digits, C{200 result= (timeout)}, C{200 result=-1}.
  - EXEC Playback: C{200 result=0}, or C{-1} on hangup (PLAYBACKSTATUS is
    SUCCESS even then); EXEC Read: C{200 result=0} even on hangup.

Positions (C{endpos}) are samples at 8 kHz in whole 20 ms frames, as seen.
"""

import math

from .agi_commands import FAILURE, OTHER, SUCCESS
from .dialplan import SAMPLE_RATE

__all__ = [
    "Operation",
    "StreamFile",
    "WaitForDigit",
    "GetData",
    "Say",
    "Playback",
    "ReadDigits",
    "DetectMachine",
    "Pause",
    "SendDigits",
    "Transfer",
]

FRAME_SAMPLES = 160
ANY_DIGIT = "0123456789*#ABCD"


def _reply(text):
    return text.encode("utf-8") + b"\n"


class Operation:
    """
    A blocking AGI command in progress.

    Subclasses implement C{start}, and C{digit} / C{hangup} when those
    matter to them.
    """

    def __init__(self, session):
        self.session = session
        self._timer = None
        self.done = False

    def start(self):
        raise NotImplementedError()

    def digit(self, digit):
        """
        A key from the called party; return whether it was heard.
        """
        return False

    def hangup(self):
        """
        The channel was hung up while this command ran.
        """
        self.complete(_reply("200 result=-1"), OTHER)

    def cancel(self):
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def after(self, seconds, function, *args):
        self.cancel()
        self._timer = self.session.later(seconds, function, *args)

    def complete(self, reply, kind, varsets=()):
        if self.done:
            return
        self.done = True
        self.cancel()
        self.session.finish(reply, kind, varsets)


class _Playing:
    """
    Position bookkeeping for a sound being played.
    """

    def __init__(self, session, name, offset=0):
        self.total = session.sounds.samples(name)
        self.offset = min(max(offset, 0), self.total)
        self.seconds = (self.total - self.offset) / SAMPLE_RATE
        self.started = session.now()
        self.session = session

    def position(self):
        """
        Samples read so far: whole 20 ms frames, counting the one being
        played (Asterisk reads a frame before playing it).
        """
        elapsed = self.session.now() - self.started
        played = (math.floor(elapsed * SAMPLE_RATE / FRAME_SAMPLES + 1e-9) + 1) * FRAME_SAMPLES
        return min(self.offset + max(played, 0), self.total)


class StreamFile(Operation):
    """
    STREAM FILE (and GET OPTION, which then waits C{wait_ms} for a key).
    """

    def __init__(self, session, name, escape, offset=0, wait_ms=None):
        Operation.__init__(self, session)
        self.name = name
        self.escape = escape
        self.offset = offset
        self.wait_ms = wait_ms
        self.playing = None
        self.waiting = False

    @property
    def status_vars(self):
        return self.wait_ms is None

    def start(self):
        self.playing = _Playing(self.session, self.name, self.offset)
        self.after(self.playing.seconds, self._played)

    def _played(self):
        self._timer = None
        endpos = self.playing.total
        if self.wait_ms is None:
            self.complete(
                _reply("200 result=0 endpos=%d" % endpos), SUCCESS, [("PLAYBACKSTATUS", "SUCCESS")]
            )
            return
        self.waiting = True
        if self.wait_ms >= 0:
            self.after(self.wait_ms / 1000.0, self.complete, _reply("200 result=0 endpos=%d" % endpos), SUCCESS)

    def _endpos(self):
        return self.playing.total if self.waiting else self.playing.position()

    def digit(self, digit):
        if digit not in self.escape:
            return False
        varsets = [("PLAYBACKSTATUS", "FAILED")] if self.status_vars else ()
        self.complete(
            _reply("200 result=%d endpos=%d" % (ord(digit), self._endpos())), SUCCESS, varsets
        )
        return True

    def hangup(self):
        varsets = [("PLAYBACKSTATUS", "FAILED")] if self.status_vars else ()
        self.complete(_reply("200 result=-1 endpos=%d" % self._endpos()), FAILURE, varsets)


class WaitForDigit(Operation):
    """
    WAIT FOR DIGIT timeout (ms; -1 waits for ever).
    """

    def __init__(self, session, timeout_ms):
        Operation.__init__(self, session)
        self.timeout_ms = timeout_ms

    def start(self):
        if self.timeout_ms >= 0:
            self.after(self.timeout_ms / 1000.0, self.complete, _reply("200 result=0"), SUCCESS)

    def digit(self, digit):
        self.complete(_reply("200 result=%d" % ord(digit)), SUCCESS)
        return True

    def hangup(self):
        self.complete(_reply("200 result=-1"), FAILURE)


class _Collect(Operation):
    """
    Play a prompt (cut by any key), then read keys until C{maximum} keys, a
    C{#}, or a timeout (C{first} seconds for the first key, C{between} after
    each key).
    """

    def __init__(self, session, prompt, maximum, first, between):
        Operation.__init__(self, session)
        self.prompt = prompt
        self.maximum = maximum
        self.first = first
        self.between = between
        self.digits = ""
        self.prompting = False

    def start(self):
        self.begin_prompt()

    def begin_prompt(self):
        self.prompting = True
        seconds = self.session.sounds.seconds(self.prompt) if self.prompt else 0.0
        self.after(seconds, self._prompted)

    def _prompted(self):
        self._timer = None
        self.prompting = False
        self.after(self.first, self.timed_out)

    def digit(self, digit):
        self.prompting = False
        if digit == "#":
            self.collected(terminated=True)
            return True
        self.digits += digit
        if len(self.digits) >= self.maximum:
            self.collected(terminated=False)
        else:
            self.after(self.between, self.timed_out)
        return True

    def timed_out(self):
        raise NotImplementedError()

    def collected(self, terminated):
        raise NotImplementedError()


class GetData(_Collect):
    """
    GET DATA file [timeout [maxdigits]].
    """

    def timed_out(self):
        self.complete(_reply("200 result=%s (timeout)" % self.digits), SUCCESS)

    def collected(self, terminated):
        self.complete(_reply("200 result=%s" % self.digits), SUCCESS)

    def hangup(self):
        self.complete(_reply("200 result=-1"), SUCCESS)


class ReadDigits(_Collect):
    """
    EXEC Read(variable,filename,maxdigits,options,attempts,timeout).
    """

    def __init__(self, session, variable, prompt, maximum, attempts, timeout):
        _Collect.__init__(self, session, prompt, maximum, timeout, timeout)
        self.variable = variable
        self.attempts = max(attempts, 1)

    def start(self):
        # Seen on the real PBX: READSTATUS is set to ERROR as Read starts.
        self.session.set_variable("READSTATUS", "ERROR")
        self.begin_prompt()

    def timed_out(self):
        if self.digits:
            self._end(self.digits, "OK")
            return
        self.attempts -= 1
        if self.attempts > 0:
            self.begin_prompt()
            return
        self._end("", "TIMEOUT")

    def collected(self, terminated):
        self._end(self.digits, "OK")

    def hangup(self):
        self._end("", "HANGUP")

    def _end(self, value, status):
        self.complete(_reply("200 result=0"), SUCCESS, [(self.variable, value), ("READSTATUS", status)])


class Say(Operation):
    """
    SAY DIGITS / NUMBER / ALPHA / DATE / TIME: plays for C{seconds}, cut by
    an escape digit.
    """

    def __init__(self, session, seconds, escape):
        Operation.__init__(self, session)
        self.seconds = seconds
        self.escape = escape

    def start(self):
        self.after(self.seconds, self.complete, _reply("200 result=0"), SUCCESS)

    def digit(self, digit):
        if digit not in self.escape:
            return False
        self.complete(_reply("200 result=%d" % ord(digit)), SUCCESS)
        return True

    def hangup(self):
        self.complete(_reply("200 result=-1"), FAILURE)


class Playback(Operation):
    """
    EXEC Playback(file1&file2[,options]): keys do not interrupt it.
    """

    def __init__(self, session, files):
        Operation.__init__(self, session)
        self.files = files

    def start(self):
        if not self.session.channel_alive():
            self.complete(_reply("200 result=0"), SUCCESS, [("PLAYBACKSTATUS", "FAILED")])
            return
        seconds = self.session.sounds.seconds(self.files)
        self.after(
            seconds, self.complete, _reply("200 result=0"), SUCCESS, [("PLAYBACKSTATUS", "SUCCESS")]
        )

    def hangup(self):
        # Seen on the real PBX: -1, yet PLAYBACKSTATUS SUCCESS.
        self.complete(_reply("200 result=-1"), OTHER, [("PLAYBACKSTATUS", "SUCCESS")])


class DetectMachine(Operation):
    """
    EXEC AMD: answers after the callee plan's delay with AMDSTATUS and
    AMDCAUSE.
    """

    def __init__(self, session, status, cause, seconds):
        Operation.__init__(self, session)
        self.status = status
        self.cause = cause
        self.seconds = seconds

    def start(self):
        self.after(self.seconds, self._decided)

    def _decided(self):
        self._timer = None
        self.session.tally.amd[self.status] += 1
        self.complete(
            _reply("200 result=0"), SUCCESS, [("AMDSTATUS", self.status), ("AMDCAUSE", self.cause)]
        )

    def hangup(self):
        self.session.tally.amd["HANGUP"] += 1
        self.complete(_reply("200 result=0"), SUCCESS, [("AMDSTATUS", "HANGUP"), ("AMDCAUSE", "")])


class Pause(Operation):
    """
    EXEC Wait(seconds), and other applications that just take time.
    """

    def __init__(self, session, seconds):
        Operation.__init__(self, session)
        self.seconds = seconds

    def start(self):
        self.after(self.seconds, self.complete, _reply("200 result=0"), SUCCESS)


class SendDigits(Pause):
    """
    EXEC SendDTMF(digits): 250 ms per digit.
    """

    def __init__(self, session, digits):
        Pause.__init__(self, session, 0.25 * len(digits))


class Transfer(Operation):
    """
    EXEC Dial / EXEC Queue: the transfer target (see
    L{fts.pbxsim.callee.TransferSettings}) rings, then answers and talks,
    or gives a failure status.  When an answered target hangs up, the
    caller is hung up too (cause 16) unless Dial has the C{g} option.
    """

    def __init__(self, session, settings, timeout, queue=False, go_on=False):
        Operation.__init__(self, session)
        self.settings = settings
        self.timeout = timeout
        self.queue = queue
        self.go_on = go_on
        self.started = None
        self.answered_at = None

    def start(self):
        self.started = self.session.now()
        ring = self.settings.ring_seconds
        if self.timeout is not None and self.timeout < ring:
            self.after(self.timeout, self._failed, "NOANSWER")
        elif self.settings.status == "ANSWER":
            self.after(ring, self._answered)
        else:
            self.after(ring, self._failed, self.settings.status)

    def _vars(self, status):
        dialed = int(self.session.now() - self.started)
        if self.queue:
            if status == "ANSWER":
                return []
            return [("QUEUESTATUS", "TIMEOUT" if status == "NOANSWER" else status)]
        varsets = [("DIALSTATUS", status), ("DIALEDTIME", str(dialed))]
        if self.answered_at is not None:
            varsets.append(("ANSWEREDTIME", str(int(self.session.now() - self.answered_at))))
        return varsets

    def _failed(self, status):
        self._timer = None
        self.complete(_reply("200 result=0"), SUCCESS, self._vars(status))

    def _answered(self):
        self.answered_at = self.session.now()
        self.after(self.settings.talk_seconds, self._target_hung_up)

    def _target_hung_up(self):
        self._timer = None
        if self.go_on:
            self.complete(_reply("200 result=0"), SUCCESS, self._vars("ANSWER"))
        else:
            # The caller is hung up too; that ends this command (hangup()).
            self.session.hangup_after_transfer()

    def hangup(self):
        status = "ANSWER" if self.answered_at is not None else "CANCEL"
        self.complete(_reply("200 result=-1"), OTHER, self._vars(status))
