"""
The ways an AMI action can fail.

Callers mostly care about one question: could Asterisk have acted on the
request?  L{AMIError} (it answered C{Response: Error}) and L{AMINotConnected}
(it was never sent) mean no.  L{AMITimeout} and L{AMIConnectionLost} with
C{sent=True} mean "unknown": an Originate may have gone through, so the dialer
reconciles (CoreShowChannels, the ChannelId it chose) before dialing again.
"""

__all__ = [
    "AMIException",
    "AMIError",
    "AMILoginFailed",
    "AMITimeout",
    "AMIConnectionLost",
    "AMINotConnected",
]


class AMIException(Exception):
    """
    Base class of every AMI failure.
    """


class AMIError(AMIException):
    """
    Asterisk answered an action with C{Response: Error}.

    @ivar action: the action name (e.g. C{"Originate"}).
    @ivar response: the error L{fts.asterisk.ami.frames.Message}.
    """

    def __init__(self, action, response):
        self.action = action
        self.response = response
        super().__init__(action, response)

    @property
    def message(self):
        """
        Asterisk's C{Message:} text, e.g. C{"Extension does not exist."}.
        """
        return self.response.get("Message", "")

    def __str__(self):
        return "%s failed: %s" % (self.action, self.message or "(no message)")


class AMILoginFailed(AMIError):
    """
    The login was refused (Asterisk closes the socket about 1 s later).
    """


class AMITimeout(AMIException):
    """
    No (complete) answer to an action within its timeout.

    @ivar action: the action name.
    @ivar action_id: the ActionID it was sent with.
    @ivar seconds: the timeout that expired.
    """

    def __init__(self, action, action_id, seconds):
        self.action = action
        self.action_id = action_id
        self.seconds = seconds
        super().__init__(action, action_id, seconds)

    def __str__(self):
        return "no answer to %s (ActionID %s) within %g s" % (
            self.action,
            self.action_id,
            self.seconds,
        )


class AMIConnectionLost(AMIException):
    """
    The connection closed while the action was pending.

    @ivar action: the action name.
    @ivar sent: C{True} if the action had been written to the socket (so
        Asterisk may have acted on it), C{False} if it was still queued.
    @ivar reason: what closed the connection (a string).
    """

    def __init__(self, action, sent, reason):
        self.action = action
        self.sent = sent
        self.reason = reason
        super().__init__(action, sent, reason)

    def __str__(self):
        return "AMI connection lost with %s %s: %s" % (
            self.action,
            "pending" if self.sent else "still queued (not sent)",
            self.reason,
        )


class AMINotConnected(AMIConnectionLost):
    """
    There is no logged-in AMI connection; the action was not sent.
    """

    def __init__(self, action, reason="not connected"):
        super().__init__(action, False, reason)

    def __str__(self):
        return "%s not sent: %s" % (self.action, self.reason)
