"""What the booking API accepts, what it refuses, and the words it uses to refuse."""

import pytest

from tests.support.api import LAYOUT
from tests.support.tokens import ALICE, BOB, OPERATOR


def test_same_key_same_request_returns_the_same_booking(api):
    api.open_show()
    first = api.book(key="again")
    second = api.book(key="again")
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["booking_id"] == second.json()["booking_id"]
    assert second.headers["location"] == first.headers["location"]


def test_same_key_other_request_is_a_conflict(api):
    api.open_show()
    api.book(key="again", seats=["A1"])
    r = api.book(key="again", seats=["A2"])
    assert r.status_code == 409
    assert r.json()["error"] == "idempotency_conflict"
    assert "different" in r.json()["message"]


def test_keys_are_per_customer(api):
    api.open_show()
    mine = api.book(key="same").json()["booking_id"]
    theirs = api.book(seats=["A2"], key="same", who=BOB)
    assert theirs.status_code == 202 and theirs.json()["booking_id"] != mine


def test_missing_idempotency_key_is_a_bad_request(api):
    body = {"show_id": "show-1", "seat_ids": ["A1"], "payment_method": "pm_card_visa"}
    r = api.booking.post("/bookings", json=body, headers=ALICE)
    assert r.status_code == 400
    assert "Idempotency-Key" in r.json()["message"]


@pytest.mark.parametrize("key", ["has space", "x" * 101, "a/b", ""])
def test_malformed_idempotency_key_is_a_bad_request(api, key):
    assert api.book(key=key).status_code == 400


