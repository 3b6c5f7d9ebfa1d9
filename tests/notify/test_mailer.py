"""
Tests for L{fts.notify.mailer.Mailer} and L{fts.notify.message} against a
real SMTP server on loopback (STARTTLS, authentication).
"""

import email
import email.policy
from datetime import UTC, datetime

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionRefusedError
from twisted.mail import smtp
from twisted.trial import unittest

from fts.config import MailSettings
from fts.notify.mailer import Mailer, MailNotConfigured
from fts.notify.message import Attachment, build_message
from tests.notify.smtpserver import PASSWORD, USERNAME, SMTPServer

AT = datetime(2026, 1, 12, 17, 30, tzinfo=UTC)


def settings(**overrides):
    values = dict(smtp_host="localhost", smtp_port=587, username=USERNAME, password=PASSWORD,
                  starttls=True, sender="fts@example.org",
                  recipients=("ops@example.org", "boss@example.org"))
    values.update(overrides)
    return MailSettings(**values)


class MessageTests(unittest.SynchronousTestCase):

    def test_text_and_attachment_round_trip(self):
        """A built message parses back to its headers, text and attachment bytes."""
        data = b'a,b\r\n"x\ny",\xc3\xa9\r\n.leading dot\r\n'
        raw = build_message("fts@example.org", ["a@example.org", "b@example.org"],
                            'Campaign "Été" finished', "Hello\n.\nBye\n",
                            [Attachment("report.csv", data, "text/csv")], AT)
        self.assertNotIn(b"\r\n", raw)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(
            (message["From"], message["To"], message["Subject"], message["Date"]),
            ("fts@example.org", "a@example.org, b@example.org", 'Campaign "Été" finished',
             "Mon, 12 Jan 2026 17:30:00 +0000"))
        self.assertTrue(message["Message-ID"].endswith("@example.org>"))
        self.assertEqual(message.get_body(("plain",)).get_content(), "Hello\n.\nBye\n")
        [attachment] = message.iter_attachments()
        self.assertEqual((attachment.get_filename(), attachment.get_content_type()),
                         ("report.csv", "text/csv"))
        self.assertEqual(attachment.get_param("charset"), "utf-8")
        self.assertEqual(attachment.get_payload(decode=True), data)


class MailerTests(unittest.TestCase):

    @defer.inlineCallbacks
    def server(self, tls=True):
        server = yield SMTPServer(reactor, tls=tls).start()
        self.addCleanup(server.stop)
        return server

    def mailer(self, server, **overrides):
        return Mailer(reactor, settings(**overrides), endpoint=server.client_endpoint(),
                      tls_options=server.client_tls() if server.certificate else None,
                      timeout=10)

    @defer.inlineCallbacks
    def test_starttls_and_auth(self):
        """The message goes over STARTTLS after logging in, to every recipient."""
        server = yield self.server()
        message = build_message("fts@example.org", ["ops@example.org"], "Hi", "Body\n")
        accepted, _ = yield self.mailer(server).send(
            message, ["ops@example.org", "boss@example.org"])
        self.assertEqual(accepted, 2)
        [session] = server.sessions
        self.assertTrue(session.startedTLS)
        self.assertTrue(session.authenticated)
        self.assertEqual(server.realm.logins, [USERNAME.encode()])
        self.assertEqual(server.inbox.senders, ["fts@example.org"])
        self.assertEqual(server.inbox.recipients, ["ops@example.org", "boss@example.org"])
        # The test inbox stores one copy per recipient.
        received, copy = server.inbox.messages
        self.assertEqual(received, copy)
        parsed = email.message_from_bytes(received, policy=email.policy.default)
        self.assertEqual((parsed["Subject"], parsed.get_content()), ("Hi", "Body\n"))

    @defer.inlineCallbacks
    def test_plain_without_auth(self):
        """With starttls = no and no username the message goes in clear, anonymously."""
        server = yield self.server(tls=False)
        message = build_message("fts@example.org", ["ops@example.org"], "Hi", "Body\n")
        yield self.mailer(server, starttls=False, username=None, password=None).send(
            message, ["ops@example.org"])
        [session] = server.sessions
        self.assertEqual((session.startedTLS, session.authenticated), (False, False))
        self.assertEqual(len(server.inbox.messages), 1)

    @defer.inlineCallbacks
    def test_starttls_required(self):
        """A server that does not offer STARTTLS gets nothing when starttls = yes."""
        server = yield self.server(tls=False)
        mailer = Mailer(reactor, settings(), endpoint=server.client_endpoint(), timeout=10)
        message = build_message("fts@example.org", ["ops@example.org"], "Hi", "Body\n")
        yield self.assertFailure(mailer.send(message, ["ops@example.org"]),
                                 smtp.TLSRequiredError)
        self.assertEqual(server.inbox.messages, [])

    @defer.inlineCallbacks
    def test_wrong_password(self):
        """Refused credentials fail the send and deliver nothing."""
        server = yield self.server()
        message = build_message("fts@example.org", ["ops@example.org"], "Hi", "Body\n")
        yield self.assertFailure(
            self.mailer(server, password="wrong").send(message, ["ops@example.org"]),
            smtp.SMTPClientError)
        self.assertEqual(server.inbox.messages, [])

    @defer.inlineCallbacks
    def test_connection_refused(self):
        """No server listening fails the send with the connection error."""
        server = yield SMTPServer(reactor).start()
        port = server.port.getHost().port
        yield server.stop()
        mailer = Mailer(reactor, settings(),
                        endpoint=TCP4ClientEndpoint(reactor, "127.0.0.1", port), timeout=10)
        yield self.assertFailure(mailer.send(b"Subject: x\n\nx\n", ["ops@example.org"]),
                                 ConnectionRefusedError)

    def test_not_configured(self):
        """An empty smtp_host fails at once with MailNotConfigured."""
        mailer = Mailer(reactor, settings(smtp_host=None))
        self.assertFalse(mailer.configured)
        self.failureResultOf(mailer.send(b"x", ["ops@example.org"]), MailNotConfigured)
