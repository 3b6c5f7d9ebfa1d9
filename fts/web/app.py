"""
The admin panel and JSON API as a Klein application object.

Its fields are its dependencies; the daemon serves C{AdminApp(...).resource()}
and tests drive the same object in memory with C{treq.testing.StubTreq}.
A dependency left at L{None} is a feature not wired yet: its pages say so
instead of showing anything made up.

The routes live in the modules of L{fts.web.pages} and L{fts.web.api}, each
declaring a route table that is installed here on the one Klein app.
"""

import json

import attr
from klein import Klein
from twisted.web.resource import Resource
from werkzeug.exceptions import MethodNotAllowed, NotFound

from fts.db.audit import AuditStore
from fts.db.auth import AuthStore
from fts.web import render, security
from fts.web.live import CallRates, LiveFeed
from fts.web.login import Authenticator, run_here
from fts.web.pages import (
    account, audit, campaigns, dashboard, jobs, pending, status, tokens, users,
)
from fts.web.pages import audio, dnc, list_import, lists
from fts.web.pages import recycling, reports
from fts.web.pages import campaign_calls
from fts.web.pages import campaign_templates, campaign_wizard
from fts.web.static import StaticFiles
from fts.web import api

#: Largest request body accepted on routes that are not uploads.
FORM_BODY_LIMIT = 1024 * 1024

#: Every route table, installed on the app in this order.
ROUTE_TABLES = (account.routes, dashboard.routes, status.routes, users.routes, jobs.routes,
                tokens.routes, audit.routes, campaigns.routes, pending.routes, api.routes,
                lists.routes, list_import.routes, dnc.routes, audio.routes,
                reports.routes, recycling.routes, campaign_calls.routes,
                campaign_wizard.routes, campaign_templates.routes)

NOTICES = {}
for _module in (account, users, jobs, tokens, campaigns, lists, dnc, audio, recycling,
                campaign_calls, campaign_wizard, campaign_templates):
    NOTICES.update(getattr(_module, "NOTICES", {}))


