"""
Tests for the JSON API machinery and its users, audit and system endpoints.
"""

from datetime import timedelta

from twisted.internet import defer

from fts.web import security
from fts.web.api.framework import API
from fts.web.app import AdminApp
from tests.web.support import SYSTEM, PanelTestCase

SQL = "x'); DELETE FROM users; --"
XSS = "<script>alert(1)</script>"


class ApiTestCase(PanelTestCase):
    @defer.inlineCallbacks
    def token(self, role, scope=None, days=None):
        token, prefix = security.new_api_token()
        expires = self.app.authenticator.now() + timedelta(days=days) if days else None
        yield self.app.auth.create_token("t", self.users[role].id, security.token_hash(token),
                                         prefix, scope or role, expires, SYSTEM)
        return token


class AuthenticationTests(ApiTestCase):
    @defer.inlineCallbacks
    def test_needs_token(self):
        """
        Without a token, with a malformed or unknown one, the API answers 401
        with a structured error and a Bearer challenge.
        """
        client = self.client()
        for headers in ({}, {"Authorization": "Basic YWRtaW46eA=="},
                        {"Authorization": "Bearer fts_unknown"},
                        {"Authorization": "Bearer"}):
            result = yield client.get("/api/v1/me", headers=headers)
            self.assertEqual(result.code, 401, headers)
            self.assertEqual(result.header("www-authenticate"), 'Bearer realm="fts"')
            self.assertEqual(result.json()["error"]["code"], "unauthenticated")

    @defer.inlineCallbacks
    def test_session_is_not_a_token(self):
        """
        A panel session cookie does not authenticate API calls (so the API
        needs no CSRF token).
        """
        client = yield self.logged_in("admin")
        self.assertEqual((yield client.get("/api/v1/users")).code, 401)

    @defer.inlineCallbacks
    def test_expiry(self):
        """
        A token stops working when it expires.
        """
        token = yield self.token("viewer", days=1)
        client = self.client()
        self.assertEqual((yield client.get("/api/v1/me", token=token)).code, 200)
        self.clock.advance(86401)
        self.assertEqual((yield client.get("/api/v1/me", token=token)).code, 401)

    @defer.inlineCallbacks
    def test_role_lowered_later(self):
        """
        A token acts with the lower of its scope and its user's current role.
        """
        yield self.app.auth.update_account(self.users["operator"].id, SYSTEM, role="admin")
        self.users["operator"] = yield self.app.auth.account(self.users["operator"].id)
        token = yield self.token("operator", scope="admin")
        client = self.client()
        self.assertEqual((yield client.get("/api/v1/users", token=token)).code, 200)
        yield self.app.auth.update_account(self.users["operator"].id, SYSTEM, role="viewer")
        result = yield client.get("/api/v1/users", token=token)
        self.assertEqual(result.code, 403)
        me = yield client.get("/api/v1/me", token=token)
        self.assertEqual(me.json()["role"], "viewer")


class UsersApiTests(ApiTestCase):
    @defer.inlineCallbacks
    def test_create_validation(self):
        """
        Every problem of a body is reported as {field, problem}, with 422,
        and nothing is stored.
        """
        token = yield self.token("admin")
        before = yield self.count("users")
        result = yield self.client().request("POST", "/api/v1/users", token=token, body={
            "username": "bad name", "role": "root", "password": 5, "colour": "red"})
        self.assertEqual(result.code, 422)
        error = result.json()["error"]
        self.assertEqual(error["code"], "invalid")
        problems = {p["field"]: p["problem"] for p in error["problems"]}
        self.assertEqual(set(problems), {"role", "password", "colour"})
        self.assertIn("one of", problems["role"])
        self.assertEqual(problems["password"], "must be text")
        self.assertEqual(problems["colour"], "is not a known field")
        result = yield self.client().request("POST", "/api/v1/users", token=token, body={
            "username": "bad name", "role": "viewer", "password": "short"})
        problems = {p["field"] for p in result.json()["error"]["problems"]}
        self.assertEqual(problems, {"username", "password"})
        self.assertEqual((yield self.count("users")), before)

    @defer.inlineCallbacks
    def test_malformed_bodies(self):
        """
        A body that is not JSON, not an object, or not declared as JSON is a
        clear 400/415.
        """
        token = yield self.token("admin")
        client = self.client()
        for body, headers, code in ((b"{nope", {}, 400), (b"[1]", {}, 400),
                                    (b"{}", {"Content-Type": "text/plain"}, 415),
                                    (b"", {}, 422),
                                    (b"\xff\xfe", {}, 400)):
            result = yield client.request("POST", "/api/v1/users", token=token, body=body,
                                          headers=headers)
            self.assertEqual(result.code, code, body)
            self.assertIn("message", result.json()["error"])

    @defer.inlineCallbacks
    def test_create_update_inert_text(self):
        """
        Users are created and changed through the API; SQL and markup in
        text fields are stored and returned as plain text.
        """
        token = yield self.token("admin")
        client = self.client()
        created = yield client.request("POST", "/api/v1/users", token=token, body={
            "username": "api.user", "role": "viewer", "password": "long enough pw",
            "display_name": SQL, "email": "a@b.c"})
        self.assertEqual(created.code, 201)
        user = created.json()
        self.assertEqual(user["display_name"], SQL)
        changed = yield client.request("PATCH", f"/api/v1/users/{user['id']}", token=token,
                                       body={"display_name": XSS, "role": "operator",
                                             "disabled": True})
        self.assertEqual(changed.code, 200)
        self.assertEqual((changed.json()["display_name"], changed.json()["role"],
                          changed.json()["disabled"]), (XSS, "operator", True))
        self.assertIn(b"\\u003c" if b"\\u003c" in changed.body else b"<script>", changed.body)
        self.assertEqual(changed.header("content-type"), "application/json")
        self.assertGreaterEqual((yield self.count("users")), 4)
        missing = yield client.get("/api/v1/users/999999", token=token)
        self.assertEqual(missing.code, 404)

    @defer.inlineCallbacks
    def test_duplicate(self):
        """
        A taken username is a 422 problem on the username field.
        """
        token = yield self.token("admin")
        result = yield self.client().request("POST", "/api/v1/users", token=token, body={
            "username": "ADMIN", "role": "viewer", "password": "long enough pw"})
        self.assertEqual(result.code, 422)
        self.assertEqual(result.json()["error"]["problems"][0]["field"], "username")


