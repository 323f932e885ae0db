from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from inventory.domain import (
    BOOKED, RELEASED, RESERVED, HoldLimits, InventoryRuleViolation, ShowInventory,
)

T0 = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)
LIMITS = HoldLimits(max_seats=3, hold_for=timedelta(minutes=10))


def show() -> ShowInventory:
    seats = {"A1": "std", "A2": "std", "A3": "std", "V1": "vip"}
    return ShowInventory(show_id="s1", seats=seats, prices={"std": 1000, "vip": 2500}, currency="EUR")


def last_event(s: ShowInventory):
    return s.pending_events[-1]


def test_hold_takes_all_seats_prices_them_and_sets_the_deadline():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1", "V1"], T0, LIMITS)
    e = last_event(s)
    assert isinstance(e, ShowInventory.SeatsHeld)
    assert (e.amount, e.reserved_until) == (3500, T0 + timedelta(minutes=10))
    assert s.seat_state("A1") == s.seat_state("V1") == RESERVED
    assert s.seat_state("A2") == "AVAILABLE"


def test_default_hold_is_ten_minutes():
    assert HoldLimits().hold_for == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("seats", "reason", "culprits"),
    [
        ([], "no_seats", []),
        (["A1", "A2", "A3", "V1"], "too_many_seats", []),
        (["A1", "A1"], "duplicate_seat", []),
        (["A1", "Z9"], "unknown_seat", ["Z9"]),
    ],
)
def test_invalid_requests_are_rejected_with_a_reason(seats, reason, culprits):
    s = show()
    s.request_hold(uuid4(), seats, T0, LIMITS)
    e = last_event(s)
    assert isinstance(e, ShowInventory.HoldRejected)
    assert (e.reason, e.seat_ids) == (reason, culprits)
    assert not s.holders


def test_holds_are_all_or_nothing():
    s = show()
    s.request_hold(uuid4(), ["A2"], T0, LIMITS)
    s.request_hold(b := uuid4(), ["A1", "A2"], T0, LIMITS)
    e = last_event(s)
    assert (e.reason, e.seat_ids) == ("seats_taken", ["A2"])
    assert s.seat_state("A1") == "AVAILABLE"  # nothing of the rejected request is held
    assert s.hold_of(b)["status"] == "REJECTED"


def test_a_repeated_request_changes_nothing():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1"], T0, LIMITS)
    version = s.version
    s.request_hold(b, ["A1"], T0 + timedelta(minutes=30), LIMITS)
    s.request_hold(b, ["A2"], T0, LIMITS)
    assert s.version == version


def test_payment_within_the_hold_books_the_seats():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1"], T0, LIMITS)
    s.payment_succeeded(b, T0 + timedelta(minutes=9))
    assert s.seat_state("A1") == BOOKED


def test_a_late_success_never_resurrects_seats():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1"], T0, LIMITS)
    s.payment_succeeded(b, T0 + timedelta(minutes=10))  # expired, sweep not yet run
    e = last_event(s)
    assert isinstance(e, ShowInventory.SeatsReleased) and e.reason == "hold_expired"
    assert s.seat_state("A1") == "AVAILABLE"
    version = s.version
    s.payment_succeeded(b, T0 + timedelta(minutes=11))
    assert s.version == version


def test_expiry_releases_only_due_holds():
    s, early, late = show(), uuid4(), uuid4()
    s.request_hold(early, ["A1"], T0, LIMITS)
    s.request_hold(late, ["A2"], T0 + timedelta(minutes=5), LIMITS)
    assert s.next_deadline() == T0 + timedelta(minutes=10)
    assert s.release_expired(T0 + timedelta(minutes=9, seconds=59)) == []
    assert s.release_expired(T0 + timedelta(minutes=10)) == [str(early)]
    assert s.hold_of(early)["status"] == RELEASED
    assert s.seat_state("A2") == RESERVED
    assert s.next_deadline() == T0 + timedelta(minutes=15)


def test_booked_seats_do_not_expire():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1"], T0, LIMITS)
    s.payment_succeeded(b, T0)
    assert s.release_expired(T0 + timedelta(hours=1)) == []
    assert s.seat_state("A1") == BOOKED


def test_cancellation_releases_reserved_and_booked_seats_once():
    s, r, k = show(), uuid4(), uuid4()
    s.request_hold(r, ["A1"], T0, LIMITS)
    s.request_hold(k, ["A2"], T0, LIMITS)
    s.payment_succeeded(k, T0)
    s.booking_cancelled(r, T0)
    s.booking_cancelled(k, T0)  # booking cancels only before it confirms: free it too
    assert s.seat_state("A1") == s.seat_state("A2") == "AVAILABLE"
    version = s.version
    s.booking_cancelled(r, T0)
    assert s.version == version


def test_released_seats_can_be_held_again():
    s, first, second = show(), uuid4(), uuid4()
    s.request_hold(first, ["A1"], T0, LIMITS)
    s.release_expired(T0 + timedelta(minutes=10))
    s.request_hold(second, ["A1"], T0 + timedelta(minutes=10), LIMITS)
    assert s.holders["A1"] == str(second)


def test_layout_validation():
    with pytest.raises(InventoryRuleViolation, match="no price"):
        ShowInventory.validate_layout({"A1": "gold"}, {"std": 1})
    with pytest.raises(InventoryRuleViolation, match="at least one"):
        ShowInventory.validate_layout({}, {"std": 1})
    with pytest.raises(InventoryRuleViolation, match="negative"):
        ShowInventory.validate_layout({"A1": "std"}, {"std": -1})
