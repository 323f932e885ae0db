"""The email channel: each ``Email`` as a MIME message to an SMTP relay.

With the standard library (``smtplib``) rather than a notification library such as
apprise: apprise's email plugin writes a random ``Message-ID`` of its own into every
message (``make_msgid``, after any header given), so a resend could not carry the
notification's stable id, and it answers a send with a bool, which cannot say whether
retrying could help.

The message is written by notifications/mime.py; an address that is not ASCII needs the
server's ``SMTPUTF8`` extension (without it: a permanent failure).

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

import smtplib
import socket
import threading
from datetime import UTC, datetime

from notifications.channels import DeliveryFailed, Email
from notifications.mime import address, compose, international
from shared.config import Settings


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
        options = ("SMTPUTF8", "BODY=8BITMIME") if international(self.sender, recipient) else ()
        with self._lock:
            try:
                smtp = self._connection()
                if options:
                    smtp.ehlo_or_helo_if_needed()
                    if not smtp.has_extn("smtputf8"):
                        raise smtplib.SMTPNotSupportedError(
                            "an address that is not ASCII, and no SMTPUTF8")
                smtp.sendmail(self.sender, [recipient], message, mail_options=options)
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
