"""How payment/stripe_provider.py reads Stripe's objects and events (no server): statuses,
decline codes in the project's words, charge ids in either shape, webhook events."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe

from payment.gateway import ALWAYS_DECLINES
from payment.intents import Intent, InvalidWebhook, Refund
from payment.stripe_provider import (
    TEST_CARD_KEY,
    StripeProvider,
    decline_code,
    event_from_stripe,
    intent_from_stripe,
)

META = {"booking_id": "b1", "attempt": "2"}


def pi(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "pi_1", "object": "payment_intent", "status": status,
            "client_secret": "pi_1_secret_x", "metadata": dict(META), **fields}


@pytest.mark.parametrize(("status", "expected"), [
    ("requires_confirmation", "requires_confirmation"),
    ("requires_action", "requires_action"),
    ("processing", "processing"),
    ("requires_capture", "processing"),  # authorised, not charged: no outcome yet
    ("canceled", "canceled"),
    ("a_status_stripe_adds_later", "processing"),  # not an outcome: ask again
])
def test_statuses(status: str, expected: str) -> None:
    intent = intent_from_stripe(pi(status))
    assert (intent.intent_id, intent.status, intent.metadata) == ("pi_1", expected, META)
    assert intent.client_secret == ("pi_1_secret_x" if expected == "requires_action" else "")
    assert not intent.charge_id and not intent.decline_code


@pytest.mark.parametrize("latest_charge", ["ch_1", {"id": "ch_1", "object": "charge"}])
def test_the_charge_of_a_success_whether_an_id_or_nested(latest_charge: object) -> None:
    assert intent_from_stripe(pi("succeeded", latest_charge=latest_charge)) == Intent(
        "pi_1", "succeeded", charge_id="ch_1", metadata=META)


@pytest.mark.parametrize(("error", "code"), [
    # Stripe's plain decline: decline_code generic_decline, the API's card_declined.
    ({"code": "card_declined", "decline_code": "generic_decline"}, "card_declined"),
    ({"code": "card_declined", "decline_code": "insufficient_funds"}, "insufficient_funds"),
    ({"code": "card_declined", "decline_code": "fraudulent"}, "fraudulent"),
    ({"code": "expired_card", "decline_code": "expired_card"}, "expired_card"),
    ({"code": "card_declined"}, "card_declined"),  # localstripe gives no decline_code
    ({"code": "payment_intent_authentication_failure"}, "payment_intent_authentication_failure"),
])
def test_a_declined_intent_fails_with_its_reason(error: dict[str, str], code: str) -> None:
    intent = intent_from_stripe(pi("requires_payment_method", last_payment_error=error))
    assert (intent.status, intent.decline_code) == ("failed", code)


@pytest.mark.parametrize(("token", "code"), sorted(ALWAYS_DECLINES.items()))
def test_a_replaced_test_card_reports_its_documented_code(token: str, code: str) -> None:
    shown = pi("requires_payment_method", metadata={**META, TEST_CARD_KEY: token},
               last_payment_error={"code": "card_declined"})
    intent = intent_from_stripe(shown)
    assert (intent.status, intent.decline_code, intent.metadata) == ("failed", code, META)
    # The stand-in's authentication failure is not a card decline: Stripe's code stays.
    shown["last_payment_error"] = {"code": "payment_intent_authentication_failure"}
    assert decline_code(shown) == "payment_intent_authentication_failure"


def test_waiting_for_a_payment_method_without_an_error_is_a_failure_too() -> None:
    intent = intent_from_stripe(pi("requires_payment_method"))
    assert (intent.status, intent.decline_code) == ("failed", "requires_payment_method")


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": "evt_1", "object": "event", "type": kind, "data": {"object": obj}}


def test_payment_intent_events_carry_the_intent() -> None:
    read = event_from_stripe(event("payment_intent.payment_failed", pi(
        "requires_payment_method", last_payment_error={"code": "card_declined"})))
    assert (read.event_id, read.type, read.refund) == ("evt_1", "payment_intent.payment_failed",
                                                       None)
    assert read.intent == Intent("pi_1", "failed", decline_code="card_declined", metadata=META)


def charge(**fields: Any) -> dict[str, Any]:
    return {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "amount": 3000,
            "metadata": {}, **fields}


def test_a_refunded_charge_carries_its_intent_and_newest_refund() -> None:
    refunds = {"object": "list", "data": [
        {"id": "re_old", "amount": 1000, "created": 100},
        {"id": "re_new", "amount": 500, "created": 200},
    ]}
    read = event_from_stripe(event("charge.refunded", charge(refunds=refunds)))
    assert read.intent == Intent("pi_1", "succeeded", charge_id="ch_1")
    assert read.refund == Refund("re_new", "pi_1", 500)
    # Recent API versions leave the refunds out of the charge: the event still reads.
    assert event_from_stripe(event("charge.refunded", charge())).refund is None
    nested = charge(payment_intent={"id": "pi_1", "object": "payment_intent"})
    assert event_from_stripe(event("charge.refunded", nested)).intent.intent_id == "pi_1"


@pytest.mark.parametrize("payload", [
    {},
    {"id": "evt_1", "type": "payment_intent.succeeded"},  # no object
    event("customer.created", {"id": "cus_1", "object": "customer"}),
    event("payment_intent.succeeded", {"id": "ch_1", "object": "charge"}),  # wrong object
    event("charge.refunded", charge(payment_intent=None)),  # not a PaymentIntent's charge
    event("charge.succeeded", charge()),
])
def test_anything_else_is_not_an_event_this_service_reads(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidWebhook):
        event_from_stripe(payload)


def test_read_webhook_verifies_before_reading_and_shows_no_secret() -> None:
    provider = StripeProvider("sk_test_do_not_show", "whsec_do_not_show", "http://127.0.0.1:1")
    body = json.dumps(event("payment_intent.canceled", pi("canceled")))
    good = stripe.WebhookSignature.generate_signature_header(body, "whsec_do_not_show")
    assert provider.read_webhook(body.encode(), good).intent.status == "canceled"
    stale = stripe.WebhookSignature.generate_signature_header(
        body, "whsec_do_not_show", int(time.time()) - 600)
    for signature in (stale, good.replace("v1=", "v1=0"), ""):
        with pytest.raises(InvalidWebhook):
            provider.read_webhook(body.encode(), signature)
    assert "do_not_show" not in repr(provider)


def test_localstripe_is_assumed_wherever_the_api_is_not_stripes() -> None:
    assert StripeProvider("sk_test_x", "whsec_x", "http://127.0.0.1:58420").localstripe
    assert not StripeProvider("sk_test_x", "whsec_x", "").localstripe
    assert not StripeProvider("sk_test_x", "whsec_x", "https://api.stripe.com/").localstripe
    assert not StripeProvider("sk_test_x", "whsec_x", "http://mock:1", localstripe=False).localstripe
