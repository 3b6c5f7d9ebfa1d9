"""
API tokens (admin only): create one for a user, scoped to a role no higher
than the user's, shown once; list; revoke.  Only the token's hash is stored.
"""

from datetime import timedelta

from fts.db.auth import AccountError
from fts.web import security
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.routes import RouteTable

routes = RouteTable()

NOTICES = {
    "token-revoked": "The token has been revoked; it no longer works.",
}


async def _list(web, request, caller, status=200, errors=None, values=None, created=None):
    tokens = await web.auth.tokens()
    accounts = [a for a in await web.auth.accounts() if not a.disabled]
    return web.render(request, caller, "tokens.html", status=status, section="tokens",
                      tokens=tokens, accounts=accounts, roles=security.ROLES,
                      errors=errors or {}, values=values or {}, created=created)


@routes.route("/tokens")
@page(security.ADMIN)
async def tokens_page(web, request, caller):
    return await _list(web, request, caller)


@routes.route("/tokens", methods=("POST",))
@page(security.ADMIN)
async def create_token(web, request, caller):
    form = Form(request)
    name = form.text("name", "Name", max_length=100)
    user_id = form.integer("user_id", "User", low=1)
    role = form.choice("role", "Scope", security.ROLES)
    days = form.integer("days", "Days valid", low=1, high=3650, required=False)
    created = None
    if form.ok:
        token, prefix = security.new_api_token()
        expires = web.authenticator.now() + timedelta(days=days) if days else None
        try:
            record = await web.auth.create_token(name, user_id, security.token_hash(token),
                                                 prefix, role, expires, caller.actor)
        except AccountError as e:
            form.error(e.field or "name", str(e))
        else:
            created = (record, token)
    if not form.ok:
        return await _list(web, request, caller, 400, form.errors, form.values)
    # Shown on this response only: the token is not stored anywhere.
    return await _list(web, request, caller, 201, created=created)


@routes.route("/tokens/<int:token_id>/revoke", methods=("POST",))
@page(security.ADMIN)
async def revoke_token(web, request, caller, token_id):
    revoked = await web.auth.revoke_token(token_id, web.authenticator.now(), caller.actor)
    if not revoked:
        return web.error_page(request, caller, 404, "There is no such live token.")
    return web.see_other(request, "/tokens?notice=token-revoked")
