"""
A real SMTP server on loopback for the notification tests: Twisted's ESMTP
server with STARTTLS (a throw-away self-signed certificate for "localhost")
and LOGIN/PLAIN authentication through a cred portal, keeping every message
it accepts.
"""

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, ssl
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.mail import smtp
from twisted.mail.imap4 import PLAINCredentials
from zope.interface import implementer

USERNAME = "fts"
PASSWORD = "s3cret pass"


def self_signed_certificate(hostname="localhost"):
    """
    C{(key PEM, certificate PEM)} of a fresh self-signed certificate.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


@implementer(smtp.IMessage)
class _Message:
    def __init__(self, inbox):
        self.inbox = inbox
        self.lines = []

    def lineReceived(self, line):
        self.lines.append(line)

    def eomReceived(self):
        self.inbox.messages.append(b"\n".join(self.lines) + b"\n")
        return defer.succeed(None)

    def connectionLost(self):
        pass


@implementer(smtp.IMessageDelivery)
class Inbox:
    """
    Accepts every message, remembering envelope and data.
    """

    def __init__(self):
        self.messages = []
        self.senders = []
        self.recipients = []

    def receivedHeader(self, helo, origin, recipients):
        return b"Received: from test"

    def validateFrom(self, helo, origin):
        self.senders.append(str(origin))
        return origin

    def validateTo(self, user):
        self.recipients.append(str(user.dest))
        return lambda: _Message(self)


@implementer(IRealm)
class _Realm:
    def __init__(self, inbox):
        self.inbox = inbox
        self.logins = []

    def requestAvatar(self, avatar_id, mind, *interfaces):
        self.logins.append(avatar_id)
        return smtp.IMessageDelivery, self.inbox, lambda: None


class _Server(smtp.ESMTP):
    def connectionLost(self, reason):
        smtp.ESMTP.connectionLost(self, reason)
        self.factory.closed.append(self)
        if self.factory.idle_waiter is not None and self.factory.idle():
            waiter, self.factory.idle_waiter = self.factory.idle_waiter, None
            waiter.callback(None)


class _Factory(smtp.SMTPFactory):
    def __init__(self, portal, inbox, tls):
        smtp.SMTPFactory.__init__(self, portal)
        self.inbox = inbox
        self.tls = tls
        self.connections = []
        self.closed = []
        self.idle_waiter = None

    def buildProtocol(self, addr):
        server = _Server({b"LOGIN": smtp.LOGINCredentials, b"PLAIN": PLAINCredentials},
                         self.tls)
        server.factory = self
        server.portal = self.portal
        server.host = b"mail.test"
        server.delivery = self.inbox
        self.connections.append(server)
        return server

    def idle(self):
        return len(self.closed) == len(self.connections)


class SMTPServer:
    """
    The server, listening on 127.0.0.1.

    @ivar inbox: the L{Inbox} of accepted messages.
    @ivar certificate: its certificate (PEM), for the client's trust root.
    """

    def __init__(self, reactor, tls=True):
        self.reactor = reactor
        self.inbox = Inbox()
        self.realm = _Realm(self.inbox)
        checker = InMemoryUsernamePasswordDatabaseDontUse()
        checker.addUser(USERNAME.encode(), PASSWORD.encode())
        self.certificate = None
        context = None
        if tls:
            key, self.certificate = self_signed_certificate()
            context = ssl.PrivateCertificate.loadPEM(key + self.certificate).options()
        self.factory = _Factory(Portal(self.realm, [checker]), self.inbox, context)
        self.port = None

    @defer.inlineCallbacks
    def start(self):
        endpoint = TCP4ServerEndpoint(self.reactor, 0, interface="127.0.0.1")
        self.port = yield endpoint.listen(self.factory)
        return self

    def client_endpoint(self):
        return TCP4ClientEndpoint(self.reactor, "127.0.0.1", self.port.getHost().port)

    def client_tls(self):
        return ssl.optionsForClientTLS(
            "localhost", trustRoot=ssl.Certificate.loadPEM(self.certificate))

    def stop(self):
        """
        Stop listening once every connection has closed.
        """
        if self.factory.idle():
            return self.port.stopListening()
        self.factory.idle_waiter = defer.Deferred()
        return self.factory.idle_waiter.addCallback(lambda _: self.port.stopListening())

    @property
    def sessions(self):
        """
        The server protocols of every connection so far.
        """
        return self.factory.connections
