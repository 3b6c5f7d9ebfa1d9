"""
Route decorators of the panel: who may see a page, and the CSRF check on
every request that can change something.

    @app.route("/users", methods=["POST"])
    @page(ADMIN)
    async def create_user(web, request, caller): ...

A request without a valid session is sent to the login page (a GET) or
refused (anything else); a caller whose role is too low gets a 403 page; a
state-changing request (any method but GET/HEAD) must come from this site
(C{Origin}/C{Referer}) and carry the session's CSRF token in the form field
C{csrf_token} or the C{X-CSRF-Token} header, else it is refused with 403 and
nothing is done.
"""

import functools
from urllib.parse import quote

from fts.web import security

SAFE_METHODS = (b"GET", b"HEAD")
CSRF_FIELD = b"csrf_token"
CSRF_HEADER = b"x-csrf-token"


def submitted_csrf(request):
    """
    The CSRF token a request carries (form field or header), or L{None}.
    """
    values = (request.args or {}).get(CSRF_FIELD)
    token = values[0] if values else request.getHeader(CSRF_HEADER)
    return token


def csrf_ok(request, expected):
    """
    Whether a state-changing request comes from this site with the
    expected token.
    """
    return security.same_origin(request) and security.same_secret(
        submitted_csrf(request), expected)


def login_url(request):
    """
    The login page, returning to this request's path afterwards.
    """
    path = request.uri.decode("utf-8", "replace")
    if not path.startswith("/") or path.startswith("//"):
        path = "/"
    return "/login?next=" + quote(path, safe="/")


class Refusal(Exception):
    """
    Raised by what a route looks up first (the campaign, the list...) when
    the request cannot go on: it carries the page to answer with (a 404,
    the "not available" page).  L{page} answers with it, so a route reads
    C{campaign = await get_campaign(...)} and goes on.
    """

    def __init__(self, response):
        Exception.__init__(self, response)
        self.response = response


def page(role=security.VIEWER):
    """
    Make a panel route require a session whose role allows C{role}, and
    the CSRF token on state-changing methods.  The route is called as
    C{f(web, request, caller, **kwargs)}; a L{Refusal} it raises is
    answered with the refusal's page.
    """

    def decorate(f):
        @functools.wraps(f)
        async def guarded(web, request, **kwargs):
            request.setHeader(b"cache-control", b"no-store")
            caller = await web.authenticator.session_caller(request)
            if caller is None:
                if request.method in SAFE_METHODS:
                    request.redirect(login_url(request).encode("utf-8"))
                    return b""
                return web.error_page(request, None, 403,
                                      "Your session has ended. Log in again; nothing"
                                      " was changed.")
            if request.method not in SAFE_METHODS and not csrf_ok(request, caller.csrf_token):
                return web.error_page(request, caller, 403,
                                      "This form has expired or did not come from this"
                                      " panel. Reload the page and try again; nothing"
                                      " was changed.")
            if not caller.can(role):
                return web.error_page(request, caller, 403,
                                      f"This needs the {role} role; you are"
                                      f" {caller.role}. Nothing was changed.")
            try:
                return await f(web, request, caller, **kwargs)
            except Refusal as refusal:
                return refusal.response

        guarded.required_role = role
        return guarded

    return decorate
