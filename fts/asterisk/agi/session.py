"""
One FastAGI conversation seen from the call flow: verbs that return Deferreds.

Commands go out one at a time; a verb issued while another is in flight is
queued and sent when the reply to the previous one has arrived, so replies
can never be paired with the wrong command.

Hang-up handling follows what a real Asterisk 22 sends (see the transcripts):

  - C{HANGUP\\n} is an out-of-band notice that can arrive between any two
    replies, and is never the reply to a command.  It sets L{AGISession.hung_up}
    and fires L{AGISession.when_hung_up}.
  - A blocking verb cut short by the hang-up first returns C{200 result=-1}
    (STREAM FILE, GET DATA, WAIT FOR DIGIT, SAY *, EXEC Playback), then the
    notice follows (~40 ms later).  Such a verb waits for the notice and
    fails with L{AGIHangup}; if no notice comes within C{hangup_grace}, the
    C{-1} was an error on a live channel (a missing prompt, say) and the verb
    fails with L{AGICommandFailed}.
  - EXEC Read returns C{200 result=0} and then the notice: the verb succeeds;
    the flow sees the hang-up on its next live verb (or via READSTATUS).
  - After the hang-up, verbs that need a live channel (ANSWER, STREAM FILE,
    WAIT FOR DIGIT, GET DATA, SAY *, CHANNEL STATUS, SET AUTOHANGUP) fail at
    once with L{AGIHangup} without being sent, and so do such verbs still
    queued; C{511} replies also map to L{AGIHangup}.  GET VARIABLE, GET FULL
    VARIABLE, SET VARIABLE, EXEC, VERBOSE and NOOP are still sent (Asterisk
    answers them on a dead channel).
  - L{AGISession.close} half-closes; Asterisk then sends one more C{HANGUP}
    and closes, even when the call is still up.

Every verb has a timeout on the injected clock.  A reply that never comes
fails the verb with L{AGITimeout} and closes the connection, because a late
reply could otherwise be taken for the answer to a later command.

The hot path, per verb: the verb's Deferred is the queued
L{fts.asterisk.agi.commands.Command} itself; its line comes from a cache
of encoded lines when the arguments are plain text; the session holds one
timeout ticket (L{Deadlines}) for all its commands and its close, moved only
when a new deadline is earlier; and a coroutine script run by the server's
driver is resumed directly with the result (no callback chain).
"""

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from fts.asterisk.agi.commands import (
    DEFAULT_SETTINGS,
    SessionSettings,
    AlwaysQuoted,
    Command,
    to_digit,
    to_exec,
    to_get_data,
    to_none,
    to_reply,
    to_status,
    to_stream,
    to_variable,
)
from fts.asterisk.agi.deadlines import Deadlines
from fts.asterisk.agi.errors import (
    AGICommandFailed,
    AGIConnectionLost,
    AGIError,
    AGIHangup,
    AGIInvalidCommand,
    AGIProtocolError,
    AGISessionClosed,
    AGITimeout,
    AGIUsageError,
)
from fts.asterisk.agi.wire import (
    HANGUP_NOTICE,
    DeadChannel,
    InvalidCommand,
    ProtocolError,
    Reply,
    UsageError,
    encode_line,
    quote,
)

__all__ = ["AGISession", "SessionSettings"]

log = Logger()

#: Encoded command lines by verb and plain-text arguments: the same prompts,
#: variables and applications come back call after call.  Emptied when full.
_LINES = {}
_WAIT_LINES = {}
_NEVER = float("inf")
_LINES_LIMIT = 4096
# Longer lines (a variable set to a long text, say) are not kept.
_LINES_LONGEST = 200


def _remember(cache, key, line):
    if len(line) > _LINES_LONGEST:
        return
    if len(cache) >= _LINES_LIMIT:
        cache.clear()
    cache[key] = line


def _fire(cmd, value, error):
    """
    Deliver a command's outcome: to the coroutine driver awaiting it
    directly, and through the Deferred to anyone who added callbacks.
    """
    waiter = cmd.waiter
    if waiter is None:
        if error is None:
            cmd.callback(value)
        else:
            cmd.errback(error)
        return
    cmd.waiter = None
    if cmd._callbacks:
        # Someone else listens too: fire it for them.
        if error is None:
            cmd.callback(value)
        else:
            cmd.errback(error)
    else:
        cmd.called = True
        cmd.result = None
    if error is None:
        waiter.send(value)
    else:
        waiter.throw(error)


