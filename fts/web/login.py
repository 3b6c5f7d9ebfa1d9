"""
Who is asking: panel logins and sessions, API tokens, and login throttling.

A login checks the password (scrypt, off the reactor thread through
C{run_blocking}), opens a server-side session and hands the browser a random
cookie token whose hash is the session's key.  Sessions end after
C{idle_timeout} seconds without a request, and C{max_age} seconds after the
login in any case.  Failed logins are throttled per username and per client
address (L{Throttle}); throttled attempts do not even check the password.

The result of identifying a request is a L{Caller}: the account, its
effective role, the L{fts.db.audit.Actor} to record changes under, and for
a session its CSRF token.
"""

from datetime import UTC, datetime, timedelta

import attr
from twisted.internet import defer
from twisted.logger import Logger

from fts import passwords
from fts.db.audit import Actor
from fts.web import security

log = Logger()


@attr.s(frozen=True, slots=True)
class Caller:
    """
    The identified sender of a request.

    @ivar role: what it may do: the account's role for a session; the lower
        of the token's scope and the account's role for an API token.
    @ivar session: the L{fts.db.auth.Session}, or L{None} for a token.
    @ivar token: the L{fts.db.auth.ApiToken}, or L{None} for a session.
    """

    account = attr.ib()
    role = attr.ib()
    actor = attr.ib()
    session = attr.ib(default=None)
    token = attr.ib(default=None)

    @property
    def csrf_token(self):
        return self.session.csrf_token if self.session is not None else None

    def can(self, role):
        return security.allows(self.role, role)


@attr.s(frozen=True, slots=True)
class Throttle:
    """
    How many failed logins are tolerated within C{window} seconds: per
    username (counted since its last success) and per client address.
    """

    window = attr.ib(default=15 * 60)
    per_user = attr.ib(default=5)
    per_address = attr.ib(default=30)

    def retry_after(self, failures, now):
        """
        Seconds until a login may be tried again, or L{None} if it may be
        tried now (C{failures} is a L{fts.db.auth.LoginFailures}).
        """
        waits = []
        if failures.by_user >= self.per_user and failures.user_oldest is not None:
            waits.append(failures.user_oldest)
        if failures.by_address >= self.per_address and failures.address_oldest is not None:
            waits.append(failures.address_oldest)
        if not waits:
            return None
        until = max(waits) + timedelta(seconds=self.window)
        return max(1, int((until - now).total_seconds() + 0.999))


@attr.s(frozen=True, slots=True)
class LoginResult:
    """
    What a login attempt came to: C{token} (the cookie value) and C{caller}
    on success; otherwise C{message} for the form, and C{retry_after}
    seconds when throttled.
    """

    token = attr.ib(default=None, repr=False)
    caller = attr.ib(default=None)
    message = attr.ib(default=None)
    retry_after = attr.ib(default=None)

    @property
    def succeeded(self):
        return self.token is not None


WRONG = "Wrong username or password."


def run_here(function, *args):
    """
    Run C{function} now, on this thread (tests, and tools without a thread
    pool); the daemon passes a thread-pool runner instead.
    """
    return defer.maybeDeferred(function, *args)


