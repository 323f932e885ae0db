"""The email channel: each ``Email`` as a MIME message to an SMTP relay.

With the standard library (``smtplib``, ``email.message.EmailMessage``) rather than a
notification library such as apprise: apprise's email plugin writes a random
``Message-ID`` of its own into every message (``make_msgid``, after any header given),
so a resend could not carry the notification's stable id, and it answers a send with a
bool, which cannot say whether retrying could help.

The message: ``Message-ID`` as given, ``From`` from the settings, ``Date``,
``Content-Language``, ``Auto-Submitted: auto-generated`` (RFC 3834: no vacation
auto-replies to it), and a ``multipart/alternative`` of the plain text and the HTML; the
HTML with its inline images forms a ``multipart/related``, each image referenced as
``cid:<content_id>``.

Failures (``DeliveryFailed``): a refused connection, a timeout, a dropped connection and
any 4xx answer can pass, so they are retryable; a 5xx to the recipient or to the message
itself is permanent (RFC 5321: the same transaction will fail again). A 5xx to our
sender or to the session (authentication, say) is a configuration fault, which fixing
the settings cures: retryable, so the messages are not given up meanwhile.

One connection is kept and reused; before each use a ``NOOP`` checks that the server
still holds it (servers drop idle clients), and a dead one is replaced. After any
failure the connection is dropped, so the next send starts a fresh session. Each
socket operation is bounded by the timeout; sends are serialised by a lock.
"""

from __future__ import annotations

import re
import smtplib
import socket
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr

from notifications.channels import DeliveryFailed, Email
from shared.config import Settings

MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")


def compose(email: Email, mail_from: str, now: datetime) -> EmailMessage:
    """The MIME message; ValueError if a header would not be valid (a line break in it)."""
    if not MESSAGE_ID.fullmatch(email.message_id):
        raise ValueError(f"message id {email.message_id!r} is not <left@right>")
    message = EmailMessage(policy=SMTP_POLICY)
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(now)
    message["From"] = mail_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    *_, html = message.iter_parts()  # the part just added
    for image in email.images:
        html.add_related(image.png, maintype="image", subtype="png",
                         cid=f"<{image.content_id}>", disposition="inline",
                         filename=f"{image.content_id}.png")
    # Set last: building the body moves or clears every Content-* header before it.
    message["Content-Language"] = email.language
    return message


def address(header: str) -> str:
    """The bare address of ``Name <addr>`` or ``addr``; ValueError if there is none."""
    found = parseaddr(header)[1]
    if "@" not in found:
        raise ValueError(f"{header!r} has no email address")
    return found


class SmtpEmailChannel:
    """``EmailChannel`` over SMTP (no TLS, no authentication: a relay on a trusted
    network, Mailpit in development and tests)."""

    def __init__(self, host: str, port: int, mail_from: str, *, timeout_s: float = 10.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.mail_from = mail_from
        self.sender = address(mail_from)
        # Not socket.getfqdn(), smtplib's default: it asks DNS, which may hang.
        self._helo_name = socket.gethostname()
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpEmailChannel:
        """From ``CINEMA_SMTP_HOST``, ``_PORT``, ``_TIMEOUT_S`` and ``CINEMA_MAIL_FROM``."""
        channels = settings.channels
        return cls(channels.smtp_host, channels.smtp_port, channels.mail_from,
                   timeout_s=channels.smtp_timeout_s)

    def __repr__(self) -> str:
        return f"SmtpEmailChannel({self.host}:{self.port})"

    def send(self, email: Email) -> None:
        try:
            message = compose(email, self.mail_from, datetime.now(UTC))
            recipient = address(email.to)
        except ValueError as error:
            raise DeliveryFailed(f"not a valid message: {error}", permanent=True) from None
        with self._lock:
            try:
                self._connection().send_message(message, self.sender, [recipient])
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                raise _failure(error, recipient) from error

    def close(self) -> None:
        with self._lock:
            if self._smtp is not None:
                try:
                    self._smtp.quit()
                except (smtplib.SMTPException, OSError):
                    pass  # gone already: nothing to say goodbye to
                self._drop()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass  # dropped by the server while idle: a new one below
            self._drop()
        self._smtp = smtplib.SMTP(self.host, self.port, local_hostname=self._helo_name,
                                  timeout=self.timeout_s)
        return self._smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def _failure(error: Exception, recipient: str) -> DeliveryFailed:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, answer = error.recipients.get(recipient, (0, b""))
        return DeliveryFailed(f"recipient refused: {code} {_text(answer)}", permanent=code >= 500)
    if isinstance(error, smtplib.SMTPDataError):
        return DeliveryFailed(f"message refused: {error.smtp_code} {_text(error.smtp_error)}",
                              permanent=error.smtp_code >= 500)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        # An address that needs SMTPUTF8, which the server does not offer.
        return DeliveryFailed(f"not deliverable by this server: {error}", permanent=True)
    if isinstance(error, smtplib.SMTPResponseException):  # sender, HELO, session
        return DeliveryFailed(f"refused: {error.smtp_code} {_text(error.smtp_error)}")
    return DeliveryFailed(f"SMTP server not reachable, or the connection was lost: {error!r}")


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer
