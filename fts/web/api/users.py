"""
API: users (admin only) and the audit log.
"""

from fts import passwords
from fts.db.auth import AccountError
from fts.web import security
from fts.web.api.framework import (
    API, PAGE_FIELDS, ApiError, Field, Reply, invalid, page_of,
)
from fts.web.forms import USERNAME

USER_ID = Field("user_id", "integer", required=True)
ROLE = Field("role", "string", enum=security.ROLES)
DETAILS = [
    Field("display_name", "string", max_length=100, nullable=True),
    Field("email", "string", max_length=254, nullable=True),
]


def account_json(account):
    return {"id": account.id, "username": account.username,
            "display_name": account.display_name, "email": account.email,
            "role": account.role, "created_at": account.created_at,
            "last_login_at": account.last_login_at, "disabled": account.disabled}


def _fail(error):
    raise invalid([(error.field or "user", str(error))], str(error))


@API.endpoint("GET", "/users", "Every user", role=security.ADMIN, tags=["users"])
async def list_users(web, request, caller):
    accounts = await web.auth.accounts()
    items = [account_json(a) for a in accounts]
    return page_of(items, len(items), len(items), 0)


@API.endpoint("POST", "/users", "Create a user", role=security.ADMIN, status=201,
              tags=["users"],
              body=[Field("username", "string", required=True, max_length=64),
                    Field("role", "string", required=True, enum=security.ROLES),
                    Field("password", "string", required=True, max_length=200,
                          description="At least 10 characters."),
                    *DETAILS])
async def create_user(web, request, caller, body):
    problems = []
    if not USERNAME.match(body["username"]):
        problems.append(("username", "must be letters, digits and . _ @ -, starting with"
                                     " a letter or digit"))
    if len(body["password"]) < 10:
        problems.append(("password", "must be at least 10 characters"))
    if problems:
        raise invalid(problems)
    hashed = await web.run_blocking(passwords.hash_password, body["password"])
    try:
        account = await web.auth.create_account(
            body["username"], body["role"], hashed, caller.actor,
            display_name=body.get("display_name") or None, email=body.get("email") or None)
    except AccountError as e:
        _fail(e)
    return Reply(201, account_json(account))


@API.endpoint("GET", "/users/{user_id}", "One user", role=security.ADMIN,
              params=[USER_ID], tags=["users"])
async def get_user(web, request, caller, user_id):
    account = await web.auth.account(user_id)
    if account is None:
        raise ApiError(404, "not_found", "There is no such user.")
    return account_json(account)


@API.endpoint("PATCH", "/users/{user_id}", "Change a user's role, details or state",
              role=security.ADMIN, params=[USER_ID], tags=["users"],
              body=[ROLE, *DETAILS, Field("disabled", "boolean")])
async def update_user(web, request, caller, user_id, body):
    account = await web.auth.account(user_id)
    if account is None:
        raise ApiError(404, "not_found", "There is no such user.")
    try:
        if {"role", "display_name", "email"} & set(body):
            account = await web.auth.update_account(
                user_id, caller.actor, role=body.get("role"),
                display_name=body.get("display_name", account.display_name),
                email=body.get("email", account.email))
        if "disabled" in body and body["disabled"] != account.disabled:
            account = await web.auth.set_disabled(user_id, body["disabled"],
                                                  web.authenticator.now(), caller.actor)
    except AccountError as e:
        _fail(e)
    return account_json(account)


@API.endpoint("GET", "/audit", "The audit log, newest first", role=security.ADMIN,
              tags=["audit"],
              query=[*PAGE_FIELDS, Field("object_type", "string", max_length=50),
                     Field("actor", "string", max_length=200)])
async def list_audit(web, request, caller, query):
    limit, offset = query.get("limit", 50), query.get("offset", 0)
    entries, total = await web.audit.entries(limit=limit, offset=offset,
                                             object_type=query.get("object_type"),
                                             actor=query.get("actor"))
    items = [{"id": e.id, "at": e.at, "actor_kind": e.actor_kind, "actor": e.actor_name,
              "address": e.address, "action": e.action, "object_type": e.object_type,
              "object_id": e.object_id, "details": e.details} for e in entries]
    return page_of(items, total, limit, offset)
