"""The saga driven over HTTP: book, pay, retry, cancel, expire."""

from datetime import timedelta

from booking.domain import Booking
from tests.support.api import LAYOUT
from tests.support.tokens import ALICE, BOB, OPERATOR


def test_happy_path_reaches_confirmed(api):
    api.open_show()
    r = api.book(seats=["A1", "A3"])
    assert r.status_code == 202
    booking = r.json()
    assert r.headers["location"] == f"/bookings/{booking['booking_id']}"
    assert booking["status"] == "PENDING" and booking["amount"] is None

    api.settle()
    done = api.booking_of(booking["booking_id"])
    assert done["status"] == "CONFIRMED"
    assert (done["amount"], done["currency"]) == (3000, "EUR")
    assert done["requested_at"].endswith("Z") and done["reserved_until"].endswith("Z")

    seats = api.inventory.get("/shows/show-1/seats", headers=ALICE).json()
    assert seats["counts"] == {"total": 3, "available": 1, "reserved": 0, "booked": 2, "withdrawn": 0}
    payment = api.payment.get(f"/bookings/{booking['booking_id']}/payment", headers=OPERATOR)
    assert payment.json()["status"] == "CAPTURED"
    assert payment.json()["attempts"] == [{"number": 1, "succeeded": True, "reason": ""}]


def test_declined_card_then_retry_confirms(api):
    api.open_show()
    booking_id = api.book(method="pm_card_chargeDeclined").json()["booking_id"]
    api.settle()
    declined = api.booking_of(booking_id)
    assert declined["status"] == "PAYMENT_PENDING"
    assert declined["payment_attempts"] == [
        {"attempt": 1, "outcome": "failed", "reason": "card_declined"}
    ]

    r = api.booking.post(
        f"/bookings/{booking_id}/payment-attempts", json={"payment_method": "pm_card_visa"},
        headers=ALICE,
    )
    assert r.status_code == 202
    assert r.json() == {"booking_id": booking_id, "attempt": 2, "payment_method": "pm_card_visa"}
    api.settle()
    assert api.booking_of(booking_id)["status"] == "CONFIRMED"
    attempts = api.payment.get(f"/bookings/{booking_id}/payment", headers=OPERATOR).json()
    assert [a["reason"] for a in attempts["attempts"]] == ["card_declined", ""]


def test_retry_while_an_attempt_is_pending_is_a_conflict(api):
    api.open_show()
    booking_id = api.book().json()["booking_id"]  # not settled: still PENDING
    r = api.booking.post(
        f"/bookings/{booking_id}/payment-attempts", json={"payment_method": "pm_card_visa"},
        headers=ALICE,
    )
    assert r.status_code == 409
    assert r.json()["error"] == "booking_rule_violation"
    assert "PENDING" in r.json()["message"]


def test_retry_after_the_hold_expired_is_a_conflict(api):
    api.open_show()
    booking_id = api.book(method="pm_card_chargeDeclined").json()["booking_id"]
    api.settle()
    api.clock.advance(timedelta(minutes=11))
    r = api.booking.post(
        f"/bookings/{booking_id}/payment-attempts", json={"payment_method": "pm_card_visa"},
        headers=ALICE,
    )
    assert r.status_code == 409 and "expired" in r.json()["message"]
    api.system.sweep()
    expired = api.booking_of(booking_id)
    assert (expired["status"], expired["cancellation_reason"]) == ("CANCELLED", "hold_expired")


def test_cancel_releases_the_seats(api):
    api.open_show()
    booking_id = api.book(method="pm_card_chargeDeclined").json()["booking_id"]
    api.settle()
    r = api.booking.post(f"/bookings/{booking_id}/cancel", headers=ALICE)
    assert r.status_code == 200
    assert r.json()["status"] == "CANCELLED"
    assert r.json()["cancellation_reason"] == "cancelled_by_customer"
    api.settle()
    seats = api.inventory.get("/shows/show-1/seats", headers=ALICE).json()
    assert seats["counts"]["available"] == 3
    again = api.booking.post(f"/bookings/{booking_id}/cancel", headers=ALICE)
    assert again.status_code == 409 and again.json()["error"] == "booking_rule_violation"


