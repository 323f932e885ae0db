"""Which payment events are public, and their contracts."""

from __future__ import annotations

from typing import Any

from payment.domain import Payment
from shared import contracts as c

REFUNDED_OUTSIDE = "refunded_outside"  # PaymentRefunded's reason for a refund made by others


def to_public(e: Any) -> c.PublicEvent | None:
    if not isinstance(e, (Payment.AttemptSucceeded, Payment.AttemptFailed, Payment.Refunded,
                          Payment.RefundedOutside, Payment.ActionRequired)):
        return None
    base = {
        "event_id": c.event_id("payment", e.originator_id, e.originator_version),
        "occurred_at": e.at,
        "show_id": e.show_id,
        "booking_id": e.booking_id,
        "payment_id": e.originator_id,
    }
    if isinstance(e, Payment.AttemptSucceeded):
        return c.PaymentSucceeded(
            **base, attempt=e.attempt, amount=e.amount, currency=e.currency, charge_id=e.charge_id
        )
    if isinstance(e, Payment.AttemptFailed):
        return c.PaymentFailed(**base, attempt=e.attempt, reason=e.reason)
    if isinstance(e, Payment.ActionRequired):
        del base["payment_id"]  # the contract names the booking and the attempt
        return c.PaymentActionRequired(**base, attempt=e.attempt, client_secret=e.client_secret)
    if isinstance(e, Payment.RefundedOutside):
        return c.PaymentRefunded(**base, amount=e.amount, currency=e.currency,
                                 refund_id=e.refund_id, reason=REFUNDED_OUTSIDE)
    return c.PaymentRefunded(
        **base, amount=e.amount, currency=e.currency, refund_id=e.refund_id, reason=e.reason
    )