@attr.s
class Authenticator:
    """
    Identifies requests and opens and closes sessions.

    @ivar store: an L{fts.db.auth.AuthStore}.
    @ivar clock: the reactor or a C{task.Clock}: all times come from it.
    @ivar run_blocking: C{run_blocking(f, *args)} returns a Deferred of
        C{f(*args)} run off the reactor thread (password hashing).
    @ivar secure: cookies are marked Secure (behind TLS).
    """

    store = attr.ib()
    clock = attr.ib()
    run_blocking = attr.ib(default=run_here)
    secure = attr.ib(default=False)
    idle_timeout = attr.ib(default=3600.0)
    max_age = attr.ib(default=12 * 3600.0)
    throttle = attr.ib(factory=Throttle)
    touch_every = attr.ib(default=60.0)
    _dummy_hash = attr.ib(default=None, init=False, repr=False)

    def now(self):
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    # -- sessions -----------------------------------------------------------

    async def login(self, username, password, address=None, user_agent=None):
        """
        Check a username and password and, if right and not throttled, open a
        session.

        @return: a L{LoginResult}.
        """
        now = self.now()
        since = now - timedelta(seconds=self.throttle.window)
        failures = await self.store.login_failures(username, address, since)
        wait = self.throttle.retry_after(failures, now)
        if wait is not None:
            log.warn("login for {username!r} from {address} refused: too many failed"
                     " attempts; allowed again in {wait}s", username=username,
                     address=address, wait=wait)
            minutes = (wait + 59) // 60
            return LoginResult(
                message="Too many failed logins. Try again in "
                        f"{minutes} minute{'s' if minutes != 1 else ''}.",
                retry_after=wait)
        found = await self.store.login_candidate(username)
        if found is None:
            # Spend the same time as for a real account, so response times
            # do not tell which usernames exist.
            if self._dummy_hash is None:
                self._dummy_hash = await self.run_blocking(
                    passwords.hash_password, security.new_token())
            await self.run_blocking(passwords.check_password, password, self._dummy_hash)
            right, account = False, None
        else:
            account, stored = found
            right = await self.run_blocking(passwords.check_password, password, stored)
        if not right or account.disabled:
            await self.store.note_login_attempt(username, address, False, now)
            log.info("failed login for {username!r} from {address}",
                     username=username, address=address)
            return LoginResult(message=WRONG)
        await self.store.note_login_attempt(username, address, True, now)
        token, csrf = security.new_token(), security.new_token()
        expires = self._expiry(now, now)
        session_id = await self.store.create_session(
            account.id, security.token_hash(token), csrf, now, expires, address,
            user_agent)
        session = await self.store.session(security.token_hash(token), now)
        log.info("user {username} logged in from {address} (session {session})",
                 username=account.username, address=address, session=session_id)
        return LoginResult(token=token, caller=self._session_caller(session, address))

    def _expiry(self, created_at, now):
        return min(created_at + timedelta(seconds=self.max_age),
                   now + timedelta(seconds=self.idle_timeout))

    def _session_caller(self, session, address):
        return Caller(account=session.account, role=session.account.role,
                      actor=Actor.user(session.account, address), session=session)

    async def session_caller(self, request):
        """
        The L{Caller} of a panel request, from its session cookie, or
        L{None} (no cookie, unknown, expired, user disabled).  An active
        session's expiry moves forward (at most once every C{touch_every}
        seconds, so not every request writes).
        """
        token = security.cookie(request, security.SESSION_COOKIE)
        if not token:
            return None
        now = self.now()
        session = await self.store.session(security.token_hash(token), now)
        if session is None:
            return None
        if (now - session.last_seen_at).total_seconds() >= self.touch_every:
            expires = self._expiry(session.created_at, now)
            await self.store.touch_session(session.id, now, expires)
        return self._session_caller(session, client_address(request))

    async def logout(self, request):
        """
        End the request's session, if any; fires with whether there was one.
        """
        token = security.cookie(request, security.SESSION_COOKIE)
        if not token:
            return False
        return await self.store.end_session(security.token_hash(token))

    # -- API tokens -----------------------------------------------------------

    async def api_caller(self, request):
        """
        The L{Caller} of an API request, from its C{Authorization: Bearer}
        token, or L{None}.
        """
        header = request.getHeader(b"authorization") or b""
        scheme, _, value = header.partition(b" ")
        if scheme.lower() != b"bearer" or not value.strip():
            return None
        token = value.strip().decode("ascii", "replace")
        if not token.startswith(security.API_TOKEN_PREFIX):
            return None
        now = self.now()
        found = await self.store.token(security.token_hash(token), now)
        if found is None:
            return None
        api_token, account = found
        address = client_address(request)
        last = api_token.last_used_at
        if last is None or (now - last).total_seconds() >= self.touch_every:
            await self.store.touch_token(api_token.id, now, address)
        return Caller(account=account, role=security.lesser_role(api_token.role, account.role),
                      actor=Actor.token(api_token, account, address), token=api_token)


def client_address(request):
    """
    The client's IP address as text, or L{None} (e.g. a UNIX socket).
    """
    address = request.getClientAddress()
    return getattr(address, "host", None)
