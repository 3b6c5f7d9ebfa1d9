"""
Every route of the panel and the API, checked for authentication, roles and
CSRF by enumerating the app's URL map: a route added later is covered
without touching these tests.
"""

import re

from twisted.internet import defer

from fts.web import security
from fts.web.app import AdminApp
from tests.web.support import SYSTEM, PanelTestCase

#: Routes anyone may call.
PUBLIC = {"/health", "/static/<string:name>", "/login", "/api/v1/openapi.json"}
#: State-changing panel routes every role may use (own session and password).
ANY_ROLE = {"/logout", "/account/password"}
#: Tables whose rows a refused request must not change.
TABLES = ("users", "sessions", "api_tokens", "audit_log", "job_runs")


def routes():
    """
    C{(rule text, method)} for every route and method of the app.
    """
    found = []
    for rule in AdminApp.app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method))
    return sorted(found)


def concrete(rule, user_id=1):
    """
    A URL for C{rule}: integer parts become C{user_id}, text parts C{x}.
    """
    url = re.sub(r"<int:[a-z_]+>", str(user_id), rule)
    return re.sub(r"<(string:)?[a-z_]+>", "x", url)


class RouteSecurityTests(PanelTestCase):
    @defer.inlineCallbacks
    def snapshot(self):
        counts = []
        for table in TABLES:
            counts.append((yield self.count(table)))
        rows = yield self.pool.runQuery(
            "SELECT id, role, display_name, disabled_at, password_hash FROM users ORDER BY id")
        return counts, rows

    def test_enumerates_routes(self):
        """
        The URL map holds the pages and API endpoints (the tests below are
        not vacuous).
        """
        rules = {rule for rule, _ in routes()}
        for expected in ("/", "/users", "/users/<int:user_id>/disable", "/jobs",
                         "/api/v1/users", "/api/v1/jobs/<string:name>/run"):
            self.assertIn(expected, rules)

    @defer.inlineCallbacks
    def test_anonymous_refused(self):
        """
        Without a session a page GET goes to the login page and any other
        method is refused; without a token the API answers 401 as JSON.
        """
        client = self.client()
        before = yield self.snapshot()
        for rule, method in routes():
            if rule in PUBLIC:
                continue
            url = concrete(rule, self.users["viewer"].id)
            result = yield client.request(method, url, form={} if method != "GET" else None,
                                          csrf="junk")
            if rule.startswith("/api/"):
                self.assertEqual(result.code, 401, (method, url))
                self.assertEqual(result.json()["error"]["code"], "unauthenticated")
            elif method == "GET":
                self.assertEqual(result.code, 302, (method, url))
                self.assertTrue(result.header("location").startswith("/login?next="))
            else:
                self.assertEqual(result.code, 403, (method, url))
        self.assertEqual((yield self.snapshot()), before)

    @defer.inlineCallbacks
    def test_viewer_changes_nothing_in_panel(self):
        """
        A viewer with a valid session and CSRF token is refused (403) by every
        state-changing page route but its own logout and password, and
        nothing changes.
        """
        client = yield self.logged_in("viewer")
        before = yield self.snapshot()
        checked = 0
        for rule, method in routes():
            if method == "GET" or rule in PUBLIC | ANY_ROLE or rule.startswith("/api/"):
                continue
            result = yield client.request(method, concrete(rule, self.users["admin"].id),
                                          form={"role": "admin", "name": "t", "user_id": "1",
                                                "username": "evil", "password": "x" * 12,
                                                "confirm": "x" * 12})
            self.assertEqual(result.code, 403, (method, rule))
            checked += 1
        self.assertGreater(checked, 5)
        self.assertEqual((yield self.snapshot()), before)

    @defer.inlineCallbacks
    def test_viewer_token_changes_nothing_in_api(self):
        """
        A viewer-scoped token (or an admin's token scoped to viewer) is
        refused (403) by every API endpoint that changes something.
        """
        tokens = []
        for user in (self.users["viewer"], self.users["admin"]):
            token, prefix = security.new_api_token()
            yield self.app.auth.create_token("t", user.id, security.token_hash(token), prefix,
                                             "viewer", None, SYSTEM)
            tokens.append(token)
        client = self.client()
        before = yield self.snapshot()
        for token in tokens:
            for rule, method in routes():
                if method == "GET" or not rule.startswith("/api/"):
                    continue
                result = yield client.request(method, concrete(rule, self.users["admin"].id),
                                              body={"role": "viewer"}, token=token)
                self.assertEqual(result.code, 403, (method, rule))
                self.assertEqual(result.json()["error"]["code"], "forbidden")
        self.assertEqual((yield self.snapshot()), before)

    @defer.inlineCallbacks
    def test_admin_pages_need_admin(self):
        """
        An operator can read the dashboard but not the admin pages.
        """
        client = yield self.logged_in("operator")
        self.assertEqual((yield client.get("/")).code, 200)
        for path in ("/users", f"/users/{self.users['admin'].id}", "/tokens", "/audit"):
            result = yield client.get(path)
            self.assertEqual(result.code, 403, path)
            self.assertIn("This needs the admin role", result.text)

    @defer.inlineCallbacks
    def test_csrf_required(self):
        """
        An admin's state-changing request without the session's CSRF token,
        with a wrong one, or from another origin is refused and changes
        nothing.
        """
        client = yield self.logged_in("admin")
        before = yield self.snapshot()
        for rule, method in routes():
            if method == "GET" or rule in PUBLIC or rule.startswith("/api/"):
                continue
            url = concrete(rule, self.users["viewer"].id)
            form = {"role": "admin", "display_name": "x"}
            for attempt in (
                    client.request(method, url, form=form, csrf=False),
                    client.request(method, url, form=form, csrf="0" * 43),
                    client.request(method, url, form=form,
                                   headers={"Origin": "https://evil.example"})):
                result = yield attempt
                self.assertEqual(result.code, 403, (method, rule))
                self.assertIn("This form has expired", result.text)
        self.assertEqual((yield self.snapshot()), before)

    @defer.inlineCallbacks
    def test_security_headers(self):
        """
        Every response, pages, errors, API and static files alike, carries the
        CSP without inline scripts, no framing and no sniffing.
        """
        client = yield self.logged_in("admin")
        for path in ("/", "/login", "/nowhere", "/api/v1/jobs", "/static/app.css", "/health"):
            result = yield client.get(path)
            csp = result.header("content-security-policy")
            self.assertIn("script-src 'self'", csp, path)
            self.assertNotIn("unsafe-inline", csp)
            self.assertEqual(result.header("x-frame-options"), "DENY")
            self.assertEqual(result.header("x-content-type-options"), "nosniff")

    @defer.inlineCallbacks
    def test_pages_have_no_inline_script(self):
        """
        No page carries inline script or event handler attributes (the CSP
        would block them).
        """
        client = yield self.logged_in("admin")
        for path in ("/", "/status", "/users", "/jobs", "/tokens", "/audit", "/account",
                     "/campaigns"):
            result = yield client.get(path)
            self.assertEqual(result.code, 200, path)
            self.assertNotRegex(result.text, r"<script>|<script [^s]|\son[a-z]+=")
            self.assertNotIn("style=", result.text)

    @defer.inlineCallbacks
    def test_static_no_traversal(self):
        """
        Static files are served by exact name only: traversal attempts and
        unknown names are 404.
        """
        client = self.client()
        self.assertEqual((yield client.get("/static/app.js")).code, 200)
        for path in ("/static/../app.py", "/static/%2e%2e%2fapp.py", "/static/..%2f..%2fsetup.py",
                     "/static/app.css%00.js", "/static/nothing.css"):
            result = yield client.get(path)
            self.assertEqual(result.code, 404, path)
            self.assertNotIn(b"import", result.body)
