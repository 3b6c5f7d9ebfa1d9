"""
The admin panel and JSON API as a Klein application object.

Its fields are its dependencies; the daemon serves C{AdminApp(...).resource()}
and tests drive the same object in memory with C{treq.testing.StubTreq}.
"""

import json

import attr
from klein import Klein


@attr.s
class AdminApp:
    """
    @ivar health: the daemon's L{fts.health.Health}.
    """

    app = Klein()
    health = attr.ib()

    def resource(self):
        return self.app.resource()

    @app.route("/health", methods=["GET"])
    def get_health(self, request):
        """
        Every component's state as JSON: HTTP 200 while the daemon can work
        (status ok or degraded), 503 when a critical component is down.
        """
        report = self.health.report()
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        request.setResponseCode(503 if report["status"] == "down" else 200)
        return json.dumps(report, indent=1, sort_keys=True).encode("utf-8") + b"\n"
