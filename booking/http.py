"""The booking API (port 8001): customers request, follow, pay for and cancel bookings.

The customer is always the token's subject. Reads go through one small function
per endpoint (``read_*``), which asks the MongoDB views (the write model only for a
booking not projected yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from booking.application import BookingNotFound, BookingService, IdempotencyConflict, SeatsTaken
from booking.domain import BookingRuleViolation
from booking.schemas import (
    BookingList,
    BookingRequest,
    BookingView,
    PaymentAttemptAccepted,
    PaymentRetry,
    booking_view,
    booking_view_from_doc,
)
from shared import quotes
from shared.config import Limits
from shared.http.app import ServiceApi
from shared.http.auth import Caller, CallerRequest
from shared.http.errors import Problem, error_responses
from shared.http.links import links, to
from shared.http.schemas import ConsistencyToken, consistency_token, stale_header
from shared.views import ViewQueries, wait_for

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Repeat the same key to repeat the request safely.",
    ),
]
class TooManySeats(Exception):
    """More seats than this deployment's limit (CINEMA_MAX_SEATS_PER_BOOKING): a rule of
    the deployment, not a malformed request, so 422 and not the document's 400."""


PROBLEMS = {
    TooManySeats: Problem(422, "too_many_seats"),
    BookingNotFound: Problem(404, "booking_not_found", "no booking {}"),
    IdempotencyConflict: Problem(409, "idempotency_conflict"),
    SeatsTaken: Problem(409, "seats_taken", "seats {}; nothing was booked, choose others"),
    quotes.InvalidQuote: Problem(422, "invalid_quote"),
    quotes.QuoteExpired: Problem(409, "quote_expired"),
    BookingRuleViolation: Problem(409, "booking_rule_violation"),
}
# What a client does next with a booking it was given.
THE_BOOKING = "$response.body#/booking_id"
FOLLOW_BOOKING = {
    "GetBooking": to("GET", "/bookings/{booking_id}", booking_id=THE_BOOKING),
    "RetryPayment": to("POST", "/bookings/{booking_id}/payment-attempts", booking_id=THE_BOOKING),
    "CancelBooking": to("POST", "/bookings/{booking_id}/cancel", booking_id=THE_BOOKING),
}


@dataclass(frozen=True)
class BookingApi:
    """What the handlers use, handed to them as one dependency (shared.http.app: why)."""
    bookings: BookingService
    views: ViewQueries | None  # None: an app without a read side (some tests)
    limits: Limits
    quote_secret: str  # quotes are signed with the services' shared secret (shared.quotes)


def read_booking(
    bookings: BookingService, views: ViewQueries, booking_id: UUID, caller: Caller,
    token: str | None,
) -> Response[BookingView]:
    fresh = wait_for(views, token)
    doc = views.booking(str(booking_id))
    # Operators may look at any booking (support); customers only at their own.
    owner = None if caller.is_operator else caller.customer_id
    if doc is None or doc["customer_id"] is None:
        # Not projected yet: the store knows it, so a new booking never 404s. As requested,
        # not as it is now: the view, when it comes, may be behind the store, and a
        # customer must never see the booking go back (PAYMENT_PENDING, then PENDING).
        return Response(booking_view(bookings.get_booking_as_requested(booking_id, owner)))
    if owner is not None and doc["customer_id"] != owner:
        raise BookingNotFound(str(booking_id))
    view = booking_view_from_doc(doc)
    if doc["customer_id"] != caller.customer_id:  # an operator: the client secret is the customer's
        view = msgspec.structs.replace(view, next_action=None)
    return Response(view, headers=stale_header(fresh))


def read_bookings(
    views: ViewQueries, caller: Caller, limit: int, token: str | None
) -> Response[BookingList]:
    fresh = wait_for(views, token)
    found = views.customer_bookings(caller.customer_id, limit)
    return Response(BookingList([booking_view_from_doc(d) for d in found]),
                    headers=stale_header(fresh))