class AGISession:
    """
    The call flow's handle on one FastAGI connection.

    @ivar environment: the L{fts.asterisk.agi.wire.Environment} Asterisk sent.
    """

    __slots__ = (
        "environment",
        "_transport",
        "_deadlines",
        "_settings",
        "_hung_up",
        "_closed",
        "_ended",
        "_current",
        "_queue",
        "_hangup_waiters",
        "_close_waiters",
        "_close_due",
        "_ticket",
    )

    def __init__(self, environment, transport, deadlines, settings=DEFAULT_SETTINGS):
        """
        @param environment: the parsed environment.
        @param transport: where commands are written (C{write}); it is
            half-closed with C{loseWriteConnection} (or closed with
            C{loseConnection} when it has none) and aborted with
            C{abortConnection} (or C{loseConnection}).
        @param deadlines: the L{Deadlines} for timeouts, or an
            C{IReactorTime} to make one from.
        """
        if not isinstance(deadlines, Deadlines):
            deadlines = Deadlines(deadlines)
        self.environment = environment
        self._transport = transport
        self._deadlines = deadlines
        self._settings = settings
        # The h extension runs on a channel that is already dead.
        self._hung_up = environment.is_h_extension
        # None while verbs may be issued, else the AGIError class and message
        # new verbs fail with.
        self._closed = None
        self._ended = False
        self._current = None
        self._queue = None
        self._hangup_waiters = None
        self._close_waiters = None
        # When the close timeout passes (set by close(); _NEVER once acted on).
        self._close_due = None
        # The one Deadlines ticket of this session, or None.  It may be
        # earlier than anything now due (see _deadline_passed).
        self._ticket = None

    def __repr__(self):
        return "<AGISession %s %s>" % (self.environment.network_script, self._where())

    def _where(self):
        env = self.environment
        return "channel %s (uniqueid %s)" % (env.channel, env.uniqueid)

    # -- state ---------------------------------------------------------------

    @property
    def hung_up(self):
        """
        Whether the channel has hung up (notice, 511, our own HANGUP, or the
        connection closed).
        """
        return self._hung_up

    @property
    def closed(self):
        """
        Whether new verbs are refused (L{close} was called, a verb timed out,
        or the connection is gone).
        """
        return self._closed is not None

    def when_hung_up(self):
        """
        A Deferred that fires with C{None} once the channel has hung up (at
        once if it already has).  It never fails.
        """
        if self._hung_up:
            return succeed(None)
        d = Deferred()
        if self._hangup_waiters is None:
            self._hangup_waiters = [d]
        else:
            self._hangup_waiters.append(d)
        return d

    def when_closed(self):
        """
        A Deferred that fires with C{None} once the connection has closed.
        It never fails.
        """
        if self._ended:
            return succeed(None)
        d = Deferred()
        if self._close_waiters is None:
            self._close_waiters = [d]
        else:
            self._close_waiters.append(d)
        return d

    # -- verbs ---------------------------------------------------------------

    def answer(self, timeout=None):
        """
        ANSWER.  Fires with C{None}.
        """
        return self._submit(b"ANSWER\n", to_none, True, timeout, True, False)

    def stream_file(self, name, escape_digits="", offset=0, timeout=None):
        """
        STREAM FILE: play a prompt, interruptible by C{escape_digits}.

        @return: Deferred firing with C{(digit, endpos)}: the digit pressed
            (a one-character str) or C{None} if the prompt played to its end,
            and the sample offset where playback stopped.
        """
        if type(name) is str and type(escape_digits) is str and not offset:
            key = ("STREAM FILE", name, escape_digits)
            line = _LINES.get(key)
            if line is not None:
                return self._submit(line, to_stream, True, timeout, True, True)
        else:
            key = None
        args = [name, AlwaysQuoted(escape_digits)]
        if offset:
            args.append(int(offset))
        return self._verb("STREAM FILE", args, to_stream, True, timeout, True, True, key)

    def get_data(self, name, timeout_ms, max_digits, timeout=None):
        """
        GET DATA: play a prompt and collect up to C{max_digits} digits
        (C{#} ends input early).

        @return: Deferred firing with C{(digits, timed_out)}: the digits
            entered (possibly C{""}), and whether input ended by timeout.
        """
        args = [name, int(timeout_ms), int(max_digits)]
        return self._verb("GET DATA", args, to_get_data, True, timeout, True, True)

    def wait_for_digit(self, timeout_ms, timeout=None):
        """
        WAIT FOR DIGIT for up to C{timeout_ms} milliseconds (-1: forever).

        @return: Deferred firing with the digit (one-character str) or
            C{None} on timeout.
        """
        timeout_ms = int(timeout_ms)
        if timeout is None:
            if timeout_ms < 0:
                timeout = self._settings.media_timeout
            else:
                timeout = timeout_ms / 1000.0 + self._settings.command_timeout
        line = _WAIT_LINES.get(timeout_ms)
        if line is None:
            line = b"WAIT FOR DIGIT %d\n" % (timeout_ms,)
            _remember(_WAIT_LINES, timeout_ms, line)
        return self._submit(line, to_digit, True, timeout, True, True)

    def get_variable(self, name, timeout=None):
        """
        GET VARIABLE.  Works on a dead channel.

        @return: Deferred firing with the value, or C{None} when unset.
        """
        key = ("GET VARIABLE", name) if type(name) is str else None
        line = _LINES.get(key)
        if line is not None:
            return self._submit(line, to_variable, False, timeout, False, False)
        return self._verb(
            "GET VARIABLE", [name], to_variable, False, timeout, False, False, key
        )

    def get_full_variable(self, expression, timeout=None):
        """
        GET FULL VARIABLE: evaluate an expression such as
        C{"${CALLERID(num)} ${HANGUPCAUSE}"}.  Works on a dead channel.

        @return: Deferred firing with the text, or C{None} when Asterisk says
            it is unset.
        """
        return self._verb(
            "GET FULL VARIABLE", [expression], to_variable, False, timeout, False, False
        )

    def set_variable(self, name, value, timeout=None):
        """
        SET VARIABLE, the value quoted once.  Works on a dead channel.
        Fires with C{None}.
        """
        if type(name) is str and type(value) is str:
            key = ("SET VARIABLE", name, value)
            line = _LINES.get(key)
            if line is not None:
                return self._submit(line, to_none, False, timeout, False, False)
        else:
            key = None
        return self._verb(
            "SET VARIABLE", [name, value], to_none, False, timeout, False, False, key
        )

    def exec_(self, application, *args, live=False, timeout=None):
        """
        EXEC an application with C{args} joined by commas as its one option
        string (quoted once when needed), e.g. C{exec_("Read", "DIGITS",
        "prompt", "4")} sends C{EXEC Read DIGITS,prompt,4}.

        Asterisk runs EXEC on a dead channel too (Playback then returns 0
        without playing); pass C{live=True} to fail with L{AGIHangup} instead
        when the channel has already hung up.  A C{-1} result is treated like
        the blocking verbs' (hang-up, or L{AGICommandFailed}).

        @return: Deferred firing with the application's result as an C{int}.
        @raise AGICommandFailed: (in the Deferred) no such application.
        """
        words = [application]
        if args:
            words.append(",".join([str(a) for a in args]))
        key = ("EXEC",) + tuple(words) if type(application) is str else None
        line = _LINES.get(key)
        if line is not None:
            return self._submit(line, to_exec, live, timeout, True, True)
        return self._verb("EXEC", words, to_exec, live, timeout, True, True, key)

    def say_digits(self, digits, escape_digits="", timeout=None):
        """
        SAY DIGITS.  Fires with the digit pressed or C{None}.
        """
        args = [str(digits), AlwaysQuoted(escape_digits)]
        return self._verb("SAY DIGITS", args, to_digit, True, timeout, True, True)

    def say_number(self, number, escape_digits="", timeout=None):
        """
        SAY NUMBER.  Fires with the digit pressed or C{None}.
        """
        args = [int(number), AlwaysQuoted(escape_digits)]
        return self._verb("SAY NUMBER", args, to_digit, True, timeout, True, True)

    def say_date(self, seconds, escape_digits="", timeout=None):
        """
        SAY DATE of a Unix time in seconds.  Fires with the digit pressed or
        C{None}.
        """
        args = [int(seconds), AlwaysQuoted(escape_digits)]
        return self._verb("SAY DATE", args, to_digit, True, timeout, True, True)

    def say_time(self, seconds, escape_digits="", timeout=None):
        """
        SAY TIME of a Unix time in seconds.  Fires with the digit pressed or
        C{None}.
        """
        args = [int(seconds), AlwaysQuoted(escape_digits)]
        return self._verb("SAY TIME", args, to_digit, True, timeout, True, True)

    def set_autohangup(self, seconds, timeout=None):
        """
        SET AUTOHANGUP: hang the channel up C{seconds} from now (0 cancels).
        Fires with C{None}.
        """
        return self._verb(
            "SET AUTOHANGUP", [int(seconds)], to_none, True, timeout, False, False
        )

    def channel_status(self, timeout=None):
        """
        CHANNEL STATUS.  Fires with Asterisk's state number (6 = up).
        """
        return self._submit(b"CHANNEL STATUS\n", to_status, True, timeout, False, False)

    def verbose(self, message, level=1, timeout=None):
        """
        VERBOSE: write C{message} to the Asterisk console.  Fires with C{None}.
        """
        args = [AlwaysQuoted(message), int(level)]
        return self._verb("VERBOSE", args, to_none, False, timeout, False, False)

    def noop(self, *words, timeout=None):
        """
        NOOP, with C{words} each quoted when needed (Asterisk ignores them).
        Fires with C{None}.
        """
        return self._verb(
            "NOOP", list(words), to_none, False, timeout, False, False
        )

    def hangup(self, timeout=None):
        """
        HANGUP the channel.  Fires with C{None}; the session is hung up from
        then on.  Unlike the other live verbs it does nothing and succeeds
        when the channel has already hung up, so a flow can always end with it.
        """
        if self._hung_up:
            return succeed(None)
        return self._submit(b"HANGUP\n", self._hung_up_by_us, True, timeout, False, False)

    def command(self, name, *args, live=False, timeout=None):
        """
        Send any command: C{name} as given (e.g. C{"DATABASE GET"}), then
        each argument quoted when needed.

        @param live: fail at once with L{AGIHangup} if the channel has hung up.
        @return: Deferred firing with the L{fts.asterisk.agi.wire.Reply}, or
            failing with L{AGIInvalidCommand} (510), L{AGIHangup} (511),
            L{AGIUsageError} (520) and the other L{AGIError}s.
        """
        return self._verb(name, list(args), to_reply, live, timeout, False, False)

    def close(self):
        """
        End the session: refuse new verbs, fail queued ones with
        L{AGISessionClosed}, and half-close the connection.  A command in
        flight still gets its reply.  Asterisk then sends a last C{HANGUP}
        and closes; if it has not within C{close_timeout}, the connection is
        aborted.

        @return: L{when_closed}.
        """
        self._close()
        return self.when_closed()

    def _close(self):
        """
        L{close} without making a Deferred nobody waits on (the server's
        end of a script).
        """
        if self._closed is None:
            self._closed = (AGISessionClosed, "the AGI session was closed")
            if self._queue:
                self._fail_queue(lambda cmd: True, AGISessionClosed, "the AGI session was closed")
        if not self._ended and self._close_due is None:
            due = self._close_due = self._deadlines.seconds() + self._settings.close_timeout
            self._arm(due)
            transport = self._transport
            lose_write = getattr(transport, "loseWriteConnection", None)
            if lose_write is not None:
                lose_write()
            else:
                transport.loseConnection()

    # -- sending -------------------------------------------------------------

    def _verb(self, name, args, convert, live, timeout, minus_one, media, key=None):
        """
        Encode and submit a command; with C{key}, remember the line for the
        next verb with the same key (see L{_LINES}).
        """
        try:
            line = encode_line(
                name, *[quote(a.value, True) if type(a) is AlwaysQuoted else quote(a) for a in args]
            )
        except ValueError as e:
            return fail(e)
        if key is not None:
            _remember(_LINES, key, line)
        return self._submit(line, convert, live, timeout, minus_one, media)

    def _submit(self, line, convert, live, timeout, minus_one, media):
        """
        Queue or send one command.

        @param live: the command needs a live channel.
        @param minus_one: a C{-1} result may mean the channel hung up.
        @param media: the default timeout is C{media_timeout}, not
            C{command_timeout}.
        """
        if self._closed is not None:
            kind, message = self._closed
            return fail(kind(message, line[:-1].decode("utf-8", "replace")))
        if live and self._hung_up:
            return fail(
                AGIHangup("the channel has hung up", line[:-1].decode("utf-8", "replace"))
            )
        if timeout is None:
            settings = self._settings
            timeout = settings.media_timeout if media else settings.command_timeout
        cmd = Command(self, line, convert, live, timeout, minus_one)
        if self._current is None:
            self._start(cmd)
        elif self._queue is None:
            self._queue = [cmd]
        else:
            self._queue.append(cmd)
        return cmd

    def _start(self, cmd):
        self._current = cmd
        deadlines = self._deadlines
        due = cmd.due = deadlines.seconds() + cmd.timeout
        ticket = self._ticket
        if ticket is None:
            self._ticket = deadlines.schedule_at(self, due)
        elif ticket > due * deadlines.per_second:
            # (A ticket no later than that is no later than slot(due).)
            self._arm(due)
        self._transport.write(cmd.line)

    def _arm(self, due):
        """
        Make sure the session's ticket fires no later than C{due}.  A command
        that completes leaves the ticket in place: the next command usually
        needs it anyway, and scheduling is what costs.
        """
        deadlines = self._deadlines
        ticket = self._ticket
        if ticket is not None:
            if ticket <= deadlines.slot(due):
                return
            deadlines.cancel(self, ticket)
        self._ticket = deadlines.schedule_at(self, due)

    def _complete(self, cmd, value=None, error=None):
        """
        Finish the current command: send the next queued one, then fire.
        """
        self._current = None
        queue = self._queue
        if queue:
            self._start(queue.pop(0))
        if error is None:
            waiter = cmd.waiter
            if waiter is not None and not cmd._callbacks:
                # The usual case: a coroutine script awaits this verb.  The
                # Deferred ends up as if awaited through inlineCallbacks:
                # fired, its result consumed.
                cmd.waiter = None
                cmd.called = True
                cmd.result = None
                waiter.send(value)
                return
        elif error.command is None:
            error.command = cmd.text
        _fire(cmd, value, error)

    def _fail_queue(self, which, kind, message):
        queue = self._queue
        if not queue:
            return
        failing = [cmd for cmd in queue if which(cmd)]
        if not failing:
            return
        self._queue = [cmd for cmd in queue if not which(cmd)] or None
        for cmd in failing:
            _fire(cmd, None, kind(message, cmd.text))

    # -- receiving (called by the protocol) ------------------------------------

    def _received(self, item):
        """
        Handle one parsed item after the environment.
        """
        if item is HANGUP_NOTICE:
            self._channel_hung_up()
            return
        cmd = self._current
        if cmd is None or type(cmd.minus_one) is Reply:
            self._unexpected(item)
            return
        kind = type(item)
        if kind is Reply:
            if item.result == "-1" and cmd.minus_one is True:
                if self._hung_up:
                    self._complete(cmd, error=AGIHangup("the channel hung up", None, item))
                    return
                # Wait for the HANGUP notice that normally follows.
                cmd.minus_one = item
                due = cmd.due = self._deadlines.seconds() + self._settings.hangup_grace
                self._arm(due)
                return
            try:
                value = cmd.convert(item)
            except AGIError as e:
                if e.reply is None:
                    e.reply = item
                self._complete(cmd, error=e)
            else:
                self._complete(cmd, value)
        elif kind is DeadChannel:
            self._channel_hung_up()
            self._complete(cmd, error=AGIHangup("the channel has hung up (511)", None, item))
        elif kind is InvalidCommand:
            error = AGIInvalidCommand("invalid or unknown command (510)", None, item)
            self._complete(cmd, error=error)
        elif kind is UsageError:
            self._complete(cmd, error=AGIUsageError("invalid command syntax (520)", None, item))
        elif kind is ProtocolError and item.looks_like_reply:
            self._complete(cmd, error=AGIProtocolError(str(item), None, item))
        else:
            self._unexpected(item)

    def _unexpected(self, item):
        if type(item) is ProtocolError:
            log.warn(
                "ignoring a malformed line from Asterisk on {where}: {error}",
                where=self._where(),
                error=str(item),
            )
        else:
            log.warn(
                "ignoring {item!r} from Asterisk on {where}: no command was waiting for it",
                item=item,
                where=self._where(),
            )

    def _hung_up_by_us(self, reply):
        if reply.result == "1":
            self._channel_hung_up()
            return None
        raise AGICommandFailed("HANGUP failed: result=%s" % (reply.result,), None, reply)

    def _channel_hung_up(self):
        if self._hung_up:
            return
        self._hung_up = True
        if self._queue:
            self._fail_queue(lambda cmd: cmd.live, AGIHangup, "the channel has hung up")
        cmd = self._current
        if cmd is not None and type(cmd.minus_one) is Reply:
            self._complete(cmd, error=AGIHangup("the channel hung up", None, cmd.minus_one))
        waiters = self._hangup_waiters
        if waiters:
            self._hangup_waiters = None
            for d in waiters:
                d.callback(None)

    def _grace_over(self, cmd):
        self._complete(
            cmd,
            error=AGICommandFailed(
                "result=-1 but the channel did not hang up", None, cmd.minus_one
            ),
        )

    def _timed_out(self, cmd):
        log.warn(
            "no reply to {command} within {timeout}s on {where}; closing the connection",
            command=cmd.text,
            timeout=cmd.timeout,
            where=self._where(),
        )
        self._closed = (AGISessionClosed, "the AGI session was abandoned after a timeout")
        self._fail_queue(lambda c: True, AGISessionClosed, self._closed[1])
        self._complete(cmd, error=AGITimeout("no reply within %ss" % (cmd.timeout,)))
        self._abort()

    def _deadline_passed(self):
        """
        The session's ticket fired (L{Deadlines} calls this): act on the
        command's timeout or hang-up grace and on the close timeout if they
        have passed, and schedule again for what is still to come.
        """
        self._ticket = None
        if self._ended:
            return
        now = self._deadlines.seconds()
        cmd = self._current
        if cmd is not None and now >= cmd.due:
            if type(cmd.minus_one) is Reply:
                self._grace_over(cmd)
            else:
                self._timed_out(cmd)
            if self._ended:
                return
        close_due = self._close_due
        if close_due is not None and now >= close_due:
            self._close_due = _NEVER
            log.info(
                "Asterisk did not close the AGI connection within {timeout}s of our "
                "half-close on {where}; aborting it",
                timeout=self._settings.close_timeout,
                where=self._where(),
            )
            self._abort()
            return
        if self._ended or self._ticket is not None:
            return
        cmd = self._current
        due = cmd.due if cmd is not None else _NEVER
        if close_due is not None and close_due < due:
            due = close_due
        if due != _NEVER:
            self._arm(due)

    def _abort(self):
        transport = self._transport
        abort = getattr(transport, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            transport.loseConnection()

    def _connection_lost(self):
        """
        The connection closed: fail everything pending, fire the waiters.
        """
        if self._ended:
            return
        self._ended = True
        message = "the AGI connection closed"
        self._closed = (AGIConnectionLost, message)
        ticket = self._ticket
        if ticket is not None:
            self._ticket = None
            self._deadlines.cancel(self, ticket)
        if self._queue:
            self._fail_queue(lambda c: True, AGIConnectionLost, message)
        cmd = self._current
        if cmd is not None:
            self._complete(cmd, error=AGIConnectionLost(message))
        self._channel_hung_up()
        waiters = self._close_waiters
        if waiters:
            self._close_waiters = None
            for d in waiters:
                d.callback(None)
