"""
Pages whose back end is not in this build yet.  Each says so plainly and
shows nothing made up; it is replaced by the real page when its store is
wired (see the module docstrings of L{fts.web.pages}).
"""

from fts.web.guard import page
from fts.web.routes import RouteTable

routes = RouteTable()

#: section -> (title, what the page will do, what it waits for)
PENDING = {
    "campaigns": ("Campaigns",
                  "Create campaigns with the wizard, follow their progress, pause, resume,"
                  " cancel, place a test call and download the calls as CSV.",
                  "the campaign store (fts/db/campaigns.py)"),
    "templates": ("Templates", "Keep campaign settings as templates and start campaigns"
                  " from them.", "the campaign store (fts/db/campaigns.py)"),
    "lists": ("Contact lists", "Upload CSV lists with preview and column mapping, follow"
              " the import and download the rejected rows.",
              "the contact store and importer (fts/db/contacts.py, fts/contacts/)"),
    "dnc": ("Do-not-call lists", "Upload, add, remove and search do-not-call numbers.",
            "the DNC store (fts/db/dnc.py)"),
    "audio": ("Audio library", "Upload recordings, hear them and see their duration.",
              "the audio store"),
    "reports": ("Reports", "Live and final campaign reports with charts and CSV export.",
                "the report store (fts/db/reports.py, fts/reports/)"),
}


#: Sections with a real page that falls back to this one while not wired.
WIRED_WHEN_PRESENT = {"campaigns", "lists", "dnc", "audio", "reports", "templates"}


async def show(web, request, caller, section):
    """
    Render the "not available yet" page of C{section}.
    """
    title, does, waits_for = PENDING[section]
    return web.render(request, caller, "pending.html", section=section, title=title,
                      does=does, waits_for=waits_for)


def _pending(section):
    async def pending_page(web, request, caller):
        return await show(web, request, caller, section)

    pending_page.__name__ = f"pending_{section}"
    return page()(pending_page)


for _section in PENDING:
    if _section not in WIRED_WHEN_PRESENT:
        routes.route(f"/{_section}")(_pending(_section))
