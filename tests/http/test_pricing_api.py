"""Prices over HTTP, on the embedded system: rules, a show's prices, quotes, and the price
a customer was quoted is the price charged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.clock import FakeClock
from shared.config import Settings
from tests.support.api import Api, serve
from tests.support.embedded import embedded_system
from tests.support.tokens import ALICE, BOB, OPERATOR

ODEON = {"name": "Odeon", "city": "London", "address": "Leicester Square",
         "time_zone": "Europe/London"}
ROWS = [
    {"row": "A", "seats": [{"number": n, "column": n, "category": "Regular"}
                           for n in range(1, 11)]},
    {"row": "B", "seats": [{"number": 1, "column": 1, "category": "Recliner"}]},
]
FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "IMAX"}
LIST_PRICES = {"Regular": 900, "Recliner": 1800}
# A Saturday evening in London (UTC+0 in February).
SATURDAY_EVENING = "2026-02-07T19:30"
RULES = {
    "currency": "GBP",
    "base": {"*": {"Regular": 1000, "Premium": 1400, "Recliner": 2000}},
    "time_bands": [{"name": "evening", "starts": "17:00", "ends": "22:00",
                    "adjustment": {"percent": 120}}],
    "day_types": {"weekend": {"add": 100}},
    "rounding": 50,
    "caps": {"Regular": 1500, "Recliner": 3000},
}


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """1 January 2026: a theatre, a screen of ten Regular seats and a Recliner, a show."""
    with serve(embedded_system(clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC))),
               settings) as api:
        assert api.theatre.put("/theatres/odeon", json=ODEON, headers=OPERATOR).status_code == 201
        r = api.theatre.put("/theatres/odeon/screens/one", json={"name": "1", "rows": ROWS},
                            headers=OPERATOR)
        assert r.status_code == 201, r.text
        r = api.theatre.put("/shows/s1", headers=OPERATOR, json={
            "theatre_id": "odeon", "screen_id": "one", "film": FILM, "start": SATURDAY_EVENING,
            "prices": LIST_PRICES, "currency": "GBP"})
        assert r.status_code == 201, r.text
        api.settle()
        yield api


def prices(api: Api, show: str = "s1") -> dict:
    r = api.pricing.get(f"/shows/{show}/prices", headers=ALICE)
    assert r.status_code == 200, r.text
    return r.json()


def change_rules(api: Api, rules: dict = RULES, applies: str = "all_shows", **more) -> dict:
    r = api.pricing.put("/rules", json={"rules": rules, "applies": applies, **more},
                        headers=OPERATOR)
    assert r.status_code == 200, r.text
    api.settle()
    return r.json()


def quote(api: Api, seats: list[str], who: dict = ALICE) -> dict:
    r = api.pricing.post("/quotes", json={"show_id": "s1", "seat_ids": seats}, headers=who)
    assert r.status_code == 201, r.text
    return r.json()


def book(api: Api, seats: list[str], key: str, who: dict = ALICE, method: str = "pm_card_visa",
         quote: str | None = None) -> dict:
    body = {"show_id": "s1", "seat_ids": seats, "payment_method": method}
    if quote is not None:
        body["quote"] = quote
    r = api.booking.post("/bookings", json=body, headers={**who, "Idempotency-Key": key})
    assert r.status_code == 202, r.text
    api.settle()
    return api.booking_of(r.json()["booking_id"], who)


def test_a_show_without_rules_is_priced_at_the_theatres_list_prices(api):
    sheet = prices(api)
    assert sheet["price_version"] == 1 and sheet["rules_version"] == 0
    assert {c: p["price"] for c, p in sheet["categories"].items()} == LIST_PRICES
    assert book(api, ["A1"], "k1")["amount"] == 900


def test_a_rule_change_for_all_shows_reprices_the_show_and_explains_it(api):
    change = change_rules(api, note="winter prices")
    assert change["version"] == 1 and change["changed_by"] == "ops"
    sheet = prices(api)
    assert sheet["price_version"] == 2 and sheet["rules_version"] == 1
    # Regular: 1000, evening 120% -> 1200, weekend +100 -> 1300 (a multiple of 50).
    # Recliner: 2000 -> 2400 -> 2500.
    assert {c: p["price"] for c, p in sheet["categories"].items()} == {
        "Regular": 1300, "Recliner": 2500}
    assert any("evening" in step for step in sheet["categories"]["Regular"]["explanation"])
    assert book(api, ["A1", "B1"], "k1")["amount"] == 3800  # inventory has version 2
    history = api.pricing.get("/rules", headers=OPERATOR).json()["changes"]
    assert [(c["version"], c["note"]) for c in history] == [(1, "winter prices")]


def seat_and_catalogue_prices(api: Api) -> tuple[dict, dict]:
    """Per category, a seat's price on inventory's seat map and in the theatre's catalogue
    (the show's prices, and each of its seats')."""
    r = api.inventory.get("/shows/s1/seats", headers=ALICE)
    assert r.status_code == 200, r.text
    on_map: dict[str, set[int]] = {}
    for seat in r.json()["seats"]:
        on_map.setdefault(seat["category"], set()).add(seat["price"])
    r = api.theatre.get("/catalogue/shows/s1", headers=ALICE)
    assert r.status_code == 200, r.text
    show = r.json()
    in_catalogue = {seat["category"]: seat["price"] for seat in show["seats"]}
    assert in_catalogue == show["prices"]
    return ({cat: prices.pop() for cat, prices in on_map.items() if len(prices) == 1},
            {**show["prices"], "version": show["price_version"]})


def test_the_seat_map_and_the_catalogue_show_what_a_hold_now_costs(api):
    assert seat_and_catalogue_prices(api) == (LIST_PRICES, {**LIST_PRICES, "version": 1})
    change_rules(api)  # for all shows, from now
    now = {"Regular": 1300, "Recliner": 2500}
    assert seat_and_catalogue_prices(api) == (now, {**now, "version": 2})
    assert book(api, ["A1"], "k1")["amount"] == now["Regular"]
    rule = {"threshold_percent": 10, "uplift_percent": 10, "max_uplift_percent": 10}
    r = api.pricing.put("/shows/s1/demand", json={"rule": rule}, headers=OPERATOR)
    assert r.status_code == 200, r.text
    api.settle()  # a tenth of Regular booked: +10 %, 1300 -> 1430, rounded to 1450
    raised = {"Regular": 1450, "Recliner": 2500}
    assert seat_and_catalogue_prices(api) == (raised, {**raised, "version": 3})
    assert {c: p["price"] for c, p in prices(api)["categories"].items()} == raised
    assert book(api, ["A2"], "k2")["amount"] == raised["Regular"]


def test_a_rule_change_for_new_shows_leaves_shows_on_sale_alone(api):
    api.clock.advance(timedelta(minutes=1))  # the show went on sale before the change
    change_rules(api, applies="new_shows")
    assert prices(api)["price_version"] == 1
    assert book(api, ["A1"], "k1")["amount"] == 900


def test_a_change_for_new_shows_prices_a_show_put_on_sale_that_very_moment(api):
    # The clock has not moved since the show went on sale: the change governs it
    # (pricing.rules.governing counts that moment in), so it prices it at once, and a
    # restart, whose first timer run reprices every show, changes nothing.
    change_rules(api, applies="new_shows")
    assert (prices(api)["price_version"], prices(api)["rules_version"]) == (2, 1)
    api.system.start_services()
    api.system.sweep()
    assert api.system.pricing.price_sheet("s1").price_version == 2


def test_a_quoted_booking_is_charged_the_quote(api):
    change_rules(api)
    q = quote(api, ["A1", "A2"])
    assert q["amount"] == 2600 and [line["price"] for line in q["lines"]] == [1300, 1300]
    booking = book(api, ["A1", "A2"], "k1", quote=q["quote"])
    assert booking["status"] == "CONFIRMED" and booking["amount"] == q["amount"]


def test_a_quote_older_than_a_price_change_is_refused_and_a_fresh_one_goes_through(api):
    old = quote(api, ["A1"])
    change_rules(api)
    refused = book(api, ["A1"], "k1", quote=old["quote"])
    assert refused["status"] == "CANCELLED"
    assert refused["cancellation_reason"] == "price_changed"
    fresh = quote(api, ["A1"])
    assert fresh["amount"] != old["amount"]
    booking = book(api, ["A1"], "k2", quote=fresh["quote"])
    assert booking["status"] == "CONFIRMED" and booking["amount"] == fresh["amount"]


def test_a_held_booking_keeps_its_price_through_a_rule_change(api):
    held = book(api, ["A1"], "k1", method="pm_card_chargeDeclined")
    assert held["status"] == "PAYMENT_PENDING" and held["amount"] == 900
    change_rules(api)
    r = api.booking.post(f"/bookings/{held['booking_id']}/payment-attempts",
                         json={"payment_method": "pm_card_visa"}, headers=ALICE)
    assert r.status_code == 202, r.text
    api.settle()
    paid = api.booking_of(held["booking_id"])
    assert paid["status"] == "CONFIRMED" and paid["amount"] == 900
    assert book(api, ["A2"], "k2")["amount"] == 1300  # a new hold: the new price


def test_demand_pricing_raises_a_category_once_enough_of_it_is_booked(api):
    change_rules(api)
    rule = {"threshold_percent": 30, "uplift_percent": 10, "every_percent": 20,
            "max_uplift_percent": 20}
    r = api.pricing.put("/shows/s1/demand", json={"rule": rule}, headers=OPERATOR)
    assert r.status_code == 200, r.text
    api.settle()
    assert book(api, ["A1", "A2"], "k1")["amount"] == 2600  # 20 % booked: no uplift yet
    assert book(api, ["A3"], "k2")["amount"] == 1300  # priced before it is booked
    # 30 % of Regular booked: +10 %, 1300 -> 1430, rounded to 1450.
    sheet = prices(api)
    assert sheet["categories"]["Regular"] == {
        **sheet["categories"]["Regular"], "price": 1450, "uplift_percent": 10}
    assert sheet["categories"]["Recliner"]["uplift_percent"] == 0
    q = quote(api, ["A4"], who=BOB)
    assert q["amount"] == 1450
    assert book(api, ["A4"], "k3", who=BOB, quote=q["quote"])["amount"] == 1450
    for n in range(5, 7):
        book(api, [f"A{n}"], f"k{n}", who=BOB)
    # 60 % booked: +10 % + 10 % for the next 20 %: +20 %, the cap; 1300 -> 1560 -> 1500,
    # the category's cap of 1500 too.
    assert prices(api)["categories"]["Regular"]["price"] == 1500
    assert book(api, ["A7"], "k7", who=BOB)["amount"] == 1500


def test_quotes_expire(api):
    q = quote(api, ["A1"])
    api.clock.advance(timedelta(minutes=6))
    r = api.booking.post("/bookings", headers={**ALICE, "Idempotency-Key": "k1"}, json={
        "show_id": "s1", "seat_ids": ["A1"], "payment_method": "pm_card_visa",
        "quote": q["quote"]})
    assert r.status_code == 409 and r.json()["error"] == "quote_expired", r.text


@pytest.mark.parametrize("change", ["other seats", "tampered"])
def test_a_quote_for_other_seats_or_altered_is_refused(api, change):
    q = quote(api, ["A1"])
    token = q["quote"] if change == "other seats" else q["quote"][:-4] + "AAAA"
    seats = ["A2"] if change == "other seats" else ["A1"]
    r = api.booking.post("/bookings", headers={**ALICE, "Idempotency-Key": "k1"}, json={
        "show_id": "s1", "seat_ids": seats, "payment_method": "pm_card_visa", "quote": token})
    assert r.status_code == 422 and r.json()["error"] == "invalid_quote", r.text


def test_bad_requests_get_clear_errors(api):
    r = api.pricing.put("/rules", json={"rules": RULES}, headers=ALICE)
    assert r.status_code == 403
    bad = {**RULES, "floors": {"Regular": 2000}, "caps": {"Regular": 1500}}
    r = api.pricing.put("/rules", json={"rules": bad}, headers=OPERATOR)
    assert r.status_code == 422 and r.json()["error"] == "invalid_rules", r.text
    r = api.pricing.post("/quotes", json={"show_id": "s1", "seat_ids": ["Z9"]}, headers=ALICE)
    assert r.status_code == 422 and r.json()["error"] == "unknown_seat", r.text
    r = api.pricing.get("/shows/nope/prices", headers=ALICE)
    assert r.status_code == 404 and r.json()["error"] == "show_not_found", r.text
    r = api.pricing.put("/shows/s1/demand", headers=OPERATOR, json={"rule": {
        "threshold_percent": 0, "uplift_percent": 10, "max_uplift_percent": 10}})
    assert r.status_code == 422 and r.json()["error"] == "invalid_demand_rule", r.text
    assert api.pricing.get("/rules", headers=OPERATOR).json()["changes"] == []


def test_lookups_are_answered_from_the_cache(api):
    before = api.pricing.get("/cache", headers=OPERATOR).json()
    for _ in range(5):
        prices(api)
    after = api.pricing.get("/cache", headers=OPERATOR).json()
    # The sheet was put in the cache by the write that priced the show.
    assert after["hits"] - before["hits"] == 5 and after["misses"] == before["misses"]
