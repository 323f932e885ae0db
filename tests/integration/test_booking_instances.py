"""Two booking instances on one PostgreSQL database. One follows the booking's partition
(its consumer reacts to inventory and payment); a customer's commands may come through
either. A command must be decided on the booking as it is, not on a copy the instance
cached from an earlier command of its own, which the other instance has since moved on."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from booking.application import BookingService
from shared import contracts as c
from shared import ids
from shared.clock import FakeClock

pytestmark = pytest.mark.infra


@pytest.fixture
def instances(pg_database):
    clock, started = FakeClock(), []

    def start() -> BookingService:
        started.append(BookingService(env=pg_database.eventsourcing_env(), clock=clock))
        return started[-1]

    yield clock, start
    for app in started:
        app.close()


def held(follower: BookingService, booking_id: uuid.UUID, clock: FakeClock) -> None:
    follower.handle(c.SeatsReserved(
        event_id=f"inventory/{uuid.uuid4()}/2", occurred_at=clock.now(), show_id="s1",
        booking_id=booking_id, seat_ids=["A1"], amount=900, currency="EUR",
        reserved_until=clock.now() + timedelta(minutes=10),
    ))


def declined(follower: BookingService, booking_id: uuid.UUID, attempt: int,
             clock: FakeClock) -> None:
    follower.handle(c.PaymentFailed(
        event_id=f"payment/{uuid.uuid4()}/{attempt}", occurred_at=clock.now(), show_id="s1",
        booking_id=booking_id, payment_id=ids.payment_id(booking_id), attempt=attempt,
        reason="card_declined",
    ))


def declined_once(instances, customer: str):
    """Two instances, and a booking whose first payment the follower saw declined."""
    clock, start = instances
    follower, other = start(), start()
    booking = follower.request_booking(customer, f"key-{customer}", "s1", ["A1"],
                                       "pm_card_chargeDeclined").booking
    held(follower, booking.id, clock)
    declined(follower, booking.id, 1, clock)
    return clock, follower, other, booking


def test_a_retry_through_the_other_instance_is_decided_on_the_booking_as_it_is(
    instances,
) -> None:
    clock, follower, other, booking = declined_once(instances, "ann")

    assert other.retry_payment(booking.id, "ann", "pm_card_chargeDeclined").outcome == 2
    declined(follower, booking.id, 2, clock)  # the follower records it; other's copy is older
    # Refused before: other's own copy still awaited attempt 2's result.
    assert other.retry_payment(booking.id, "ann", "pm_card_visa").outcome == 3


def test_a_cancel_through_the_other_instance_sees_a_confirmation(instances) -> None:
    clock, follower, other, booking = declined_once(instances, "bob")
    other.retry_payment(booking.id, "bob", "pm_card_visa")  # other caches the booking
    follower.handle(c.SeatsBooked(
        event_id=f"inventory/{uuid.uuid4()}/3", occurred_at=clock.now(), show_id="s1",
        booking_id=booking.id, seat_ids=["A1"],
    ))
    assert follower.get_booking(booking.id).status.value == "CONFIRMED"
    with pytest.raises(Exception, match="cannot cancel a .*CONFIRMED"):
        other.cancel(booking.id, "bob")


def test_a_command_that_loses_a_race_with_the_follower_is_decided_again(
    instances, monkeypatch,
) -> None:
    clock, follower, other, booking = declined_once(instances, "cy")
    save, raced = other.save_all, []

    def save_after_the_follower_wrote(*aggregates):
        if not raced:  # between other's read and its write, the follower moves it on
            raced.append(True)
            follower.handle(c.SeatsReleased(
                event_id=f"inventory/{uuid.uuid4()}/3", occurred_at=clock.now(), show_id="s1",
                booking_id=booking.id, seat_ids=["A1"], reason="hold_expired",
            ))
        return save(*aggregates)

    monkeypatch.setattr(other, "save_all", save_after_the_follower_wrote)
    # Decided again on what the follower wrote: the hold expired, so no retry.
    with pytest.raises(Exception, match="cannot retry payment of a .*CANCELLED"):
        other.retry_payment(booking.id, "cy", "pm_card_visa")
    assert raced
