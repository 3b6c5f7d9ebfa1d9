"""
Driving the panel in memory: an L{AdminApp} on a real test database, and a
client (treq's in-memory agent, as C{StubTreq} uses) that keeps the
session cookie like a browser and reads CSRF tokens from the pages.

Routes that wait for the database finish after the request was sent, so the
client's resource wrapper flushes the in-memory connection whenever the
server writes (no polling, no sleeps).
"""

import json
import re
from datetime import timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy
from http.cookies import SimpleCookie

import attr
from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent, _SynchronousProducer
from twisted.internet import defer, reactor, task
from twisted.web.resource import Resource

from fts import health as H
from fts import passwords
from fts.db.audit import Actor
from fts.web import security
from fts.web.app import AdminApp
from fts.web.limits import BodyLimits, LimitedRequest
from fts.web.uploads import UPLOAD_LIMITS
from tests.support.db import DatabaseTestCase

HOST = "fts.test"
PASSWORD = "correct horse battery"
_HASH = []


def password_hash():
    """
    The scrypt hash of L{PASSWORD}, computed once per test run.
    """
    if not _HASH:
        _HASH.append(passwords.hash_password(PASSWORD))
    return _HASH[0]


@attr.s(frozen=True)
class Result:
    code = attr.ib()
    headers = attr.ib()
    body = attr.ib()

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        values = self.headers.getRawHeaders(name)
        return values[0] if values else None

    def csrf(self):
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.text)
        return found.group(1) if found else None


class _Flushing(Resource):
    isLeaf = True

    def __init__(self, inner, client):
        super().__init__()
        self.inner = inner
        self.client = client

    def render(self, request):
        write = request.write

        def write_and_flush(data):
            write(data)
            reactor.callLater(0, self.client.flush)

        request.write = write_and_flush
        request.notifyFinish().addBoth(lambda _: reactor.callLater(0, self.client.flush))
        return self.inner.render(request)


class WebClient:
    """
    One browser (or API client) talking to C{app} in memory.
    """

    def __init__(self, app, body_limits=None):
        self.agent = RequestTraversalAgent(_Flushing(app.resource(), self))
        # Requests as the daemon's LimitedSite makes them: upload routes get
        # their raw body, not a parsed form.
        site = self.agent._serverFactory
        site.requestFactory = LimitedRequest
        site.body_limits = body_limits or BodyLimits(uploads=UPLOAD_LIMITS)
        never = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
        self.http = HTTPClient(self.agent, cookiejar=never,
                               data_to_body_producer=_SynchronousProducer)
        self.cookies = {}
        self.csrf_token = None

    def flush(self):
        self.agent.flush()

    @defer.inlineCallbacks
    def request(self, method, path, form=None, body=None, headers=None, token=None,
                csrf=None):
        """
        Send a request; C{form} is urlencoded (with this session's CSRF token
        added unless C{csrf} is given or C{False}), C{body} JSON.
        """
        all_headers = {"Host": [HOST]}
        for name, value in (headers or {}).items():
            all_headers[name] = [value]
        if self.cookies:
            all_headers["Cookie"] = ["; ".join(f"{k}={v}" for k, v in self.cookies.items())]
        if token is not None:
            all_headers["Authorization"] = [f"Bearer {token}"]
        data = None
        if form is not None:
            data = dict(form)
            if csrf is None and self.csrf_token:
                data.setdefault("csrf_token", self.csrf_token)
            elif csrf:
                data["csrf_token"] = csrf
        if body is not None:
            data = json.dumps(body) if not isinstance(body, bytes) else body
            all_headers.setdefault("Content-Type", ["application/json"])
        response = yield self.http.request(method, f"http://{HOST}{path}", data=data,
                                           headers=all_headers, allow_redirects=False)
        content = yield response.content()
        for raw in response.headers.getRawHeaders("set-cookie", []):
            cookie = SimpleCookie()
            cookie.load(raw)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        result = Result(response.code, response.headers, content)
        if b'name="csrf_token"' in content:
            self.csrf_token = result.csrf()
        return result

    def upload(self, path, fields=None, files=None, csrf=None, headers=None):
        """
        POST a C{multipart/form-data} form, as a browser sends it: this
        session's CSRF token first (unless C{csrf} is given or C{False}),
        then C{fields}, then C{files} (C{{name: (filename, bytes)}}).
        """
        items = []
        token = self.csrf_token if csrf is None else csrf
        if token:
            items.append(("csrf_token", None, token.encode("utf-8")))
        for name, value in (fields or {}).items():
            items.append((name, None, value.encode("utf-8")))
        for name, (filename, data) in (files or {}).items():
            items.append((name, filename, data))
        body, content_type = multipart(items)
        all_headers = {"Content-Type": content_type, **(headers or {})}
        return self.request("POST", path, body=body, headers=all_headers)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, form=None, **kwargs):
        return self.request("POST", path, form=form if form is not None else {}, **kwargs)

    @defer.inlineCallbacks
    def login(self, username, password=PASSWORD):
        page = yield self.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
        result = yield self.request("POST", "/login", form={
            "username": username, "password": password, "login_token": token,
            "next": "/"}, csrf=False)
        if result.code == 303:
            yield self.get("/account")  # picks up the session's CSRF token
        return result