def test_unknown_field_is_named(api):
    body = {"show_id": "show-1", "seat_ids": ["A1"], "payment_method": "pm_card_visa", "colour": 1}
    r = api.booking.post("/bookings", json=body, headers={**ALICE, "Idempotency-Key": "k"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert "colour" in r.json()["message"]
    assert r.json()["extra"][0]["key"] == "colour"


@pytest.mark.parametrize(
    "seats, field", [([], "seat_ids"), (["A" * 17], "seat_ids[0]")]
)
def test_seat_bounds(api, seats, field):
    r = api.book(seats=seats)
    assert r.status_code == 400 and r.json()["extra"][0]["key"] == field


@pytest.mark.parametrize("method", ["card_visa", "pm_", "pm_card-visa", "pm_" + "x" * 65])
def test_bad_payment_method(api, method):
    r = api.book(method=method)
    assert r.status_code == 400 and "payment_method" in r.json()["message"]


def test_bad_payment_method_on_retry(api):
    api.open_show()
    booking_id = api.book().json()["booking_id"]
    r = api.booking.post(
        f"/bookings/{booking_id}/payment-attempts", json={"payment_method": "visa"}, headers=ALICE
    )
    assert r.status_code == 400 and "payment_method" in r.json()["message"]


def test_malformed_json(api):
    r = api.booking.post(
        "/bookings", content=b"{not json", headers={**ALICE, "Idempotency-Key": "k",
                                                      "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_another_customers_booking_is_not_found(api):
    api.open_show()
    booking_id = api.book().json()["booking_id"]
    for request in (
        lambda: api.booking.get(f"/bookings/{booking_id}", headers=BOB),
        lambda: api.booking.post(f"/bookings/{booking_id}/cancel", headers=BOB),
        lambda: api.booking.post(
            f"/bookings/{booking_id}/payment-attempts", json={"payment_method": "pm_card_visa"},
            headers=BOB,
        ),
    ):
        r = request()
        assert r.status_code == 404 and r.json()["error"] == "booking_not_found"
    assert api.booking.get("/bookings", headers=BOB).json() == {"bookings": []}
    assert api.booking.get(f"/bookings/{booking_id}", headers=OPERATOR).status_code == 200


@pytest.mark.parametrize("booking_id", ["8a6e0804-2bd0-4672-b79d-d97027f9071a", "not-a-uuid"])
def test_unknown_booking_is_not_found(api, booking_id):
    r = api.booking.get(f"/bookings/{booking_id}", headers=ALICE)
    assert r.status_code == 404 and r.json()["error"] in ("booking_not_found", "not_found")


def test_unknown_show_cancels_the_booking(api):
    booking_id = api.book(show="no-such-show").json()["booking_id"]
    api.settle()
    booking = api.booking_of(booking_id)
    assert (booking["status"], booking["cancellation_detail"]) == ("CANCELLED", "unknown_show")


def test_bad_idempotency_key_is_named(api):
    r = api.book(key="has space")
    assert r.json()["message"].endswith(
        "idempotency_key (header): Expected `str` matching regex '^[A-Za-z0-9_.:-]+$'"
    )


def test_seats_known_taken_are_refused_at_once_and_nothing_is_booked(api):
    api.open_show()
    holder = api.book(seats=["A1"], method="pm_card_chargeDeclined", key="first")
    api.settle()  # inventory holds A1 for alice (her card was declined; the hold stays)
    before = api.system.booking.recorder.max_notification_id()
    r = api.book(seats=["A1", "A2"], key="late", who=BOB)
    assert r.status_code == 409
    assert r.json() == {"error": "seats_taken", "message":
                        "seats already held, sold or being booked on show-1: A1; nothing was booked,"
                        " choose others"}
    assert api.system.booking.recorder.max_notification_id() == before  # nothing recorded
    # The holder repeating her own request is not refused: the same booking again.
    again = api.book(seats=["A1"], method="pm_card_chargeDeclined", key="first")
    assert again.status_code == 200
    assert again.json()["booking_id"] == holder.json()["booking_id"]
    # Once inventory lets the seat go, it can be asked for again.
    assert api.booking.post(f"/bookings/{holder.json()['booking_id']}/cancel",
                            headers=ALICE).status_code == 200
    api.settle()
    assert api.book(seats=["A1", "A2"], key="later", who=BOB).status_code == 202


def test_a_second_request_for_seats_a_pending_booking_asked_for_is_refused_at_once(api):
    api.open_show()
    first = api.book(seats=["A1", "A2"], key="k1")
    assert first.status_code == 202  # PENDING: inventory has not answered yet
    before = api.system.booking.recorder.max_notification_id()
    r = api.book(seats=["A2", "A3"], key="k2", who=BOB)
    assert (r.status_code, r.json()["error"]) == (409, "seats_taken")
    assert api.system.booking.recorder.max_notification_id() == before  # nothing recorded
    assert api.book(seats=["A3"], key="k3", who=BOB).status_code == 202  # A3 was not claimed
    # Repeating the first request is not refused by its own claim.
    assert api.book(seats=["A1", "A2"], key="k1").status_code == 200
    api.settle()
    assert api.booking_of(first.json()["booking_id"])["status"] == "CONFIRMED"


def test_a_rejection_frees_the_seats_its_booking_had_claimed(api):
    # Inventory rejects Alice's second request (her hold limit); until it has, Bob is
    # refused at once; once it has, the seat is Bob's to ask for.
    api.open_show(layout={**LAYOUT, "seats": {f"A{i}": "standard" for i in range(1, 13)}})
    api.book(seats=[f"A{i}" for i in range(1, 11)], method="pm_card_chargeDeclined", key="ten")
    api.settle()  # ten seats held for Alice (declined: the hold stays), her limit
    extra = api.book(seats=["A11"], key="eleventh").json()["booking_id"]
    assert api.book(seats=["A11"], key="b1", who=BOB).status_code == 409  # claimed
    api.settle()
    assert api.booking_of(extra)["cancellation_detail"] == "customer_hold_limit"
    assert api.book(seats=["A11"], key="b2", who=BOB).status_code == 202


def test_a_seat_taken_unbeknown_to_booking_still_cancels_the_booking(api):
    # Two requests that booking could not tell apart (it lost what it knew in between,
    # as after a restart; or they came through two booking instances): both are
    # accepted, inventory decides, and the loser learns it from its booking.
    api.open_show()
    first = api.book(seats=["A1"], key="k1").json()["booking_id"]
    api.system.booking.taken_seats.forget()
    second = api.book(seats=["A1"], key="k2", who=BOB).json()["booking_id"]
    api.settle()
    assert api.booking_of(first)["status"] == "CONFIRMED"
    lost = api.booking_of(second, who=BOB)
    assert (lost["status"], lost["cancellation_detail"]) == ("CANCELLED", "seats_taken")
    # Now booking knows: a third request for A1 is refused at once...
    assert api.book(seats=["A1"], key="k3", who=BOB).json()["error"] == "seats_taken"
    # ...but repeating the request that lost still answers with the booking it made.
    again = api.book(seats=["A1"], key="k2", who=BOB)
    assert (again.status_code, again.json()["booking_id"]) == (200, second)
    assert again.json()["status"] == "CANCELLED"


def test_more_seats_than_the_limit_is_a_422_naming_it(api, settings):
    """Found by the fuzzer: the document sets no maximum (it is configuration), yet the
    request was refused as malformed (400)."""
    seats = [f"A{n}" for n in range(settings.limits.max_seats_per_booking + 1)]
    r = api.book(seats=seats)
    assert r.status_code == 422 and r.json()["error"] == "too_many_seats"
    assert f"at most {settings.limits.max_seats_per_booking}" in r.json()["message"]
