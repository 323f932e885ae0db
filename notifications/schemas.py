"""The notification API's requests and responses, and how its aggregates are shown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from notifications.contact import CHANNELS, ContactPreferences
from notifications.domain import KINDS, Notification
from shared.http.schemas import RequestBody, ResponseBody, utc

Channel = Annotated[str, msgspec.Meta(max_length=16, examples=list(CHANNELS))]
Kind = Annotated[str, msgspec.Meta(max_length=32, examples=list(KINDS))]


# --- requests ------------------------------------------------------------------------


class PushKeys(RequestBody, frozen=True):
    p256dh: Annotated[str, msgspec.Meta(max_length=256)]
    auth: Annotated[str, msgspec.Meta(max_length=64)]


class PushSubscriptionJson(RequestBody, frozen=True):
    """A browser's PushSubscription, as its ``toJSON()`` gives it."""

    endpoint: Annotated[str, msgspec.Meta(max_length=1024)]
    keys: PushKeys
    expiration_time: float | None = msgspec.field(default=None, name="expirationTime")


class ContactUpdate(RequestBody, frozen=True):
    """Every field says what is wanted from now on (a field left out: its default)."""

    email: Annotated[str, msgspec.Meta(max_length=320, examples=["ann@example.com"])] | None = None
    language: Annotated[str, msgspec.Meta(max_length=16, examples=["en", "fr"])] = "en"
    push_subscriptions: Annotated[list[PushSubscriptionJson], msgspec.Meta(max_length=20)] = (
        msgspec.field(default_factory=list))
    # Which messages by which channel: a kind left out goes by every channel.
    channels: Annotated[dict[Kind, Annotated[list[Channel], msgspec.Meta(max_length=8)]],
                        msgspec.Meta(max_length=16)] = msgspec.field(default_factory=dict)
    reminders: bool = True  # False: no payment reminders


# --- responses -----------------------------------------------------------------------


class ContactView(ResponseBody, frozen=True):
    customer_id: str
    email: str | None
    language: str
    push_endpoints: list[str]  # the subscriptions' endpoints (their keys stay here)
    channels: dict[str, list[str]]  # every kind, with the channels it goes by
    reminders: bool


class AttemptView(ResponseBody, frozen=True):
    attempt: int
    started_at: datetime
    outcome: str  # sent, failed, interrupted (a crash lost its outcome), "" while sending
    reason: str


class NotificationView(ResponseBody, frozen=True):
    notification_id: str
    booking_id: str
    kind: str
    occasion: str  # the failed attempt, the refund; "" for a kind sent once
    channel: str  # email, push; "none" when dropped before one was chosen
    to: str | None  # the address, or the push endpoint
    language: str
    status: str  # due, sending, sent, failed (tried again later), failed_permanently, dropped
    reason: str  # why it failed or was dropped
    message_id: str
    due_at: datetime
    sent_at: datetime | None
    next_try_at: datetime | None
    attempts: list[AttemptView]
    interrupted_attempts: list[int]


class NotificationList(ResponseBody, frozen=True):
    booking_id: str
    notifications: list[NotificationView]


class FailureView(ResponseBody, frozen=True):
    customer_id: str
    notification: NotificationView


class FailureList(ResponseBody, frozen=True):
    failures: list[FailureView]


def contact_view(c: ContactPreferences) -> ContactView:
    return ContactView(
        customer_id=c.customer_id, email=c.email, language=c.language,
        push_endpoints=[s["endpoint"] for s in c.push_subscriptions],
        channels={kind: c.channels_for(kind) for kind in KINDS}, reminders=c.reminders,
    )


def notification_view(n: Notification) -> NotificationView:
    d: dict[str, Any] = n.destination
    return NotificationView(
        notification_id=str(n.id), booking_id=str(n.booking_id), kind=n.kind,
        occasion=n.occasion, channel=n.channel, to=d.get("address") or d.get("endpoint"),
        language=n.language, status=n.status, reason=n.reason, message_id=n.message_id,
        due_at=utc(n.due_at), sent_at=utc(n.sent_at), next_try_at=utc(n.next_try_at),
        attempts=[AttemptView(h["attempt"], utc(h["started_at"]), h["outcome"], h["reason"])
                  for h in n.history],
        interrupted_attempts=list(n.interrupted),
    )
