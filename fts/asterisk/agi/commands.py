"""
The pieces of one AGI command that L{fts.asterisk.agi.session} queues: the
timeout settings, the command record, and the functions that turn a
C{200} reply into a verb's result.
"""

import attr
from twisted.internet.defer import Deferred

from fts.asterisk.agi.errors import AGICommandFailed, AGIProtocolError

__all__ = [
    "DEFAULT_SETTINGS",
    "AlwaysQuoted",
    "Command",
    "SessionSettings",
    "to_digit",
    "to_exec",
    "to_get_data",
    "to_none",
    "to_number",
    "to_reply",
    "to_status",
    "to_stream",
    "to_variable",
]


@attr.s(frozen=True, slots=True)
class SessionSettings:
    """
    Timeouts shared by every session of a server, in seconds.

    @ivar command_timeout: for commands that answer at once (GET VARIABLE,
        ANSWER...); WAIT FOR DIGIT gets its own wait plus this.
    @ivar media_timeout: for commands whose length depends on a prompt or an
        application (STREAM FILE, GET DATA, SAY *, EXEC).
    @ivar hangup_grace: after a C{-1} result, how long to wait for the
        C{HANGUP} notice before calling it a failure on a live channel.
    @ivar close_timeout: after L{AGISession.close}, how long Asterisk may take
        to close the connection before we abort it.
    """

    command_timeout = attr.ib(default=10.0)
    media_timeout = attr.ib(default=600.0)
    hangup_grace = attr.ib(default=1.0)
    close_timeout = attr.ib(default=5.0)


DEFAULT_SETTINGS = SessionSettings()


class AlwaysQuoted:
    """
    An argument to quote even when it does not need it (escape digits and
    VERBOSE messages, as the recorded server sent them).
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Command(Deferred):
    """
    One command, queued or in flight.  It is also the Deferred its verb
    returns, so a verb allocates one object, not two.

    A script run by the server's own coroutine driver
    (L{fts.asterisk.agi.server}) that awaits a command registers itself as
    the command's C{waiter}: the session then hands it the outcome directly
    (C{waiter.send(value)} / C{waiter.throw(error)}) instead of going
    through the Deferred's callback chain; the Deferred is then left as
    C{inlineCallbacks} leaves what it awaited (fired, its result consumed:
    C{None}), with no L{Failure} made for an error.  Anything that adds
    callbacks (C{inlineCallbacks}, L{Deferred.fromCoroutine},
    C{addCallback}) gets the usual Deferred behaviour.
    """

    _canceller = None
    #: The coroutine driver awaiting this command directly, or None.
    waiter = None
    #: When its timeout (or, after a -1 result, its hang-up grace) passes,
    #: from the moment it is sent.
    due = None

    def __init__(self, session, line, convert, live, timeout, minus_one):
        # Deferred.__init__, minus the canceller (a class attribute).
        self._callbacks = []
        if self.debug:
            Deferred.__init__(self)
        self.session = session
        self.line = line
        self.convert = convert
        self.live = live
        self.timeout = timeout
        # The -1 reply while waiting for the HANGUP notice, True when a -1
        # result may mean hang-up, False when it may not.
        self.minus_one = minus_one

    def cancel(self):
        """
        Cancel like any Deferred; a script awaiting it directly gets the
        L{CancelledError} at its C{await}, as under C{inlineCallbacks}.
        """
        waiter = self.waiter
        if waiter is not None and not self.called:
            self.waiter = None
            self.addErrback(waiter._failed)
        Deferred.cancel(self)

    def __await__(self):
        if self.called:
            return (yield from Deferred.__iter__(self))
        # Whoever runs the coroutine sends the result (or throws the error)
        # in here: the server's driver, or Twisted's inlineCallbacks loop.
        return (yield self)

    __iter__ = __await__

    @property
    def text(self):
        """
        The command line as text, for errors and logs.
        """
        return self.line[:-1].decode("utf-8", "replace")


# Reply converters: Reply -> value, or raise AGIError.


def to_none(reply):
    """
    Verbs whose reply carries nothing: C{None}.
    """
    return None


def to_reply(reply):
    """
    The raw L{Reply} (the generic C{command} verb).
    """
    return reply


def to_number(reply):
    """
    C{result} as an C{int}.
    """
    try:
        return int(reply.result)
    except ValueError:
        raise AGIProtocolError("result is not a number: %r" % (reply.result,), None, reply)


#: The results of a key press (or none) as what to_digit returns.
_DIGITS = {"0": None}
_DIGITS.update((str(ord(key)), key) for key in "0123456789*#ABCD")


def to_digit(reply):
    """
    An ASCII code as its character, 0 as C{None}, below 0 an error.
    """
    result = reply.result
    if result in _DIGITS:
        return _DIGITS[result]
    code = to_number(reply)
    if code == 0:
        return None
    if code < 0:
        raise AGICommandFailed("result=%d" % (code,), None, reply)
    try:
        return chr(code)
    except (ValueError, OverflowError):
        raise AGIProtocolError("result is not a character code: %d" % (code,), None, reply)


def to_stream(reply):
    """
    STREAM FILE: C{(digit or None, endpos)}.
    """
    result = reply.result
    if result in _DIGITS:
        return (_DIGITS[result], reply.endpos)
    return (to_digit(reply), reply.endpos)


def to_get_data(reply):
    """
    GET DATA: C{(digits, timed_out)}.
    """
    return (reply.result, reply.data == "timeout")


def to_variable(reply):
    """
    GET (FULL) VARIABLE: the value, or C{None} when unset (result 0).
    """
    if reply.result == "1":
        return reply.data if reply.data is not None else ""
    return None


def to_exec(reply):
    """
    EXEC: the application's result; -2 (no such application) an error.
    """
    code = to_number(reply)
    if code == -2:
        raise AGICommandFailed("no such application", None, reply)
    return code


def to_status(reply):
    """
    CHANNEL STATUS: the state number; below 0 an error.
    """
    code = to_number(reply)
    if code < 0:
        raise AGICommandFailed("no such channel", None, reply)
    return code
