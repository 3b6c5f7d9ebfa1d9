"""
The system status page: every component's health, the versions of FTS, its
libraries and the database, and (for admins) the configuration with secrets
masked.
"""

import platform
from importlib import metadata

from twisted.logger import Logger

from fts.web import security
from fts.web.guard import page
from fts.web.routes import RouteTable

log = Logger()
routes = RouteTable()

PACKAGES = ("fts", "twisted", "klein", "jinja2", "txpostgres", "psycopg2-binary", "attrs",
            "treq", "pgserver")


def versions():
    """
    C{[(name, version)]}: Python and the installed packages FTS runs on.
    """
    found = [("python", platform.python_version())]
    for name in PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, "not installed as a package"))
    return found


async def database_info(web):
    if web.store is None:
        return None
    try:
        return await web.store.info()
    except Exception as e:
        log.failure("reading the database version for the status page")
        return str(e)


@routes.route("/status")
@page()
async def status_page(web, request, caller):
    report = web.health.report()
    info = await database_info(web)
    summary = None
    if web.config is not None and caller.can(security.ADMIN):
        summary = web.config.summary()
    return web.render(request, caller, "status.html", section="status", report=report,
                      versions=versions(), database=info, config=summary,
                      config_wired=web.config is not None)
