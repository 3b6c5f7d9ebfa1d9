"""
The FastAGI server side of FTS.

  - L{wire}: sans-IO parser of what Asterisk sends, and the command encoder.
  - L{session}: L{AGISession}, the call flow's verbs (Deferreds), one command
    at a time, with the hang-up rules of a real Asterisk.
  - L{commands}: timeout settings, the queued-command record and the reply
    converters the session uses.
  - L{deadlines}: cheap coarse timeouts shared by all sessions.
  - L{protocol}: the Twisted protocol shell.
  - L{router}: script name to call-flow function.
  - L{server}: the factory (routing, session limit, counters), and the
    driver that runs C{async def} scripts without a Deferred per step.
  - L{errors}: what verbs fail with.
"""

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
from fts.asterisk.agi.router import H_EXTENSION, ScriptRouter
from fts.asterisk.agi.server import FastAGIServerFactory, SessionCounts
from fts.asterisk.agi.session import AGISession, SessionSettings

__all__ = [
    "AGICommandFailed",
    "AGIConnectionLost",
    "AGIError",
    "AGIHangup",
    "AGIInvalidCommand",
    "AGIProtocolError",
    "AGISession",
    "AGISessionClosed",
    "AGITimeout",
    "AGIUsageError",
    "FastAGIServerFactory",
    "H_EXTENSION",
    "ScriptRouter",
    "SessionCounts",
    "SessionSettings",
]
