"""The notification channels' port: what a message is, and what sending one means.

A send is a side effect outside any transaction, so every message carries a stable id
derived from the event that caused it (an email's ``Message-ID``, a push's ``Topic``):
a crash between the send and its record repeats at most that one send, with the same
id, which the receiving side can recognise. A channel either returns (accepted by the
provider) or raises ``DeliveryFailed``, saying whether trying again could help.

SMS has no implementation: a provider's adapter would implement ``SmsChannel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DeliveryFailed(Exception):
    """The provider did not accept the message; ``permanent`` when retrying cannot help
    (an address the server refuses, a push subscription that is gone)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML part shows by ``cid:<content_id>`` (a ticket's QR code)."""

    content_id: str
    png: bytes


@dataclass(frozen=True)
class Email:
    message_id: str  # stable per notification, "<...@cinema-saga>"
    to: str
    subject: str
    text: str
    html: str
    language: str = "en"
    images: tuple[InlineImage, ...] = ()


@dataclass(frozen=True)
class PushSubscription:
    """A browser's Web Push subscription (the PushSubscription JSON's fields)."""

    endpoint: str
    p256dh: str  # the client's public key, base64url
    auth: str  # the client's auth secret, base64url


@dataclass(frozen=True)
class Push:
    message_id: str  # stable per notification; its push Topic is derived from it
    subscription: PushSubscription
    title: str
    body: str
    booking_id: str = ""
    ttl_s: int = 3600


@dataclass(frozen=True)
class Sms:
    message_id: str
    to: str  # E.164
    text: str


class EmailChannel(Protocol):
    def send(self, email: Email) -> None: ...


class PushChannel(Protocol):
    def send(self, push: Push) -> None: ...


class SmsChannel(Protocol):
    def send(self, sms: Sms) -> None: ...
