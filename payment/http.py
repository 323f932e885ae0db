"""The payment API (port 8003): what happened to a booking's money.

Operators only, for now: a Payment knows its booking but not the booking's
customer, and recording the customer here just to authorise reads would copy
booking's data into payment. Customers see their attempts in the booking
resource (``GET /bookings/{id}`` on the booking service) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from payment.application import PaymentNotFound, PaymentService
from payment.schemas import PaymentView, payment_view
from shared.http.app import ServiceApi
from shared.http.auth import operator_only
from shared.http.errors import Problem, error_responses

PROBLEMS: dict[type[Exception], Problem] = {
    PaymentNotFound: Problem(404, "payment_not_found", "no payment for booking {}"),
}


@dataclass(frozen=True)
class PaymentApi:
    """What the handlers use, handed to them as one dependency (shared.http.app: why)."""
    payments: PaymentService


def read_payment(payments: PaymentService, booking_id: UUID) -> PaymentView:
    return payment_view(payments.get_payment(booking_id))


@get(
    "/bookings/{booking_id:uuid}/payment", guards=[operator_only], sync_to_thread=True,
    responses=error_responses(401, 403, 404),
)
def get_payment(booking_id: FromPath[UUID], api: NamedDependency[PaymentApi]) -> PaymentView:
    """A booking's payment: its attempts, amount and status (operators only)."""
    return read_payment(api.payments, booking_id)


API = ServiceApi(
    title="cinema-saga payment",
    description="Payments of bookings: attempts, captures and refunds.",
    routes=[get_payment],
    problems=PROBLEMS,
    # No views: a payment is read from payment's own store (operators only).
    handlers_take=lambda service, views, settings: PaymentApi(service),
)
create_app = API.create_app
