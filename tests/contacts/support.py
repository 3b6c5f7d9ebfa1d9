"""
Helpers for the import tests: a file the tests write, file work run in
place (deterministic), the stores over the test database.
"""

from twisted.internet import defer

from fts.core.phones import PhoneRules

RULES = PhoneRules("33", 9, 15)


def in_place(f, *args, **kwargs):
    """
    A C{run_in_thread} that runs C{f} at once, in this thread.
    """
    return defer.maybeDeferred(f, *args, **kwargs)


@defer.inlineCallbacks
def campaign(pool, list_id, state="draft", name="Spring reminders"):
    """
    A campaign using a contact list, in C{state}; its id.
    """
    finished = state in ("finished", "finalizing", "finalized")
    dated = state not in ("draft", "deleted")
    rows = yield pool.runQuery(
        "INSERT INTO campaigns (name, state, list_id, starts_at, ends_at, finish_reason)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (name, state, list_id,
         "2026-01-01T09:00:00Z" if dated else None,
         "2026-01-02T09:00:00Z" if dated else None,
         "completed" if finished else None))
    return rows[0][0]
