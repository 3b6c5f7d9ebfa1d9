"""
Tests for L{fts.db.auth} and L{fts.db.audit} on a real PostgreSQL.
"""

from datetime import UTC, datetime, timedelta

from twisted.internet import defer

from fts.db.audit import Actor, AuditStore
from fts.db.auth import AccountError, AuthStore
from tests.support.db import DatabaseTestCase

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SYSTEM = Actor.system("tests")


class AuthStoreTestCase(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.auth = AuthStore(self.pool)
        self.audit = AuditStore(self.pool)
        self.admin = yield self.auth.create_account("root", "admin", "h", SYSTEM)
        self.viewer = yield self.auth.create_account("vera", "viewer", "h", SYSTEM)

    @defer.inlineCallbacks
    def actions(self):
        entries, _ = yield self.audit.entries(limit=100)
        return [e.action for e in reversed(entries)]


class SessionTests(AuthStoreTestCase):
    @defer.inlineCallbacks
    def test_lookup_until_expiry(self):
        """
        A session is found by its token hash until it expires, with its user.
        """
        yield self.auth.create_session(self.admin.id, "hash1", "csrf1", T0,
                                       T0 + timedelta(hours=1), "10.0.0.1", "test")
        session = yield self.auth.session("hash1", T0 + timedelta(minutes=59))
        self.assertEqual((session.account.username, session.csrf_token), ("root", "csrf1"))
        gone = yield self.auth.session("hash1", T0 + timedelta(hours=1))
        self.assertIsNone(gone)
        account = yield self.auth.account(self.admin.id)
        self.assertEqual(account.last_login_at, T0)

    @defer.inlineCallbacks
    def test_disabled_user(self):
        """
        Disabling a user deletes its sessions and writes an audit row.
        """
        yield self.auth.create_session(self.viewer.id, "hash2", "c", T0, T0 + timedelta(hours=1))
        yield self.auth.set_disabled(self.viewer.id, True, T0, SYSTEM)
        self.assertIsNone((yield self.auth.session("hash2", T0)))
        self.assertEqual((yield self.count_sessions()), 0)
        self.assertIn("user.disable", (yield self.actions()))

    @defer.inlineCallbacks
    def count_sessions(self):
        rows = yield self.pool.runQuery("SELECT count(*) FROM sessions")
        return rows[0][0]

    @defer.inlineCallbacks
    def test_touch_and_end(self):
        """
        Touching moves the expiry; ending deletes the session once.
        """
        session_id = yield self.auth.create_session(self.admin.id, "h3", "c", T0,
                                                    T0 + timedelta(minutes=10))
        yield self.auth.touch_session(session_id, T0 + timedelta(minutes=9),
                                      T0 + timedelta(minutes=19))
        session = yield self.auth.session("h3", T0 + timedelta(minutes=15))
        self.assertEqual(session.last_seen_at, T0 + timedelta(minutes=9))
        self.assertTrue((yield self.auth.end_session("h3")))
        self.assertFalse((yield self.auth.end_session("h3")))

    @defer.inlineCallbacks
    def test_purge(self):
        """
        Purging deletes expired sessions and old login attempts only.
        """
        yield self.auth.create_session(self.admin.id, "old", "c", T0, T0 + timedelta(minutes=1))
        yield self.auth.create_session(self.admin.id, "new", "c", T0, T0 + timedelta(days=1))
        yield self.auth.note_login_attempt("x", None, False, T0)
        yield self.auth.note_login_attempt("x", None, False, T0 + timedelta(days=2))
        purged = yield self.auth.purge(T0 + timedelta(hours=1), T0 + timedelta(days=1))
        self.assertEqual(purged, (1, 1))


class LoginAttemptTests(AuthStoreTestCase):
    @defer.inlineCallbacks
    def test_failures_since_last_success(self):
        """
        Failures of a username count in any case and since its last success;
        failures of an address count regardless of successes.
        """
        for minute, name, ok in ((1, "Root", False), (2, "root", False), (3, "root", True),
                                 (4, "ROOT", False), (5, "other", False)):
            yield self.auth.note_login_attempt(name, "10.0.0.9", ok, T0 + timedelta(minutes=minute))
        failures = yield self.auth.login_failures("root", "10.0.0.9", T0)
        self.assertEqual((failures.by_user, failures.user_oldest),
                         (1, T0 + timedelta(minutes=4)))
        self.assertEqual((failures.by_address, failures.address_oldest),
                         (4, T0 + timedelta(minutes=1)))

    @defer.inlineCallbacks
    def test_window(self):
        """
        Failures older than the window do not count.
        """
        yield self.auth.note_login_attempt("root", "10.0.0.9", False, T0)
        failures = yield self.auth.login_failures("root", "10.0.0.9", T0 + timedelta(seconds=1))
        self.assertEqual((failures.by_user, failures.by_address), (0, 0))


class TokenTests(AuthStoreTestCase):
    @defer.inlineCallbacks
    def test_create_and_use(self):
        """
        A token is found by its hash with its user until it expires or is
        revoked; creation and revocation are audited.
        """
        token = yield self.auth.create_token("crm", self.admin.id, "th", "fts_abcd", "operator",
                                             T0 + timedelta(days=1), SYSTEM)
        self.assertEqual((token.name, token.role, token.username), ("crm", "operator", "root"))
        found, account = yield self.auth.token("th", T0)
        self.assertEqual((found.id, account.username), (token.id, "root"))
        self.assertIsNone((yield self.auth.token("th", T0 + timedelta(days=1))))
        self.assertTrue((yield self.auth.revoke_token(token.id, T0, SYSTEM)))
        self.assertIsNone((yield self.auth.token("th", T0)))
        self.assertFalse((yield self.auth.revoke_token(token.id, T0, SYSTEM)))
        self.assertEqual((yield self.actions())[-2:], ["api_token.create", "api_token.revoke"])

    @defer.inlineCallbacks
    def test_scope_above_user(self):
        """
        A token cannot be scoped above its user's role; nothing is stored.
        """
        e = yield self.assertFailure(
            self.auth.create_token("x", self.viewer.id, "th2", "p", "admin", None, SYSTEM),
            AccountError)
        self.assertEqual(e.field, "role")
        self.assertEqual((yield self.auth.tokens()), [])

    @defer.inlineCallbacks
    def test_disabled_user_token(self):
        """
        A disabled user's tokens stop working.
        """
        yield self.auth.create_token("t", self.viewer.id, "th3", "p", "viewer", None, SYSTEM)
        yield self.auth.set_disabled(self.viewer.id, True, T0, SYSTEM)
        self.assertIsNone((yield self.auth.token("th3", T0)))

    @defer.inlineCallbacks
    def test_touch(self):
        """
        Use is noted at most once a minute.
        """
        token = yield self.auth.create_token("t", self.admin.id, "th4", "p", "admin", None, SYSTEM)
        yield self.auth.touch_token(token.id, T0, "10.1.1.1")
        yield self.auth.touch_token(token.id, T0 + timedelta(seconds=30), "10.1.1.2")
        found, _ = yield self.auth.token("th4", T0)
        self.assertEqual(found.last_used_at, T0)


class AccountTests(AuthStoreTestCase):
    @defer.inlineCallbacks
    def test_username_taken_any_case(self):
        """
        A username differing only in case is taken; the error names the field.
        """
        e = yield self.assertFailure(
            self.auth.create_account("ROOT", "viewer", "h", SYSTEM), AccountError)
        self.assertEqual(e.field, "username")

    @defer.inlineCallbacks
    def test_update_audited(self):
        """
        Changing a role records the old and new values.
        """
        yield self.auth.update_account(self.viewer.id, SYSTEM, role="operator",
                                       display_name="Vera")
        entries, _ = yield self.audit.entries(object_type="user", object_id=self.viewer.id)
        self.assertEqual(entries[0].action, "user.update")
        self.assertEqual(entries[0].details["role"], ["viewer", "operator"])

    @defer.inlineCallbacks
    def test_last_admin(self):
        """
        The last enabled admin can be neither demoted nor disabled.
        """
        e = yield self.assertFailure(
            self.auth.update_account(self.admin.id, SYSTEM, role="viewer"), AccountError)
        self.assertEqual(e.field, "role")
        yield self.assertFailure(self.auth.set_disabled(self.admin.id, True, T0, SYSTEM),
                                 AccountError)
        yield self.auth.update_account(self.viewer.id, SYSTEM, role="admin")
        yield self.auth.set_disabled(self.admin.id, True, T0, SYSTEM)

    @defer.inlineCallbacks
    def test_set_password_ends_other_sessions(self):
        """
        A new password ends every session of the user but the one kept.
        """
        kept = yield self.auth.create_session(self.admin.id, "a", "c", T0, T0 + timedelta(hours=1))
        yield self.auth.create_session(self.admin.id, "b", "c", T0, T0 + timedelta(hours=1))
        yield self.auth.set_password(self.admin.id, "new", T0, SYSTEM, keep_session_id=kept)
        self.assertIsNotNone((yield self.auth.session("a", T0)))
        self.assertIsNone((yield self.auth.session("b", T0)))
        _, stored = yield self.auth.login_candidate("ROOT")
        self.assertEqual(stored, "new")


class AuditTests(AuthStoreTestCase):
    @defer.inlineCallbacks
    def test_record_and_page(self):
        """
        Rows come newest first with a total, filtered by object and actor.
        """
        actor = Actor("user", "root", user_id=self.admin.id, address="192.0.2.7")
        for n in range(5):
            yield self.audit.record(actor, "job.run_now", "job", f"job{n}", {"n": n})
        entries, total = yield self.audit.entries(limit=2, offset=0, actor="root")
        self.assertEqual(total, 5)
        self.assertEqual([e.object_id for e in entries], ["job4", "job3"])
        self.assertEqual(entries[0].address, "192.0.2.7")
        self.assertEqual(entries[0].details, {"n": 4})
        beyond, total = yield self.audit.entries(limit=2, offset=10, actor="root")
        self.assertEqual((beyond, total), ([], 5))
