"""
User administration (admin only): list, create, change role and details,
reset a password, disable and enable.  Every change is audited in the same
transaction (L{fts.db.auth.AuthStore}).
"""

import re

from fts import passwords
from fts.db.auth import AccountError
from fts.web import forms, security
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.routes import RouteTable

routes = RouteTable()

NOTICES = {
    "user-created": "The user has been created.",
    "user-updated": "The user has been updated.",
    "user-password": "The password has been reset; the user's sessions have ended.",
    "user-disabled": "The user has been disabled; their sessions have ended and their"
                     " API tokens no longer work.",
    "user-enabled": "The user has been enabled.",
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def read_details(form):
    """
    Display name, e-mail and role from a user form (errors kept in C{form}).
    """
    display_name = form.text("display_name", "Display name", required=False, max_length=100)
    email = form.text("email", "E-mail", required=False, max_length=254)
    if email and "email" not in form.errors and not _EMAIL.match(email):
        form.error("email", "This is not an e-mail address.")
    role = form.choice("role", "Role", security.ROLES)
    return display_name, email, role


async def _list(web, request, caller, status=200, errors=None, values=None):
    accounts = await web.auth.accounts()
    return web.render(request, caller, "users.html", status=status, section="users",
                      accounts=accounts, roles=security.ROLES, errors=errors or {},
                      values=values or {})


@routes.route("/users")
@page(security.ADMIN)
async def users_page(web, request, caller):
    return await _list(web, request, caller)


@routes.route("/users", methods=("POST",))
@page(security.ADMIN)
async def create_user(web, request, caller):
    form = Form(request)
    username = forms.username(form)
    display_name, email, role = read_details(form)
    password = form.password("password", "The password", confirm="confirm")
    if form.ok:
        hashed = await web.run_blocking(passwords.hash_password, password)
        try:
            await web.auth.create_account(username, role, hashed, caller.actor,
                                          display_name=display_name or None,
                                          email=email or None)
        except AccountError as e:
            form.error(e.field or "username", str(e))
    if not form.ok:
        return await _list(web, request, caller, 400, form.errors, form.values)
    return web.see_other(request, "/users?notice=user-created")


async def _detail(web, request, caller, user_id, status=200, errors=None, values=None):
    account = await web.auth.account(user_id)
    if account is None:
        return web.error_page(request, caller, 404, "There is no such user.")
    tokens = await web.auth.tokens(user_id)
    return web.render(request, caller, "user.html", status=status, section="users",
                      account=account, tokens=tokens, roles=security.ROLES,
                      errors=errors or {}, values=values or {})


@routes.route("/users/<int:user_id>")
@page(security.ADMIN)
async def user_page(web, request, caller, user_id):
    return await _detail(web, request, caller, user_id)


@routes.route("/users/<int:user_id>", methods=("POST",))
@page(security.ADMIN)
async def update_user(web, request, caller, user_id):
    form = Form(request)
    display_name, email, role = read_details(form)
    if form.ok:
        try:
            await web.auth.update_account(user_id, caller.actor, role=role,
                                          display_name=display_name, email=email)
        except AccountError as e:
            form.error(e.field or "role", str(e))
    if not form.ok:
        return await _detail(web, request, caller, user_id, 400, form.errors, form.values)
    return web.see_other(request, f"/users/{user_id}?notice=user-updated")


@routes.route("/users/<int:user_id>/password", methods=("POST",))
@page(security.ADMIN)
async def reset_password(web, request, caller, user_id):
    form = Form(request)
    password = form.password("password", "The new password", confirm="confirm")
    if form.ok:
        hashed = await web.run_blocking(passwords.hash_password, password)
        keep = caller.session.id if caller.account.id == user_id else None
        try:
            await web.auth.set_password(user_id, hashed, web.authenticator.now(),
                                        caller.actor, keep_session_id=keep)
        except AccountError as e:
            form.error("password", str(e))
    if not form.ok:
        return await _detail(web, request, caller, user_id, 400, form.errors)
    return web.see_other(request, f"/users/{user_id}?notice=user-password")


async def _set_disabled(web, request, caller, user_id, disabled):
    try:
        await web.auth.set_disabled(user_id, disabled, web.authenticator.now(), caller.actor)
    except AccountError as e:
        return await _detail(web, request, caller, user_id, 400, {"disabled": str(e)})
    notice = "user-disabled" if disabled else "user-enabled"
    return web.see_other(request, f"/users/{user_id}?notice={notice}")


@routes.route("/users/<int:user_id>/disable", methods=("POST",))
@page(security.ADMIN)
async def disable_user(web, request, caller, user_id):
    return await _set_disabled(web, request, caller, user_id, True)


@routes.route("/users/<int:user_id>/enable", methods=("POST",))
@page(security.ADMIN)
async def enable_user(web, request, caller, user_id):
    return await _set_disabled(web, request, caller, user_id, False)
