from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from payment.domain import AT_ONCE, Payment
from payment.gateway import (
    AUTHENTICATION_REQUIRED,
    SIMULATED,
    IntentStateError,
    SimulatedProvider,
    sign,
)
from payment.intents import Intent, InvalidWebhook, Refund
from shared import ids
from shared.clock import FakeClock

T0 = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)


def payment() -> Payment:
    return Payment(booking_id=uuid4(), show_id="s1")


def started(method: str = "pm_card_visa", intent_id: str = "pi_1") -> Payment:
    """A payment whose first attempt's intent is recorded, not confirmed."""
    p = payment()
    p.attempt_requested(1, method)
    p.seats_reserved(1000, "EUR", T0 + timedelta(minutes=10))
    p.start_attempt(p.due_attempt(), intent_id, T0)
    return p


def intent(status: str, intent_id: str = "pi_1", **kw) -> Intent:
    return Intent(intent_id, status, **kw)


def names(p: Payment) -> list[str]:
    return [type(e).__name__ for e in p.collect_events()]


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


def test_a_started_attempt_is_no_longer_due_and_stays_open_until_its_outcome():
    p = started()
    assert p.due_attempt() is None
    assert [(o.attempt, o.intent_id) for o in p.open_intents()] == [(1, "pi_1")]
    assert p.unsettled_since() == T0
    p.intent_outcome(intent("processing"), T0)  # still pending: nothing recorded
    assert names(p)[-1] == "AttemptStarted"
    p.intent_outcome(intent("succeeded", charge_id="ch_1"), T0)
    assert p.succeeded and p.charge_intent == "pi_1" and not p.open_intents()
    assert p.unsettled_since() is None


def test_an_intents_outcome_is_recorded_once_whatever_comes_after():
    p = started()
    p.collect_events()
    p.intent_outcome(intent("succeeded", charge_id="ch_1"), T0)
    p.intent_outcome(intent("succeeded", charge_id="ch_1"), T0)  # the webhook, after the answer
    p.intent_outcome(intent("failed", decline_code="card_declined"), T0)  # out of order
    p.intent_outcome(intent("requires_action", client_secret="s"), T0)
    p.intent_outcome(intent("canceled"), T0)
    assert names(p) == ["AttemptSucceeded"]
    assert p.attempts == [{"attempt": 1, "succeeded": True, "reason": ""}]


def test_a_failure_a_cancel_and_an_action_each_have_their_event():
    p = started(AUTHENTICATION_REQUIRED)
    p.collect_events()
    p.intent_outcome(intent("requires_action", client_secret="pi_1_secret"), T0)
    p.intent_outcome(intent("requires_action", client_secret="pi_1_secret"), T0)
    assert names(p) == ["ActionRequired"]
    assert p.open_intents()[0].client_secret == "pi_1_secret"
    p.intent_outcome(intent("failed", decline_code="authentication_failed"), T0)
    assert p.attempts[-1]["reason"] == "authentication_failed"
    q = started()
    q.intent_outcome(intent("canceled"), T0, canceled_reason="hold_expired")
    assert q.attempts[-1] == {"attempt": 1, "succeeded": False, "reason": "hold_expired"}


def test_an_intent_this_payment_never_started_changes_nothing():
    p = started()
    p.collect_events()
    p.intent_outcome(intent("succeeded", intent_id="pi_other", charge_id="ch_x"), T0)
    p.provider_refunded(Refund("re_x", "pi_other", 1000), T0)
    assert names(p) == [] and not p.succeeded


def test_a_retry_while_an_attempt_waits_is_due_and_the_waiting_intent_still_open():
    p = started(AUTHENTICATION_REQUIRED)
    p.intent_outcome(intent("requires_action", client_secret="s"), T0)
    p.attempt_requested(2, "pm_card_visa")
    assert p.due_attempt().attempt == 2
    assert [o.attempt for o in p.open_intents()] == [1]  # the service cancels it first
    p.intent_outcome(intent("canceled"), T0)
    p.start_attempt(p.due_attempt(), "pi_2", T0)
    p.intent_outcome(intent("succeeded", intent_id="pi_2", charge_id="ch_2"), T0)
    assert [a["attempt"] for a in p.attempts] == [1, 2] and p.charge_intent == "pi_2"


