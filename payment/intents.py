"""The payment provider's port, intent by intent (Stripe's PaymentIntents' shape).

An attempt to charge is an intent: created first, which charges nothing, then
confirmed. Its outcome may be known at once (succeeded, failed) or later (the customer
must authenticate, 3-D Secure: ``requires_action``; the bank is slow: ``processing``),
by a webhook or by asking the provider again. A provider that ignores idempotency keys
(the local Stripe server does) may make a second intent for a repeated create: only a
confirmed intent can charge, so the payment service records an intent's id before it
confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

IntentStatus = Literal[
    "requires_confirmation",  # created, not confirmed: nothing charged
    "requires_action",  # the customer must authenticate (client_secret)
    "processing",  # the outcome comes later
    "succeeded",  # charged (charge_id)
    "failed",  # declined (decline_code); the intent is done
    "canceled",  # cancelled before any charge
]
PENDING: frozenset[str] = frozenset({"requires_confirmation", "requires_action", "processing"})


@dataclass(frozen=True)
class Intent:
    intent_id: str
    status: IntentStatus
    charge_id: str = ""
    decline_code: str = ""
    client_secret: str = ""  # only for the customer: completes a 3-D Secure challenge
    metadata: dict[str, str] = field(default_factory=dict)  # booking_id, attempt


@dataclass(frozen=True)
class Refund:
    refund_id: str
    intent_id: str
    amount: int


@dataclass(frozen=True)
class ProviderEvent:
    """A webhook's event, verified and read: what happened to an intent or a refund."""

    event_id: str  # the provider's: the same event delivered twice has the same id
    type: str  # payment_intent.succeeded, ..., charge.refunded
    intent: Intent
    refund: Refund | None = None


class InvalidWebhook(ValueError):
    """A webhook whose signature does not verify, is stale, or is not an event (HTTP 400)."""


class PaymentProvider(Protocol):
    def create_intent(self, idempotency_key: str, payment_method: str, amount: int,
                      currency: str, metadata: dict[str, str]) -> Intent:
        """An intent for one attempt, not confirmed: nothing is charged. A declined or
        unknown payment method may already answer ``failed``."""

    def confirm(self, idempotency_key: str, intent_id: str) -> Intent: ...

    def retrieve(self, intent_id: str) -> Intent: ...

    def cancel(self, idempotency_key: str, intent_id: str) -> Intent:
        """Cancel an intent not yet charged; one already charged answers as it is."""

    def refund(self, idempotency_key: str, intent_id: str, amount: int) -> Refund: ...

    def read_webhook(self, payload: bytes, signature: str) -> ProviderEvent:
        """The event a webhook carries, if its signature verifies; else InvalidWebhook."""
