"""3-D Secure over HTTP: the booking shows its customer what to do while an attempt waits
for authentication, the customer authenticates or pays another way."""

from __future__ import annotations

from payment.gateway import AUTHENTICATION_REQUIRED
from tests.support.tokens import ALICE, BOB, OPERATOR


def waiting(api) -> tuple[str, str]:
    api.open_show()
    booking_id = api.book(method=AUTHENTICATION_REQUIRED).json()["booking_id"]
    api.settle()
    [pending] = api.payment_of(booking_id)["pending"]
    return booking_id, pending["intent_id"]


def intents(api, booking_id: str) -> list[str]:
    return [i.status for i in api.system.provider.store.intents.values()
            if i.booking_id == booking_id]


def test_the_customer_sees_the_challenge_while_pending_and_not_once_paid(api):
    booking_id, intent_id = waiting(api)
    booking = api.booking_of(booking_id)
    assert booking["status"] == "PAYMENT_PENDING"
    action = booking["next_action"]
    assert action["type"] == "authenticate" and action["client_secret"].startswith(intent_id)
    listed = api.booking.get("/bookings", headers=ALICE).json()["bookings"]
    assert listed[0]["next_action"] == action
    # Nobody else sees it: another customer is told there is no such booking, and an
    # operator sees the booking without the customer's secret.
    assert api.booking.get(f"/bookings/{booking_id}", headers=BOB).status_code == 404
    assert api.booking.get("/bookings", headers=BOB).json()["bookings"] == []
    assert api.booking.get(f"/bookings/{booking_id}", headers=OPERATOR).json()["next_action"] is None
    api.system.provider.authenticate(intent_id, success=True)  # in the customer's browser
    api.settle()  # the webhook arrives
    done = api.booking_of(booking_id)
    assert (done["status"], done["next_action"]) == ("CONFIRMED", None)
    assert done["payment_attempts"] == [{"attempt": 1, "outcome": "succeeded"}]


def test_the_challenge_disappears_when_authentication_fails(api):
    booking_id, intent_id = waiting(api)
    api.system.provider.authenticate(intent_id, success=False)
    api.settle()
    booking = api.booking_of(booking_id)
    assert (booking["status"], booking["next_action"]) == ("PAYMENT_PENDING", None)
    assert booking["payment_attempts"] == [
        {"attempt": 1, "outcome": "failed", "reason": "authentication_failed"}]


def test_a_lost_webhook_is_recovered_by_the_reconciliation(api):
    booking_id, intent_id = waiting(api)
    api.system.webhooks_delivered = False
    api.system.provider.authenticate(intent_id, success=True)
    api.take_webhooks()  # never delivered
    api.settle()
    assert api.booking_of(booking_id)["status"] == "PAYMENT_PENDING"
    api.clock.advance(api.system.payment.reconcile_after)
    api.system.sweep()
    assert api.booking_of(booking_id)["status"] == "CONFIRMED"


def test_paying_another_way_abandons_the_waiting_attempt(api):
    booking_id, _ = waiting(api)
    r = api.booking.post(f"/bookings/{booking_id}/payment-attempts",
                         json={"payment_method": "pm_card_visa"}, headers=ALICE)
    assert r.status_code == 202 and r.json()["attempt"] == 2
    assert api.booking_of(booking_id)["next_action"] is None
    api.settle()
    booking = api.booking_of(booking_id)
    assert booking["status"] == "CONFIRMED"
    assert booking["payment_attempts"] == [
        {"attempt": 1, "outcome": "failed", "reason": "canceled"},
        {"attempt": 2, "outcome": "succeeded"}]
    assert sorted(intents(api, booking_id)) == ["canceled", "succeeded"]


def test_an_authentication_just_before_the_retry_stands_and_no_second_attempt_is_made(api):
    booking_id, intent_id = waiting(api)
    api.system.webhooks_delivered = False
    api.system.provider.authenticate(intent_id, success=True)
    api.take_webhooks()  # not delivered yet when the retry comes
    r = api.booking.post(f"/bookings/{booking_id}/payment-attempts",
                         json={"payment_method": "pm_card_visa"}, headers=ALICE)
    assert r.status_code == 202
    api.settle()  # payment's cancel answers succeeded: that success stands
    booking = api.booking_of(booking_id)
    assert booking["status"] == "CONFIRMED"
    assert booking["payment_attempts"] == [{"attempt": 1, "outcome": "succeeded"}]
    assert intents(api, booking_id) == ["succeeded"]  # attempt 2 was never made
    assert api.system.provider.ledger.captured_by_booking() == {booking_id: 1200}

