"""
API: the OpenAPI document, who am I, component status and live stats.
"""

from fts.web import security
from fts.web.api import openapi
from fts.web.api.framework import API
from fts.web.pages.dashboard import snapshot


@API.endpoint("GET", "/openapi.json", "This document", role=None, tags=["system"])
async def get_openapi(web, request, caller):
    return openapi.document(API)


@API.endpoint("GET", "/me", "The token's user and effective role", role=security.VIEWER,
              tags=["system"])
async def get_me(web, request, caller):
    return {"user_id": caller.account.id, "username": caller.account.username,
            "role": caller.role, "token": caller.token.name,
            "token_prefix": caller.token.prefix,
            "token_expires_at": caller.token.expires_at}


@API.endpoint("GET", "/status", "Every component's state", role=security.VIEWER,
              tags=["system"])
async def get_status(web, request, caller):
    return web.health.report()


@API.endpoint("GET", "/stats", "Live figures: calls in flight, rates, PBXes, jobs",
              role=security.VIEWER, tags=["stats"],
              description="The dashboard's snapshot. calls is null while the dialer is"
                          " not running in this daemon; times are POSIX seconds.")
async def get_stats(web, request, caller):
    return await snapshot(web)



