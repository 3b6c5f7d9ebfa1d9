"""
The small security primitives of the panel and API: random tokens and their
stored hashes, roles, response headers, cookies and request-origin checks.
"""

import hashlib
import hmac
import secrets

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"

#: Roles, least to most rights: each can do what the ones before it can.
ROLES = (VIEWER, OPERATOR, ADMIN)

SESSION_COOKIE = b"fts_session"
LOGIN_COOKIE = b"fts_login"
API_TOKEN_PREFIX = "fts_"


def allows(role, needed):
    """
    Whether C{role} may do what needs C{needed} (an unknown role may not).
    """
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def lesser_role(a, b):
    """
    The role with fewer rights of C{a} and C{b}: a token's effective role
    is that of its scope and of its user, whichever is lower today.
    """
    return ROLES[min(ROLES.index(a), ROLES.index(b))]


def new_token(nbytes=32):
    """
    A random URL-safe secret (session cookies, CSRF tokens).
    """
    return secrets.token_urlsafe(nbytes)


def new_api_token():
    """
    A new API token and the prefix the panel shows for it:
    C{("fts_Ab3…", "fts_Ab3d")}.
    """
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token[:len(API_TOKEN_PREFIX) + 6]


def token_hash(token):
    """
    What is stored for a session or API token: its hex SHA-256.  The tokens
    are 256-bit random values, so a fast hash is enough (no dictionary to
    guess from), unlike passwords.
    """
    if isinstance(token, str):
        token = token.encode("utf-8", "replace")
    return hashlib.sha256(token).hexdigest()


def same_secret(a, b):
    """
    Constant-time comparison of two secrets (text or bytes); L{None} or an
    empty value never matches.
    """
    if not a or not b:
        return False
    if isinstance(a, str):
        a = a.encode("utf-8", "replace")
    if isinstance(b, str):
        b = b.encode("utf-8", "replace")
    return hmac.compare_digest(a, b)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(secure):
    """
    Headers set on every response: no inline script or style may run
    (C{Content-Security-Policy}), no framing, no MIME sniffing, no referrer
    leaving the site; with C{secure} (behind TLS) also HSTS.
    """
    headers = [
        (b"Content-Security-Policy", CONTENT_SECURITY_POLICY.encode("ascii")),
        (b"X-Frame-Options", b"DENY"),
        (b"X-Content-Type-Options", b"nosniff"),
        (b"Referrer-Policy", b"same-origin"),
        (b"Cross-Origin-Opener-Policy", b"same-origin"),
        (b"Cross-Origin-Resource-Policy", b"same-origin"),
        (b"Permissions-Policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if secure:
        headers.append((b"Strict-Transport-Security", b"max-age=31536000"))
    return headers


def set_cookie(request, name, value, secure, max_age=None, same_site="lax"):
    """
    Set an HttpOnly cookie on the whole site (Secure when C{secure}).
    C{max_age=0} deletes it.

    The session cookie is C{SameSite=Lax}, so a link to the panel in an
    e-mail opens it logged in, while no other site can make the browser send
    it with a POST; every form also carries a CSRF token.
    """
    request.addCookie(name, value.encode("ascii") if isinstance(value, str) else value,
                      path=b"/", httpOnly=True, secure=secure, sameSite=same_site,
                      max_age=None if max_age is None else str(int(max_age)).encode())


def cookie(request, name):
    """
    The value of cookie C{name} as text, or L{None}.
    """
    value = request.getCookie(name)
    if value is None:
        return None
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        return None


def same_origin(request):
    """
    Whether a state-changing request comes from this site, judged by its
    C{Origin} (or, without one, C{Referer}) header against C{Host}.  A
    request carrying neither passes: browsers send C{Origin} on every
    cross-site POST, and the CSRF token is checked anyway.
    """
    host = request.getHeader(b"host")
    source = request.getHeader(b"origin") or request.getHeader(b"referer")
    if source is None:
        return True
    if host is None or source == b"null":
        return False
    try:
        rest = source.split(b"://", 1)[1]
    except IndexError:
        return False
    return rest.split(b"/", 1)[0].lower() == host.lower()
