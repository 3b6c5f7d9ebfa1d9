"""
Sending e-mail over SMTP with Twisted's mail client (C{ESMTPSenderFactory}),
configured by the C{[mail]} section:

  - C{smtp_host} / C{smtp_port}: where to connect (an empty host means no
    e-mail at all: L{Mailer.configured} is false);
  - C{starttls}: yes requires STARTTLS with a verified certificate for
    C{smtp_host} (the message is not sent over a clear connection); no
    sends without TLS;
  - C{username} / C{password}: authenticate (CRAM-MD5, LOGIN or PLAIN,
    whichever the server offers first in that order) when a username is
    set; the message is not sent if the server does not offer AUTH;
  - C{sender}: the envelope and C{From} address.

One connection per message; Twisted's own retry loop is off (the job runner
retries a failed step, with its delay, and records every attempt).
"""

import io

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import Logger
# Note: twisted.mail.smtp imports the global reactor module when imported; it
# is only used here through the reactor passed in (timeouts included).
from twisted.mail import smtp

log = Logger()


class MailNotConfigured(Exception):
    """
    C{[mail] smtp_host} is empty, so no e-mail can be sent.
    """


class MailFailed(Exception):
    """
    The SMTP conversation ended before the message was accepted.
    """


class _Sender(smtp.ESMTPSender):
    """
    Fails the send when the connection drops before the message was
    accepted (with an endpoint, the factory's own connection-lost handling
    never runs), and keeps its timeouts on the injected reactor.
    """

    def callLater(self, period, func):
        return self.factory.reactor.callLater(period, func)

    def connectionLost(self, reason):
        smtp.ESMTPSender.connectionLost(self, reason)
        self.factory.lost(reason)


class _SenderFactory(smtp.ESMTPSenderFactory):
    protocol = _Sender

    def __init__(self, reactor, *args, **kwargs):
        self.reactor = reactor
        smtp.ESMTPSenderFactory.__init__(self, *args, **kwargs)

    def lost(self, reason):
        if not self.sendFinished:
            self.sendFinished = True
            self.result.errback(MailFailed(
                f"the SMTP connection closed before the message was accepted:"
                f" {reason.getErrorMessage()}"))


class Mailer:
    """
    Sends messages through the configured SMTP server.

    @param settings: the C{[mail]} settings (L{fts.config.MailSettings}).
    @param endpoint: the L{IStreamClientEndpoint} to connect to (default: a
        C{HostnameEndpoint} to C{smtp_host:smtp_port}).
    @param tls_options: the client TLS options for STARTTLS (default:
        C{optionsForClientTLS(smtp_host)}, verified against the system's
        trust roots).
    @param timeout: seconds to wait for each server reply.
    """

    def __init__(self, reactor, settings, endpoint=None, tls_options=None, timeout=60.0):
        self.reactor = reactor
        self.settings = settings
        self.endpoint = endpoint
        self.tls_options = tls_options
        self.timeout = timeout

    @property
    def configured(self):
        """
        Whether an SMTP host is configured.
        """
        return bool(self.settings.smtp_host)

    @property
    def recipients(self):
        """
        The configured C{[mail] recipients}.
        """
        return tuple(self.settings.recipients)

    def send(self, message, recipients):
        """
        Send C{message} (bytes, as L{fts.notify.message.build_message} makes
        it) to C{recipients}.

        @return: a Deferred firing with C{(accepted count, per-recipient
            replies)} once the server accepted it, or failing with an
            C{SMTPClientError}, L{MailFailed} or the connection error.
        """
        s = self.settings
        if not self.configured:
            return defer.fail(MailNotConfigured("[mail] smtp_host is empty"))
        result = defer.Deferred()
        tls = None
        if s.starttls:
            tls = self.tls_options or optionsForClientTLS(s.smtp_host)
        username = s.username.encode("utf-8") if s.username else None
        password = (s.password or "").encode("utf-8") if s.username else None
        factory = _SenderFactory(
            self.reactor, username, password, s.sender, list(recipients),
            io.BytesIO(message), result, retries=0, timeout=self.timeout,
            contextFactory=tls, requireAuthentication=bool(s.username),
            requireTransportSecurity=bool(s.starttls),
        )
        endpoint = self.endpoint or HostnameEndpoint(
            self.reactor, s.smtp_host, s.smtp_port, timeout=self.timeout)
        connecting = endpoint.connect(factory)

        def connect_failed(failure):
            if not result.called:
                factory.sendFinished = True
                result.errback(failure)

        connecting.addErrback(connect_failed)
        return result
