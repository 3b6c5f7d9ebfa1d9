"""
Building an e-mail: a plain-text body and attachments, with the standard
library's C{email} package.

The bytes use bare C{\\n} line ends on purpose: Twisted's SMTP client turns
every C{\\n} into C{\\r\\n} on the wire (and dot-stuffs), so a message with
CRLF already would reach the server with C{\\r\\r\\n}.  Attachments are
base64-encoded, so their bytes (a CSV's CRLF line ends included) arrive
unchanged.
"""

import email.policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import attr


@attr.frozen
class Attachment:
    """
    A file attached to a message (base64-encoded; text types are declared
    UTF-8).
    """

    filename: str
    data: bytes
    mimetype: str = "application/octet-stream"


def build_message(sender, recipients, subject, text, attachments=(), date=None):
    """
    The message as bytes, ready for L{fts.notify.mailer.Mailer.send}.

    @param recipients: addresses for the C{To} header.
    @param date: an aware datetime for the C{Date} header (the caller's
        clock), or L{None} to leave it out.
    """
    message = EmailMessage(policy=email.policy.default)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    if date is not None:
        message["Date"] = format_datetime(date)
    domain = sender.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("fts", domain=domain)
    message.set_content(text)
    for attachment in attachments:
        maintype, _, subtype = attachment.mimetype.partition("/")
        params = {"charset": "utf-8"} if maintype == "text" else {}
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                               filename=attachment.filename, params=params)
    return message.as_bytes()
