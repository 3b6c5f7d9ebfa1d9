"""
The errors an AGI verb's Deferred can fail with.

Everything derives from L{AGIError}.  L{AGIHangup} (and its subclass
L{AGIConnectionLost}) means the call is over for the call flow: it should do
its bookkeeping and return.
"""

__all__ = [
    "AGICommandFailed",
    "AGIConnectionLost",
    "AGIError",
    "AGIHangup",
    "AGIInvalidCommand",
    "AGIProtocolError",
    "AGISessionClosed",
    "AGITimeout",
    "AGIUsageError",
]


class AGIError(Exception):
    """
    An AGI command did not do what was asked.

    @ivar command: the command line as text (without its newline), or C{None}.
    @ivar reply: the item Asterisk answered with (a C{wire} item), or C{None}.
    """

    def __init__(self, message, command=None, reply=None):
        Exception.__init__(self, message)
        self.command = command
        self.reply = reply

    def __str__(self):
        message = self.args[0] if self.args else ""
        if self.command:
            return "%s (command: %s)" % (message, self.command)
        return message


class AGIHangup(AGIError):
    """
    The channel hung up: the command got C{511}, a C{-1} result followed by
    the C{HANGUP} notice, or it needs a live channel and the channel had
    already hung up (then it was never sent).
    """


class AGIConnectionLost(AGIHangup):
    """
    The FastAGI connection closed before the command was answered.
    """


class AGIInvalidCommand(AGIError):
    """
    Asterisk answered C{510 Invalid or unknown command}.
    """


class AGIUsageError(AGIError):
    """
    Asterisk answered with the C{520} usage block: the arguments were wrong.

    @ivar lines: the block's lines (see L{fts.asterisk.agi.wire.UsageError}).
    """

    def __init__(self, message, command=None, reply=None):
        AGIError.__init__(self, message, command, reply)
        self.lines = reply.lines if reply is not None else ()


class AGICommandFailed(AGIError):
    """
    Asterisk ran the command and reported failure on a live channel: a C{-1}
    result with no C{HANGUP} following it (a missing prompt, for example),
    C{-2} from EXEC (no such application), or a result the verb cannot use.
    """


class AGIProtocolError(AGIError):
    """
    Asterisk answered with a line the parser could not understand.
    """


class AGITimeout(AGIError):
    """
    No reply came within the verb's timeout.  The session cannot know which
    reply a late line would belong to, so it closes the connection.
    """


class AGISessionClosed(AGIError):
    """
    The verb was issued, or still queued, after the session was closed.
    """
