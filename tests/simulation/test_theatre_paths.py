"""The theatre's commands drive the saga on the embedded runtime: a scheduled show goes on
sale, a withdrawn seat and a cancelled show cancel and refund their bookings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking.domain import BookingStatus
from embedded.system import EmbeddedSystem
from shared.clock import FakeClock
from tests.support import invariants as inv
from tests.support.embedded import embedded_system
from theatre.domain import ShowPlan

HOLD = timedelta(minutes=10)
FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "2D"}


@pytest.fixture
def system() -> EmbeddedSystem:
    s = embedded_system(clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)))
    s.theatre.register_theatre("odeon", "Odeon", "London", "Leicester Square", "Europe/London")
    s.theatre.lay_out_screen("odeon", "one", "Screen 1", [{"row": "A", "seats": [
        {"number": n, "column": n, "category": "Regular", "in_service": n != 4}
        for n in range(1, 5)]}])
    s.theatre.schedule_show(ShowPlan("s1", "odeon", "one", FILM, "2026-02-01T18:00",
                                     {"Regular": 900}, "GBP"))
    s.run_until_quiet()
    return s


def book(system: EmbeddedSystem, customer: str, seats: list[str]) -> BookingStatus:
    booking, _, _ = system.booking.request_booking(customer, "k", "s1", seats, "pm_card_visa")
    system.run_until_quiet()
    return system.booking.get_booking(booking.id).status


def at_rest_ok(system: EmbeddedSystem) -> None:
    assert isinstance(system.clock, FakeClock)
    inv.settle(system, system.clock, HOLD)
    inv.check_at_rest(system, system.provider.ledger, {}, set())


def test_a_scheduled_show_is_on_sale_with_its_seats_in_service(system):
    show = system.inventory.get_show("s1")
    assert (show.seats, show.prices, show.currency) == (
        {"A1": "Regular", "A2": "Regular", "A3": "Regular"}, {"Regular": 900}, "GBP")
    assert book(system, "ann", ["A1", "A2"]) is BookingStatus.CONFIRMED
    at_rest_ok(system)


def test_a_withdrawn_seat_cancels_its_booking_and_a_cancelled_show_the_rest(system):
    assert book(system, "ann", ["A1"]) is BookingStatus.CONFIRMED
    assert book(system, "bob", ["A2"]) is BookingStatus.CONFIRMED
    system.theatre.withdraw_seats("s1", ["A1"], "broken")
    system.run_until_quiet()
    statuses = {b.customer_id: (b.status, b.cancellation_reason)
                for b in inv.bookings(system)}
    assert statuses["ann"] == (BookingStatus.CANCELLED, "seat_withdrawn")
    assert statuses["bob"][0] is BookingStatus.CONFIRMED
    system.theatre.cancel_show("s1", "projector fire")
    system.run_until_quiet()
    assert {b.status for b in inv.bookings(system)} == {BookingStatus.CANCELLED}
    at_rest_ok(system)


def test_a_withdrawn_seat_shows_as_withdrawn_on_the_seat_map_and_its_partner_goes_back(system):
    assert book(system, "ann", ["A1", "A2"]) is BookingStatus.CONFIRMED
    system.theatre.withdraw_seats("s1", ["A2"], "broken")
    system.run_until_quiet()
    system.project_all()
    seat_map = system.views.get("seat_maps", "s1")
    assert {s: v["state"] for s, v in seat_map["seats"].items()} == {
        "A1": "AVAILABLE", "A2": "WITHDRAWN", "A3": "AVAILABLE"}
    assert seat_map["counts"] == {"AVAILABLE": 2, "RESERVED": 0, "BOOKED": 0, "WITHDRAWN": 1}
    assert system.inventory.get_show("s1").seat_state("A2") == "WITHDRAWN"  # the store agrees
    at_rest_ok(system)
