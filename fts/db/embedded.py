"""
An embedded PostgreSQL 16 from the C{pgserver} wheel's binaries, run with
C{initdb} and C{pg_ctl} as child processes (never blocking the reactor).

The server listens on a Unix socket only.  When the daemon runs as root the
server runs as the system user C{pgserver} (PostgreSQL refuses root), created
if missing, like the C{pgserver} library does.

A server left running by a daemon that was killed (C{kill -9}) is adopted by
the next start in the same directory and stopped on shutdown.
"""

import hashlib
import importlib.util
import os
import pwd
import stat
import tempfile
from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger

from fts import process

log = Logger()

SYSTEM_USER = "pgserver"
SUPERUSER = "postgres"
PORT = 5432
# sun_path holds 108 bytes with its NUL; the socket file is .s.PGSQL.5432.
_MAX_SOCKET_PATH = 107


class EmbeddedPostgresError(Exception):
    """
    The embedded PostgreSQL could not be initialised, started or stopped.
    """


#: Bounds of C{shared_buffers = auto}: PostgreSQL's own default, and what a
#: single host dialing a few campaigns of millions of contacts uses well.
AUTO_SHARED_BUFFERS_MB = (128, 2048)


def memory_limit(cgroup=Path("/sys/fs/cgroup/memory.max")):
    """
    The memory this process may use, in bytes: the machine's physical
    memory, or the container's limit (cgroup v2) when lower.
    """
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = cgroup.read_text().strip()
        if limit != "max":
            total = min(total, int(limit))
    except (OSError, ValueError):
        pass
    return total


def shared_buffers(setting, memory=None):
    """
    The embedded server's C{shared_buffers} for the C{[database]
    embedded_shared_buffers} setting: an amount as given, or for C{auto} a
    quarter of C{memory} (default L{memory_limit}) within
    L{AUTO_SHARED_BUFFERS_MB}.

    PostgreSQL's default, 128MB, holds a campaign of a few hundred thousand
    contacts: above that, every claim reads its rows from the kernel's cache
    and writes dirty pages out itself (measured on a campaign of 1,000,000:
    the claim of 100 contacts p50 6.7 ms at 128MB, 5.0 ms at 1GB; see
    docs/PERFORMANCE.md).
    """
    if setting != "auto":
        return setting
    low, high = AUTO_SHARED_BUFFERS_MB
    quarter = (memory_limit() if memory is None else memory) // 4 // 2 ** 20
    return f"{max(low, min(high, quarter))}MB"


def binaries():
    """
    The directory of the PostgreSQL binaries shipped by the pgserver wheel.

    @raise EmbeddedPostgresError: pgserver is not installed.
    """
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the pgserver package is not installed (pip install pgserver), "
            "and no [database] dsn is configured"
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def socket_directory(directory):
    """
    Where the server's Unix socket goes: the data directory when its path is
    short enough, else a directory under the system's temporary directory
    named after a hash of the data directory.
    """
    directory = Path(directory).resolve()
    if len(str(directory / f".s.PGSQL.{PORT}")) <= _MAX_SOCKET_PATH:
        return directory
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"fts-pg-{digest}"


