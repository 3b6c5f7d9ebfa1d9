"""
Which call-flow function runs a FastAGI session.

The dialplan names the script in the AGI URL: C{AGI(agi://HOST:4573/call)}
arrives as C{agi_network_script: call}.  The C{h} extension's connection
(C{agi_extension: h}: the channel is already dead, and it is the second
connection for the same uniqueid) goes to its own function whatever the URL
says, when one is configured.
"""

import attr

__all__ = ["H_EXTENSION", "ScriptRouter"]

#: The route name reported for C{h}-extension sessions.
H_EXTENSION = "h-extension"


def _scripts(value):
    return dict(value)


@attr.s(frozen=True, slots=True)
class ScriptRouter:
    """
    Map C{agi_network_script} names to functions C{f(session)} returning a
    Deferred, or C{async def} functions (their coroutine is run by the
    server's own driver: the fast path).

    @ivar scripts: script name (the URL path without slashes) to function.
    @ivar h_extension: the function for C{h}-extension sessions, or C{None}
        to route them by script name like any other.
    """

    scripts = attr.ib(converter=_scripts, factory=dict)
    h_extension = attr.ib(default=None)

    def resolve(self, environment):
        """
        Choose the function for a session.

        @param environment: the session's L{fts.asterisk.agi.wire.Environment}.
        @return: C{(name, function)}; C{function} is C{None} when no script
            has that name.
        """
        if self.h_extension is not None and environment.is_h_extension:
            return H_EXTENSION, self.h_extension
        name = environment.network_script.strip("/")
        return name, self.scripts.get(name)
