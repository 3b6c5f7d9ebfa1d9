"""
The C{twistd fts} command: its options and C{makeService}.
"""

import atexit
import os
import signal

from twisted.python import usage

from fts import config as fts_config
from fts import gctuning


class Options(usage.Options):
    """
    Every option can also be set in the configuration file or by an
    environment variable; the command line wins.
    """

    synopsis = "[options]"
    longdesc = (
        "Run FTS: the AMI dialer, the FastAGI call-flow server, the jobs and "
        "the admin panel in one process. With no configuration it uses an "
        "embedded PostgreSQL under --data-dir and the built-in PBX simulator."
    )
    optParameters = [
        ["config", "c", None, "Configuration file (INI; see etc/fts.ini.example). "
                              "Environment: FTS_CONFIG."],
        ["data-dir", "d", None, "Data directory (default ./var). Environment: FTS_DATA_DIR."],
        ["dsn", None, None, "PostgreSQL connection string; none: embedded PostgreSQL. "
                            "Environment: FTS_DATABASE_DSN."],
        ["pbx", None, None, "sim (built-in simulator) or ami (the [ami:NAME] servers). "
                            "Environment: FTS_PBX_MODE."],
        ["web", None, None, "Panel endpoint (default tcp:8080:interface=127.0.0.1). "
                            "Environment: FTS_WEB_ENDPOINT."],
        ["agi", None, None, "FastAGI endpoint (default tcp:4573:interface=127.0.0.1). "
                            "Environment: FTS_AGI_ENDPOINT."],
    ]


def load_config(options, environ=None):
    """
    The validated configuration for C{options}.

    @raise SystemExit: with a one-line message naming the bad key or variable.
    """
    environ = os.environ if environ is None else environ
    path = options.get("config") or environ.get("FTS_CONFIG") or None
    try:
        return fts_config.load(
            path, environ=environ,
            options={k: options.get(k) for k in fts_config.OPTION_KEYS},
        )
    except fts_config.ConfigError as e:
        raise SystemExit(f"fts: configuration error: {e}")


def makeService(options):
    config = load_config(options)
    from twisted.internet import reactor

    from fts.service import build

    def start_failed(failure):
        # twistd has no way to set the exit status after the reactor runs:
        # exit 1 at interpreter exit, after twistd has cleaned up.
        atexit.register(os._exit, 1)
        reactor.stop()

    reactor.callWhenRunning(_exit_zero_on_sigterm, reactor)
    root = build(config, reactor, on_start_failure=start_failed)
    root.when_ready().addCallback(lambda _: gctuning.tune(reactor)).addErrback(lambda f: None)
    return root


def _exit_zero_on_sigterm(reactor):
    """
    Make SIGTERM an orderly stop that exits 0.

    twistd's own handler records the signal and re-raises it after shutdown,
    so the process would end "killed by SIGTERM" even after a clean stop; an
    operator (and systemd's ExecStop) expects status 0 from a clean stop.
    """

    def stop(signum, frame):
        reactor.callFromThread(_stop_once, reactor)

    signal.signal(signal.SIGTERM, stop)


def _stop_once(reactor):
    if reactor.running:
        reactor.stop()
