from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from booking.domain import (
    ALLOWED_TRANSITIONS,
    Booking,
    BookingRuleViolation,
    BookingStatus,
    CancellationReason,
)
from shared import contracts, ids

T0 = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)
UNTIL = T0 + timedelta(minutes=10)


def new_booking(**kw) -> Booking:
    args = {
        "customer_id": "ann", "idempotency_key": "k1", "show_id": "s1",
        "seat_ids": ["A1", "A2"], "payment_method": "pm_card_visa", "requested_at": T0,
    }
    args.update(kw)
    return Booking(**args)


def reserved_booking() -> Booking:
    b = new_booking()
    b.seats_reserved(2400, "EUR", UNTIL, T0)
    return b


def test_id_is_derived_from_customer_and_idempotency_key():
    assert new_booking().id == ids.booking_id("ann", "k1")
    assert new_booking(customer_id="bob").id != new_booking().id


def test_same_request_compares_content_not_seat_order():
    b = new_booking()
    assert b.is_same_request("s1", ["A2", "A1"], "pm_card_visa")
    assert not b.is_same_request("s1", ["A1"], "pm_card_visa")
    assert not b.is_same_request("s2", ["A1", "A2"], "pm_card_visa")


def test_reserved_seats_move_to_payment_pending_with_amount_and_deadline():
    b = reserved_booking()
    assert (b.status, b.amount, b.reserved_until) == (BookingStatus.PAYMENT_PENDING, 2400, UNTIL)


def test_rejected_seats_cancel_with_reason():
    b = new_booking()
    b.seats_rejected("seats_taken", T0)
    assert b.status is BookingStatus.CANCELLED
    assert (b.cancellation_reason, b.cancellation_detail) == ("seats_unavailable", "seats_taken")


def test_confirmation_comes_from_seats_booked():
    b = reserved_booking()
    b.payment_succeeded(1, T0)
    assert b.status is BookingStatus.PAYMENT_PENDING  # paid, but seats not yet booked
    b.seats_booked(T0)
    assert b.status is BookingStatus.CONFIRMED


def test_failed_payment_keeps_the_booking_pending_and_allows_a_retry():
    b = reserved_booking()
    b.payment_failed(1, "card_declined", T0)
    assert b.status is BookingStatus.PAYMENT_PENDING
    assert b.retry_payment("pm_card_visa", T0 + timedelta(minutes=1)) == 2
    assert b.payment_method == "pm_card_visa"


def test_retry_refused_while_an_attempt_is_in_flight():
    with pytest.raises(BookingRuleViolation, match="in progress"):
        reserved_booking().retry_payment("pm_card_visa", T0)


def test_retry_refused_after_the_hold_expired():
    b = reserved_booking()
    b.payment_failed(1, "card_declined", T0)
    with pytest.raises(BookingRuleViolation, match="expired"):
        b.retry_payment("pm_card_visa", UNTIL)


def test_retry_refused_before_seats_are_reserved_and_after_final_states():
    with pytest.raises(BookingRuleViolation):
        new_booking().retry_payment("pm_card_visa", T0)
    b = reserved_booking()
    b.cancel_by_customer(T0)
    with pytest.raises(BookingRuleViolation):
        b.retry_payment("pm_card_visa", T0)


def test_payment_failure_before_the_hold_is_known_is_remembered():
    b = new_booking()
    b.payment_failed(1, "card_declined", T0)  # payment's stream ran ahead of inventory's
    b.seats_reserved(2400, "EUR", UNTIL, T0)
    assert b.retry_payment("pm_card_visa", T0) == 2


def test_customer_cancel_only_while_active():
    b = reserved_booking()
    b.cancel_by_customer(T0)
    assert b.cancellation_reason == "cancelled_by_customer"
    with pytest.raises(BookingRuleViolation):
        b.cancel_by_customer(T0)
    c = reserved_booking()
    c.seats_booked(T0)
    with pytest.raises(BookingRuleViolation, match="CONFIRMED"):
        c.cancel_by_customer(T0)


def test_expiry_cancels_but_a_release_for_cancellation_changes_nothing():
    b = reserved_booking()
    b.seats_released("booking_cancelled", T0)
    assert b.status is BookingStatus.PAYMENT_PENDING
    b.seats_released("hold_expired", UNTIL)
    assert (b.status, b.cancellation_reason) == (BookingStatus.CANCELLED, "hold_expired")


def test_seats_booked_after_a_cancel_does_not_confirm():
    b = reserved_booking()
    b.cancel_by_customer(T0)
    b.seats_booked(T0)
    assert b.status is BookingStatus.CANCELLED


def test_refund_of_a_late_success_cancels_an_active_booking_and_is_recorded_once():
    b = reserved_booking()
    b.payment_refunded("re_1", 2400, UNTIL)
    assert (b.status, b.cancellation_reason, b.refunded_amount) == (
        BookingStatus.CANCELLED, "payment_refunded", 2400,
    )
    version = b.version
    b.payment_refunded("re_1", 2400, UNTIL)
    assert b.version == version


def test_partial_refunds_add_up_each_once_and_leave_a_confirmed_booking_confirmed():
    b = reserved_booking()
    b.seats_booked(T0)
    b.payment_refunded("re_1", 1000, UNTIL)  # an operator's, at the provider
    b.payment_refunded("re_2", 400, UNTIL)
    b.payment_refunded("re_1", 1000, UNTIL)  # redelivered
    assert (b.status, b.refunded_amount) == (BookingStatus.CONFIRMED, 1400)


