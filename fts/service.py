"""
The only wiring: builds the daemon's service tree from a configuration and a
reactor.

    fts (OrderedServices)
    ├── db       embedded PostgreSQL or DSN; pool; migrations
    ├── events   durable event writer (batched inserts; fsync'd spool when the DB is away)
    ├── agi      FastAGI server (the call flow runs here)
    ├── pbx      the PBX simulator, or one AMI client per Asterisk
    ├── dialer   pacing: claims contacts, originates, tracks calls in flight
    ├── imports  contact-list and DNC CSV imports (streamed, cooperative)
    ├── jobs     the job runner (sweepers, finalization, backups, …)
    └── web      admin panel and JSON API (GET /health)

Children start in this order, each once the previous is ready, and stop in
reverse.  Factories are parameters so tests can pass their own.
"""

import os
import socket

from twisted.logger import Logger

from fts import health as H
from fts.asterisk.agi import ScriptRouter
from fts.asterisk.agi.service import FastAGIService
from fts.asterisk.connections import PBXConnections
from fts.audio.convert import check_formats, make_threadpool
from fts.audio.tts import TTSCache, engine_named
from fts.callflow import CallFlow, PreparedPlaylists, Preparer
from fts.backup.dump import BackupJob
from fts.contacts.dnc_uploads import DncUploads
from fts.contacts.imports import ContactImports
from fts.contacts.service import ImportService
from fts.core.phones import PhoneRules
from fts.db.audio import AudioStore
from fts.demo import create_demo
from fts.db.events import EventStore
from fts.dialer.amiline import AMILine
from fts.dialer.service import DialerService
from fts.dialer.test_calls import TestCallPlacer
from fts.db.calls import CallsQuery
from fts.db.service import DatabaseService
from fts.events.writer import EventWriter, thread_runner
from fts.jobs.recording import DatabaseRecorder
from fts.lifecycle.jobs import CampaignLifecycle
from fts.notify.campaign import CampaignNotifier
from fts.notify.jobs import notify_when_finished
from fts.notify.mailer import Mailer
from fts.jobs.runner import JobRunner
from fts.servicetree import OrderedServices
from fts.web.service import WebService

log = Logger()


def instance_id(config):
    """
    The name of this daemon in logs, job runs and dialer claims.
    """
    return config.fts.instance_name or f"{socket.gethostname()}-{os.getpid()}"


def build(config, reactor, on_start_failure=None, database_factory=DatabaseService,
          embedded_settings=None):
    """
    The root service of one daemon.

    @ivar health: the root service's C{health} attribute is the
        L{fts.health.Health} every component reports into.
    """
    root = OrderedServices(on_start_failure=on_start_failure)
    root.health = health = H.Health(clock=reactor)
    root.config = config

    phone_rules = PhoneRules.from_settings(config.dialer)
    tts = engine_named(config.tts.engine, reactor)
    tts_available = bool(tts.available())
    name = instance_id(config)
    database = database_factory(reactor, config.database, config.data_dir, health,
                                embedded_settings=embedded_settings, phone_rules=phone_rules,
                                tts_available=tts_available,
                                default_dial_string=config.dialer.dial_string)
    store = database.store
    database.setServiceParent(root)

    events = EventWriter(
        lambda: EventStore(database.pool), config.data_dir / "spool" / "events",
        reactor, thread_runner(reactor), health=health)
    events.setServiceParent(root)

    # Built first, started after the FastAGI server (the simulator needs its
    # port; the closure reads `agi`, assigned below, when the simulator starts).
    pbx = PBXConnections(reactor, config, health, agi_port=lambda: agi.bound_port)

    # Sounds: recorded audio and text-to-speech, rendered before a call is placed.
    sound_formats = check_formats(config.sounds.formats)
    tts_cache = TTSCache(config.sounds_dir, tts, reactor, make_threadpool(reactor),
                         formats=sound_formats)
    audio = AudioStore(database.pool, config.sounds_dir)
    preparer = Preparer(tts_cache, audio.paths, voice=config.tts.voice)

    lines = [AMILine(server.client, reactor, server.settings.max_channels,
                     server.settings.cps, server.settings.originate_context)
             for server in pbx.servers.values()]
    dialer_service = DialerService(
        reactor, database.pool, events, lines, config.dialer, health=health,
        instance_id=name, transition=store.campaigns.transition,
        prepare_call=lambda call, settings: _prepare(preparer, playlists, call, settings))
    dialer = dialer_service.dialer
    playlists = PreparedPlaylists(dialer.registry)
    store.campaigns.on_transition(lambda campaign_id, move: dialer.campaign_changed(campaign_id))

    flow = CallFlow(dialer.registry, events.emit, dialer.campaign_settings, playlists,
                    dial_string=config.dialer.dial_string)
    router = ScriptRouter({"call": flow.run, "hangup": flow.run_h_extension},
                          h_extension=flow.run_h_extension)
    agi = FastAGIService(reactor, config.agi.endpoint, router, health,
                         max_sessions=config.agi.max_sessions,
                         command_timeout=config.agi.command_timeout)
    agi.setServiceParent(root)
    pbx.setServiceParent(root)
    dialer_service.setServiceParent(root)

    imports = ContactImports(reactor, store.contacts, config.data_dir, phone_rules)
    dnc_uploads = DncUploads(reactor, store.dnc, phone_rules)
    ImportService(imports, dnc_uploads).setServiceParent(root)

    jobs = JobRunner(reactor, DatabaseRecorder(store.jobs, name))
    jobs.setServiceParent(root)

    notifier = CampaignNotifier(store.reports, Mailer(reactor, config.mail), reactor,
                                base_url=config.web.base_url)
    lifecycle = CampaignLifecycle(
        reactor, store.campaigns, store.finalization, jobs, hangup=dialer.hangup,
        report_builder=store.reports.build_final,
        after_finalized=[notifier.notify_finalized])
    lifecycle.install()
    notify_when_finished(store.campaigns, jobs, notifier)
    dialer.on_call_ended(lifecycle.notify_call_ended)
    root.lifecycle = lifecycle

    if config.backup.enabled:
        jobs.add(BackupJob(reactor, config, database.embedded or config.database.dsn).job())

    web = WebService(reactor, config.web, health, database, jobs=jobs, config=config,
                     calls=dialer.registry, imports=imports, dnc_uploads=dnc_uploads,
                     audio=audio, sounds_dir=config.sounds_dir, sound_formats=sound_formats,
                     tts=tts_cache)
    web.app.test_calls = TestCallPlacer(
        dialer, phone_rules,
        sample_fields=lambda campaign_id: CallsQuery(database.pool).sample_fields(campaign_id))
    web.setServiceParent(root)
    root.dialer = dialer

    if not config.database.dsn and config.pbx.mode == "sim":
        # First run on the embedded defaults: something to press Start on.
        root.when_ready().addCallback(
            lambda _: create_demo(store, imports, config.data_dir, reactor,
                                  tts_available=tts_available)
        ).addErrback(lambda f: log.failure("could not create the demo campaign", f))
    return root


def _prepare(preparer, playlists, call, settings):
    """
    Render what C{call} will play (text-to-speech included) before it is
    placed, and attach it for the call flow.  The contact's normalised
    number is offered as the field C{phone} beside the list's own columns.
    """
    d = preparer.prepare(settings, {"phone": call.phone, **call.fields})
    d.addCallback(lambda playlist: playlists.attach(call, playlist))
    return d