class PaginationTests(ApiTestCase):
    @defer.inlineCallbacks
    def test_audit_pages(self):
        """
        Lists come in pages with total and next_offset; bad paging
        parameters are reported per parameter.
        """
        for n in range(5):
            yield self.app.audit.record(SYSTEM, "test.thing", "thing", n)
        token = yield self.token("admin")
        client = self.client()
        first = (yield client.get("/api/v1/audit?limit=2&object_type=thing", token=token)).json()
        self.assertEqual((first["total"], first["next_offset"], len(first["items"])), (5, 2, 2))
        self.assertEqual([i["object_id"] for i in first["items"]], ["4", "3"])
        last = (yield client.get("/api/v1/audit?limit=2&offset=4&object_type=thing",
                                 token=token)).json()
        self.assertEqual((len(last["items"]), last["next_offset"]), (1, None))
        bad = yield client.get("/api/v1/audit?limit=0&offset=x", token=token)
        self.assertEqual(bad.code, 422)
        fields = {p["field"] for p in bad.json()["error"]["problems"]}
        self.assertEqual(fields, {"limit", "offset"})


class OpenApiTests(ApiTestCase):
    @defer.inlineCallbacks
    def test_document(self):
        """
        The OpenAPI document is public and lists every declared endpoint with
        its parameters, body schema, role and error shape.
        """
        result = yield self.client().get("/api/v1/openapi.json")
        self.assertEqual(result.code, 200)
        document = result.json()
        self.assertEqual(document["openapi"], "3.0.3")
        paths = document["paths"]
        for endpoint in API.endpoints:
            self.assertIn(endpoint.method.lower(), paths["/api/v1" + endpoint.path])
        create = paths["/api/v1/users"]["post"]
        schema = create["requestBody"]["content"]["application/json"]["schema"]
        self.assertEqual(set(schema["required"]), {"username", "role", "password"})
        self.assertIn("admin role", create["description"])
        self.assertIn("422", create["responses"])
        run = paths["/api/v1/jobs/{name}/run"]["post"]
        self.assertEqual(run["parameters"][0]["in"], "path")
        self.assertIn("Error", document["components"]["schemas"])

    def test_every_api_route_declared(self):
        """
        Every route under /api/v1 comes from a declaration (so it is in the
        OpenAPI document and behind the token check).
        """
        declared = {e.werkzeug_url() for e in API.endpoints}
        for rule in AdminApp.app.url_map.iter_rules():
            if rule.rule.startswith("/api/"):
                self.assertIn(rule.rule, declared)

    @defer.inlineCallbacks
    def test_unknown_endpoint_json(self):
        """
        An unknown API path or method answers with the JSON error shape.
        """
        client = self.client()
        result = yield client.get("/api/v1/nothing")
        self.assertEqual((result.code, result.json()["error"]["code"]), (404, "not_found"))
        result = yield client.request("DELETE", "/api/v1/me")
        self.assertEqual(result.code, 405)
        self.assertEqual(result.json()["error"]["code"], "method_not_allowed")
