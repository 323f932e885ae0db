"""The theatre in the distributed system: an operator programmes a week over HTTP, a
customer finds a show in the catalogue and books it; and a show with bookings in every
state is cancelled while the services are killed with kill -9."""

from __future__ import annotations

import random
import time
import uuid
from datetime import date, timedelta

import pytest

from tests.support.audit import audit, settle
from tests.support.customers import wait_final
from tests.support.programme import on_sale, operator, rows

pytestmark = pytest.mark.infra

SEED = 20261204
ODEON = {"name": "Odeon", "city": "London", "address": "Leicester Square",
         "time_zone": "Europe/London"}
FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "IMAX"}
PRICES = {"Regular": 900, "Premium": 1300}


def lay_out_odeon(system, letters: str = "ABC", per_row: int = 10) -> None:
    operator(system, "PUT", "/theatres/odeon", ODEON)
    operator(system, "PUT", "/theatres/odeon/screens/one",
             {"name": "Screen 1", "rows": rows(letters, per_row)})


def test_an_operator_programmes_a_week_and_a_customer_books_from_the_catalogue(start_system):
    system = start_system(hold_seconds="30")
    lay_out_odeon(system)
    first = date.today() + timedelta(days=3)
    week = [{"show_id": f"dune-{d}", "screen_id": "one", "film": FILM,
             "start": f"{first + timedelta(days=d)}T19:30", "prices": PRICES, "currency": "GBP"}
            for d in range(7)]
    written = operator(system, "POST", "/theatres/odeon/programme", {"shows": week})
    token = written.headers["X-Consistency-Token"]

    # The customer finds the third evening's show by city and day, reading their own write.
    day = str(first + timedelta(days=2))
    found = system.clients["theatre"].get(
        "/catalogue/shows", params={"city": "london", "day": day, "consistency_token": token},
        headers=system.auth("ann"))
    assert found.status_code == 200, found.text
    (show,) = found.json()["items"]
    assert (show["show_id"], show["film"]["title"], show["theatre"]["name"]) == (
        "dune-2", "Dune", "Odeon")
    assert show["local_start"].startswith(f"{day}T19:30")
    whole = system.clients["theatre"].get("/catalogue/shows", params={"limit": 50},
                                          headers=system.auth("ann")).json()["items"]
    assert [s["show_id"] for s in whole] == [f"dune-{d}" for d in range(7)]

    on_sale(system, "dune-2")
    detail = system.clients["theatre"].get("/catalogue/shows/dune-2",
                                           headers=system.auth("ann")).json()
    premium = [s["seat_id"] for s in detail["seats"] if s["category"] == "Premium"][:2]
    r = system.book("ann", "dune-2", premium)
    assert r.status_code == 202, r.text
    booking = system.wait_for("ann", r.json()["booking_id"])
    assert (booking["status"], booking["amount"]) == ("CONFIRMED", 2 * PRICES["Premium"])


def test_a_show_cancelled_while_the_services_are_killed_cancels_and_refunds_every_booking(
    start_system,
):
    rng = random.Random(SEED)
    system = start_system(hold_seconds="120")
    lay_out_odeon(system, letters="ABCDEF", per_row=10)  # 60 seats
    operator(system, "PUT", "/shows/gala", {
        "theatre_id": "odeon", "screen_id": "one", "film": FILM,
        "start": f"{date.today() + timedelta(days=5)}T20:00", "prices": PRICES,
        "currency": "GBP"})
    on_sale(system, "gala")
    seats = [f"{row}{n}" for row in "ABCDEF" for n in range(1, 11)]
    rng.shuffle(seats)
    bookings: dict[str, str] = {}
    # 30 bookings: paid (CONFIRMED), declined (PAYMENT_PENDING, seats held for a retry),
    # cancelled by their customer, and requested just before the cancellation (PENDING).
    plan = ["pm_card_visa"] * 10 + ["pm_card_chargeDeclined"] * 15  # the last 5 cancel
    for i, method in enumerate(plan):
        customer = f"c{i}"
        r = system.book(customer, "gala", [seats.pop()], method)
        assert r.status_code == 202, r.text
        bookings[r.json()["booking_id"]] = customer
    for booking_id, customer in list(bookings.items())[:25]:
        system.wait_for(customer, booking_id, statuses={"CONFIRMED", "PAYMENT_PENDING"})
    customer_cancelled = set()
    for booking_id, customer in list(bookings.items())[20:25]:
        r = system.clients["booking"].post(f"/bookings/{booking_id}/cancel",
                                           headers=system.auth(customer))
        assert r.status_code == 200, r.text
        customer_cancelled.add(uuid.UUID(booking_id))
    for i in range(25, 30):  # in flight when the show is cancelled
        r = system.book(f"c{i}", "gala", [seats.pop()], "pm_card_visa")
        assert r.status_code == 202, r.text
        bookings[r.json()["booking_id"]] = f"c{i}"

    operator(system, "POST", "/shows/gala/cancel", {"reason": "print damaged"})
    kills = rng.sample(["booking", "inventory", "payment", "theatre"], 4)
    for service in kills:
        time.sleep(rng.uniform(0.05, 0.4))
        system.local.kill(service)  # kill -9
        system.local.start(service)
        system.local.wait_ready(service)

    wait_final(system, bookings, timeout=120)
    settle(system)
    audit(system, customer_cancelled=customer_cancelled)
    outcomes = {b: system.booking(c, b) for b, c in bookings.items()}
    never_confirmed = {"cancelled_by_customer", "seats_unavailable", "hold_expired"}
    for booking_id, doc in outcomes.items():
        assert doc["status"] == "CANCELLED", doc
        assert doc["cancellation_reason"] == "show_cancelled" or (
            doc["cancellation_reason"] in never_confirmed
            and not any(e["event"] == "BookingConfirmed" for e in doc["timeline"])), doc
    confirmed_then_cancelled = [d for d in outcomes.values()
                                if any(e["event"] == "BookingConfirmed" for e in d["timeline"])]
    assert len(confirmed_then_cancelled) >= 10, "the paid bookings were not confirmed first"
    ledger = system.ledger()
    try:
        captured = sum(ledger.captured_by_booking().values())
        assert captured > 0 and captured == ledger.refunded_total()
    finally:
        ledger.close()
    new = system.book("late", "gala", [seats.pop()])
    assert new.status_code in (202, 409), new.text
    if new.status_code == 202:
        late = system.wait_for("late", new.json()["booking_id"])
        assert (late["status"], late["cancellation_reason"]) == ("CANCELLED", "show_cancelled")
    print(f"\n{len(bookings)} bookings, {len(confirmed_then_cancelled)} confirmed then"
          f" cancelled and refunded; killed {kills}")
