"""
The JSON API under C{/api/v1}: token authentication, structured errors,
pagination and an OpenAPI document at C{/api/v1/openapi.json}, all from
the declarations in this package's modules (L{fts.web.api.framework}).
"""

from fts.web.api import campaigns, jobs, system, users  # noqa: F401 (they declare endpoints)
from fts.web.api import audio, contact_lists, dnc  # noqa: F401
from fts.web.api import reports  # noqa: F401
from fts.web.api import campaign_edit  # noqa: F401
from fts.web.api.framework import API, ApiError, error_response

#: Installed by L{fts.web.app.AdminApp} like the pages' route tables.
routes = API

__all__ = ["API", "ApiError", "error_response", "routes"]
