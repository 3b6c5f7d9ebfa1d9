"""
The C{web} service: listens on the configured endpoint and serves the
L{AdminApp}; creates the first admin user on first run.
"""

from twisted.application import service
from twisted.internet import defer, endpoints
from twisted.logger import Logger
from twisted.web.server import Site

from fts import health as H
from fts import passwords
from fts.web.app import AdminApp

log = Logger()


class WebService(service.Service):
    name = "web"

    def __init__(self, reactor, settings, health, database):
        self.reactor = reactor
        self.settings = settings
        self.health = health.component("web")
        self.app = AdminApp(health=health)
        self.database = database
        self.port = None

    @defer.inlineCallbacks
    def startService(self):
        service.Service.startService(self)
        yield ensure_first_admin(self.database.store, self.settings.admin_password)
        endpoint = endpoints.serverFromString(self.reactor, self.settings.endpoint)
        try:
            self.port = yield endpoint.listen(Site(self.app.resource()))
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
        if self.port is not None:
            yield self.port.stopListening()
        self.health.set(H.STOPPED)


@defer.inlineCallbacks
def ensure_first_admin(store, configured_password=None):
    """
    Create the user C{admin} when there is no user at all.  Its password is
    the configured one, or a generated one printed once in the log.

    @return: the password generated now, or L{None}.
    """
    if (yield store.users.count()):
        return None
    password = configured_password or passwords.generate_password()
    yield store.users.create("admin", "admin", passwords.hash_password(password))
    if configured_password:
        log.info("first run: created user admin with the configured password")
        return None
    log.warn(
        "first run: created user admin with password {password} "
        "(shown once; change it in the panel)", password=password)
    return password