def running_postmaster(directory):
    """
    The pid of a postmaster running on C{directory}, from its
    C{postmaster.pid}, or L{None}.
    """
    try:
        lines = (Path(directory) / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


class EmbeddedPostgres:
    """
    One PostgreSQL server in C{directory}.

    @param settings: extra server settings (C{-c name=value}), e.g. the test
        harness turns C{fsync} off.
    """

    def __init__(self, reactor, directory, database="fts", settings=None,
                 fast_init=False):
        self.reactor = reactor
        self.directory = Path(directory).resolve()
        self.database = database
        self.settings = dict(settings or {})
        self.fast_init = fast_init
        self.adopted = False
        self.running = False
        self._bin = None
        self._uid = self._gid = None

    @property
    def socket_dir(self):
        return socket_directory(self.directory)

    def dsn(self, database=None):
        """
        A libpq connection string for a database of this server.
        """
        return "host=%s port=%d user=%s dbname=%s" % (
            self.socket_dir, PORT, SUPERUSER, database or self.database,
        )

    def _run(self, name, *args, check=True):
        return process.run(
            self.reactor, [str(self._bin / name), *args],
            env=self._env(), uid=self._uid, gid=self._gid, path=str(self.directory),
            check=check,
        )

    def _env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return env

    @defer.inlineCallbacks
    def start(self):
        """
        Initialise the cluster if needed, start (or adopt) the server and
        create the database.

        @return: a Deferred firing with the DSN of the database.
        """
        self._bin = binaries()
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            yield self._run_as_system_user()
        pid = running_postmaster(self.directory)
        if pid is not None:
            self.adopted = True
            log.warn(
                "adopting the embedded PostgreSQL (pid {pid}) left running in "
                "{directory}; it will be stopped on shutdown",
                pid=pid, directory=str(self.directory),
            )
        else:
            if not (self.directory / "PG_VERSION").exists():
                yield self._initdb()
            yield self._pg_ctl_start()
        self.running = True
        yield self._ensure_database()
        return self.dsn()

    @defer.inlineCallbacks
    def _run_as_system_user(self):
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            log.info("creating system user {user} to run the embedded PostgreSQL",
                     user=SYSTEM_USER)
            yield process.run(self.reactor, ["/usr/sbin/useradd", "--system",
                                             "--no-create-home", SYSTEM_USER])
            entry = pwd.getpwnam(SYSTEM_USER)
        self._uid, self._gid = entry.pw_uid, entry.pw_gid
        # Let the system user reach the data directory and the binaries.
        for path in [*self.directory.parents, *self._bin.parents]:
            mode = path.stat().st_mode
            wanted = mode | stat.S_IXOTH
            if wanted != mode:
                path.chmod(wanted)
        if self.directory.stat().st_uid != self._uid:
            os.chown(self.directory, self._uid, self._gid)
            self.directory.chmod(0o700)

    @defer.inlineCallbacks
    def _initdb(self):
        log.info("initialising the embedded PostgreSQL in {directory}",
                 directory=str(self.directory))
        args = ["-D", str(self.directory), "--auth=trust", "--encoding=UTF8",
                "--locale=C", "-U", SUPERUSER]
        if self.fast_init:
            args.append("--no-sync")
        try:
            yield self._run("initdb", *args)
        except process.ProcessFailed as e:
            raise EmbeddedPostgresError(f"initdb failed: {e}")

    @defer.inlineCallbacks
    def _pg_ctl_start(self):
        sockets = self.socket_dir
        if sockets != self.directory:
            sockets.mkdir(mode=0o700, exist_ok=True)
            if self._uid is not None:
                os.chown(sockets, self._uid, self._gid)
        options = ["-h ''", f"-k {sockets}", f"-p {PORT}"]
        options += [f"-c {k}={v}" for k, v in sorted(self.settings.items())]
        logfile = self.directory / "server.log"
        try:
            yield self._run(
                "pg_ctl", "-D", str(self.directory), "-w", "-t", "60",
                "-l", str(logfile), "-o", " ".join(options), "start",
            )
        except process.ProcessFailed as e:
            tail = _tail(logfile)
            raise EmbeddedPostgresError(f"pg_ctl start failed: {e}{tail}")
        log.info("embedded PostgreSQL running in {directory} (socket {sockets})",
                 directory=str(self.directory), sockets=str(sockets))

    @defer.inlineCallbacks
    def _ensure_database(self):
        psql = [
            "-X", "-q", "-t", "-A", "-h", str(self.socket_dir), "-p", str(PORT),
            "-U", SUPERUSER, "-d", "postgres", "-c",
        ]
        result = yield self._run(
            "psql", *psql,
            "SELECT 1 FROM pg_database WHERE datname = '%s'" % self.database,
        )
        if result.out.strip() != b"1":
            yield self._run("psql", *psql, 'CREATE DATABASE "%s"' % self.database)
            log.info("created database {database}", database=self.database)

    @defer.inlineCallbacks
    def stop(self):
        """
        Stop the server (fast shutdown: open sessions are ended).
        """
        if not self.running:
            return
        self.running = False
        result = yield self._run(
            "pg_ctl", "-D", str(self.directory), "-m", "fast", "-w", "-t", "60",
            "stop", check=False,
        )
        if not result.ok and running_postmaster(self.directory) is not None:
            raise EmbeddedPostgresError(f"pg_ctl stop failed: {result.describe()}")
        log.info("embedded PostgreSQL stopped")


def _tail(path, lines=5):
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return ("; server log: " + " | ".join(text[-lines:])) if text else ""
