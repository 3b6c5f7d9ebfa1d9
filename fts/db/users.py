"""
Users of the panel and API.
"""

import attr
from twisted.internet import defer


@attr.s(frozen=True, slots=True)
class User:
    id = attr.ib()
    username = attr.ib()
    role = attr.ib()
    password_hash = attr.ib(repr=False)


class UserStore:
    def __init__(self, pool):
        self.pool = pool

    @defer.inlineCallbacks
    def count(self):
        rows = yield self.pool.runQuery("SELECT count(*) FROM users")
        return rows[0][0]

    @defer.inlineCallbacks
    def create(self, username, role, password_hash):
        """
        Add a user; returns the L{User}.
        """
        rows = yield self.pool.runQuery(
            "INSERT INTO users (username, role, password_hash) VALUES (%s, %s, %s)"
            " RETURNING id",
            (username, role, password_hash),
        )
        return User(rows[0][0], username, role, password_hash)

    @defer.inlineCallbacks
    def by_username(self, username):
        rows = yield self.pool.runQuery(
            "SELECT id, username, role, password_hash FROM users WHERE username = %s",
            (username,),
        )
        return User(*rows[0]) if rows else None
