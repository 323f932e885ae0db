"""Payment's calls to its provider: decided from the payment's state alone, made outside
the service's write lock, many payments' at once, while the consumer goes on."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from eventsourcing.persistence import Tracking

from payment.application import PaymentService
from payment.domain import Payment
from payment.gateway import SimulatedProvider
from payment.provider_calls import Asked, Call, FollowUps, next_call
from shared import contracts as c
from shared.clock import FakeClock

T0 = datetime(2030, 1, 1, 19, tzinfo=UTC)


def priced(method: str = "pm_card_visa") -> Payment:
    p = Payment(booking_id=uuid.uuid4(), show_id="s1")
    p.attempt_requested(1, method)
    p.seats_reserved(1800, "EUR", T0 + timedelta(minutes=10))
    return p


def test_a_priced_payment_makes_its_attempt_then_confirms_what_it_recorded():
    p, asked = priced(), Asked()
    call = next_call(p, T0, asked)
    assert call is not None and (call.kind, call.attempt) == ("create", 1)
    assert next_call(p, T0, asked) is None  # never the same call twice in one follow-up
    assert call.due is not None
    p.start_attempt(call.due, "pi_1", T0)
    asked.confirm = "pi_1"
    assert next_call(p, T0, asked) == Call("confirm", 1, "pi_1")


def test_an_attempt_due_after_its_hold_fails_without_a_call():
    p = priced()
    assert next_call(p, T0 + timedelta(minutes=10), Asked()) is None
    assert p.attempts == [{"attempt": 1, "succeeded": False, "reason": "hold_expired"}]


def test_an_intent_recorded_when_the_hold_is_gone_is_cancelled_not_confirmed():
    p = priced()
    call = next_call(p, T0, Asked())
    assert call is not None and call.due is not None
    p.start_attempt(call.due, "pi_1", T0)
    p.close("seats_released:hold_expired", T0)
    assert next_call(p, T0, Asked(confirm="pi_1")) == Call("cancel", 1, "pi_1")
    assert p.unsettled_since() is not None  # the reconciliation would cancel it after a crash


class GatedProvider(SimulatedProvider):
    """Holds every intent's creation until the test opens the gate; counts how many
    wait at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.lock = threading.Event(), threading.Lock()
        self.waiting = self.most = 0

    def create_intent(self, *args, **kwargs):
        with self.lock:
            self.waiting += 1
            self.most = max(self.most, self.waiting)
        try:
            assert self.gate.wait(30), "the test never opened the gate"
            return super().create_intent(*args, **kwargs)
        finally:
            with self.lock:
                self.waiting -= 1


def until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_the_consumer_never_waits_for_the_provider_and_payments_are_asked_at_once():
    provider = GatedProvider()
    app = PaymentService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=FakeClock(T0),
                         provider=provider, follow_ups=FollowUps(4))
    try:
        bookings = [uuid.uuid4() for _ in range(4)]
        for n, booking in enumerate(bookings):
            app.handle(c.BookingRequested(
                event_id=f"booking/{booking}/1", occurred_at=T0, show_id="s1",
                booking_id=booking, customer_id="ann", seat_ids=["A1"],
                payment_method="pm_card_visa"), Tracking("booking", n + 1))
            app.handle(c.SeatsReserved(
                event_id=f"inventory/{booking}/1", occurred_at=T0, show_id="s1",
                booking_id=booking, seat_ids=["A1"], amount=1800, currency="EUR",
                reserved_until=T0 + timedelta(minutes=10)), Tracking("inventory", n + 1))
        # Every message recorded while the provider has answered nothing: the consumer
        # went on, and the four payments' calls wait at the provider together.
        until(lambda: provider.waiting == 4)
        assert provider.most == 4
        assert all(app.get_payment(b).started == {} for b in bookings)
        provider.gate.set()
        until(lambda: all(app.get_payment(b).succeeded for b in bookings))
        assert list(provider.ledger.confirmations_by_intent().values()) == [1, 1, 1, 1]
    finally:
        provider.gate.set()
        app.close()
