"""
Logging in and out, and changing one's own password.

The login form is protected against cross-site submission by a double-
submit token (a random value in a cookie and in the form, which must match)
and by the C{Origin} check, since no session exists yet to hold a token.
"""

from twisted.logger import Logger

from fts import passwords
from fts.web import security
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.login import client_address
from fts.web.routes import RouteTable

log = Logger()
routes = RouteTable()

NOTICES = {
    "logged-out": "You have logged out.",
    "password-changed": "Your password has been changed; your other sessions have ended.",
}


def safe_next(value):
    """
    Where to go after logging in: a path on this site, never another site
    (C{//host}, C{/\\host} or a scheme are refused in favour of C{/}).
    """
    if (not value or not value.startswith("/") or value.startswith("//")
            or value.startswith("/\\") or any(c in value for c in "\r\n\\")):
        return "/"
    return value


def _login_form(web, request, status=200, message=None, username="", next_path="/",
                retry_after=None):
    token = security.new_token(16)
    security.set_cookie(request, security.LOGIN_COOKIE, token, web.secure_cookies,
                        same_site="strict")
    if retry_after is not None:
        request.setHeader(b"retry-after", str(retry_after).encode("ascii"))
    return web.render(request, None, "login.html", status=status, message=message,
                      username=username, next_path=next_path, login_token=token,
                      unavailable=web.authenticator is None)


@routes.route("/login")
async def login_page(web, request):
    request.setHeader(b"cache-control", b"no-store")
    form = Form(request)
    next_path = safe_next(form.raw("next"))
    if web.authenticator is not None:
        caller = await web.authenticator.session_caller(request)
        if caller is not None:
            return web.see_other(request, next_path)
    return _login_form(web, request, next_path=next_path)


@routes.route("/login", methods=("POST",))
async def login_submit(web, request):
    request.setHeader(b"cache-control", b"no-store")
    form = Form(request)
    next_path = safe_next(form.raw("next"))
    username = (form.raw("username") or "").strip()[:200]
    if web.authenticator is None:
        return _login_form(web, request, 503, "Logins are not available: the database"
                           " is not connected.", username, next_path)
    expected = security.cookie(request, security.LOGIN_COOKIE)
    if not security.same_origin(request) or not security.same_secret(
            form.raw("login_token"), expected):
        return _login_form(web, request, 403, "The login form expired. Please try again.",
                           username, next_path)
    password = form.raw("password") or ""
    if not username or not password or not form.ok:
        return _login_form(web, request, 400, "Enter your username and password.",
                           username, next_path)
    user_agent = (request.getHeader(b"user-agent") or b"").decode("utf-8", "replace")
    result = await web.authenticator.login(username, password, client_address(request),
                                           user_agent)
    if not result.succeeded:
        status = 429 if result.retry_after is not None else 401
        return _login_form(web, request, status, result.message, username, next_path,
                           retry_after=result.retry_after)
    security.set_cookie(request, security.SESSION_COOKIE, result.token, web.secure_cookies)
    security.set_cookie(request, security.LOGIN_COOKIE, "", web.secure_cookies, max_age=0,
                        same_site="strict")
    return web.see_other(request, next_path)


@routes.route("/logout", methods=("POST",))
@page()
async def logout(web, request, caller):
    await web.authenticator.logout(request)
    security.set_cookie(request, security.SESSION_COOKIE, "", web.secure_cookies, max_age=0)
    log.info("user {username} logged out", username=caller.account.username)
    return web.see_other(request, "/login?notice=logged-out")


@routes.route("/account")
@page()
async def account_page(web, request, caller):
    return web.render(request, caller, "account.html", section="account")


@routes.route("/account/password", methods=("POST",))
@page()
async def change_password(web, request, caller):
    """
    Change one's own password (any role: it changes nothing but the
    account's own credentials); the current password is required and the
    caller's other sessions end.
    """
    form = Form(request)
    current = form.raw("current") or ""
    new = form.password("new", "The new password", confirm="confirm")
    if form.ok:
        found = await web.auth.login_candidate(caller.account.username)
        right = found is not None and await web.run_blocking(
            passwords.check_password, current, found[1])
        if not right:
            form.error("current", "This is not your current password.")
    if not form.ok:
        return web.render(request, caller, "account.html", status=400, section="account",
                          errors=form.errors)
    hashed = await web.run_blocking(passwords.hash_password, new)
    await web.auth.set_password(caller.account.id, hashed, web.authenticator.now(),
                                caller.actor, keep_session_id=caller.session.id)
    return web.see_other(request, "/account?notice=password-changed")
