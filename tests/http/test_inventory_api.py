"""Opening shows and reading their seats."""

import pytest

from tests.support.api import LAYOUT
from tests.support.tokens import ALICE, OPERATOR


def put_show(api, layout, show_id="show-1"):
    return api.inventory.put(f"/shows/{show_id}/inventory", json=layout, headers=OPERATOR)


def test_open_is_created_then_repeatable_then_conflicting(api):
    first = put_show(api, LAYOUT)
    assert first.status_code == 201
    assert first.headers["location"] == "/shows/show-1/seats"
    assert put_show(api, LAYOUT).status_code == 200
    other = put_show(api, {**LAYOUT, "currency": "USD"})
    assert other.status_code == 409 and other.json()["error"] == "show_conflict"


@pytest.mark.parametrize(
    "layout, says",
    [
        ({**LAYOUT, "seats": {}}, "at least one seat"),
        ({**LAYOUT, "prices": {"standard": 1200}}, "premium"),
    ],
)
def test_invalid_layout_is_unprocessable(api, layout, says):
    r = put_show(api, layout)
    assert r.status_code == 422 and r.json()["error"] == "invalid_layout"
    assert says in r.json()["message"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"currency": "eur"}, "currency"),
        ({"prices": {"standard": -1, "premium": 1}}, "prices"),
        ({"prices": {"standard": 10_000_001, "premium": 1}}, "prices"),
        ({"seats": {"A" * 17: "standard"}}, "seats"),
        ({"seats": {f"S{i}": "standard" for i in range(2001)}}, "seats"),
        ({"rows": 3}, "rows"),
    ],
)
def test_layout_bounds(api, change, field):
    r = put_show(api, {**LAYOUT, **change})
    assert r.status_code == 400, r.text
    assert field in r.json()["message"]


def test_a_full_house_fits_in_one_request(api):
    seats = {f"R{r:02d}S{s:03d}": "standard" for r in range(20) for s in range(100)}
    r = put_show(api, {"seats": seats, "prices": {"standard": 900}, "currency": "EUR"})
    assert r.status_code == 201 and r.json()["counts"]["total"] == 2000


def test_seats_show_states_but_not_holders_to_customers(api):
    api.open_show()
    api.book(seats=["A1"], method="pm_card_chargeDeclined")
    api.settle()
    seats = api.inventory.get("/shows/show-1/seats", headers=ALICE).json()
    assert seats["counts"] == {"total": 3, "available": 2, "reserved": 1, "booked": 0, "withdrawn": 0}
    a1 = seats["seats"][0]
    assert a1 == {"seat_id": "A1", "category": "standard", "price": 1200, "state": "RESERVED"}
    operator_view = api.inventory.get("/shows/show-1/seats", headers=OPERATOR).json()
    assert "booking_id" in operator_view["seats"][0]


def test_unknown_show_is_not_found(api):
    r = api.inventory.get("/shows/nope/seats", headers=ALICE)
    assert r.status_code == 404 and r.json()["error"] == "show_not_found"