def test_taken_seats_cancel_the_second_booking(api):
    api.open_show()
    api.book(key="first")
    api.system.booking.taken_seats.forget()  # as if the second came through another instance
    second = api.book(key="second").json()["booking_id"]
    api.settle()
    cancelled = api.booking_of(second)
    assert cancelled["status"] == "CANCELLED"
    assert (cancelled["cancellation_reason"], cancelled["cancellation_detail"]) == (
        "seats_unavailable", "seats_taken",
    )


def test_list_bookings_newest_first_with_limit(api):
    api.open_show()
    ids = []
    for seat in ("A1", "A2", "A3"):
        ids.append(api.book(seats=[seat], key=f"k-{seat}").json()["booking_id"])
        api.clock.advance(timedelta(seconds=1))
    listed = api.booking.get("/bookings", headers=ALICE).json()["bookings"]
    assert [b["booking_id"] for b in listed] == ids[::-1]
    two = api.booking.get("/bookings", params={"limit": 2}, headers=ALICE).json()["bookings"]
    assert [b["booking_id"] for b in two] == ids[:0:-1]
    assert api.booking.get("/bookings", params={"limit": 0}, headers=ALICE).status_code == 400
    assert api.booking.get("/bookings", params={"limit": 101}, headers=ALICE).status_code == 400


def test_each_write_answers_with_its_own_position_as_the_consistency_token(api, monkeypatch):
    """The X-Consistency-Token of a write is where that write's event is in booking's
    sequence, not the store's head: read-your-writes waits for it and for nothing later,
    even when other writes land between this one and its answer."""
    api.open_show(layout={**LAYOUT, "seats": {f"A{i}": "standard" for i in range(1, 9)}})
    bookings = api.system.booking
    save_all, others = bookings.save_all, iter(range(1, 100))

    def save_then_another_lands(*aggregates):
        position = save_all(*aggregates)
        other = Booking(customer_id=f"other{next(others)}", idempotency_key="k",
                        show_id="show-1", seat_ids=["A8"], payment_method="pm_card_visa",
                        requested_at=api.clock.now())
        save_all(other)  # as another request's, between this write and its answer
        return position

    def event_at(token: str) -> tuple[str, str]:
        service, position = token.split(":")
        [n] = bookings.recorder.select_notifications(start=int(position), limit=1)
        assert (service, n.id) == ("booking", int(position))
        return str(n.originator_id), n.topic.rsplit(".", 1)[1]

    monkeypatch.setattr(bookings, "save_all", save_then_another_lands)
    mine = api.book(seats=["A1"], method="pm_card_chargeDeclined", key="k1")
    booking_id = mine.json()["booking_id"]
    assert event_at(mine.headers["X-Consistency-Token"]) == (booking_id, "Requested")
    api.settle()

    repeat = api.book(seats=["A1"], method="pm_card_chargeDeclined", key="k1")
    assert repeat.status_code == 200  # wrote nothing now: the head, after its first write
    head = bookings.recorder.max_notification_id()
    assert repeat.headers["X-Consistency-Token"] == f"booking:{head}"

    retried = api.booking.post(f"/bookings/{booking_id}/payment-attempts",
                               json={"payment_method": "pm_card_visa"}, headers=ALICE)
    assert retried.status_code == 202
    assert event_at(retried.headers["X-Consistency-Token"]) == (booking_id,
                                                                 "PaymentRetryRequested")
    theirs = api.book(seats=["A3"], who=BOB, key="k2").json()["booking_id"]
    cancelled = api.booking.post(f"/bookings/{theirs}/cancel", headers=BOB)
    assert cancelled.status_code == 200
    assert event_at(cancelled.headers["X-Consistency-Token"]) == (theirs, "Cancelled")
