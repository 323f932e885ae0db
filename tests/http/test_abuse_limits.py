"""One customer cannot hold a show's seats hostage: not with many requests (429 once
over the limit on writes), nor with many bookings (the hold limits per show and across
the shows of a theatre day); everyone else books on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from inventory.domain import HoldLimits
from shared.clock import FakeClock
from shared.config import WriteLimits
from tests.support.api import Api, http_settings, serve
from tests.support.embedded import embedded_system
from tests.support.tokens import ALICE, BOB, OPERATOR, bearer

MALLORY = bearer("mallory")
SEATS = [{"number": n, "column": n, "category": "Regular"} for n in range(1, 9)]
FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "2D"}
# Three shows on the theatre day of 1 February, one on the next.
SHOWS = {"noon": "2026-02-01T12:00", "three": "2026-02-01T15:00",
         "six": "2026-02-01T18:00", "tomorrow": "2026-02-02T18:00"}
LIMITS = HoldLimits(max_seats=4, max_held_per_customer=4, max_held_per_customer_day=6)


@pytest.fixture
def api() -> Iterator[Api]:
    with on_sale(LIMITS) as api:
        yield api


@contextmanager
def on_sale(limits: HoldLimits) -> Iterator[Api]:
    """A theatre with one screen of eight seats and the four shows, on sale."""
    system = embedded_system(clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)), limits=limits)
    with serve(system, http_settings(write_limits=WriteLimits(per_customer=8))) as api:
        theatre = {"name": "Odeon", "city": "London", "address": "Leicester Square",
                   "time_zone": "Europe/London"}
        assert api.theatre.put("/theatres/odeon", json=theatre, headers=OPERATOR).status_code == 201
        r = api.theatre.put("/theatres/odeon/screens/one", headers=OPERATOR,
                            json={"name": "Screen 1", "rows": [{"row": "A", "seats": SEATS}]})
        assert r.status_code == 201, r.text
        for show, start in SHOWS.items():
            r = api.theatre.put(f"/shows/{show}", headers=OPERATOR, json={
                "theatre_id": "odeon", "screen_id": "one", "film": FILM, "start": start,
                "prices": {"Regular": 900}, "currency": "GBP"})
            assert r.status_code == 201, r.text
        api.settle()
        yield api


def book(api: Api, who: dict, show: str, seats: list[str], key: str,
         method: str = "pm_card_chargeDeclined") -> str:
    """A booking whose payment is declined: its hold stands, unpaid, until it lapses. Each
    is decided before the next is asked for (the shows' messages are on partitions of
    their own, in no order across them)."""
    r = api.book(seats=seats, method=method, key=key, who=who, show=show)
    assert r.status_code in (200, 202), r.text
    api.settle()
    return r.json()["booking_id"]


def outcome(api: Api, booking_id: str, who: dict = MALLORY) -> tuple[str, str | None]:
    view = api.booking_of(booking_id, who)
    return view["status"], view.get("cancellation_detail")


def test_many_bookings_hold_no_more_than_the_limits_of_a_show_and_of_its_day(api: Api) -> None:
    held = book(api, MALLORY, "noon", ["A1", "A2", "A3", "A4"], "m1")
    more_of_noon = book(api, MALLORY, "noon", ["A5"], "m2")
    at_three = book(api, MALLORY, "three", ["A1", "A2"], "m3")
    at_six = book(api, MALLORY, "six", ["A1"], "m4")
    tomorrow = book(api, MALLORY, "tomorrow", ["A1", "A2", "A3", "A4"], "m5")
    api.settle()
    assert outcome(api, held)[0] == "PAYMENT_PENDING"
    assert outcome(api, more_of_noon) == ("CANCELLED", "customer_hold_limit")  # 4 in the show
    assert outcome(api, at_three)[0] == "PAYMENT_PENDING"  # 6 held that day
    assert outcome(api, at_six) == ("CANCELLED", "customer_day_limit")
    assert outcome(api, tomorrow)[0] == "PAYMENT_PENDING"  # another day

    # Everyone else books the seats she left.
    bobs = book(api, BOB, "noon", ["A5", "A6", "A7", "A8"], "b1", method="pm_card_visa")
    at_six = book(api, ALICE, "six", ["A1"], "a1", method="pm_card_visa")
    api.settle()
    assert outcome(api, bobs, BOB)[0] == outcome(api, at_six, ALICE)[0] == "CONFIRMED"

    # Paid, her seats at noon are no longer held: she may hold again that day.
    r = api.booking.post(f"/bookings/{held}/payment-attempts",
                         json={"payment_method": "pm_card_visa"}, headers=MALLORY)
    assert r.status_code == 202, r.text
    api.settle()
    assert outcome(api, held)[0] == "CONFIRMED"
    again = book(api, MALLORY, "six", ["A2", "A3"], "m6")
    api.settle()
    assert outcome(api, again)[0] == "PAYMENT_PENDING"


def test_a_day_limit_of_0_counts_no_day() -> None:
    with on_sale(replace(LIMITS, max_held_per_customer_day=0)) as api:
        held = [book(api, MALLORY, show, seats, show) for show, seats in
                (("noon", ["A1", "A2", "A3", "A4"]), ("three", ["A1", "A2"]), ("six", ["A1"]))]
        assert [outcome(api, b)[0] for b in held] == ["PAYMENT_PENDING"] * 3  # 7 that day
        inventory = api.system.inventory
        topics = {n.topic for n in inventory.recorder.select_notifications(1, 10_000)}
        assert not [t for t in topics if "CustomerDayHolds" in t]  # nothing counted


def test_many_requests_are_refused_429_past_the_customers_limit(api: Api) -> None:
    answers = [api.book(seats=[f"A{n % 8 + 1}"], key=f"flood-{n}", who=MALLORY, show="noon")
               for n in range(10)]
    assert all(r.status_code in (200, 202, 409) for r in answers[:8])  # eight at once
    refused = answers[8]
    assert refused.status_code == 429
    assert refused.json() == {"error": "rate_limited", "message": (
        "too many writes from this customer: at most 8 per 60 s; try again in 8 s")}
    assert refused.headers["retry-after"] == "8"
    # Reads are not limited, nor other customers, nor operators.
    assert api.booking.get("/bookings", headers=MALLORY).status_code == 200
    assert api.book(seats=["A8"], key="b1", who=BOB, show="tomorrow").status_code == 202
    r = api.theatre.post("/shows/six/withdrawn-seats", headers=OPERATOR,
                         json={"seat_ids": ["A8"], "reason": "broken"})
    assert r.status_code != 429, r.text
    # Every write counts, whatever it is: another service keeps its own count.
    assert api.booking.post(f"/bookings/{uuid4()}/cancel", headers=MALLORY).status_code == 429
    assert api.pricing.post("/quotes", headers=MALLORY,
                            json={"show_id": "noon", "seat_ids": ["A1"]}).status_code != 429
