"""The payment service on the Stripe provider against the real local Stripe server:
a payment succeeds, a declined card is paid again with another, an unknown token fails
without stopping the service, and a 3-D Secure attempt completed by the customer is
found by the reconciliation when no webhook comes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from eventsourcing.persistence import Tracking

from payment.application import PaymentService
from payment.gateway import AUTHENTICATION_REQUIRED
from payment.stripe_provider import StripeProvider
from shared import contracts as c
from shared.clock import FakeClock
from shared.config import Settings

pytestmark = pytest.mark.infra


@pytest.fixture
def payment(stripe_server: str) -> Iterator[PaymentService]:
    settings = Settings(stripe_api_base=stripe_server, stripe_api_key="sk_test_payment")
    app = PaymentService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=FakeClock(),
                         provider=StripeProvider.from_settings(settings))
    yield app
    app.close()


class Messages:
    def __init__(self, app: PaymentService) -> None:
        self.app, self.position = app, 0

    def deliver(self, message: c.PublicEvent) -> None:
        self.position += 1
        self.app.handle(message, Tracking("booking", self.position))

    def book(self, method: str, amount: int = 1800) -> uuid.UUID:
        booking, now = uuid.uuid4(), self.app.clock.now()
        self.deliver(c.BookingRequested(
            event_id=f"booking/{booking}/1", occurred_at=now, show_id="s1", booking_id=booking,
            customer_id="ann", seat_ids=["A1"], payment_method=method))
        self.deliver(c.SeatsReserved(
            event_id=f"inventory/{booking}/1", occurred_at=now, show_id="s1", booking_id=booking,
            seat_ids=["A1"], amount=amount, currency="GBP",
            reserved_until=now + timedelta(minutes=10)))
        return booking

    def retry(self, booking: uuid.UUID, attempt: int, method: str) -> None:
        self.deliver(c.PaymentRetryRequested(
            event_id=f"booking/{booking}/{attempt + 5}", occurred_at=self.app.clock.now(),
            show_id="s1", booking_id=booking, attempt=attempt, payment_method=method))


def test_a_payment_succeeds_and_a_declined_card_is_paid_again(payment) -> None:
    messages = Messages(payment)
    paid = payment.get_payment(messages.book("pm_card_visa"))
    assert paid.succeeded and paid.charge_id

    declined = messages.book("pm_card_chargeDeclined")
    first = payment.get_payment(declined)
    assert not first.succeeded and first.attempts[0]["reason"] == "card_declined"
    messages.retry(declined, 2, "pm_card_visa")
    assert payment.get_payment(declined).succeeded


def test_an_unknown_payment_method_fails_and_the_service_goes_on(payment) -> None:
    messages = Messages(payment)
    failed = payment.get_payment(messages.book("pm_card_nobodyKnows"))
    assert not failed.succeeded
    assert failed.attempts[0]["reason"] == "invalid_payment_method"
    assert payment.get_payment(messages.book("pm_card_visa")).succeeded


def test_three_d_secure_completed_without_a_webhook_is_found_by_the_reconciliation(
    payment, stripe_server,
) -> None:
    messages = Messages(payment)
    booking = messages.book(AUTHENTICATION_REQUIRED)
    waiting = payment.get_payment(booking)
    assert not waiting.succeeded
    [pending] = waiting.open_intents()
    intent = payment.provider.retrieve(pending.intent_id)
    assert intent.status == "requires_action" and intent.client_secret
    with httpx.Client(base_url=stripe_server, auth=("sk_test_payment", ""), timeout=10) as localstripe:
        answer = localstripe.post(f"/v1/payment_intents/{pending.intent_id}/_authenticate",
                                  data={"client_secret": intent.client_secret,
                                        "success": "true"})
        assert answer.status_code == 200, answer.text
    payment.clock.advance(payment.reconcile_after + timedelta(seconds=1))
    payment.reconcile()
    assert payment.get_payment(booking).succeeded
