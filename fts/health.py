"""
The state of each component of the daemon, for C{GET /health}, the status
page and the logs: up or down, since when, and the last error.
"""

import attr

STARTING = "starting"
UP = "up"
DEGRADED = "degraded"
DOWN = "down"
STOPPED = "stopped"


@attr.s(slots=True)
class ComponentHealth:
    """
    One component's state.  Components change it through L{set}; the daemon
    reads it through L{Health.report}.

    @ivar critical: when down, the daemon as a whole is down (HTTP 503).
    """

    name = attr.ib()
    clock = attr.ib(repr=False)
    critical = attr.ib(default=True)
    state = attr.ib(default=STARTING)
    since = attr.ib(default=None)
    last_error = attr.ib(default=None)
    details = attr.ib(factory=dict)
    probe = attr.ib(default=None, repr=False)

    def __attrs_post_init__(self):
        self.since = self.clock.seconds()

    def set(self, state, error=None, **details):
        """
        Record a new state (C{since} only moves when the state changes); an
        C{error} becomes the last error and stays until another replaces it.
        """
        if state != self.state:
            self.state = state
            self.since = self.clock.seconds()
        if error is not None:
            self.last_error = " ".join(str(error).split())
        self.details.update(details)

    def watch(self, probe):
        """
        Call C{probe() -> dict} at every report and show what it returns
        among the details (counters that change too often to push).
        """
        self.probe = probe

    def as_dict(self):
        details = dict(self.details)
        if self.probe is not None:
            details.update(self.probe())
        return {
            "state": self.state,
            "since": self.since,
            "last_error": self.last_error,
            "critical": self.critical,
            **({"details": details} if details else {}),
        }


@attr.s(slots=True)
class Health:
    """
    Every component's L{ComponentHealth}, in the order they were added.
    """

    clock = attr.ib(repr=False)
    _components = attr.ib(factory=dict)

    def component(self, name, critical=True):
        """
        The health record of C{name}, created on first use.
        """
        if name not in self._components:
            self._components[name] = ComponentHealth(name, self.clock, critical)
        return self._components[name]

    def overall(self):
        """
        C{"ok"} when every component is up, C{"down"} when a critical one is
        not up, C{"degraded"} otherwise.
        """
        states = list(self._components.values())
        if all(c.state == UP for c in states):
            return "ok"
        if any(c.critical and c.state != UP for c in states):
            return "down"
        return "degraded"

    def report(self):
        return {
            "status": self.overall(),
            "time": self.clock.seconds(),
            "components": {n: c.as_dict() for n, c in self._components.items()},
        }