def test_a_second_success_is_not_kept_and_is_refunded():
    p = started("pm_card_chargeDeclined")
    p.intent_outcome(intent("failed", decline_code="card_declined"), T0)
    p.attempt_requested(2, "pm_card_visa")
    p.start_attempt(p.due_attempt(), "pi_2", T0)
    p.intent_outcome(intent("succeeded", intent_id="pi_2", charge_id="ch_2"), T0)
    # The declined intent is paid again at the provider, after its attempt failed.
    p.intent_outcome(intent("succeeded", intent_id="pi_1", charge_id="ch_1"), T0)
    assert p.charge_intent == "pi_2" and p.not_kept_unrefunded() == ["pi_1"]
    assert p.unsettled_since() == AT_ONCE  # a refund is owed
    p.record_not_kept_refund("pi_1", "re_1", T0)
    p.provider_refunded(Refund("re_1", "pi_1", 1000), T0)  # its webhook: absorbed
    assert not p.not_kept_unrefunded() and p.unsettled_since() is None
    assert not p.refunded and not p.needs_refund()  # the charge kept stands


def test_a_closed_payment_makes_no_attempt_and_refunds_a_charge():
    p = payment()
    p.attempt_requested(1, "pm_card_visa")
    p.seats_reserved(1000, "EUR", T0)
    p.close("seats_released:hold_expired", T0)
    assert p.due_attempt() is None and not p.needs_refund()
    q = started()
    q.intent_outcome(intent("succeeded", charge_id="ch_1"), T0)
    q.close("seats_released:hold_expired", T0)
    q.close("booking_cancelled:hold_expired", T0)  # second close: no event
    assert q.needs_refund() and q.refund_due() == 1000
    q.record_refund("re_1", 1000, T0)
    assert q.refunded and not q.needs_refund()
    assert names(q).count("Closed") == 1


def test_refunds_the_provider_reports():
    ours = started()
    ours.intent_outcome(intent("succeeded", charge_id="ch_1"), T0)
    ours.close("booking_cancelled:cancelled_by_customer", T0)
    ours.record_refund("re_1", 1000, T0)
    ours.collect_events()
    ours.provider_refunded(Refund("re_1", "pi_1", 1000), T0)  # ours: absorbed
    ours.provider_refunded(Refund("re_9", "pi_1", 1000), T0)  # nothing of it is left
    assert names(ours) == []

    standing = started()
    standing.intent_outcome(intent("succeeded", charge_id="ch_1"), T0)
    standing.collect_events()
    standing.provider_refunded(Refund("re_op", "pi_1", 1000), T0)  # an operator's
    standing.provider_refunded(Refund("re_op", "pi_1", 1000), T0)
    assert names(standing) == ["RefundedOutside"]
    assert standing.refunded and standing.refunded_outside == 1000
    standing.close("booking_cancelled:payment_refunded", T0)
    assert not standing.needs_refund()  # nothing left to give back

    owed = started()
    owed.intent_outcome(intent("succeeded", charge_id="ch_1"), T0)
    owed.close("seats_released:hold_expired", T0)
    owed.collect_events()
    owed.provider_refunded(Refund("re_op", "pi_1", 1000), T0)  # made before ours: the one owed
    assert names(owed) == ["Refunded"] and owed.refund_id == "re_op"


def test_a_partial_refund_outside_leaves_the_rest_owed_when_the_charge_cannot_stand():
    p = started()
    p.intent_outcome(intent("succeeded", charge_id="ch_1"), T0)
    p.provider_refunded(Refund("re_op", "pi_1", 300), T0)
    assert not p.refunded
    p.close("seats_released:show_cancelled", T0)
    assert p.refund_due() == 700


def test_attempt_keys_differ_per_attempt():
    p = started("pm_card_chargeDeclined")
    p.intent_outcome(intent("failed", decline_code="card_declined"), T0)
    p.attempt_requested(2, "pm_card_visa")
    assert p.due_attempt().idempotency_key(p.id) == f"{p.id}/attempt/2"


# --- the simulated provider ----------------------------------------------------------------


def created(provider: SimulatedProvider, method: str, key: str = "k1", booking: str = "b"):
    return provider.create_intent(key, method, 100, "EUR", {"booking_id": booking})


def test_provider_honours_stripe_test_tokens_at_confirm():
    p = SimulatedProvider()
    visa = created(p, "pm_card_visa")
    assert visa.status == "requires_confirmation"  # nothing charged yet
    assert p.ledger.captured_by_booking() == {}
    assert p.confirm("c", visa.intent_id).status == "succeeded"
    declined = p.confirm("c", created(p, "pm_card_chargeDeclined", "k2").intent_id)
    assert (declined.status, declined.decline_code) == ("failed", "card_declined")
    unknown = created(p, "pm_bogus", "k3")
    assert (unknown.status, unknown.decline_code) == ("failed", "invalid_payment_method")
    assert p.ledger.captured_by_booking() == {"b": 100}


