from datetime import UTC, datetime
from uuid import uuid4

from payment.domain import Payment
from payment.gateway import SIMULATED, SimulatedGateway
from shared import ids

T0 = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)


def payment() -> Payment:
    return Payment(booking_id=uuid4(), show_id="s1")


def test_one_payment_per_booking_by_derived_id():
    p = payment()
    assert p.id == ids.payment_id(p.booking_id)


def test_an_attempt_is_due_only_when_method_and_amount_are_known_in_any_order():
    p = payment()
    p.seats_reserved(1000, "EUR", T0)
    assert p.due_attempt() is None
    p.attempt_requested(1, "pm_card_visa")
    due = p.due_attempt()
    assert (due.attempt, due.payment_method, due.amount) == (1, "pm_card_visa", 1000)
    q = payment()
    q.attempt_requested(1, "pm_card_visa")
    assert q.due_attempt() is None
    q.seats_reserved(1000, "EUR", T0)
    assert q.due_attempt() is not None


def test_retries_follow_failures_and_stop_at_success():
    p = payment()
    p.attempt_requested(1, "pm_card_chargeDeclined")
    p.seats_reserved(1000, "EUR", T0)
    p.record_failure(1, "card_declined", T0)
    assert p.due_attempt() is None
    p.attempt_requested(2, "pm_card_visa")
    p.attempt_requested(2, "pm_card_visa")  # repeated: ignored
    p.attempt_requested(5, "pm_card_visa")  # out of order: ignored
    due = p.due_attempt()
    assert due.attempt == 2
    p.record_success(due, "ch_1", T0)
    assert p.succeeded and p.due_attempt() is None


def test_a_closed_payment_makes_no_attempt_and_refunds_a_charge():
    p = payment()
    p.attempt_requested(1, "pm_card_visa")
    p.seats_reserved(1000, "EUR", T0)
    p.close("seats_released:hold_expired", T0)
    assert p.due_attempt() is None and not p.needs_refund()
    q = payment()
    q.attempt_requested(1, "pm_card_visa")
    q.seats_reserved(1000, "EUR", T0)
    q.record_success(q.due_attempt(), "ch_1", T0)
    q.close("seats_released:hold_expired", T0)
    q.close("booking_cancelled:hold_expired", T0)  # second close: no event
    assert q.needs_refund()
    q.record_refund("re_1", T0)
    assert q.refunded and not q.needs_refund()
    assert [type(e).__name__ for e in q.collect_events()].count("Closed") == 1


def test_idempotency_keys_differ_per_attempt():
    p = payment()
    p.attempt_requested(1, "pm_card_visa")
    p.seats_reserved(1000, "EUR", T0)
    k1 = p.due_attempt().idempotency_key(p.id)
    p.record_failure(1, "x", T0)
    p.attempt_requested(2, "pm_card_visa")
    assert p.due_attempt().idempotency_key(p.id) != k1


def test_gateway_honours_stripe_test_tokens():
    g = SimulatedGateway()
    assert g.charge("k1", "pm_card_visa", 100, "EUR", "b").succeeded
    declined = g.charge("k2", "pm_card_chargeDeclined", 100, "EUR", "b")
    assert (declined.succeeded, declined.decline_code) == (False, "card_declined")
    assert g.charge("k3", "pm_bogus", 100, "EUR", "b").decline_code == "invalid_payment_method"


def test_gateway_charges_once_per_idempotency_key():
    g = SimulatedGateway()
    first = g.charge("k1", "pm_card_visa", 100, "EUR", "b")
    again = g.charge("k1", "pm_card_visa", 100, "EUR", "b")
    assert first == again
    assert g.ledger.successful_charges_by_booking() == {"b": 1}
    g.refund("r1", first.charge_id, 100)
    g.refund("r1", first.charge_id, 100)
    assert g.ledger.refunded_total() == 100


def test_simulated_declines_follow_the_rate_and_the_seed():
    def outcomes(seed):
        g = SimulatedGateway(decline_rate=0.3, seed=seed)
        return [g.charge(f"k{i}", SIMULATED, 1, "EUR", "b").succeeded for i in range(2000)]

    first = outcomes(7)
    assert first == outcomes(7)  # deterministic under a seed
    assert first != outcomes(8)
    assert 0.25 < first.count(False) / len(first) < 0.35
