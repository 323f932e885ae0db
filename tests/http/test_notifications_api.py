"""The notification API over the embedded system with its recording channels: contact
details (the token's subject's own), what a booking's customer was told, the failures an
operator sees."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.api import Api
from tests.support.tokens import ALICE, BOB, OPERATOR

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
BROWSER = {"endpoint": "https://push.example.net/send/alice-1", "expirationTime": None,
           "keys": {"p256dh": P256DH, "auth": AUTH}}


def give_contact(api: Api, who=ALICE, **body) -> dict:
    r = api.notifications.put("/customers/me/contact", json={
        "email": "alice@example.com", "language": "en", **body}, headers=who)
    assert r.status_code == 200, r.text
    return r.json()


def booked(api: Api, method: str = "pm_card_visa", who=ALICE, key: str = "k1") -> str:
    api.open_show()
    r = api.book(method=method, who=who, key=key)
    assert r.status_code == 202, r.text
    api.settle()
    api.send_notifications()
    return r.json()["booking_id"]


def told(api: Api, booking_id: str, who=ALICE) -> list[dict]:
    r = api.notifications.get(f"/bookings/{booking_id}/notifications", headers=who)
    assert r.status_code == 200, r.text
    return r.json()["notifications"]


# --- contact details ---------------------------------------------------------------


def test_a_customer_keeps_and_reads_their_own_contact_details(api):
    r = api.notifications.get("/customers/me/contact", headers=ALICE)
    assert r.status_code == 404 and r.json()["error"] == "no_contact_details"
    saved = give_contact(api, language="fr", push_subscriptions=[BROWSER],
                         channels={"payment_reminder": ["push"]}, reminders=True)
    assert saved["customer_id"] == "alice" and saved["language"] == "fr"
    assert saved["push_endpoints"] == [BROWSER["endpoint"]]
    assert saved["channels"]["payment_reminder"] == ["push"]
    assert saved["channels"]["confirmation"] == ["email", "push"]  # not named: every channel
    assert api.notifications.get("/customers/me/contact", headers=ALICE).json() == saved
    # the customer is the token's subject: Bob sees none of Alice's, and writes his own
    assert api.notifications.get("/customers/me/contact", headers=BOB).status_code == 404
    give_contact(api, who=BOB, email="bob@example.com")
    assert api.notifications.get("/customers/me/contact", headers=ALICE).json() == saved


@pytest.mark.parametrize(("body", "error"), [
    ({"email": "alice.example.com"}, "invalid_email"),
    ({"language": "de"}, "unknown_language"),
    ({"push_subscriptions": [{**BROWSER, "keys": {"p256dh": "abc", "auth": AUTH}}]},
     "invalid_push_subscription"),
    ({"push_subscriptions": [{**BROWSER, "endpoint": "not a url"}]}, "invalid_push_subscription"),
    ({"channels": {"confirmation": ["fax"]}}, "unknown_choice"),
])
def test_contact_details_that_cannot_be_kept_are_422(api, body, error):
    r = api.notifications.put("/customers/me/contact",
                              json={"email": "alice@example.com", **body}, headers=ALICE)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == error and r.json()["message"]
    assert api.notifications.get("/customers/me/contact", headers=ALICE).status_code == 404


def test_malformed_bodies_are_400_and_callers_without_a_token_401(api):
    r = api.notifications.put("/customers/me/contact", json={"emial": "a@b.cd"}, headers=ALICE)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert "emial" in r.json()["message"]
    r = api.notifications.put("/customers/me/contact", json={"email": "a@example.com"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


# --- what a booking's customer was told -------------------------------------------------


def test_the_booking_customer_sees_the_confirmation_sent_with_its_tickets(api):
    give_contact(api, push_subscriptions=[BROWSER])
    booking_id = booked(api)
    messages = told(api, booking_id)
    assert {(m["kind"], m["channel"], m["status"]) for m in messages} == {
        ("confirmation", "email", "sent"), ("confirmation", "push", "sent")}
    email = next(m for m in messages if m["channel"] == "email")
    assert email["to"] == "alice@example.com" and email["attempts"][0]["outcome"] == "sent"
    [sent] = api.system.email.accepted
    assert sent.message_id == email["message_id"] and sent.images  # the QR code
    [pushed] = api.system.push.accepted
    assert pushed.subscription.endpoint == BROWSER["endpoint"]


def test_another_customer_gets_404_for_the_booking_an_operator_sees_it(api):
    give_contact(api)
    booking_id = booked(api)
    r = api.notifications.get(f"/bookings/{booking_id}/notifications", headers=BOB)
    assert r.status_code == 404 and r.json()["error"] == "booking_not_found"
    assert told(api, booking_id, who=OPERATOR) == told(api, booking_id)
    r = api.notifications.get("/bookings/00000000-0000-0000-0000-000000000000/notifications",
                              headers=ALICE)
    assert r.status_code == 404


def test_without_contact_details_nothing_is_sent_and_nothing_fails(api):
    booking_id = booked(api)
    [message] = told(api, booking_id)
    assert (message["status"], message["reason"], message["channel"]) == (
        "dropped", "no_contact", "none")
    assert api.system.email.accepted == [] and api.system.push.accepted == []


def test_a_declined_payment_is_told_and_a_reminder_follows_before_the_seats_go(api):
    give_contact(api, language="fr")
    booking_id = booked(api, method="pm_card_chargeDeclined")
    api.clock.advance(timedelta(minutes=8))  # 2 minutes before the hold ends
    api.send_notifications()
    kinds = [(m["kind"], m["status"], m["language"]) for m in told(api, booking_id)]
    assert kinds == [("payment_failed", "sent", "fr"), ("payment_reminder", "sent", "fr")]
    assert "refusée" in api.system.email.accepted[0].text
    api.clock.advance(timedelta(minutes=3))  # the hold ends: the booking is cancelled
    api.send_notifications()
    assert [m["kind"] for m in told(api, booking_id)][-1] == "cancellation"


# --- failures, for operators ---------------------------------------------------------------


def test_operators_see_failing_messages_until_a_retry_gets_through(api):
    give_contact(api)
    api.system.email.outage = "smtp 421 try later"
    booking_id = booked(api)
    r = api.notifications.get("/ops/notifications/failures", headers=OPERATOR)
    assert r.status_code == 200, r.text
    [failure] = r.json()["failures"]
    assert failure["customer_id"] == "alice"
    failed = failure["notification"]
    assert (failed["booking_id"], failed["status"], failed["reason"]) == (
        booking_id, "failed", "smtp 421 try later")
    assert failed["next_try_at"] is not None
    assert api.notifications.get("/ops/notifications/failures", headers=ALICE).status_code == 403
    api.system.email.outage = None
    api.clock.advance(timedelta(seconds=30))  # the first backoff
    api.send_notifications()
    assert api.notifications.get("/ops/notifications/failures",
                                 headers=OPERATOR).json()["failures"] == []
    [sent] = told(api, booking_id)
    assert sent["status"] == "sent" and [a["outcome"] for a in sent["attempts"]] == [
        "failed", "sent"]


def test_a_refused_address_fails_for_good_without_holding_up_the_others(api):
    give_contact(api)
    give_contact(api, who=BOB, email="bob@example.com")
    api.system.email.refused_for_good.add("alice@example.com")
    alices = booked(api)
    bobs = api.book(seats=("A2",), who=BOB, key="b1").json()["booking_id"]
    api.settle()
    api.send_notifications()
    assert told(api, alices)[0]["status"] == "failed_permanently"
    assert told(api, bobs, who=BOB)[0]["status"] == "sent"
    failures = api.notifications.get("/ops/notifications/failures", headers=OPERATOR).json()
    assert [f["notification"]["booking_id"] for f in failures["failures"]] == [alices]
