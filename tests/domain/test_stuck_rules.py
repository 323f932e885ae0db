"""The stuck-saga detector's rules: how long each step may take."""

from datetime import UTC, datetime, timedelta

import pytest

from projections.stuck import StuckRules

T0 = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)
RULES = StuckRules(pending=timedelta(seconds=30), reconcile_after=timedelta(seconds=30),
                   margin=timedelta(seconds=10))


def booking(status="PENDING", moved_s=0.0, **fields):
    at = T0 + timedelta(seconds=moved_s)
    return {"status": status, "requested_at": T0, "timeline": [{"at": at}],
            "attempts": {}, "attempts_requested": 1, "reserved_until": T0 + timedelta(minutes=10),
            "next_action": None, **fields}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_pending_is_stuck_once_inventory_is_later_than_its_threshold():
    assert RULES.verdict(booking(), at(30)) is None
    assert RULES.verdict(booking(), at(31))[0] == "inventory"


def test_an_attempt_in_flight_may_take_the_reconciliation_and_a_margin():
    doc = booking("PAYMENT_PENDING", moved_s=1)
    assert RULES.verdict(doc, at(41)) is None
    assert RULES.verdict(doc, at(41.5))[0] == "payment"


def test_paid_but_not_confirmed_is_stuck_after_the_margin():
    doc = booking("PAYMENT_PENDING", moved_s=5, attempts={"1": {"outcome": "succeeded"}})
    assert RULES.verdict(doc, at(15)) is None
    assert "paid" in RULES.verdict(doc, at(15.5))[1]


@pytest.mark.parametrize("waiting", [
    {"attempts": {"1": {"outcome": "failed"}}},  # a declined card: the customer retries
    {"next_action": {"type": "authenticate", "client_secret": "x"}},  # 3-D Secure
])
def test_the_customers_turn_lasts_until_the_hold_ends(waiting):
    doc = booking("PAYMENT_PENDING", moved_s=1, **waiting)
    assert RULES.verdict(doc, at(9 * 60)) is None
    assert RULES.verdict(doc, at(10 * 60 + 11))[1].startswith("the hold ended")


@pytest.mark.parametrize("status", ["CONFIRMED", "CANCELLED"])
def test_a_finished_booking_is_never_stuck(status):
    assert RULES.verdict(booking(status), at(3600)) is None