def test_refund_after_expiry_keeps_the_original_reason():
    b = reserved_booking()
    b.seats_released("hold_expired", UNTIL)
    b.payment_refunded("re_1", 2400, UNTIL)
    assert (b.cancellation_reason, b.refunded_amount) == ("hold_expired", 2400)


def test_repeated_reactions_have_no_further_effect():
    b = reserved_booking()
    b.payment_failed(1, "card_declined", T0)
    version = b.version
    b.seats_reserved(2400, "EUR", UNTIL, T0)
    b.payment_failed(1, "card_declined", T0)
    b.seats_released("booking_cancelled", T0)
    assert b.version == version


def test_cancelled_is_final_and_confirmed_is_final_but_for_the_theatre():
    assert ALLOWED_TRANSITIONS[BookingStatus.CONFIRMED] == frozenset({BookingStatus.CANCELLED})
    assert ALLOWED_TRANSITIONS[BookingStatus.CANCELLED] == frozenset()
    b = reserved_booking()
    b.seats_booked(T0)
    b.seats_released("hold_expired", UNTIL)
    b.payment_refunded("re_1", 2400, UNTIL)
    with pytest.raises(BookingRuleViolation):
        b.cancel_by_customer(UNTIL)
    assert b.status is BookingStatus.CONFIRMED
    with pytest.raises(AssertionError):  # only the theatre's reasons cancel a confirmed one
        b._cancel(reason=CancellationReason.HOLD_EXPIRED, detail="", at=UNTIL)


@pytest.mark.parametrize("reason", ["show_cancelled", "seat_withdrawn"])
def test_the_theatre_cancels_a_booking_in_any_state_but_cancelled(reason):
    confirmed = reserved_booking()
    confirmed.seats_booked(T0)
    waiting = reserved_booking()
    cancelled = reserved_booking()
    cancelled.cancel_by_customer(T0)
    for b in (confirmed, waiting, cancelled):
        b.seats_released(reason, UNTIL)
        b.seats_released(reason, UNTIL)  # redelivered: no second effect
    assert {b.status for b in (confirmed, waiting)} == {BookingStatus.CANCELLED}
    assert confirmed.cancellation_reason == waiting.cancellation_reason == reason
    assert cancelled.cancellation_reason == CancellationReason.CANCELLED_BY_CUSTOMER
    confirmed.payment_refunded("re_1", 2400, UNTIL)  # the refund that follows changes no status
    assert confirmed.refunded_amount == 2400 and confirmed.status is BookingStatus.CANCELLED


def test_a_request_for_a_cancelled_show_is_cancelled_as_show_cancelled():
    b = new_booking()
    b.seats_rejected("show_cancelled", T0)
    assert (b.status, b.cancellation_reason) == (BookingStatus.CANCELLED, "show_cancelled")
    other = new_booking()
    other.seats_rejected("seat_withdrawn", T0)
    assert (other.cancellation_reason, other.cancellation_detail) == ("seats_unavailable",
                                                                      "seat_withdrawn")


def test_stored_events_replay_to_the_same_state():
    b = reserved_booking()
    b.payment_failed(1, "card_declined", T0)
    events = b.collect_events()
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert copy.__dict__ == b.__dict__


def test_every_cancellation_reason_is_one_the_public_contract_names():
    """booking/publishing.py publishes the reason's value as BookingCancelled's reason."""
    assert {r.value for r in CancellationReason} == set(get_args(contracts.BookingCancelReason))


def test_an_attempt_waiting_for_authentication_shows_its_action_until_an_outcome():
    b = reserved_booking()
    b.payment_action_required(1, "pi_1_secret", T0)
    b.payment_action_required(1, "pi_1_secret", T0)  # repeated: one event
    assert b.next_action == {"type": "authenticate", "client_secret": "pi_1_secret"}
    assert [type(e).__name__ for e in b.collect_events()].count("PaymentActionRequired") == 1
    failed = reserved_booking()
    failed.payment_action_required(1, "s", T0)
    failed.payment_failed(1, "authentication_failed", T0)
    assert failed.next_action is None
    paid = reserved_booking()
    paid.payment_action_required(1, "s", T0)
    paid.payment_succeeded(1, T0)
    assert paid.next_action is None
    cancelled = reserved_booking()
    cancelled.payment_action_required(1, "s", T0)
    cancelled.cancel_by_customer(T0)
    assert cancelled.next_action is None


def test_a_retry_abandons_an_attempt_waiting_for_authentication():
    b = reserved_booking()
    with pytest.raises(BookingRuleViolation, match="in progress"):
        b.retry_payment("pm_card_visa", T0)  # an attempt in progress, not waiting
    b.payment_action_required(1, "s1", T0)
    assert b.retry_payment("pm_card_visa", T0) == 2
    assert b.next_action is None  # attempt 2's, not attempt 1's
    b.payment_action_required(1, "s1-again", T0)  # the abandoned attempt's: ignored
    assert b.next_action is None and 1 in b.client_secrets
    b.payment_failed(1, "canceled", T0)  # payment cancelled it
    b.payment_succeeded(2, T0)
    assert (b.paid, b.paid_attempt) == (True, 2)


def test_an_action_before_the_hold_is_known_is_remembered():
    b = new_booking()
    b.payment_action_required(1, "s", T0)  # payment's topic ran ahead of inventory's
    assert b.next_action is None  # nothing to authenticate for until the seats are held
    b.seats_reserved(2400, "EUR", UNTIL, T0)
    assert b.next_action == {"type": "authenticate", "client_secret": "s"}
