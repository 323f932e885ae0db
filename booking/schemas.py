"""The booking API's bodies, and how a Booking is shown to its customer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from booking.domain import Booking
from shared.http.schemas import (
    PaymentMethod,
    RequestBody,
    ResponseBody,
    SeatId,
    ShowId,
    utc,
)


class BookingRequest(RequestBody, frozen=True):
    show_id: ShowId
    # The upper bound is configuration (Limits.max_seats_per_booking), checked per app:
    # more is a 422 too_many_seats.
    seat_ids: Annotated[
        list[SeatId],
        msgspec.Meta(
            min_length=1, examples=[["A1", "A2"]],
            description="1 to max_seats_per_booking (10 by default) seat ids of 1..16 chars;"
                        " more than the limit is 422 too_many_seats",
        ),
    ]
    payment_method: PaymentMethod
    # A quote from pricing's POST /quotes for these seats: the booking is charged exactly
    # its amount, or cancelled with ``price_changed`` if the price moved meanwhile.
    quote: Annotated[str, msgspec.Meta(max_length=4096)] | None = None


class PaymentRetry(RequestBody, frozen=True):
    # Allowed after a failed attempt, or while one waits for the customer to authenticate
    # (it is abandoned: cancelled first).
    payment_method: PaymentMethod


class AttemptOutcome(ResponseBody, frozen=True, omit_defaults=True):
    attempt: int
    outcome: str  # succeeded, failed
    reason: str = ""  # the provider's decline code, canceled, or hold_expired


class NextAction(ResponseBody, frozen=True):
    type: str  # "authenticate": complete 3-D Secure with the client secret (Stripe.js)
    client_secret: str


class TimelineEntry(ResponseBody, frozen=True):
    at: datetime
    event: str  # the public event: BookingRequested, SeatsReserved, PaymentFailed ...


class BookingView(ResponseBody, frozen=True):
    booking_id: str
    status: str  # PENDING, PAYMENT_PENDING, CONFIRMED, CANCELLED
    show_id: str
    seat_ids: list[str]
    amount: int | None  # minor units; known once inventory holds the seats
    currency: str | None
    reserved_until: datetime | None  # retry a failed payment until then
    payment_attempts: list[AttemptOutcome]
    refunded_amount: int
    cancellation_reason: str | None
    cancellation_detail: str
    requested_at: datetime | None
    timeline: list[TimelineEntry]  # what happened when, across the three services
    # While PAYMENT_PENDING: what the customer must do for the payment to go on.
    next_action: NextAction | None = None


class BookingList(ResponseBody, frozen=True):
    bookings: list[BookingView]  # newest first


class PaymentAttemptAccepted(ResponseBody, frozen=True):
    booking_id: str
    attempt: int
    payment_method: str


def booking_view(booking: Booking) -> BookingView:
    """From the write model: answers to commands, and reads not yet projected."""
    attempts = [AttemptOutcome(n, "failed") for n in sorted(booking.failed_attempts)]
    if booking.paid:
        attempts.append(AttemptOutcome(booking.paid_attempt or booking.attempts_requested,
                                       "succeeded"))
    action = booking.next_action
    return BookingView(
        booking_id=str(booking.id),
        status=str(booking.status),
        show_id=booking.show_id,
        seat_ids=list(booking.seat_ids),
        amount=booking.amount,
        currency=booking.currency,
        reserved_until=utc(booking.reserved_until),
        payment_attempts=attempts,
        refunded_amount=booking.refunded_amount,
        cancellation_reason=(
            str(booking.cancellation_reason) if booking.cancellation_reason else None
        ),
        cancellation_detail=booking.cancellation_detail,
        requested_at=utc(booking.requested_at),
        timeline=[],
        next_action=NextAction(action["type"], action["client_secret"]) if action else None,
    )


def booking_view_from_doc(doc: dict) -> BookingView:
    """From the bookings view (projections/booking_view.py)."""
    return BookingView(
        booking_id=doc["_id"],
        status=doc["status"],
        show_id=doc["show_id"],
        seat_ids=list(doc["seat_ids"]),
        amount=doc["amount"],
        currency=doc["currency"],
        reserved_until=utc(doc["reserved_until"]),
        payment_attempts=[
            AttemptOutcome(int(n), a["outcome"], a.get("reason", ""))
            for n, a in sorted(doc["attempts"].items(), key=lambda kv: int(kv[0]))
        ],
        refunded_amount=doc["refunded_amount"],
        cancellation_reason=doc["cancellation_reason"],
        cancellation_detail=doc["cancellation_detail"],
        requested_at=utc(doc["requested_at"]),
        timeline=[TimelineEntry(utc(t["at"]), t["event"]) for t in doc["timeline"]],
        next_action=NextAction(**action) if (action := doc.get("next_action")) else None,
    )
