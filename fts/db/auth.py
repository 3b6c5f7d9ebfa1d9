"""
Authentication data: panel sessions, login attempts (throttling), API tokens,
and the administration of user accounts, each change with its audit row in
the same transaction.

Secrets never reach the database: a session cookie token and an API token
are stored as their hex SHA-256 (L{fts.web.security.token_hash}); passwords
as the scrypt string of L{fts.passwords}.  Every point in time is passed in
(C{now}, an aware datetime from the caller's clock), so expiry and throttling
are testable without waiting.
"""

import psycopg2.errors
import attr
from twisted.internet import defer

from fts.db import audit

ROLES = ("viewer", "operator", "admin")


class AccountError(Exception):
    """
    A change to an account that cannot be made; C{str()} says why, for the
    operator, and C{field} names the form field concerned (or L{None}).
    """

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


@attr.s(frozen=True, slots=True)
class Account:
    """
    A user as the panel administers it (no password hash).
    """

    id = attr.ib()
    username = attr.ib()
    display_name = attr.ib()
    email = attr.ib()
    role = attr.ib()
    created_at = attr.ib()
    last_login_at = attr.ib()
    password_changed_at = attr.ib()
    disabled_at = attr.ib()

    @property
    def disabled(self):
        return self.disabled_at is not None


_ACCOUNT = """u.id, u.username, u.display_name, u.email, u.role, u.created_at,
    u.last_login_at, u.password_changed_at, u.disabled_at"""
_ACCOUNT_WIDTH = 9


@attr.s(frozen=True, slots=True)
class Session:
    """
    A live panel session and its user.
    """

    id = attr.ib()
    account = attr.ib()
    csrf_token = attr.ib(repr=False)
    created_at = attr.ib()
    expires_at = attr.ib()
    last_seen_at = attr.ib()


@attr.s(frozen=True, slots=True)
class ApiToken:
    """
    An API token (never the token itself: its prefix shows which it is).

    @ivar role: the token's scope, at most its user's role.
    """

    id = attr.ib()
    name = attr.ib()
    user_id = attr.ib()
    username = attr.ib()
    prefix = attr.ib()
    role = attr.ib()
    created_at = attr.ib()
    expires_at = attr.ib()
    last_used_at = attr.ib()
    revoked_at = attr.ib()


_TOKEN = """t.id, t.name, t.user_id, u.username, t.token_prefix, t.role, t.created_at,
    t.expires_at, t.last_used_at, t.revoked_at"""
_TOKEN_WIDTH = 10


@attr.s(frozen=True, slots=True)
class LoginFailures:
    """
    Recent failed logins for one username and one client address.

    @ivar by_user: failures of that username (any case) since its last
        success, within the window; C{user_oldest} the oldest of them.
    @ivar by_address: failures from that address within the window;
        C{address_oldest} the oldest of them.
    """

    by_user = attr.ib()
    user_oldest = attr.ib()
    by_address = attr.ib()
    address_oldest = attr.ib()


def _account(row):
    return Account(*row[:_ACCOUNT_WIDTH])


def _one_line(error):
    return " ".join(str(error).split())


