"""
Every contact-list, DNC and audio route of a panel that has them wired,
checked for authentication, roles and CSRF by enumerating the URL map
(uploads sent as the multipart forms they take), and for inline script.
"""

from twisted.internet import defer

from tests.web.library_support import GOOD_CSV, LibraryTestCase, sound
from tests.web.test_route_security import concrete, routes

PREFIXES = ("/lists", "/dnc", "/audio", "/api/v1/contact-lists", "/api/v1/dnc",
            "/api/v1/audio")
UPLOADS = {"/lists/upload", "/dnc/upload/<int:list_id>", "/audio/upload"}
TABLES = ("contact_lists", "contacts", "dnc_lists", "dnc_entries", "dnc_imports",
          "audio_assets", "audit_log")


def library_routes():
    return [(rule, method) for rule, method in routes() if rule.startswith(PREFIXES)]


class LibrarySecurityTests(LibraryTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        operator = yield self.logged_in("operator")
        self.list_id = yield self.upload_list(operator, GOOD_CSV, "Ready")
        self.dnc_id = (yield self.store.dnc.create_list("Mine")).id
        yield operator.upload("/audio/upload", {"name": "Hi"}, {"file": ("hi.wav", sound())})

    @defer.inlineCallbacks
    def snapshot(self):
        counts = []
        for table in TABLES:
            counts.append((yield self.count(table)))
        return counts

    def send(self, client, rule, method, **kwargs):
        url = concrete(rule, self.list_id)
        if rule in UPLOADS:
            files = {"file": ("x.csv" if "audio" not in rule else "x.wav", GOOD_CSV)}
            return client.upload(url, {"name": "evil"}, files, **kwargs)
        form = {"name": "evil", "phone": "0611111111", "action": "start"}
        return client.request(method, url, form=form if method != "GET" else None, **kwargs)

    def test_routes_found(self):
        """
        The enumeration finds the pages, the uploads and the API endpoints.
        """
        found = {rule for rule, _ in library_routes()}
        for rule in ("/lists/upload", "/dnc/upload/<int:list_id>", "/audio/upload",
                     "/lists/<int:list_id>/rejects.csv", "/api/v1/contact-lists/upload",
                     "/api/v1/dnc/opt-outs", "/api/v1/audio/<int:asset_id>/sound.wav"):
            self.assertIn(rule, found)

    @defer.inlineCallbacks
    def test_refused_without_rights(self):
        """
        Anonymous requests are sent to the login page or refused; a viewer's
        session (with a valid CSRF token) and a viewer-scoped token are
        refused every change; an operator without the CSRF token, with a
        wrong one or from another site is refused; nothing changes.
        """
        anonymous = self.client()
        viewer = yield self.logged_in("viewer")
        operator = yield self.logged_in("operator")
        token = yield self.token("viewer")
        before = yield self.snapshot()
        for rule, method in library_routes():
            api = rule.startswith("/api/")
            result = yield self.send(anonymous, rule, method, csrf="junk")
            expected = 401 if api else (302 if method == "GET" else 403)
            self.assertEqual(result.code, expected, (method, rule))
            if method == "GET":
                continue
            if api:
                result = yield anonymous.request(method, concrete(rule, self.list_id),
                                                 body={"name": "x"}, token=token)
                self.assertEqual(result.code, 403, (method, rule))
                continue
            result = yield self.send(viewer, rule, method)
            self.assertEqual(result.code, 403, (method, rule))
            self.assertIn("This needs the operator role", result.text)
            for kwargs in ({"csrf": False}, {"csrf": "0" * 43},
                           {"headers": {"Origin": "https://evil.example"}}):
                result = yield self.send(operator, rule, method, **kwargs)
                self.assertEqual(result.code, 403, (method, rule, kwargs))
                self.assertIn("This form has expired", result.text)
        self.assertEqual((yield self.snapshot()), before)
        self.assertEqual(self.staged(), [])

    @defer.inlineCallbacks
    def test_viewer_reads(self):
        """
        A viewer reads every page of the library; none carries inline
        script or style.
        """
        viewer = yield self.logged_in("viewer")
        for path in ("/lists", f"/lists/{self.list_id}", f"/lists/{self.list_id}/rejects",
                     "/dnc", f"/dnc/{self.dnc_id}", "/dnc/check?phone=0611111111", "/audio"):
            result = yield viewer.get(path)
            self.assertEqual(result.code, 200, path)
            self.assertNotRegex(result.text, r"<script>|<script [^s]|\son[a-z]+=")
            self.assertNotIn("style=", result.text)
            self.assertNotIn('action="/lists/upload"', result.text)
        token = yield self.token("viewer")
        for path in ("/api/v1/contact-lists", f"/api/v1/contact-lists/{self.list_id}",
                     "/api/v1/dnc-lists", "/api/v1/audio"):
            self.assertEqual((yield viewer.get(path, token=token)).code, 200, path)
