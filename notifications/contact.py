"""A customer's contact details and wishes: where messages go, in which language, which
by which channel, and whether to be reminded of a payment at all. No I/O.

Given by the customer (``PUT /customers/me/contact``) and read when a notice is decided:
a message already decided keeps the address and language it was decided with.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from shared import ids
from shared.aggregate import Aggregate

LANGUAGES = ("en", "fr")  # every message has a template in each
EMAIL, PUSH = "email", "push"
CHANNELS = (EMAIL, PUSH)  # SMS is a port without a provider (notifications/channels.py)
MAX_PUSH_SUBSCRIPTIONS = 5  # one per browser or device
# Not RFC 5322 in full: one @, no spaces, a dotted domain; the mail server has the last word.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
_ENDPOINT = re.compile(r"^https?://[^\s/]+/\S*$")


class InvalidContact(ValueError):
    """Contact details that cannot be kept as given (HTTP 422)."""


class InvalidEmail(InvalidContact):
    pass


class UnknownLanguage(InvalidContact):
    pass


class InvalidPushSubscription(InvalidContact):
    pass


class UnknownChoice(InvalidContact):
    """A message kind or a channel that does not exist, in the choice of channels."""


def _base64url(value: str, size: int, name: str) -> None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidPushSubscription(f"{name} is not base64url") from None
    if len(raw) != size:
        raise InvalidPushSubscription(f"{name} must be {size} bytes, not {len(raw)}")


def push_subscription(endpoint: str, p256dh: str, auth: str) -> dict[str, str]:
    """A browser's subscription as its PushSubscription JSON gives it: the push service's
    URL, the client's P-256 public key (65 bytes, uncompressed) and its 16-byte secret."""
    if not _ENDPOINT.match(endpoint) or len(endpoint) > 1024:
        raise InvalidPushSubscription(f"endpoint {endpoint[:80]!r} is not a push service URL")
    _base64url(p256dh, 65, "keys.p256dh")
    _base64url(auth, 16, "keys.auth")
    return {"endpoint": endpoint, "p256dh": p256dh, "auth": auth}


@dataclass(frozen=True)
class ContactDetails:
    """What a customer asks for, checked."""

    email: str | None
    language: str
    push_subscriptions: list[dict[str, str]]
    channels: dict[str, list[str]]  # message kind -> its channels; kinds not named: all
    reminders: bool  # False: no payment reminders, by any channel

    @classmethod
    def checked(cls, email: str | None, language: str,
                push_subscriptions: Sequence[Mapping[str, str]],
                channels: Mapping[str, Sequence[str]], reminders: bool,
                kinds: Sequence[str]) -> ContactDetails:
        if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
            raise InvalidEmail(f"{email[:80]!r} is not an email address")
        if language not in LANGUAGES:
            raise UnknownLanguage(f"language {language!r}: one of {', '.join(LANGUAGES)}")
        if len(push_subscriptions) > MAX_PUSH_SUBSCRIPTIONS:
            raise InvalidPushSubscription(f"at most {MAX_PUSH_SUBSCRIPTIONS} subscriptions")
        subscriptions = [push_subscription(s["endpoint"], s["p256dh"], s["auth"])
                         for s in push_subscriptions]
        for kind, chosen in channels.items():
            if kind not in kinds:
                raise UnknownChoice(f"no message kind {kind!r}: one of {', '.join(kinds)}")
            unknown = [c for c in chosen if c not in CHANNELS]
            if unknown:
                raise UnknownChoice(f"no channel {unknown[0]!r}: one of {', '.join(CHANNELS)}")
        return cls(email, language, subscriptions,
                   {k: sorted(set(v)) for k, v in channels.items()}, reminders)


class ContactPreferences(Aggregate):
    TOPIC = "cinema.notifications:ContactPreferences"

    class Created(Aggregate.Created):
        TOPIC = "cinema.notifications:ContactPreferences.Created"

    @staticmethod
    def create_id(customer_id: str) -> UUID:
        return ids.contact_id(customer_id)

    @event("Registered", topic="cinema.notifications:ContactPreferences.Registered")
    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.email: str | None = None
        self.language = LANGUAGES[0]
        self.push_subscriptions: list[dict[str, str]] = []
        self.channels: dict[str, list[str]] = {}
        self.reminders = True

    def details(self) -> ContactDetails:
        return ContactDetails(self.email, self.language, self.push_subscriptions,
                              self.channels, self.reminders)

    def update(self, details: ContactDetails, at: datetime) -> bool:
        """Keep the new details; False when they are the ones kept (nothing recorded)."""
        if details == self.details():
            return False
        self._update(email=details.email, language=details.language,
                     push_subscriptions=details.push_subscriptions, channels=details.channels,
                     reminders=details.reminders, at=at)
        return True

    @event("Updated", topic="cinema.notifications:ContactPreferences.Updated")
    def _update(self, email: str | None, language: str, push_subscriptions: list[dict[str, str]],
                channels: dict[str, list[str]], reminders: bool, at: datetime) -> None:
        self.email, self.language, self.reminders = email, language, reminders
        self.push_subscriptions, self.channels = push_subscriptions, channels

    @property
    def reachable(self) -> bool:
        return self.email is not None or bool(self.push_subscriptions)

    def channels_for(self, kind: str) -> list[str]:
        return self.channels.get(kind, list(CHANNELS))

    def destinations(self, kind: str) -> list[tuple[str, int, dict[str, Any]]]:
        """Where a message of this kind goes: (channel, which of its destinations, the
        destination), for each channel the customer chose and has an address on."""
        out: list[tuple[str, int, dict[str, Any]]] = []
        chosen = self.channels_for(kind)
        if EMAIL in chosen and self.email is not None:
            out.append((EMAIL, 0, {"address": self.email}))
        if PUSH in chosen:
            out.extend((PUSH, i, dict(s)) for i, s in enumerate(self.push_subscriptions))
        return out
