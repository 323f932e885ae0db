"""The payment provider's webhooks over HTTP (POST /webhooks/stripe on payment's API):
signed events, recorded once, in any order, each ending in the right state with no
second capture."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from payment.gateway import AUTHENTICATION_REQUIRED
from payment.intents import Intent, ProviderEvent
from tests.support import invariants as inv
from tests.support.tokens import ALICE


@pytest.fixture
def api(api):
    api.system.webhooks_delivered = False  # the tests deliver them, over HTTP
    api.open_show()
    return api


def waiting(api, key: str = "k1") -> tuple[str, str]:
    """A booking whose payment waits for the customer's 3-D Secure: its id, the intent's."""
    booking_id = api.book(method=AUTHENTICATION_REQUIRED, key=key).json()["booking_id"]
    api.settle()
    [pending] = api.payment_of(booking_id)["pending"]
    assert pending["waiting_for_customer"]
    api.take_webhooks()  # its requires_action: recorded already, from the confirm's answer
    return booking_id, pending["intent_id"]


def payment_head(api) -> int:
    return api.system.payment.recorder.max_notification_id() or 0


def captured(api, booking_id: str) -> int:
    return api.system.provider.ledger.successful_charges_by_booking().get(booking_id, 0)


def test_an_event_is_recorded_once_and_a_repeat_changes_nothing(api):
    booking_id, intent_id = waiting(api)
    api.system.provider.authenticate(intent_id, success=True)
    [succeeded] = api.take_webhooks()
    r = api.webhook(succeeded)
    assert r.status_code == 200, r.text
    assert r.json() == {"event_id": succeeded.event_id, "recorded": True}
    assert api.payment_of(booking_id)["status"] == "CAPTURED"
    head = payment_head(api)
    again = api.webhook(succeeded)
    assert again.status_code == 200 and again.json()["recorded"] is False
    assert payment_head(api) == head
    api.settle()
    assert api.booking_of(booking_id)["status"] == "CONFIRMED"
    assert captured(api, booking_id) == 1


def test_events_in_any_order_end_in_the_same_state(api):
    booking_id, intent_id = waiting(api)
    api.system.provider.authenticate(intent_id, success=True)
    [succeeded] = api.take_webhooks()
    metadata = succeeded.intent.metadata
    late = [
        ProviderEvent("evt_late_failed", "payment_intent.payment_failed",
                      Intent(intent_id, "failed", decline_code="card_declined",
                             metadata=metadata)),
        ProviderEvent("evt_late_action", "payment_intent.requires_action",
                      Intent(intent_id, "requires_action", client_secret="s", metadata=metadata)),
        ProviderEvent("evt_late_processing", "payment_intent.processing",
                      Intent(intent_id, "processing", metadata=metadata)),
        ProviderEvent("evt_late_canceled", "payment_intent.canceled",
                      Intent(intent_id, "canceled", metadata=metadata)),
    ]
    assert api.webhook(succeeded).status_code == 200
    head = payment_head(api)
    for event in late:  # each recorded as seen, none changes the payment
        r = api.webhook(event)
        assert r.status_code == 200 and r.json()["recorded"] is True
    assert payment_head(api) == head
    payment = api.payment_of(booking_id)
    assert (payment["status"], payment["attempts"]) == (
        "CAPTURED", [{"number": 1, "succeeded": True, "reason": ""}])
    api.settle()
    assert api.booking_of(booking_id)["status"] == "CONFIRMED"
    assert captured(api, booking_id) == 1


def test_a_failed_authentication_fails_the_attempt_and_a_retry_confirms(api):
    booking_id, intent_id = waiting(api)
    api.system.provider.authenticate(intent_id, success=False)
    [failed] = api.take_webhooks()
    assert api.webhook(failed).status_code == 200
    api.settle()
    assert api.booking_of(booking_id)["payment_attempts"] == [
        {"attempt": 1, "outcome": "failed", "reason": "authentication_failed"}]
    r = api.booking.post(f"/bookings/{booking_id}/payment-attempts",
                         json={"payment_method": "pm_card_visa"}, headers=ALICE)
    assert r.status_code == 202
    api.settle()
    assert api.booking_of(booking_id)["status"] == "CONFIRMED"
    assert captured(api, booking_id) == 1


def test_an_intent_cancelled_at_the_provider_fails_its_attempt(api):
    booking_id, intent_id = waiting(api)
    api.system.provider.cancel("by-an-operator", intent_id)
    [canceled] = api.take_webhooks()
    assert canceled.type == "payment_intent.canceled"
    assert api.webhook(canceled).status_code == 200
    assert api.payment_of(booking_id)["attempts"] == [
        {"number": 1, "succeeded": False, "reason": "canceled"}]
    api.settle()
    booking = api.booking_of(booking_id)
    assert booking["status"] == "PAYMENT_PENDING"  # the seats stay held: retry, or let go
    assert booking["payment_attempts"][0]["reason"] == "canceled"
    assert captured(api, booking_id) == 0


def test_an_authentication_after_the_hold_is_a_late_success_refunded(api):
    booking_id, intent_id = waiting(api)
    api.clock.advance(timedelta(minutes=10))  # the hold's deadline; inventory has not swept
    api.system.provider.authenticate(intent_id, success=True)
    [succeeded] = api.take_webhooks()
    assert api.webhook(succeeded).status_code == 200
    api.settle()  # inventory refuses the late success; payment refunds
    booking = api.booking_of(booking_id)
    assert (booking["status"], booking["cancellation_reason"]) == ("CANCELLED", "hold_expired")
    assert booking["refunded_amount"] == 1200
    [refunded] = api.take_webhooks()  # the refund payment made, reported by the provider
    assert refunded.type == "charge.refunded"
    head = payment_head(api)
    r = api.webhook(refunded)
    assert r.status_code == 200 and r.json()["recorded"] is True
    assert payment_head(api) == head  # ours: absorbed
    assert api.payment_of(booking_id)["status"] == "REFUNDED"
    ledger = api.system.provider.ledger
    assert ledger.captured_by_booking() == ledger.refunded_by_booking() == {booking_id: 1200}


def test_a_refund_made_outside_is_recorded_and_the_money_still_balances(api):
    booking_id = api.book().json()["booking_id"]
    api.settle()
    assert api.booking_of(booking_id)["status"] == "CONFIRMED"
    api.take_webhooks()
    intent_id = api.system.payment.get_payment(UUID(booking_id)).charge_intent
    for part in (500, 700):  # an operator, in the dashboard, in two parts
        api.system.provider.refund_outside(intent_id, part)
        [refunded] = api.take_webhooks()
        assert api.webhook(refunded).status_code == 200
        assert api.webhook(refunded).json()["recorded"] is False
    payment = api.payment_of(booking_id)
    assert (payment["refunded_outside"], payment["refunded"]) == (1200, True)
    api.settle()
    booking = api.booking_of(booking_id)  # from the view, as the customer sees it
    assert (booking["status"], booking["refunded_amount"]) == ("CONFIRMED", 1200)
    assert api.system.booking.get_booking(UUID(booking_id)).refunded_amount == 1200
    inv.money_balances(api.system, api.system.provider.ledger)


def test_a_declined_intent_paid_again_is_a_charge_not_kept_and_is_refunded(api):
    booking_id = api.book(method="pm_card_chargeDeclined").json()["booking_id"]
    api.settle()
    [declined] = api.payment_of(booking_id)["attempts"]
    assert not declined["succeeded"]
    first = api.system.provider.ledger  # the declined intent of attempt 1
    api.booking.post(f"/bookings/{booking_id}/payment-attempts",
                     json={"payment_method": "pm_card_visa"}, headers=ALICE)
    api.settle()
    api.take_webhooks()
    intents = [i for i in api.system.provider.store.intents.values()
               if i.booking_id == booking_id]
    failed = next(i for i in intents if i.status == "failed")
    api.system.provider.pay_again(failed.intent_id)  # the customer's browser, again
    [paid] = api.take_webhooks()
    assert api.webhook(paid).status_code == 200  # the refund follows the answer
    assert api.payment_of(booking_id)["charges_not_kept"] == 1
    assert first.successful_charges_by_booking()[booking_id] == 2
    assert first.standing_charges_by_booking()[booking_id] == 1  # the second was refunded
    [refund] = api.take_webhooks()
    head = payment_head(api)
    assert api.webhook(refund).status_code == 200 and payment_head(api) == head
    api.settle()
    assert api.booking_of(booking_id)["status"] == "CONFIRMED"
    inv.money_balances(api.system, first)


def test_a_webhook_that_does_not_verify_is_refused_and_records_nothing(api):
    booking_id, intent_id = waiting(api)
    api.system.provider.authenticate(intent_id, success=True)
    [succeeded] = api.take_webhooks()
    head = payment_head(api)
    wrong = api.webhook(succeeded, secret="whsec_someone_else")
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_webhook",
                            "message": "the webhook was refused: no signature matches the payload"}
    stale = api.webhook(succeeded, signed_at=api.clock.now().timestamp() - 301)
    assert stale.status_code == 400 and "older than 300 s" in stale.json()["message"]
    unsigned = api.payment.post("/webhooks/stripe", content=b'{"id": "evt_1"}')
    assert unsigned.status_code == 400 and "Stripe-Signature" in unsigned.json()["message"]
    assert payment_head(api) == head
    assert api.payment_of(booking_id)["status"] == "OPEN"
    assert api.webhook(succeeded).json()["recorded"] is True  # the event itself was not spent


def test_an_event_about_no_payment_of_ours_is_acknowledged_and_ignored(api):
    stranger = ProviderEvent("evt_x", "payment_intent.succeeded",
                             Intent("pi_elsewhere", "succeeded", "ch_x", metadata={}))
    r = api.webhook(stranger)
    assert r.status_code == 200 and r.json()["recorded"] is False


def test_only_the_webhook_is_open_without_a_token(api):
    assert api.payment.post("/webhooks/stripe", content=b"{}").status_code == 400  # not 401
    paths = {route.path for route in api.payment.app.routes}
    open_paths = {"/webhooks/stripe", "/health", "/ready", "/metrics"}  # /metrics: scrapers
    for path in paths - open_paths:
        if path.startswith("/schema"):
            continue
        probe = path.replace("{booking_id:uuid}", "00000000-0000-0000-0000-000000000000")
        assert api.payment.get(probe).status_code == 401, path
