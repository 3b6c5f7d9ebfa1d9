"""
The C{web} service: listens on the configured endpoint and serves the
L{AdminApp}; creates the first admin user on first run.
"""

from twisted.application import service
from twisted.internet import defer, endpoints, threads
from twisted.logger import Logger

from fts import health as H
from fts import passwords
from fts.web.app import AdminApp
from fts.web.limits import BodyLimits, LimitedSite
from fts.web.uploads import UPLOAD_LIMITS

log = Logger()


def thread_runner(reactor):
    """
    C{run(f, *args)} -> Deferred of C{f(*args)} on the reactor's thread pool:
    how the panel hashes passwords without stalling the reactor.
    """

    def run(function, *args):
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)

    return run


class WebService(service.Service):
    """
    @param jobs: the L{fts.jobs.runner.JobRunner} (jobs page, run now), or
        L{None}.
    @param config: the whole L{fts.config.Config} (status page), or L{None}.
    @param calls: the dialer's L{fts.dialer.registry.CallRegistry}
        (dashboard), or L{None} while there is no dialer.
    @param imports: the L{fts.contacts.imports.ContactImports} (contact
        lists), or L{None}.
    @param dnc_uploads: the L{fts.contacts.dnc_uploads.DncUploads}, or
        L{None}.
    @param audio: the L{fts.db.audio.AudioStore} (audio library), or L{None}.
    @param sounds_dir: the sounds directory (C{config.sounds_dir}).
    @param sound_formats: C{[sounds] formats}, as a tuple.
    @param tts: the L{fts.audio.tts.TTSCache}, or L{None}.
    @param upload_dir: where uploads wait while checked (default
        C{<data_dir>/uploads/incoming} of C{imports}).
    """

    name = "web"

    def __init__(self, reactor, settings, health, database, jobs=None, config=None,
                 calls=None, imports=None, dnc_uploads=None, audio=None, sounds_dir=None,
                 sound_formats=("wav",), tts=None, upload_dir=None):
        self.reactor = reactor
        self.settings = settings
        self.health = health.component("web")
        self.database = database
        self.app = AdminApp(
            health=health, store=database.store, jobs=jobs, config=config, calls=calls,
            clock=reactor, run_blocking=thread_runner(reactor),
            secure_cookies=settings.secure_cookies, imports=imports,
            dnc_uploads=dnc_uploads, audio=audio, sounds_dir=sounds_dir,
            sound_formats=tuple(sound_formats), tts=tts, upload_dir=upload_dir)
        self.port = None

    @defer.inlineCallbacks
    def startService(self):
        service.Service.startService(self)
        yield ensure_first_admin(self.database.store, self.settings.admin_password,
                                 self.app.run_blocking)
        endpoint = endpoints.serverFromString(self.reactor, self.settings.endpoint)
        try:
            self.port = yield endpoint.listen(
                LimitedSite(self.app.resource(), reactor=self.reactor,
                            body_limits=BodyLimits(uploads=UPLOAD_LIMITS)))
        except Exception as e:
            self.health.set(H.DOWN, error=e)
            raise
        address = self.port.getHost()
        url = self.settings.base_url or f"http://{address.host}:{address.port}/"
        self.health.set(H.UP, url=url)
        log.info("admin panel and API at {url}", url=url)

    @defer.inlineCallbacks
    def stopService(self):
        service.Service.stopService(self)
        self.app.live.close()
        if self.app.campaign_feeds is not None:
            self.app.campaign_feeds.close()
        if self.port is not None:
            yield self.port.stopListening()
        self.health.set(H.STOPPED)


@defer.inlineCallbacks
def ensure_first_admin(store, configured_password=None, run_blocking=None):
    """
    Create the user C{admin} when there is no user at all.  Its password is
    the configured one, or a generated one printed once in the log.

    @param run_blocking: runs the password hash off the reactor thread
        (default: here).
    @return: the password generated now, or L{None}.
    """
    if (yield store.users.count()):
        return None
    password = configured_password or passwords.generate_password()
    if run_blocking is None:
        hashed = passwords.hash_password(password)
    else:
        hashed = yield run_blocking(passwords.hash_password, password)
    yield store.users.create("admin", "admin", hashed)
    if configured_password:
        log.info("first run: created user admin with the configured password")
        return None
    log.warn(
        "first run: created user admin with password {password} "
        "(shown once; change it in the panel)", password=password)
    return password
