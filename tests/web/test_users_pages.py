"""
Tests for the users and API tokens pages: bad input is reported at its
field and stores nothing; hostile text is stored and shown inertly.
"""

import html

from twisted.internet import defer

from fts.web import security
from tests.web.support import PASSWORD, PanelTestCase

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQL = "Robert'); DROP TABLE users;--"


class UsersPageTests(PanelTestCase):
    @defer.inlineCallbacks
    def test_create(self):
        """
        An admin creates a user, who can then log in; the change is audited
        with who made it and from where.
        """
        client = yield self.logged_in("admin")
        result = yield client.post("/users", {
            "username": "olga", "display_name": "Olga", "email": "olga@example.org",
            "role": "operator", "password": "a long password", "confirm": "a long password"})
        self.assertEqual(result.code, 303)
        self.assertEqual(result.header("location"), "/users?notice=user-created")
        page = yield client.get("/users?notice=user-created")
        self.assertIn("The user has been created.", page.text)
        self.assertIn(">olga</a>", page.text)
        self.assertEqual((yield self.client().login("olga", "a long password")).code, 303)
        entries, _ = yield self.app.audit.entries(object_type="user")
        self.assertEqual((entries[0].action, entries[0].actor_name, entries[0].address),
                         ("user.create", "admin", "127.0.0.1"))

    @defer.inlineCallbacks
    def test_bad_input_at_fields(self):
        """
        Every wrong field gets its own message next to it, the form keeps
        what was typed (never the password), and nothing is stored.
        """
        client = yield self.logged_in("admin")
        before = (yield self.count("users")), (yield self.count("audit_log"))
        result = yield client.post("/users", {
            "username": "bad name!", "email": "not-an-email", "role": "superuser",
            "password": "short", "confirm": "short", "display_name": "x" * 101})
        self.assertEqual(result.code, 400)
        for field in ("username", "email", "role", "password", "display_name"):
            self.assertIn(f'id="e-{field}"', result.text, field)
        self.assertIn('value="bad name!"', result.text)
        self.assertNotIn('value="short"', result.text)
        self.assertEqual(((yield self.count("users")), (yield self.count("audit_log"))), before)

    @defer.inlineCallbacks
    def test_duplicate_username(self):
        """
        A taken username (in any case) is reported at the username field.
        """
        client = yield self.logged_in("admin")
        result = yield client.post("/users", {
            "username": "Viewer", "role": "viewer", "password": PASSWORD, "confirm": PASSWORD})
        self.assertEqual(result.code, 400)
        self.assertIn("is taken", result.text)

    @defer.inlineCallbacks
    def test_hostile_text_inert(self):
        """
        Script and SQL typed into text fields are stored as typed and shown
        escaped: no markup from them reaches the page.
        """
        client = yield self.logged_in("admin")
        user_id = self.users["viewer"].id
        result = yield client.post(f"/users/{user_id}", {
            "display_name": XSS[:100], "email": "a@b", "role": "viewer"})
        self.assertEqual(result.code, 303)
        result = yield client.post("/users", {
            "username": "sql", "display_name": SQL, "role": "viewer", "password": PASSWORD,
            "confirm": PASSWORD})
        self.assertEqual(result.code, 303)
        rows = yield self.pool.runQuery("SELECT display_name FROM users ORDER BY id")
        self.assertIn(XSS[:100], [r[0] for r in rows])
        self.assertIn(SQL, [r[0] for r in rows])
        for path in ("/users", f"/users/{user_id}", "/audit"):
            page = yield client.get(path)
            self.assertNotIn("<script>alert", page.text, path)
            self.assertNotIn("<img src=x", page.text, path)
        page = yield client.get("/users")
        self.assertIn(html.escape(XSS[:100], quote=False).replace('"', "&#34;"), page.text)
        self.assertIn(html.escape(SQL).replace("&#x27;", "&#39;"), page.text)

    @defer.inlineCallbacks
    def test_disable_and_last_admin(self):
        """
        Disabling a user ends their sessions; the last admin cannot be
        disabled, which the page says.
        """
        viewer = yield self.logged_in("viewer")
        client = yield self.logged_in("admin")
        result = yield client.post(f"/users/{self.users['viewer'].id}/disable")
        self.assertEqual(result.code, 303)
        self.assertEqual((yield viewer.get("/")).code, 302)
        result = yield client.post(f"/users/{self.users['admin'].id}/disable")
        self.assertEqual(result.code, 400)
        self.assertIn("last enabled admin", result.text)
        result = yield client.post(f"/users/{self.users['viewer'].id}/enable")
        self.assertEqual(result.code, 303)

    @defer.inlineCallbacks
    def test_reset_password(self):
        """
        An admin resets a password: the old one stops working at once.
        """
        client = yield self.logged_in("admin")
        operator = yield self.logged_in("operator")
        result = yield client.post(f"/users/{self.users['operator'].id}/password", {
            "password": "another long one", "confirm": "another long one"})
        self.assertEqual(result.code, 303)
        self.assertEqual((yield operator.get("/")).code, 302)
        self.assertEqual((yield self.client().login("operator")).code, 401)

    @defer.inlineCallbacks
    def test_unknown_user(self):
        """
        A user id that does not exist is a 404 page.
        """
        client = yield self.logged_in("admin")
        self.assertEqual((yield client.get("/users/999999")).code, 404)


class TokensPageTests(PanelTestCase):
    @defer.inlineCallbacks
    def test_create_shows_once(self):
        """
        A new token is shown once; only its hash is stored, and it works
        with the API at its scope.
        """
        client = yield self.logged_in("admin")
        result = yield client.post("/tokens", {
            "name": "CRM", "user_id": str(self.users["operator"].id), "role": "operator",
            "days": "30"})
        self.assertEqual(result.code, 201)
        token = result.text.split('id="new-token">')[1].split("<")[0]
        self.assertTrue(token.startswith("fts_"))
        rows = yield self.pool.runQuery("SELECT token_hash, token_prefix FROM api_tokens")
        self.assertEqual(rows[0], (security.token_hash(token), token[:10]))
        self.assertNotIn(token, (yield client.get("/tokens")).text)
        me = yield self.client().get("/api/v1/me", token=token)
        self.assertEqual((me.code, me.json()["role"]), (200, "operator"))

    @defer.inlineCallbacks
    def test_scope_above_user(self):
        """
        A token scoped above its user's role is refused at the scope field.
        """
        client = yield self.logged_in("admin")
        result = yield client.post("/tokens", {
            "name": "x", "user_id": str(self.users["viewer"].id), "role": "admin"})
        self.assertEqual(result.code, 400)
        self.assertIn('id="e-role"', result.text)
        self.assertEqual((yield self.count("api_tokens")), 0)

    @defer.inlineCallbacks
    def test_revoke(self):
        """
        A revoked token is refused by the API at once.
        """
        token, prefix = security.new_api_token()
        record = yield self.app.auth.create_token(
            "t", self.users["admin"].id, security.token_hash(token), prefix, "admin", None,
            self.users_actor())
        client = yield self.logged_in("admin")
        self.assertEqual((yield client.post(f"/tokens/{record.id}/revoke")).code, 303)
        self.assertEqual((yield self.client().get("/api/v1/me", token=token)).code, 401)
        self.assertEqual((yield client.post(f"/tokens/{record.id}/revoke")).code, 404)

    def users_actor(self):
        from tests.web.support import SYSTEM
        return SYSTEM
