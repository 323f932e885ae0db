"""The payment API (port 8003): what happened to a booking's money, and the payment
provider's webhooks.

Reads are for operators only, for now: a Payment knows its booking but not the
booking's customer, and recording the customer here just to authorise reads would copy
booking's data into payment. Customers see their attempts in the booking resource
(``GET /bookings/{id}`` on the booking service) instead.

``POST /webhooks/stripe`` takes no bearer token: the provider signs its events, and an
event whose signature does not verify is refused (400) with nothing recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from litestar import Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, RawBody

from payment.application import PaymentNotFound, PaymentService
from payment.intents import InvalidWebhook
from payment.schemas import PaymentView, WebhookReceived, payment_view
from payment.webhook_endpoint import PATH as WEBHOOK_PATH
from shared.http.app import ServiceApi
from shared.http.auth import operator_only
from shared.http.errors import Problem, error_responses

log = logging.getLogger(__name__)

PROBLEMS: dict[type[Exception], Problem] = {
    PaymentNotFound: Problem(404, "payment_not_found", "no payment for booking {}"),
    InvalidWebhook: Problem(400, "invalid_webhook", "the webhook was refused: {}"),
}
WEBHOOK_MAX_BYTES = 256 * 1024  # a provider's event is larger than a customer's request


@dataclass(frozen=True)
class PaymentApi:
    """What the handlers use, handed to them as one dependency (shared.http.app: why)."""
    payments: PaymentService


def read_payment(payments: PaymentService, booking_id: UUID) -> PaymentView:
    return payment_view(payments.get_payment(booking_id))


@get(
    "/bookings/{booking_id:uuid}/payment", guards=[operator_only], sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404),
)
def get_payment(booking_id: FromPath[UUID], api: NamedDependency[PaymentApi]) -> PaymentView:
    """A booking's payment: its attempts, amount and status (operators only)."""
    return read_payment(api.payments, booking_id)


@post(
    WEBHOOK_PATH, status_code=200, exclude_from_auth=True, security=[],
    sync_to_thread=True, request_max_body_size=WEBHOOK_MAX_BYTES,
    responses=error_responses(400, 413),
)
def stripe_webhook(
    body: RawBody, api: NamedDependency[PaymentApi],
    signature: Annotated[str, HeaderParameter(name="Stripe-Signature")] = "",
) -> Response[WebhookReceived]:
    """The payment provider's events (Stripe's shape: signed in ``Stripe-Signature``).
    What an event says of a payment is recorded with the event's id, so a repeated event
    changes nothing; it is answered at once, and what it makes due (a refund, the next
    attempt) is done after the answer."""
    payments = api.payments
    event = payments.provider.read_webhook(body, signature)
    payment_id = payments.record_provider_event(event)
    follow_up = None if payment_id is None else BackgroundTask(_follow_up, payments, payment_id)
    return Response(WebhookReceived(event.event_id, payment_id is not None), background=follow_up)


def _follow_up(payments: PaymentService, payment_id: UUID) -> None:
    try:
        payments.follow_up(payment_id)
    except Exception:  # the reconciliation does it later
        log.exception("following up payment %s failed; the reconciliation will", payment_id)


API = ServiceApi(
    title="cinema-saga payment",
    description="Payments of bookings: attempts, captures and refunds; the provider's webhooks.",
    routes=[get_payment],
    open_routes=[stripe_webhook],
    problems=PROBLEMS,
    # No views: a payment is read from payment's own store (operators only).
    handlers_take=lambda service, views, settings: PaymentApi(service),
)
create_app = API.create_app
