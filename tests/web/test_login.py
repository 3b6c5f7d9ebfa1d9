"""
Tests for logging in and out, sessions and their expiry, and login
throttling (L{fts.web.login}, L{fts.web.pages.account}).
"""

import re
from datetime import UTC, datetime, timedelta

from twisted.internet import defer
from twisted.trial import unittest

from fts.db.auth import LoginFailures
from fts.web.login import Throttle
from fts.web.pages.account import safe_next
from tests.web.support import PASSWORD, PanelTestCase

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


class ThrottleTests(unittest.SynchronousTestCase):
    def test_under_limits(self):
        """
        Below both limits a login may be tried at once.
        """
        throttle = Throttle(window=900, per_user=5, per_address=30)
        self.assertIsNone(throttle.retry_after(LoginFailures(4, T0, 29, T0), T0))

    def test_user_limit(self):
        """
        At the per-user limit, the wait lasts until the oldest counted
        failure leaves the window.
        """
        throttle = Throttle(window=900, per_user=5)
        failures = LoginFailures(5, T0, 5, T0)
        self.assertEqual(throttle.retry_after(failures, T0 + timedelta(seconds=100)), 800)

    def test_address_limit(self):
        """
        At the per-address limit the address waits, whatever the username.
        """
        throttle = Throttle(window=900, per_user=5, per_address=30)
        failures = LoginFailures(0, None, 30, T0)
        self.assertEqual(throttle.retry_after(failures, T0 + timedelta(seconds=899)), 1)


class SafeNextTests(unittest.SynchronousTestCase):
    def test_only_local_paths(self):
        """
        After login the browser only goes to a path of this site.
        """
        self.assertEqual(safe_next("/users/3?x=1"), "/users/3?x=1")
        for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example", "", None,
                    "users", "/x\r\nLocation: //evil"):
            self.assertEqual(safe_next(bad), "/", bad)