@attr.s
class AdminApp:
    """
    @ivar health: the daemon's L{fts.health.Health}.
    @ivar store: the L{fts.db.store.Store}, or L{None}: then only C{/health}
        and the static files work (everything else needs logins).
    @ivar jobs: the L{fts.jobs.runner.JobRunner}, or L{None}.
    @ivar config: the L{fts.config.Config} (status page), or L{None}.
    @ivar calls: the dialer's L{fts.dialer.registry.CallRegistry}, or
        L{None} while the dialer is not wired.
    @ivar clock: where times come from; default the health clock.
    @ivar run_blocking: C{run_blocking(f, *args)} -> Deferred, running CPU-
        heavy work (password hashing) off the reactor thread; default: on
        this thread (tests).
    @ivar secure_cookies: mark cookies Secure and send HSTS (behind TLS).
    @ivar templates: the Jinja2 environment (built once).
    @ivar snapshot_max_age: seconds a dashboard snapshot is reused (the
        dashboard, the live feed and C{/api/v1/stats} share it).
    @ivar imports: the L{fts.contacts.imports.ContactImports} (contact-list
        pages and API), or L{None}.
    @ivar dnc_uploads: the L{fts.contacts.dnc_uploads.DncUploads} (DNC CSV
        uploads), or L{None}: DNC lists are still edited by hand.
    @ivar audio: the L{fts.db.audio.AudioStore} (audio library), or L{None}.
    @ivar sounds_dir: the sounds directory; default the audio store's.
    @ivar sound_formats: the formats recordings are converted to
        (C{[sounds] formats}; WAV always).
    @ivar tts: the L{fts.audio.tts.TTSCache} (its availability is shown),
        or L{None}.
    @ivar upload_dir: where uploads wait while they are checked; default
        C{uploads/incoming} in the importer's data directory.
    @ivar test_calls: the L{fts.dialer.test_calls.TestCallPlacer} (test
        call from the campaign page, C{POST /api/v1/calls}), or L{None}.
    @ivar campaign_jobs: the L{fts.web.campaign_jobs.CampaignJobs} (made
        on first use); C{campaign_feeds} the campaign pages' live feeds.
    """

    app = Klein()

    health = attr.ib()
    store = attr.ib(default=None)
    jobs = attr.ib(default=None)
    config = attr.ib(default=None)
    calls = attr.ib(default=None)
    clock = attr.ib(default=None)
    run_blocking = attr.ib(default=run_here)
    secure_cookies = attr.ib(default=False)
    templates = attr.ib(factory=render.environment, repr=False)
    live_interval = attr.ib(default=2.0)
    auth = attr.ib(default=None)
    audit = attr.ib(default=None)
    authenticator = attr.ib(default=None)
    static = attr.ib(factory=StaticFiles)
    rates = attr.ib(default=None)
    live = attr.ib(default=None)
    snapshot_max_age = attr.ib(default=1.0)
    imports = attr.ib(default=None)
    dnc_uploads = attr.ib(default=None)
    audio = attr.ib(default=None)
    sounds_dir = attr.ib(default=None)
    sound_formats = attr.ib(default=("wav",))
    tts = attr.ib(default=None)
    upload_dir = attr.ib(default=None)
    test_calls = attr.ib(default=None)
    campaign_jobs = attr.ib(default=None)
    campaign_feeds = attr.ib(default=None, repr=False)
    snapshot_cache = attr.ib(default=None, init=False, repr=False)

    def __attrs_post_init__(self):
        if self.clock is None:
            self.clock = self.health.clock
        if self.store is not None:
            if self.auth is None:
                self.auth = getattr(self.store, "auth", None) or AuthStore(self.store.pool)
            if self.audit is None:
                self.audit = getattr(self.store, "audit", None) or AuditStore(self.store.pool)
        if self.authenticator is None and self.auth is not None:
            self.authenticator = Authenticator(self.auth, self.clock,
                                               run_blocking=self.run_blocking,
                                               secure=self.secure_cookies)
        if self.rates is None and self.calls is not None:
            self.rates = CallRates(self.clock)
            self.calls.on_end(self.rates.ended)
        if self.live is None:
            self.live = LiveFeed(self.clock, lambda: dashboard.snapshot(self),
                                 interval=self.live_interval)
        self.templates.globals.update(static=self.static.url)

    def resource(self):
        """
        The resource to serve: every response gets the security headers.
        """
        return _Guarded(self.app.resource(), security.security_headers(self.secure_cookies))

    # -- helpers for the pages ------------------------------------------------

    def render(self, request, caller, template, status=200, **context):
        """
        Render C{template} as the response, with the caller, its CSRF token
        and the notice named by C{?notice=} in the context.
        """
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        notice = None
        values = (request.args or {}).get(b"notice")
        if values:
            notice = NOTICES.get(values[0].decode("ascii", "replace"))
        context.setdefault("notice", notice)
        context.setdefault("errors", {})
        context.setdefault("section", None)
        page = self.templates.get_template(template).render(
            me=caller, csrf_token=caller.csrf_token if caller else None,
            path=request.path.decode("utf-8", "replace"), **context)
        return page.encode("utf-8")

    def error_page(self, request, caller, code, message):
        return self.render(request, caller, "error.html", status=code, code=code,
                           message=message)

    def see_other(self, request, url):
        """
        Answer a successful form with 303 See Other to C{url} (a path).
        """
        request.setResponseCode(303)
        request.setHeader(b"location", url.encode("utf-8"))
        return b""

    # -- routes -------------------------------------------------------------

    for _table in ROUTE_TABLES:
        _table.install(app)
    del _table

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

    @app.route("/static/<string:name>", methods=["GET"])
    def get_static(self, request, name):
        """
        The panel's own CSS and JavaScript (public, no user data).
        """
        return self.static.serve(request, name)

    @app.handle_errors(NotFound)
    def not_found(self, request, failure):
        if request.path.startswith(b"/api/"):
            return api.error_response(request, 404, "not_found",
                                      "There is no such API endpoint.")
        return self.error_page(request, None, 404, "There is no such page.")

    @app.handle_errors(MethodNotAllowed)
    def method_not_allowed(self, request, failure):
        if request.path.startswith(b"/api/"):
            return api.error_response(request, 405, "method_not_allowed",
                                      "This endpoint does not take that method.")
        return self.error_page(request, None, 405, "That is not allowed here.")


class _Guarded(Resource):
    """
    The root resource: sets the security headers on every response and
    refuses request bodies over their route's limit before any route runs.
    """

    isLeaf = True

    def __init__(self, inner, headers):
        super().__init__()
        self.inner = inner
        self.headers = headers

    def render(self, request):
        for name, value in self.headers:
            request.setHeader(name, value)
        if getattr(request, "body_too_large", False):
            request.setResponseCode(413)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"The request body is larger than this address accepts.\n"
        return self.inner.render(request)
