"""The booking API's bodies, and how a Booking is shown to its customer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from booking.domain import Booking
from shared.http.schemas import (
    PaymentMethod, RequestBody, ResponseBody, SeatId, ShowId, utc,
)


class BookingRequest(RequestBody, frozen=True):
    show_id: ShowId
    # The upper bound is configuration (Limits.max_seats_per_booking), checked per app.
    seat_ids: Annotated[
        list[SeatId],
        msgspec.Meta(
            min_length=1, examples=[["A1", "A2"]],
            description="1 to max_seats_per_booking (10 by default) seat ids of 1..16 chars",
        ),
    ]
    payment_method: PaymentMethod


class PaymentRetry(RequestBody, frozen=True):
    payment_method: PaymentMethod


class BookingView(ResponseBody, frozen=True):
    booking_id: str
    status: str  # PENDING, PAYMENT_PENDING, CONFIRMED, CANCELLED
    show_id: str
    seat_ids: list[str]
    amount: int | None  # minor units; known once inventory holds the seats
    currency: str | None
    reserved_until: datetime | None  # retry a failed payment until then
    payment_attempts_requested: int
    payment_attempts_failed: list[int]
    refunded_amount: int
    cancellation_reason: str | None
    cancellation_detail: str
    requested_at: datetime


class BookingList(ResponseBody, frozen=True):
    bookings: list[BookingView]  # newest first


class PaymentAttemptAccepted(ResponseBody, frozen=True):
    booking_id: str
    attempt: int
    payment_method: str


def booking_view(booking: Booking) -> BookingView:
    return BookingView(
        booking_id=str(booking.id),
        status=str(booking.status),
        show_id=booking.show_id,
        seat_ids=list(booking.seat_ids),
        amount=booking.amount,
        currency=booking.currency,
        reserved_until=utc(booking.reserved_until),
        payment_attempts_requested=booking.attempts_requested,
        payment_attempts_failed=sorted(booking.failed_attempts),
        refunded_amount=booking.refunded_amount,
        cancellation_reason=(
            str(booking.cancellation_reason) if booking.cancellation_reason else None
        ),
        cancellation_detail=booking.cancellation_detail,
        requested_at=utc(booking.requested_at),  # type: ignore[arg-type]
    )
