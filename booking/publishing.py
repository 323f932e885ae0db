"""Which booking events are public, and their contracts."""

from __future__ import annotations

from typing import Any, cast

from booking.domain import Booking
from shared import contracts as c


def to_public(e: Any) -> c.PublicEvent | None:
    base = {
        "event_id": c.event_id("booking", e.originator_id, e.originator_version),
        "booking_id": e.originator_id,
    }
    if isinstance(e, Booking.Requested):
        return c.BookingRequested(
            **base,
            occurred_at=e.requested_at,
            show_id=e.show_id,
            customer_id=e.customer_id,
            seat_ids=list(e.seat_ids),
            payment_method=e.payment_method,
            quoted_amount=getattr(e, "quoted_amount", None),
        )
    if isinstance(e, Booking.PaymentRetryRequested):
        return c.PaymentRetryRequested(
            **base, occurred_at=e.at, show_id=e.show_id, attempt=e.attempt,
            payment_method=e.payment_method,
        )
    if isinstance(e, Booking.Cancelled):
        return c.BookingCancelled(
            **base, occurred_at=e.at, show_id=e.show_id, customer_id=e.customer_id,
            # The values of CancellationReason are the contract's reasons.
            reason=cast(c.BookingCancelReason, str(e.reason)), detail=e.detail,
        )
    if isinstance(e, Booking.Confirmed):
        return c.BookingConfirmed(
            **base, occurred_at=e.at, show_id=e.show_id, customer_id=e.customer_id,
            amount=e.amount,
        )
    return None
