"""The saga's paths through the real system: three processes, PostgreSQL, Kafka, HTTP."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import invariants as inv

pytestmark = pytest.mark.infra


def new_show(system, seats: int = 10) -> str:
    show_id = f"show-{uuid.uuid4().hex[:8]}"
    system.open_show(show_id, seats=seats)
    return show_id


def test_post_to_confirmed(shared_system):
    show = new_show(shared_system)
    r = shared_system.book("ann", show, ["A1", "A2"])
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "PENDING"
    doc = shared_system.wait_for("ann", r.json()["booking_id"])
    assert (doc["status"], doc["amount"]) == ("CONFIRMED", 2000)
    assert shared_system.seats(show)["A1"] == "BOOKED"  # booked before it was confirmed


def test_failure_then_retry_confirms(shared_system):
    show = new_show(shared_system)
    booking_id = shared_system.book("bob", show, ["A3"], "pm_card_chargeDeclined").json()["booking_id"]
    deadline = time.monotonic() + 20
    while not shared_system.booking("bob", booking_id)["payment_attempts"]:
        assert time.monotonic() < deadline, "payment never failed"
        time.sleep(0.05)
    # A failure keeps the hold.
    assert shared_system.seats(show)["A3"] == "RESERVED"
    # The view may show the failure before the booking service has heard of it; until
    # then a retry is refused as "in progress" (409), and a client simply tries again.
    while True:
        r = shared_system.clients["booking"].post(
            f"/bookings/{booking_id}/payment-attempts", json={"payment_method": "pm_card_visa"},
            headers=shared_system.auth("bob"),
        )
        if r.status_code == 202 or "in progress" not in r.text:
            break
        assert time.monotonic() < deadline, "booking never heard of the failure"
        time.sleep(0.05)
    assert r.status_code == 202, r.text
    assert shared_system.wait_for("bob", booking_id)["status"] == "CONFIRMED"


def test_no_retry_cancels_at_expiry_and_frees_the_seats(shared_system):
    show = new_show(shared_system)
    booking_id = shared_system.book("cat", show, ["A4"], "pm_card_chargeDeclined").json()["booking_id"]
    doc = shared_system.wait_for("cat", booking_id, timeout=40)  # hold is 8 s here
    assert (doc["status"], doc["cancellation_reason"]) == ("CANCELLED", "hold_expired")
    assert shared_system.seats(show)["A4"] == "AVAILABLE"  # released before it was cancelled


def test_customer_cancellation_releases(shared_system):
    show = new_show(shared_system)
    booking_id = shared_system.book("dan", show, ["A5"], "pm_card_chargeDeclined").json()["booking_id"]
    shared_system.wait_for("dan", booking_id, statuses={"PAYMENT_PENDING"})
    r = shared_system.clients["booking"].post(
        f"/bookings/{booking_id}/cancel", headers=shared_system.auth("dan")
    )
    assert r.status_code == 200, r.text
    doc = shared_system.wait_for("dan", booking_id)
    assert doc["cancellation_reason"] == "cancelled_by_customer"
    shared_system.wait_for_seat(show, "A5", "AVAILABLE")  # released after the cancellation


def test_a_late_success_is_refunded(start_system):
    # The provider answers each call 2.5 s later: the intent, created within the hold, is
    # confirmed within it (at about 2.5 s of 4) and succeeds after it (at about 5 s).
    system = start_system(hold_seconds="4", gateway_latency_ms="2500")
    show = new_show(system)
    booking_id = system.book("eve", show, ["A1"]).json()["booking_id"]
    doc = system.wait_for("eve", booking_id)
    assert doc["status"] == "CANCELLED"
    deadline = time.monotonic() + 20
    while not system.booking("eve", booking_id)["refunded_amount"]:
        assert time.monotonic() < deadline, "late success never refunded"
        time.sleep(0.1)
    assert system.seats(show)["A1"] == "AVAILABLE"
    ledger = system.ledger()
    assert ledger.captured_by_booking() == {booking_id: 1000}
    assert ledger.refunded_total() == 1000
    ledger.close()


def test_contention_each_seat_won_once_and_losers_told_why(shared_system):
    show = new_show(shared_system, seats=4)
    customers = [f"racer{i}" for i in range(24)]

    def race(customer):
        r = shared_system.book(customer, show, ["A1", "A2"])
        if r.status_code == 409:  # booking already knew the seats were taken
            assert r.json()["error"] == "seats_taken", r.text
            return customer, None
        assert r.status_code == 202, r.text
        return customer, r.json()["booking_id"]

    with ThreadPoolExecutor(12) as pool:
        bookings = list(pool.map(race, customers))
    refused = [c for c, b in bookings if b is None]
    outcomes = [shared_system.wait_for(c, b) for c, b in bookings if b is not None]
    winners = [d for d in outcomes if d["status"] == "CONFIRMED"]
    losers = [d for d in outcomes if d["status"] == "CANCELLED"]
    # Every loser is told: at once (409), or by its booking's cancellation.
    assert len(winners) == 1 and len(losers) + len(refused) == len(customers) - 1
    assert {(d["cancellation_reason"], d["cancellation_detail"]) for d in losers} <= {
        ("seats_unavailable", "seats_taken")
    }
    stores = shared_system.stores()
    inv.one_holder_per_seat(stores)


def test_the_customer_is_told_of_the_confirmation(shared_system):
    """The notification service follows the saga in the distributed system: it decides
    the confirmation and sends it (its channels record, here), and the booking's customer
    reads what was sent."""
    notifications = shared_system.clients["notifications"]
    r = notifications.put("/customers/me/contact", json={"email": "dan@example.com"},
                          headers=shared_system.auth("dan"))
    assert r.status_code == 200, r.text
    show = new_show(shared_system)
    booking_id = shared_system.book("dan", show, ["A9"]).json()["booking_id"]
    assert shared_system.wait_for("dan", booking_id)["status"] == "CONFIRMED"
    deadline = time.monotonic() + 20
    while True:
        r = notifications.get(f"/bookings/{booking_id}/notifications",
                              headers=shared_system.auth("dan"))
        told = r.json().get("notifications", []) if r.status_code == 200 else []
        if any(n["status"] == "sent" for n in told):
            break
        assert time.monotonic() < deadline, f"no confirmation sent: {r.status_code} {r.text}"
        time.sleep(0.1)
    assert [(n["kind"], n["channel"], n["to"]) for n in told] == [
        ("confirmation", "email", "dan@example.com")]
    other = notifications.get(f"/bookings/{booking_id}/notifications",
                              headers=shared_system.auth("eve"))
    assert other.status_code == 404