@post(
    "/bookings", status_code=202, sync_to_thread=True,
    responses={
        200: ResponseSpec(BookingView, description="the same request with this key, again"),
        **error_responses(400, 401, 409, 413, 422),
    },
    operation_class=links({202: FOLLOW_BOOKING, 200: FOLLOW_BOOKING}),
)
def request_booking(
    data: JSONBody[BookingRequest], idempotency_key: IdempotencyKey, request: CallerRequest,
    api: NamedDependency[BookingApi],
) -> Response[BookingView]:
    """Request seats; the saga then holds them and charges the payment method.
    202 with a Location to poll; 200 when this Idempotency-Key already made this booking;
    409 ``seats_taken`` at once when inventory is already known to hold or have sold one
    of the seats, or another booking asked for one first and waits for inventory's
    answer (otherwise a taken seat cancels the booking a moment later)."""
    bookings, limits = api.bookings, api.limits
    if len(data.seat_ids) > limits.max_seats_per_booking:
        raise TooManySeats(f"{len(data.seat_ids)} seats asked; a booking takes at most "
                           f"{limits.max_seats_per_booking}")
    quoted_amount = None
    if data.quote is not None:
        quote = quotes.read(data.quote, api.quote_secret, bookings.clock.now())
        quotes.check_matches(quote, data.show_id, list(data.seat_ids))
        quoted_amount = quote.amount
    booking, created, position = bookings.request_booking(
        request.user.customer_id, idempotency_key, data.show_id, list(data.seat_ids),
        data.payment_method, quoted_amount,
    )
    return Response(
        booking_view(booking), status_code=202 if created else 200,
        headers={"Location": f"/bookings/{booking.id}", **consistency_token(bookings, position)},
    )


@get("/bookings/{booking_id:uuid}", sync_to_thread=True, responses=error_responses(400, 401, 404))
def get_booking(
    booking_id: FromPath[UUID], request: CallerRequest, api: NamedDependency[BookingApi],
    consistency_token: ConsistencyToken = None,
) -> Response[BookingView]:
    """The booking with its payment attempts and timeline, from the bookings view."""
    assert api.views is not None  # an app without a read side serves no reads
    return read_booking(api.bookings, api.views, booking_id, request.user, consistency_token)


@get("/bookings", sync_to_thread=True, responses=error_responses(400, 401))
def list_bookings(
    request: CallerRequest, api: NamedDependency[BookingApi],
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    consistency_token: ConsistencyToken = None,
) -> Response[BookingList]:
    """The caller's bookings, newest first (from the view: pass your write's token to
    be sure it is included)."""
    assert api.views is not None  # an app without a read side serves no reads
    return read_bookings(api.views, request.user, limit, consistency_token)


@post(
    "/bookings/{booking_id:uuid}/payment-attempts", status_code=202, sync_to_thread=True,
    responses=error_responses(400, 401, 404, 409, 413),
    operation_class=links({202: FOLLOW_BOOKING}),
)
def retry_payment(
    booking_id: FromPath[UUID], data: JSONBody[PaymentRetry], request: CallerRequest,
    api: NamedDependency[BookingApi],
) -> Response[PaymentAttemptAccepted]:
    """Try again after a declined payment, or instead of authenticating an attempt that
    waits for it (3-D Secure: that attempt is cancelled), while the seats are still held."""
    attempt, position = api.bookings.retry_payment(booking_id, request.user.customer_id,
                                                   data.payment_method)
    return Response(
        PaymentAttemptAccepted(str(booking_id), attempt, data.payment_method),
        status_code=202, headers=consistency_token(api.bookings, position),
    )


@post(
    "/bookings/{booking_id:uuid}/cancel", status_code=200, sync_to_thread=True,
    responses=error_responses(400, 401, 404, 409),
    operation_class=links({200: {"GetBooking": FOLLOW_BOOKING["GetBooking"]}}),
)
def cancel_booking(
    booking_id: FromPath[UUID], request: CallerRequest, api: NamedDependency[BookingApi],
) -> Response[BookingView]:
    """Cancel a booking that is not yet confirmed. A POST to a cancel action rather than
    DELETE: the booking is not removed, it stays readable as CANCELLED with its reason."""
    booking, position = api.bookings.cancel(booking_id, request.user.customer_id)
    return Response(booking_view(booking), headers=consistency_token(api.bookings, position))


API = ServiceApi(
    title="cinema-saga booking",
    description="Book seats for a show; follow the booking until CONFIRMED or CANCELLED.",
    routes=[request_booking, get_booking, list_bookings, retry_payment, cancel_booking],
    problems=PROBLEMS,
    handlers_take=lambda service, views, settings: BookingApi(service, views, settings.limits,
                                                                  settings.token_secret),
)
create_app = API.create_app
