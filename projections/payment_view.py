"""A booking's payment: its attempts, the charge, the refund (payment stream only)."""

from __future__ import annotations

from typing import Any

from projections.common import ms
from shared import contracts as c

SOURCES = ("payment",)  # the streams it folds (rebuild.py relies on it)


def key(event: c.PublicEvent) -> str | None:
    if isinstance(event, (c.PaymentSucceeded, c.PaymentFailed, c.PaymentRefunded)):
        return str(event.booking_id)
    return None


def apply(doc: dict[str, Any] | None, e: c.PublicEvent) -> dict[str, Any] | None:
    if not isinstance(e, (c.PaymentSucceeded, c.PaymentFailed, c.PaymentRefunded)):
        return doc
    doc = doc or {
        "_id": str(e.booking_id),
        "payment_id": str(e.payment_id),
        "show_id": e.show_id,
        "attempts": [],
        "captured": 0,
        "refunded": 0,
        "currency": None,
        "status": "OPEN",
    }
    if isinstance(e, c.PaymentSucceeded):
        doc["attempts"].append({"attempt": e.attempt, "outcome": "succeeded", "at": ms(e.occurred_at)})
        doc.update(captured=e.amount, currency=e.currency, status="CAPTURED")
    elif isinstance(e, c.PaymentFailed):
        doc["attempts"].append(
            {"attempt": e.attempt, "outcome": "failed", "reason": e.reason, "at": ms(e.occurred_at)}
        )
    else:
        doc.update(refunded=e.amount, currency=e.currency, status="REFUNDED")
    return doc
