"""
The store: every SQL statement FTS runs lives behind it, grouped by subject,
returning frozen attrs models rather than rows.

Subjects are added as the product grows (campaigns, contacts, calls, events,
jobs, users); each is a small class sharing the pool.
"""

import time

import attr
from twisted.internet import defer

from fts.core.phones import PhoneRules
from fts.db.campaigns import CampaignStore
from fts.db.contacts import ContactStore
from fts.db.dnc import DncStore
from fts.db.finalization import FinalizationStore
from fts.db.jobs import JobStore
from fts.db.reports import ReportStore
from fts.db.users import UserStore


class WallClock:
    """
    The time now, for stores used without a reactor (scripts, tests that do
    not control time).
    """

    def seconds(self):
        return time.time()


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
    The facade the services use: C{store.users}, C{store.jobs}, C{store.contacts},
    C{store.dnc}, C{store.campaigns}, C{store.reports}, C{store.finalization}.
    """

    def __init__(self, pool, phone_rules=None, clock=None, tts_available=True,
                 default_dial_string=""):
        self.pool = pool
        self.phone_rules = phone_rules or PhoneRules()
        self.users = UserStore(pool)
        self.jobs = JobStore(pool)
        self.contacts = ContactStore(pool)
        self.dnc = DncStore(pool, self.phone_rules)
        self.reports = ReportStore(pool)
        self.finalization = FinalizationStore(pool)
        self.campaigns = CampaignStore(pool, clock or WallClock(), tts_available=tts_available,
                                       default_dial_string=default_dial_string)

    @defer.inlineCallbacks
    def info(self):
        rows = yield self.pool.runQuery(
            "SELECT current_setting('server_version'), current_database(),"
            " (SELECT max(version) FROM schema_version)"
        )
        version, database, schema = rows[0]
        return DatabaseInfo(server_version=version, schema_version=schema,
                            database=database)