class LoginTests(PanelTestCase):
    @defer.inlineCallbacks
    def test_login_sets_safe_cookie(self):
        """
        A right password opens a session: an HttpOnly, SameSite cookie, and
        a redirect to where the user was going.
        """
        client = self.client()
        page = yield client.get("/login?next=/jobs")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
        result = yield client.request("POST", "/login", form={
            "username": "admin", "password": PASSWORD, "login_token": token, "next": "/jobs"},
            csrf=False)
        self.assertEqual(result.code, 303)
        self.assertEqual(result.header("location"), "/jobs")
        cookie = [c for c in result.headers.getRawHeaders("set-cookie")
                  if c.startswith("fts_session=")][0]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=lax", cookie)
        self.assertNotIn("Secure", cookie)
        self.assertEqual((yield self.count("sessions")), 1)
        rows = yield self.pool.runQuery("SELECT token_hash FROM sessions")
        self.assertNotIn(rows[0][0], cookie)
        dashboard = yield client.get("/")
        self.assertEqual(dashboard.code, 200)

    @defer.inlineCallbacks
    def test_secure_cookies(self):
        """
        Behind TLS (secure_cookies) the session cookie is Secure and HSTS is sent.
        """
        self.app = self.make_app(secure_cookies=True)
        client = self.client()
        result = yield client.login("admin")
        cookie = [c for c in result.headers.getRawHeaders("set-cookie")
                  if c.startswith("fts_session=")][0]
        self.assertIn("Secure", cookie)
        self.assertIsNotNone(result.header("strict-transport-security"))

    @defer.inlineCallbacks
    def test_wrong_password(self):
        """
        A wrong password, an unknown user and a disabled user all get the
        same message; no session is opened.
        """
        yield self.app.auth.set_disabled(self.users["viewer"].id, True,
                                         self.app.authenticator.now(),
                                         self.users_actor())
        for username, password in (("admin", "nope nope nope"), ("nobody", PASSWORD),
                                   ("viewer", PASSWORD)):
            result = yield self.client().login(username, password)
            self.assertEqual(result.code, 401)
            self.assertIn("Wrong username or password.", result.text)
        self.assertEqual((yield self.count("sessions")), 0)
        self.assertEqual((yield self.count("login_attempts", "NOT succeeded")), 3)

    def users_actor(self):
        from fts.db.audit import Actor
        return Actor.system("tests")

    @defer.inlineCallbacks
    def test_login_csrf(self):
        """
        A login form posted without the matching login token (another
        site's form) is refused before the password is checked.
        """
        client = self.client()
        yield client.get("/login")
        result = yield client.request("POST", "/login", form={
            "username": "admin", "password": PASSWORD, "login_token": "forged"}, csrf=False)
        self.assertEqual(result.code, 403)
        self.assertEqual((yield self.count("login_attempts")), 0)

    @defer.inlineCallbacks
    def test_throttle_per_user(self):
        """
        After five failures for a username, even the right password is
        refused (429 with Retry-After) until the window has passed.
        """
        for _ in range(5):
            result = yield self.client().login("Admin", "wrong password!")
            self.assertEqual(result.code, 401)
        result = yield self.client().login("admin")
        self.assertEqual(result.code, 429)
        self.assertIn("Too many failed logins", result.text)
        self.assertEqual(result.header("retry-after"), "900")
        self.assertEqual((yield self.count("sessions")), 0)
        other = yield self.client().login("operator")
        self.assertEqual(other.code, 303)
        self.clock.advance(901)
        result = yield self.client().login("admin")
        self.assertEqual(result.code, 303)

    @defer.inlineCallbacks
    def test_throttle_per_address(self):
        """
        Many failures from one address across usernames throttle that
        address.
        """
        self.app.authenticator.throttle = type(self.app.authenticator.throttle)(
            per_user=5, per_address=3)
        for name in ("a", "b", "c"):
            yield self.client().login(name, "wrong password!")
        result = yield self.client().login("admin")
        self.assertEqual(result.code, 429)

    @defer.inlineCallbacks
    def test_idle_expiry(self):
        """
        A session unused for the idle timeout has expired; activity before
        that keeps it alive.
        """
        client = yield self.logged_in("viewer")
        self.clock.advance(3000)
        self.assertEqual((yield client.get("/")).code, 200)
        self.clock.advance(3000)
        self.assertEqual((yield client.get("/")).code, 200)
        self.clock.advance(3601)
        result = yield client.get("/")
        self.assertEqual(result.code, 302)
        self.assertEqual(result.header("location"), "/login?next=/")

    @defer.inlineCallbacks
    def test_absolute_expiry(self):
        """
        A session ends twelve hours after login however active it is.
        """
        client = yield self.logged_in("viewer")
        for _ in range(15):
            self.clock.advance(3000)
            result = yield client.get("/")
        self.assertEqual(result.code, 302)

    @defer.inlineCallbacks
    def test_logout(self):
        """
        Logging out deletes the session and the cookie; the old cookie no
        longer works.
        """
        client = yield self.logged_in("operator")
        cookies = dict(client.cookies)
        result = yield client.post("/logout")
        self.assertEqual(result.code, 303)
        self.assertNotIn("fts_session", client.cookies)
        self.assertEqual((yield self.count("sessions")), 0)
        client.cookies = cookies
        self.assertEqual((yield client.get("/")).code, 302)

    @defer.inlineCallbacks
    def test_change_own_password(self):
        """
        Any user may change their own password with the current one; a wrong
        current password is reported at its field and changes nothing.
        """
        client = yield self.logged_in("viewer")
        bad = yield client.post("/account/password", {
            "current": "not it at all", "new": "a brand new pass", "confirm": "a brand new pass"})
        self.assertEqual(bad.code, 400)
        self.assertIn('id="e-current"', bad.text)
        good = yield client.post("/account/password", {
            "current": PASSWORD, "new": "a brand new pass", "confirm": "a brand new pass"})
        self.assertEqual(good.code, 303)
        self.assertEqual((yield self.client().login("viewer")).code, 401)
        self.assertEqual((yield self.client().login("viewer", "a brand new pass")).code, 303)
        self.assertEqual((yield client.get("/")).code, 200)
