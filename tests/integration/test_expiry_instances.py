"""Two inventory instances on one PostgreSQL database, as a deployment with more than one
runs them: holds still expire when the instance that made them is gone, and a sweep that
loses a write to the other instance neither fails nor stops releasing other shows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from inventory.application import InventoryService
from shared import contracts as c
from shared.clock import FakeClock

pytestmark = pytest.mark.infra

SEATS = {f"A{i}": "std" for i in range(1, 9)}


def request(app: InventoryService, show: str, seat: str) -> str:
    """A booking for one seat, as inventory's consumer would take it from Kafka."""
    booking_id = uuid.uuid4()
    app.handle(c.BookingRequested(
        event_id=f"booking/{booking_id}/1", occurred_at=app.clock.now(), show_id=show,
        booking_id=booking_id, customer_id=f"c-{booking_id.hex[:6]}", seat_ids=[seat],
        payment_method="pm_card_visa",
    ))
    return str(booking_id)


def seat_state(app: InventoryService, show: str, seat: str) -> str:
    fresh = InventoryService(env=app.env, clock=app.clock)  # the store, no cache
    try:
        return fresh.get_show(show).seat_state(seat)
    finally:
        fresh.close()


@pytest.fixture
def instances(pg_database):
    clock, started = FakeClock(), []

    def start() -> InventoryService:
        started.append(InventoryService(env=pg_database.eventsourcing_env(), clock=clock))
        assert started[-1].release_expired_holds() == 0  # as the runtime does at start-up
        return started[-1]

    yield clock, start
    for app in started:
        app.close()


def test_the_holds_of_an_instance_that_died_expire_on_the_one_that_took_its_partitions(
    instances,
) -> None:
    clock, start = instances
    first = start()
    first.open_show("s1", SEATS, {"std": 900}, "EUR")
    survivor = start()  # started before the hold: it learns nothing of it from the store
    request(first, "s1", "A1")
    assert seat_state(survivor, "s1", "A1") == "RESERVED"

    first.close()  # dies; Kafka hands its partitions to the survivor
    survivor.partitions_assigned()
    clock.advance(first.limits.hold_for + timedelta(seconds=1))

    assert survivor.release_expired_holds() == 1
    assert seat_state(survivor, "s1", "A1") == "AVAILABLE"


def test_a_sweep_that_loses_a_show_to_another_writer_goes_on_with_the_other_shows(
    instances,
) -> None:
    clock, start = instances
    one, other = start(), start()
    for show in ("s1", "s2"):
        one.open_show(show, SEATS, {"std": 900}, "EUR")
    request(one, "s1", "A1")  # one keeps s1 in memory ...
    request(other, "s1", "A2")  # ... and other moves it on: one's copy is stale
    request(one, "s2", "A1")
    clock.advance(one.limits.hold_for + timedelta(seconds=1))

    assert one.release_expired_holds() == 1  # s1 lost the version check; s2 was released
    assert seat_state(one, "s2", "A1") == "AVAILABLE"
    assert seat_state(one, "s1", "A1") == "RESERVED"
    assert one.release_expired_holds() == 2  # the next sweep reads s1 from the store
    assert [seat_state(one, "s1", s) for s in ("A1", "A2")] == ["AVAILABLE", "AVAILABLE"]
