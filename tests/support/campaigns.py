"""
Campaigns for the tests that run the whole daemon: an imported contact
list and the demo campaign on it, confirmed and started; the daemon as
C{fts.service} wires it, in this process; and the helpers of the tests that
run real C{twistd} daemons on one database.
"""

from datetime import datetime, timezone

import attr
from twisted.internet import defer, reactor

from fts import config as fts_config
from fts import demo
from fts.contacts.imports import ContactImports
from fts.core.campaign import FieldPart, SayMode
from fts.core.lifecycle import IllegalTransition
from fts.core.phones import PhoneRules
from fts.service import build
from tests.support.daemon import Daemon


@defer.inlineCallbacks
def running_campaign(store, directory, contacts, name="test", imports=None, **changes):
    """
    Import C{contacts} contacts (C{first_name,phone,code}; numbers
    C{5550000001}... which the simulator answers) from a CSV written in
    C{directory}, create the demo campaign on them -- its message reads the
    contact's C{code} as digits, so no text-to-speech is needed, and it
    keeps the demo's menu (1: record, 9: opt out) -- confirm it and start
    it.

    @param imports: the daemon's L{ContactImports}; default one of our own.
    @param changes: C{max_attempts}, C{retry_delay} (for the demo settings)
        and C{max_channels}, C{cps} (pacing).
    @return: a Deferred firing with the campaign's id, once it is running
        (a daemon's dialer may start it first: it is due at once).
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "contacts.csv"
    path.write_bytes(b"first_name,phone,code\n" + b"".join(
        b"Ada,555%07d,%d\n" % (n + 1, 1000 + n) for n in range(contacts)))
    if imports is None:
        imports = ContactImports(reactor, store.contacts, directory, PhoneRules())
    contact_list = yield store.contacts.create_list(name, source_filename=path.name)
    detected = yield imports.uploaded(contact_list.id, str(path), path.name)
    run = yield imports.start(contact_list.id, detected.format())
    yield run.when_done()
    now = datetime.fromtimestamp(reactor.seconds(), timezone.utc)
    settings = demo.demo_settings(
        contact_list.id, now, tts_available=False,
        **{k: changes[k] for k in ("max_attempts", "retry_delay") if k in changes})
    pacing = {k: changes[k] for k in ("max_channels", "cps") if k in changes}
    settings = attr.evolve(settings, message=(FieldPart("code", SayMode.DIGITS),),
                           pacing=attr.evolve(settings.pacing, **pacing))
    campaign = yield store.campaigns.create(settings, "user:test")
    yield confirm_and_start(store, campaign.id)
    return campaign.id


@defer.inlineCallbacks
def confirm_and_start(store, campaign_id, actor="user:test"):
    """
    Confirm the campaign and start it, unless a daemon's dialer started it
    first (it is due at once: its schedule starts now).
    """
    yield store.campaigns.transition(campaign_id, "confirm", actor)
    try:
        yield store.campaigns.transition(campaign_id, "start", actor)
    except IllegalTransition:
        current = yield store.campaigns.get(campaign_id)
        if current.state.value != "running":
            raise


@defer.inlineCallbacks
def daemon_in_process(testcase, dsn, environ, data_dir):
    """
    The daemon's service tree as C{fts.service.build} makes it (pbx=sim,
    the web and FastAGI servers on free loopback ports), started; stopped
    when the test ends.

    @param environ: C{FTS_*} variables, besides those given here.
    @return: a Deferred firing with the root service, once ready.
    """
    config = fts_config.load(None, environ=environ, options={
        "data-dir": str(data_dir), "dsn": dsn,
        "web": "tcp:0:interface=127.0.0.1", "agi": "tcp:0:interface=127.0.0.1",
    })
    root = build(config, reactor)
    root.startService()
    testcase.addCleanup(root.stopService)
    yield root.when_ready()
    return root


class Daemons:
    """
    For tests that run real C{twistd} daemons on the test's database: set
    C{self.daemons = []}, C{self.pool}, C{self.dsn} and C{ENV} (a class
    attribute).
    """

    ENV = {}

    def start_daemon(self, data_dir):
        """A daemon on the test's database with C{data_dir}, started."""
        daemon = Daemon(reactor, data_dir, env=dict(self.ENV, FTS_DATABASE_DSN=self.dsn))
        self.daemons.append(daemon)
        daemon.start()
        self.addCleanup(daemon.kill)
        return daemon

    def logs(self):
        """The end of every daemon's output, for failure messages."""
        return "\n".join(f"--- daemon {n} ---\n{d.text()[-6000:]}"
                         for n, d in enumerate(self.daemons, 1))

    @defer.inlineCallbacks
    def scalar(self, sql, args=None):
        rows = yield self.pool.runQuery(sql, args)
        return rows[0][0]
