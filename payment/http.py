"""The payment API (port 8003): what happened to a booking's money.

Operators only, for now: a Payment knows its booking but not the booking's
customer, and recording the customer here just to authorise reads would copy
booking's data into payment. Customers see their attempts in the booking
resource (``GET /bookings/{id}`` on the booking service) instead.
"""

from __future__ import annotations

from uuid import UUID

from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from payment.application import PaymentNotFound, PaymentService
from payment.domain import Payment
from shared.config import Settings
from shared.http.app import service_app
from shared.http.auth import operator_only
from shared.http.errors import Problem, error_responses
from shared.http.health import Readiness
from shared.http.schemas import ResponseBody
from shared.views import ViewQueries

PROBLEMS = {PaymentNotFound: Problem(404, "payment_not_found", "no payment for booking {}")}


class AttemptView(ResponseBody, frozen=True):
    number: int
    succeeded: bool
    reason: str  # the gateway's decline code, or "hold_expired"; empty on success


class PaymentView(ResponseBody, frozen=True):
    booking_id: str
    payment_id: str
    status: str  # OPEN, CAPTURED, REFUNDED, CLOSED
    amount: int | None  # minor units; known once inventory priced the hold
    currency: str | None
    attempts: list[AttemptView]
    refunded: bool
    closed_reason: str | None  # why no further attempt will be made


def payment_status(payment: Payment) -> str:
    if payment.refunded:
        return "REFUNDED"
    if payment.succeeded:
        return "CAPTURED"
    return "CLOSED" if payment.closed_reason else "OPEN"


def payment_view(payment: Payment) -> PaymentView:
    return PaymentView(
        booking_id=str(payment.booking_id),
        payment_id=str(payment.id),
        status=payment_status(payment),
        amount=payment.amount,
        currency=payment.currency,
        attempts=[AttemptView(a["attempt"], a["succeeded"], a["reason"]) for a in payment.attempts],
        refunded=payment.refunded,
        closed_reason=payment.closed_reason,
    )


def read_payment(payments: PaymentService, booking_id: UUID) -> PaymentView:
    return payment_view(payments.get_payment(booking_id))


@get(
    "/bookings/{booking_id:uuid}/payment", guards=[operator_only], sync_to_thread=True,
    responses=error_responses(401, 403, 404),
)
def get_payment(
    booking_id: FromPath[UUID], payments: NamedDependency[PaymentService]
) -> PaymentView:
    """A booking's payment: its attempts, amount and status (operators only)."""
    return read_payment(payments, booking_id)


def create_app(
    service: PaymentService, settings: Settings, readiness: Readiness | None = None,
    views: ViewQueries | None = None,
) -> Litestar:
    """``views`` are not used: a payment is read from payment's own store (operators only)."""
    return service_app(
        title="cinema-saga payment",
        description="Payments of bookings: attempts, captures and refunds.",
        routes=[get_payment],
        settings=settings,
        readiness=readiness,
        dependencies={"payments": service},
        problems=PROBLEMS,
    )