def test_provider_ignores_idempotency_keys_on_create_and_confirms_an_intent_once():
    p = SimulatedProvider()
    first, again = created(p, "pm_card_visa"), created(p, "pm_card_visa")
    assert first.intent_id != again.intent_id  # as the local Stripe server does
    p.confirm("c", first.intent_id)
    with pytest.raises(IntentStateError):
        p.confirm("c", first.intent_id)
    assert p.ledger.successful_charges_by_booking() == {"b": 1}  # the other was never confirmed
    assert p.ledger.confirmations_by_intent() == {first.intent_id: 2}  # the refused ask counts


def test_three_d_secure_waits_for_the_customer():
    p = SimulatedProvider(queue_events=True)
    waiting = p.confirm("c", created(p, AUTHENTICATION_REQUIRED).intent_id)
    assert waiting.status == "requires_action" and waiting.client_secret.startswith("pi_")
    assert p.ledger.captured_by_booking() == {}
    done = p.authenticate(waiting.intent_id, success=True)
    assert done.status == "succeeded" and p.ledger.captured_by_booking() == {"b": 100}
    failed = p.confirm("c", created(p, AUTHENTICATION_REQUIRED, "k2").intent_id)
    assert p.authenticate(failed.intent_id, success=False).status == "failed"
    assert [e.type for e in p.events] == [
        "payment_intent.requires_action", "payment_intent.succeeded",
        "payment_intent.requires_action", "payment_intent.payment_failed"]


def test_cancel_stops_an_intent_not_charged_and_answers_a_charged_one_as_it_is():
    p = SimulatedProvider()
    waiting = p.confirm("c", created(p, AUTHENTICATION_REQUIRED).intent_id)
    assert p.cancel("x", waiting.intent_id).status == "canceled"
    with pytest.raises(IntentStateError):
        p.authenticate(waiting.intent_id, success=True)
    paid = p.confirm("c", created(p, "pm_card_visa", "k2").intent_id)
    assert p.cancel("x", paid.intent_id).status == "succeeded"


def test_refunds_honour_their_key_and_never_exceed_the_charge():
    p = SimulatedProvider()
    paid = p.confirm("c", created(p, "pm_card_visa").intent_id)
    first = p.refund("r1", paid.intent_id, 100)
    assert p.refund("r1", paid.intent_id, 100) == first
    with pytest.raises(IntentStateError):
        p.refund("r2", paid.intent_id, 1)
    assert p.ledger.refunded_total() == 100
    assert p.ledger.standing_charges_by_booking() == {"b": 0}


def test_simulated_declines_follow_the_rate_and_the_seed():
    def outcomes(seed):
        p = SimulatedProvider(decline_rate=0.3, seed=seed)
        return [p.confirm("c", created(p, SIMULATED, f"k{i}").intent_id).status == "succeeded"
                for i in range(2000)]

    first = outcomes(7)
    assert first == outcomes(7)  # deterministic under a seed
    assert first != outcomes(8)
    assert 0.25 < first.count(False) / len(first) < 0.35


def test_a_webhook_is_read_back_as_the_event_it_carries():
    clock = FakeClock(T0)
    p = SimulatedProvider(queue_events=True, clock=clock)
    waiting = p.confirm("c", created(p, AUTHENTICATION_REQUIRED).intent_id)
    p.authenticate(waiting.intent_id, success=True)
    p.refund("r", waiting.intent_id, 40)
    declined = p.confirm("c", created(p, "pm_card_chargeDeclined", "k2").intent_id)
    for event in p.events:
        assert p.read_webhook(*p.webhook(event)) == event
    assert p.events[-1].intent == declined
    assert p.events[2].refund == Refund(p.events[2].refund.refund_id, waiting.intent_id, 40)


def test_a_webhook_with_a_bad_or_stale_signature_is_refused():
    clock = FakeClock(T0)
    p = SimulatedProvider(queue_events=True, clock=clock)
    p.confirm("c", created(p, "pm_card_visa").intent_id)
    payload, header = p.webhook(p.events[0])
    with pytest.raises(InvalidWebhook, match="no signature matches"):
        p.read_webhook(payload.replace(b"succeeded", b"succeedes"), header)
    with pytest.raises(InvalidWebhook, match="no signature matches"):
        p.read_webhook(*p.webhook(p.events[0], secret="whsec_other"))
    with pytest.raises(InvalidWebhook, match="not t=<time>,v1=<signature>"):
        p.read_webhook(payload, "")
    stale = p.webhook(p.events[0], signed_at=T0.timestamp() - 301)
    with pytest.raises(InvalidWebhook, match="older than 300 s"):
        p.read_webhook(*stale)
    assert p.read_webhook(*p.webhook(p.events[0], signed_at=T0.timestamp() - 299))
    with pytest.raises(InvalidWebhook, match="not a Stripe event"):
        p.read_webhook(b"{}", sign(b"{}", p.webhook_secret, T0.timestamp()))
