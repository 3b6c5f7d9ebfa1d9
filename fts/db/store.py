"""
The store: every SQL statement FTS runs lives behind it, grouped by subject,
returning frozen attrs models rather than rows.

Subjects are added as the product grows (campaigns, contacts, calls, events,
jobs, users); each is a small class sharing the pool.
"""

import attr
from twisted.internet import defer

from fts.db.jobs import JobStore
from fts.db.users import UserStore


@attr.s(frozen=True, slots=True)
class DatabaseInfo:
    """
    What the status page shows about the database.
    """

    server_version = attr.ib()
    schema_version = attr.ib()
    database = attr.ib()


class Store:
    """
    The facade the services use: C{store.users}, C{store.jobs}, …
    """

    def __init__(self, pool):
        self.pool = pool
        self.users = UserStore(pool)
        self.jobs = JobStore(pool)

    @defer.inlineCallbacks
    def info(self):
        rows = yield self.pool.runQuery(
            "SELECT current_setting('server_version'), current_database(),"
            " (SELECT max(version) FROM schema_version)"
        )
        version, database, schema = rows[0]
        return DatabaseInfo(server_version=version, schema_version=schema,
                            database=database)