class AuthStore:
    """
    Sessions, login attempts, API tokens and account administration.
    """

    def __init__(self, pool):
        self.pool = pool

    # -- login --------------------------------------------------------------

    @defer.inlineCallbacks
    def login_candidate(self, username):
        """
        The account whose username matches C{username} in any case, with its
        password hash: C{(Account, password_hash)}, or L{None}.  Disabled
        accounts are returned too (the caller refuses them after checking
        the password, so a disabled account looks like any wrong login).
        """
        rows = yield self.pool.runQuery(
            f"SELECT {_ACCOUNT}, u.password_hash FROM users u"
            " WHERE lower(u.username) = lower(%s)", (username,))
        if not rows:
            return None
        return _account(rows[0]), rows[0][_ACCOUNT_WIDTH]

    def note_login_attempt(self, username, address, succeeded, now):
        """
        Record one login attempt (C{username} as typed, even when unknown).
        """
        return self.pool.runOperation(
            "INSERT INTO login_attempts (username, address, attempted_at, succeeded)"
            " VALUES (%s, %s, %s, %s)", (username[:200], address, now, succeeded))

    @defer.inlineCallbacks
    def login_failures(self, username, address, since):
        """
        Count recent failures for throttling, as L{LoginFailures}: those of
        C{username} after both C{since} and its last success, and those from
        C{address} after C{since}.
        """
        rows = yield self.pool.runQuery(
            """
            WITH last_ok AS (
                SELECT max(attempted_at) AS at FROM login_attempts
                 WHERE lower(username) = lower(%(u)s) AND succeeded
                   AND attempted_at > %(since)s),
            by_user AS (
                SELECT count(*) AS n, min(attempted_at) AS oldest FROM login_attempts
                 WHERE lower(username) = lower(%(u)s) AND NOT succeeded
                   AND attempted_at > greatest(%(since)s, (SELECT at FROM last_ok))),
            by_address AS (
                SELECT count(*) AS n, min(attempted_at) AS oldest FROM login_attempts
                 WHERE address = %(a)s AND NOT succeeded AND attempted_at > %(since)s)
            SELECT by_user.n, by_user.oldest, by_address.n, by_address.oldest
              FROM by_user, by_address
            """,
            {"u": username, "a": address, "since": since})
        return LoginFailures(*rows[0])

    # -- sessions -----------------------------------------------------------

    @defer.inlineCallbacks
    def create_session(self, user_id, token_hash, csrf_token, now, expires_at,
                       address=None, user_agent=None):
        """
        Open a session for C{user_id} and note the login time.

        @return: a Deferred firing with the session id.
        """
        rows = yield self.pool.runQuery(
            """
            WITH login AS (UPDATE users SET last_login_at = %s WHERE id = %s)
            INSERT INTO sessions (token_hash, user_id, csrf_token, created_at,
                                  expires_at, last_seen_at, address, user_agent)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            RETURNING id
            """,
            (now, user_id, token_hash, user_id, csrf_token, now, expires_at, now,
             address, (user_agent or "")[:300] or None))
        return rows[0][0]

    @defer.inlineCallbacks
    def session(self, token_hash, now):
        """
        The L{Session} whose cookie token hashes to C{token_hash}, if it has
        not expired at C{now} and its user is not disabled; else L{None}.
        """
        rows = yield self.pool.runQuery(
            f"""
            SELECT {_ACCOUNT}, s.id, s.csrf_token, s.created_at, s.expires_at,
                   s.last_seen_at
              FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = %s AND s.expires_at > %s AND u.disabled_at IS NULL
            """, (token_hash, now))
        if not rows:
            return None
        row = rows[0]
        return Session(row[_ACCOUNT_WIDTH], _account(row), *row[_ACCOUNT_WIDTH + 1:])

    def touch_session(self, session_id, now, expires_at):
        """
        Note activity on a session and move its expiry to C{expires_at}.
        """
        return self.pool.runOperation(
            "UPDATE sessions SET last_seen_at = %s, expires_at = %s WHERE id = %s",
            (now, expires_at, session_id))

    @defer.inlineCallbacks
    def end_session(self, token_hash):
        """
        Delete the session (logout); fires with whether there was one.
        """
        rows = yield self.pool.runQuery(
            "DELETE FROM sessions WHERE token_hash = %s RETURNING id", (token_hash,))
        return bool(rows)

    @defer.inlineCallbacks
    def purge(self, now, attempts_before):
        """
        Delete expired sessions and login attempts older than
        C{attempts_before} (for the cleanup job).

        @return: a Deferred firing with C{(sessions, attempts)} deleted.
        """
        rows = yield self.pool.runQuery(
            """
            WITH s AS (DELETE FROM sessions WHERE expires_at <= %s RETURNING 1),
                 a AS (DELETE FROM login_attempts WHERE attempted_at < %s RETURNING 1)
            SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM a)
            """, (now, attempts_before))
        return tuple(rows[0])

    # -- API tokens ---------------------------------------------------------

    def create_token(self, name, user_id, token_hash, prefix, role, expires_at, actor):
        """
        Store a new API token for C{user_id}, scoped to C{role}, which must not
        exceed the user's role.

        @return: a Deferred firing with the L{ApiToken}, or failing with
            L{AccountError}.
        """
        return self.pool.runInteraction(
            self._create_token, name, user_id, token_hash, prefix, role, expires_at,
            actor)

    @defer.inlineCallbacks
    def _create_token(self, cursor, name, user_id, token_hash, prefix, role,
                      expires_at, actor):
        yield cursor.execute(
            "SELECT role, disabled_at FROM users WHERE id = %s FOR SHARE", (user_id,))
        row = cursor.fetchone()
        if row is None:
            raise AccountError("That user does not exist.", "user_id")
        if row[1] is not None:
            raise AccountError("That user is disabled.", "user_id")
        if role not in ROLES:
            raise AccountError("Choose a role: viewer, operator or admin.", "role")
        if ROLES.index(role) > ROLES.index(row[0]):
            raise AccountError(
                f"A token cannot have more rights than its user ({row[0]}).", "role")
        yield cursor.execute(
            """
            INSERT INTO api_tokens (name, user_id, token_hash, token_prefix, role,
                                    expires_at)
            VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
            """, (name, user_id, token_hash, prefix, role, expires_at))
        token_id = cursor.fetchone()[0]
        yield audit.write(cursor, actor, "api_token.create", "api_token", token_id,
                          {"name": name, "user_id": user_id, "role": role,
                           "prefix": prefix,
                           "expires_at": expires_at.isoformat() if expires_at else None})
        yield cursor.execute(
            f"SELECT {_TOKEN} FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.id = %s", (token_id,))
        return ApiToken(*cursor.fetchone())

    @defer.inlineCallbacks
    def token(self, token_hash, now):
        """
        The usable token whose hash is C{token_hash} (not revoked, not
        expired at C{now}, its user not disabled) and its user:
        C{(ApiToken, Account)}, or L{None}.
        """
        rows = yield self.pool.runQuery(
            f"""
            SELECT {_TOKEN}, {_ACCOUNT}
              FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = %s AND t.revoked_at IS NULL
               AND (t.expires_at IS NULL OR t.expires_at > %s)
               AND u.disabled_at IS NULL
            """, (token_hash, now))
        if not rows:
            return None
        row = rows[0]
        return ApiToken(*row[:_TOKEN_WIDTH]), _account(row[_TOKEN_WIDTH:])

    def touch_token(self, token_id, now, address, every_seconds=60):
        """
        Note the token's use (at most once every C{every_seconds}, so a busy
        client does not write on every request).
        """
        return self.pool.runOperation(
            """
            UPDATE api_tokens SET last_used_at = %s, last_used_address = %s
             WHERE id = %s AND (last_used_at IS NULL
                                OR last_used_at < %s - make_interval(secs => %s))
            """, (now, address, token_id, now, every_seconds))

    @defer.inlineCallbacks
    def tokens(self, user_id=None):
        """
        Every token (or those of C{user_id}), revoked ones included, newest
        first, as L{ApiToken}s.
        """
        condition, args = "", ()
        if user_id is not None:
            condition, args = "WHERE t.user_id = %s", (user_id,)
        rows = yield self.pool.runQuery(
            f"SELECT {_TOKEN} FROM api_tokens t JOIN users u ON u.id = t.user_id"
            f" {condition} ORDER BY t.id DESC", args)
        return [ApiToken(*row) for row in rows]

    def revoke_token(self, token_id, now, actor):
        """
        Revoke a token; fires with whether a live token was revoked.
        """
        return self.pool.runInteraction(self._revoke_token, token_id, now, actor)

    @defer.inlineCallbacks
    def _revoke_token(self, cursor, token_id, now, actor):
        yield cursor.execute(
            "UPDATE api_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL"
            " RETURNING name", (now, token_id))
        row = cursor.fetchone()
        if row is None:
            return False
        yield audit.write(cursor, actor, "api_token.revoke", "api_token", token_id,
                          {"name": row[0]})
        return True

    # -- accounts -----------------------------------------------------------

    @defer.inlineCallbacks
    def accounts(self):
        """
        Every account, by username.
        """
        rows = yield self.pool.runQuery(
            f"SELECT {_ACCOUNT} FROM users u ORDER BY lower(u.username)")
        return [_account(row) for row in rows]

    @defer.inlineCallbacks
    def account(self, user_id):
        rows = yield self.pool.runQuery(
            f"SELECT {_ACCOUNT} FROM users u WHERE u.id = %s", (user_id,))
        return _account(rows[0]) if rows else None

    def create_account(self, username, role, password_hash, actor, display_name=None,
                       email=None):
        """
        Add an account.

        @return: a Deferred firing with the L{Account}, or failing with
            L{AccountError} (username taken, in any case).
        """
        return self.pool.runInteraction(
            self._create_account, username, role, password_hash, actor, display_name,
            email)

    @defer.inlineCallbacks
    def _create_account(self, cursor, username, role, password_hash, actor,
                        display_name, email):
        try:
            yield cursor.execute(
                f"""
                INSERT INTO users AS u (username, role, password_hash, display_name, email)
                VALUES (%s, %s, %s, %s, %s) RETURNING {_ACCOUNT}
                """, (username, role, password_hash, display_name, email))
        except psycopg2.errors.UniqueViolation:
            raise AccountError(f"The username {username!r} is taken.", "username")
        account = _account(cursor.fetchone())
        yield audit.write(cursor, actor, "user.create", "user", account.id,
                          {"username": username, "role": role})
        return account

    def update_account(self, user_id, actor, role=None, display_name=None, email=None):
        """
        Change an account's role, display name and e-mail (L{None}: unchanged
        role; C{""}: clear the name or e-mail).  The last enabled admin
        cannot lose the admin role.

        @return: a Deferred firing with the updated L{Account}.
        """
        return self.pool.runInteraction(
            self._update_account, user_id, actor, role, display_name, email)

    @defer.inlineCallbacks
    def _update_account(self, cursor, user_id, actor, role, display_name, email):
        before = yield self._lock_account(cursor, user_id)
        role = role or before.role
        if before.role == "admin" and role != "admin" and not before.disabled:
            yield self._keep_an_admin(cursor, user_id, "role")
        yield cursor.execute(
            f"""
            UPDATE users u SET role = %s, display_name = %s, email = %s WHERE id = %s
            RETURNING {_ACCOUNT}
            """, (role, display_name or None, email or None, user_id))
        after = _account(cursor.fetchone())
        changes = {name: [getattr(before, name), getattr(after, name)]
                   for name in ("role", "display_name", "email")
                   if getattr(before, name) != getattr(after, name)}
        if changes:
            yield audit.write(cursor, actor, "user.update", "user", user_id, changes)
        return after

    def set_password(self, user_id, password_hash, now, actor, keep_session_id=None):
        """
        Replace an account's password and end its sessions (all but
        C{keep_session_id}, the session of a user changing their own).
        """
        return self.pool.runInteraction(
            self._set_password, user_id, password_hash, now, actor, keep_session_id)

    @defer.inlineCallbacks
    def _set_password(self, cursor, user_id, password_hash, now, actor, keep_session_id):
        yield self._lock_account(cursor, user_id)
        yield cursor.execute(
            "UPDATE users SET password_hash = %s, password_changed_at = %s WHERE id = %s",
            (password_hash, now, user_id))
        yield cursor.execute(
            "DELETE FROM sessions WHERE user_id = %s AND id IS DISTINCT FROM %s",
            (user_id, keep_session_id))
        yield audit.write(cursor, actor, "user.password", "user", user_id,
                          {"sessions_ended": cursor.rowcount})

    def set_disabled(self, user_id, disabled, now, actor):
        """
        Disable an account (ending its sessions; its tokens stop working) or
        enable it again.  The last enabled admin cannot be disabled.
        """
        return self.pool.runInteraction(self._set_disabled, user_id, disabled, now, actor)

    @defer.inlineCallbacks
    def _set_disabled(self, cursor, user_id, disabled, now, actor):
        before = yield self._lock_account(cursor, user_id)
        if disabled and before.role == "admin" and not before.disabled:
            yield self._keep_an_admin(cursor, user_id, None)
        yield cursor.execute(
            f"UPDATE users u SET disabled_at = %s WHERE id = %s RETURNING {_ACCOUNT}",
            (now if disabled else None, user_id))
        after = _account(cursor.fetchone())
        if disabled:
            yield cursor.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))
        if before.disabled != after.disabled:
            yield audit.write(cursor, actor, "user.disable" if disabled else "user.enable",
                              "user", user_id, {"username": before.username})
        return after

    @defer.inlineCallbacks
    def _lock_account(self, cursor, user_id):
        # Admin rows are locked in id order by _keep_an_admin; locking this
        # one first could deadlock with a concurrent change, so lock them all.
        yield cursor.execute(
            "SELECT id FROM users WHERE role = 'admin' OR id = %s ORDER BY id FOR UPDATE",
            (user_id,))
        yield cursor.execute(f"SELECT {_ACCOUNT} FROM users u WHERE u.id = %s", (user_id,))
        row = cursor.fetchone()
        if row is None:
            raise AccountError("That user does not exist.")
        return _account(row)

    @defer.inlineCallbacks
    def _keep_an_admin(self, cursor, user_id, field):
        yield cursor.execute(
            "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL"
            " AND id <> %s", (user_id,))
        if cursor.fetchone()[0] == 0:
            raise AccountError(
                "This is the last enabled admin: make another user admin first.", field)
