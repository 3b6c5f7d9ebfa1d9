"""
Versioned SQL migrations: the numbered files in C{fts/db/migrations}
(C{0001_initial.sql}, C{0002_….sql}), applied in order.

Every pending file is applied in one transaction holding an advisory lock,
so two daemons starting together cannot both migrate, and a failure leaves
the schema as it was.  Applied versions are recorded in C{schema_version}
with a checksum; running again is a no-op.
"""

import hashlib
import re
from pathlib import Path

import attr
from twisted.internet import defer
from twisted.logger import Logger

log = Logger()

MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_xact_lock key: "FTSMIGR" as a number, arbitrary but fixed.
LOCK_KEY = 0x4654534D49475200 >> 8


class MigrationError(Exception):
    """
    A migration file is misnamed, or failed to apply.
    """


@attr.s(frozen=True, slots=True)
class Migration:
    version = attr.ib()
    name = attr.ib()
    sql = attr.ib(repr=False)

    @property
    def checksum(self):
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def discover(directory=MIGRATIONS):
    """
    The migrations in C{directory}, in version order.

    @raise MigrationError: a file is misnamed or two share a version.
    """
    found = {}
    for path in sorted(Path(directory).glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: migration files are named NNNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"{path.name}: version {version} is also {found[version].name}")
        found[version] = Migration(version, path.stem, path.read_text("utf-8"))
    return [found[v] for v in sorted(found)]


def apply(pool, migrations=None):
    """
    Apply every pending migration in one transaction.

    @return: a Deferred firing with the list of versions applied now.
    """
    migrations = discover() if migrations is None else migrations
    return pool.runInteraction(_apply, migrations)


@defer.inlineCallbacks
def _apply(cursor, migrations):
    yield cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    yield cursor.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    yield cursor.execute("SELECT version, checksum FROM schema_version")
    applied = dict(cursor.fetchall())
    done = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                log.warn(
                    "migration {name} was changed after it was applied; "
                    "the database keeps the version it applied",
                    name=migration.name)
            continue
        try:
            yield cursor.execute(migration.sql)
        except Exception as e:
            raise MigrationError(f"{migration.name}.sql failed: {' '.join(str(e).split())}")
        yield cursor.execute(
            "INSERT INTO schema_version (version, name, checksum) VALUES (%s, %s, %s)",
            (migration.version, migration.name, migration.checksum),
        )
        log.info("applied migration {name}", name=migration.name)
        done.append(migration.version)
    return done
