"""
The event log of calls: L{model} (the events and their idempotency keys),
L{spool} (the fsync'd on-disk spool used while PostgreSQL is away) and
L{writer} (the C{events} service: batching, spooling, replay, pausing the
dialer).  The SQL is in L{fts.db.events}.
"""
