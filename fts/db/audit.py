"""
The audit log: who changed what, when, from where (C{audit_log}).

Every change made through the panel or the API is recorded with its
L{Actor}.  A change and its audit row are written in one transaction where
the change is SQL of its own store: such stores call L{write} with their
interaction's cursor.  L{AuditStore.record} writes a lone row (for changes
that are not SQL, such as running a job now).
"""

import json

import attr
from twisted.internet import defer

USER = "user"
API_TOKEN = "api_token"
SYSTEM = "system"

#: Longest details kept, as JSON text; longer ones are stored as a summary.
DETAILS_LIMIT = 8000


@attr.s(frozen=True, slots=True)
class Actor:
    """
    Who did something: a user of the panel, an API token (acting for its
    user) or a component of the daemon.

    @ivar kind: L{USER}, L{API_TOKEN} or L{SYSTEM}.
    @ivar name: username, C{"api:<token name>"} or component name, kept in
        the row even after the user or token is deleted.
    @ivar address: the client's IP address, or L{None}.
    """

    kind = attr.ib()
    name = attr.ib()
    user_id = attr.ib(default=None)
    api_token_id = attr.ib(default=None)
    address = attr.ib(default=None)

    @classmethod
    def user(cls, user, address=None):
        return cls(USER, user.username, user_id=user.id, address=address)

    @classmethod
    def token(cls, token, user, address=None):
        return cls(API_TOKEN, f"api:{token.name}", user_id=user.id,
                   api_token_id=token.id, address=address)

    @classmethod
    def system(cls, component):
        return cls(SYSTEM, component)


@attr.s(frozen=True, slots=True)
class AuditEntry:
    """
    One row of the audit log.
    """

    id = attr.ib()
    at = attr.ib()
    actor_kind = attr.ib()
    actor_name = attr.ib()
    user_id = attr.ib()
    api_token_id = attr.ib()
    address = attr.ib()
    action = attr.ib()
    object_type = attr.ib()
    object_id = attr.ib()
    details = attr.ib()


def _details_json(details):
    text = json.dumps(details or {}, default=str, sort_keys=True)
    if len(text) > DETAILS_LIMIT:
        text = json.dumps({"truncated": True, "length": len(text),
                           "start": text[:1000]})
    return text


_INSERT = """
    INSERT INTO audit_log (actor_kind, user_id, api_token_id, actor_name, address,
                           action, object_type, object_id, details)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
    RETURNING id
"""


def _args(actor, action, object_type, object_id, details):
    return (actor.kind, actor.user_id, actor.api_token_id, actor.name, actor.address,
            action, object_type, None if object_id is None else str(object_id),
            _details_json(details))


def write(cursor, actor, action, object_type=None, object_id=None, details=None):
    """
    Append a row inside the caller's transaction (C{cursor} of a
    C{runInteraction}).

    @return: a Deferred (the cursor's), firing when the row is written.
    """
    return cursor.execute(_INSERT, _args(actor, action, object_type, object_id, details))


_COLUMNS = """id, at, actor_kind, actor_name, user_id, api_token_id, host(address),
    action, object_type, object_id, details"""


class AuditStore:
    """
    Reads and appends C{audit_log} rows.
    """

    def __init__(self, pool):
        self.pool = pool

    @defer.inlineCallbacks
    def record(self, actor, action, object_type=None, object_id=None, details=None):
        """
        Append one row on its own.

        @param action: what was done, as C{"subject.verb"} (C{"user.create"},
            C{"job.run_now"}).
        @return: a Deferred firing with the new row's id.
        """
        rows = yield self.pool.runQuery(
            _INSERT, _args(actor, action, object_type, object_id, details))
        return rows[0][0]

    @defer.inlineCallbacks
    def entries(self, limit=50, offset=0, object_type=None, object_id=None, actor=None):
        """
        The newest rows first, optionally of one object type (and id) or one
        actor name, as L{AuditEntry}s, with the total count that match.

        @return: a Deferred firing with C{(entries, total)}.
        """
        where, args = [], []
        if object_type:
            where.append("object_type = %s")
            args.append(object_type)
        if object_id is not None:
            where.append("object_id = %s")
            args.append(str(object_id))
        if actor:
            where.append("actor_name = %s")
            args.append(actor)
        condition = ("WHERE " + " AND ".join(where)) if where else ""
        rows = yield self.pool.runQuery(
            f"SELECT {_COLUMNS}, count(*) OVER () FROM audit_log {condition}"
            " ORDER BY id DESC LIMIT %s OFFSET %s", (*args, limit, offset))
        if not rows and offset:
            count = yield self.pool.runQuery(
                f"SELECT count(*) FROM audit_log {condition}", tuple(args))
            return [], count[0][0]
        total = rows[0][-1] if rows else 0
        return [AuditEntry(*row[:-1]) for row in rows], total