def multipart(items, boundary="fts-test-boundary-7d3a"):
    """
    A C{multipart/form-data} body of C{(name, filename or None, bytes)}
    items, and its content type.
    """
    out = []
    for name, filename, data in items:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode())
        if filename is not None:
            out.append(b"Content-Type: application/octet-stream\r\n")
        out.append(b"\r\n" + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


SYSTEM = Actor.system("tests")


class PanelTestCase(DatabaseTestCase):
    """
    An L{AdminApp} on a fresh database, with a clock the test controls and
    one user of each role (password L{PASSWORD}).

    @cvar with_campaigns: give the store the real campaign store (on the
        test's clock) and the app a started job runner (C{self.runner}).
    """

    with_campaigns = False

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.clock = task.Clock()
        self.clock.advance(1_780_000_000)  # 2026-05-28
        self.health = H.Health(self.clock)
        self.health.component("db").set(H.UP)
        self.app = self.make_app()
        self.users = {}
        for role in ("admin", "operator", "viewer"):
            self.users[role] = yield self.app.auth.create_account(
                role, role, password_hash(), SYSTEM)

    def make_app(self, **kwargs):
        if self.with_campaigns:
            from fts.db.campaigns import CampaignStore
            from fts.jobs.runner import JobRunner

            self.store.campaigns = CampaignStore(self.pool, self.clock)
            self.runner = JobRunner(self.clock)
            self.runner.startService()
            self.addCleanup(self.runner.stopService)
            kwargs.setdefault("jobs", self.runner)
        return AdminApp(health=self.health, store=self.store, clock=self.clock, **kwargs)

    def client(self):
        return WebClient(self.app)

    @defer.inlineCallbacks
    def logged_in(self, role):
        """
        A client with a session of the user named C{role}, opened directly in
        the store (the login form, with its deliberately slow password check,
        has tests of its own).
        """
        client = self.client()
        token, csrf = security.new_token(), security.new_token()
        now = self.app.authenticator.now()
        yield self.app.auth.create_session(
            self.users[role].id, security.token_hash(token), csrf, now,
            now + timedelta(seconds=self.app.authenticator.idle_timeout))
        client.cookies[security.SESSION_COOKIE.decode()] = token
        client.csrf_token = csrf
        return client

    @defer.inlineCallbacks
    def count(self, table, where="true", args=()):
        rows = yield self.pool.runQuery(f"SELECT count(*) FROM {table} WHERE {where}", args)
        return rows[0][0]
