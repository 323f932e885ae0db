"""payment/stripe_provider.py against the real localstripe that scripts/infra runs.

Each test works on intents of its own (a unique booking id in their metadata), so tests
never reset localstripe's data for one another. Webhooks are delivered by localstripe
itself to a small HTTP server on 127.0.0.1, or signed here with the SDK's signature
helper for the events localstripe never sends.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from payment.gateway import ALWAYS_DECLINES
from payment.intents import InvalidWebhook
from payment.stripe_provider import THREE_D_SECURE, StripeProvider
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.infra

SECRET = "whsec_" + uuid.uuid4().hex  # this module's webhook endpoints'
KEY = "sk_test_" + uuid.uuid4().hex  # any sk_ key authenticates on localstripe


@pytest.fixture
def provider(stripe_server: str) -> StripeProvider:
    return StripeProvider(KEY, SECRET, stripe_server)


@pytest.fixture
def localstripe(stripe_server: str) -> Iterator[httpx.Client]:
    """Raw HTTP to localstripe: its own endpoints, and objects as it shows them."""
    with httpx.Client(base_url=stripe_server, auth=(KEY, ""), timeout=5) as client:
        yield client


@pytest.fixture
def booking() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def keys(booking: str) -> Iterator[str]:
    """Deterministic idempotency keys, one per call, as the payment service would make."""
    n = 0
    while True:
        n += 1
        yield f"{booking}/{n}"


def paid(provider: StripeProvider, booking: str, method: str = "pm_card_visa",
         amount: int = 2500) -> tuple[str, Any]:
    key = keys(booking)
    created = provider.create_intent(next(key), method, amount, "eur",
                                     {"booking_id": booking, "attempt": "1"})
    return created.intent_id, provider.confirm(next(key), created.intent_id)


# --- intents -----------------------------------------------------------------


def test_a_card_that_pays_is_created_unconfirmed_then_succeeds(provider, booking) -> None:
    key = keys(booking)
    created = provider.create_intent(next(key), "pm_card_visa", 2500, "eur",
                                     {"booking_id": booking, "attempt": "1"})
    assert created.status == "requires_confirmation" and created.intent_id.startswith("pi_")
    assert created.metadata == {"booking_id": booking, "attempt": "1"} and not created.charge_id

    confirmed = provider.confirm(next(key), created.intent_id)
    assert confirmed.status == "succeeded" and confirmed.intent_id == created.intent_id
    assert confirmed.charge_id.startswith("ch_")  # from latest_charge, nested in localstripe
    assert provider.retrieve(created.intent_id) == confirmed
    # Confirmed again (a retry after a crash): localstripe refuses, the intent answers.
    assert provider.confirm(next(key), created.intent_id) == confirmed


@pytest.mark.parametrize(("token", "code"), sorted(ALWAYS_DECLINES.items()))
def test_a_documented_decline_keeps_its_intent_and_reports_its_code(provider, booking, token,
                                                                    code) -> None:
    key = keys(booking)
    created = provider.create_intent(next(key), token, 2500, "eur",
                                     {"booking_id": booking, "attempt": "2"})
    assert created.status == "requires_confirmation"  # localstripe knows the stand-in card

    failed = provider.confirm(next(key), created.intent_id)
    assert failed.status == "failed" and failed.decline_code == code
    assert failed.intent_id == created.intent_id and not failed.charge_id
    assert failed.metadata == {"booking_id": booking, "attempt": "2"}  # no stand-in's key
    assert provider.retrieve(created.intent_id) == failed


@pytest.mark.parametrize("token", ["pm_card_unknownToLocalstripe", "tok_visa", "", "4242"])
def test_an_unknown_payment_method_fails_without_an_exception(provider, booking, token) -> None:
    failed = provider.create_intent(f"{booking}/1", token, 2500, "eur", {"booking_id": booking})
    assert failed.status == "failed" and failed.decline_code == "invalid_payment_method"
    assert failed.intent_id == "" and failed.metadata == {"booking_id": booking}


def authenticate(localstripe: httpx.Client, intent_id: str, client_secret: str,
                 success: bool) -> None:
    """What Stripe.js does in the customer's browser after a 3-D Secure challenge."""
    answer = localstripe.post(f"/v1/payment_intents/{intent_id}/_authenticate",
                              data={"client_secret": client_secret,
                                    "success": "true" if success else "false"})
    assert answer.status_code == 200, answer.text


def test_three_d_secure_waits_for_the_customer_then_succeeds_or_fails(provider, localstripe,
                                                                      booking) -> None:
    intent_id, challenged = paid(provider, booking, THREE_D_SECURE)
    assert challenged.status == "requires_action" and challenged.intent_id == intent_id
    assert challenged.client_secret.startswith(f"{intent_id}_secret_")
    assert provider.retrieve(intent_id).status == "requires_action"

    authenticate(localstripe, intent_id, challenged.client_secret, success=True)
    done = provider.retrieve(intent_id)
    assert done.status == "succeeded" and done.charge_id.startswith("ch_")
    assert not done.client_secret  # only while the customer has something to do

    other, challenged = paid(provider, booking + "-2", THREE_D_SECURE)
    authenticate(localstripe, other, challenged.client_secret, success=False)
    failed = provider.retrieve(other)
    assert failed.status == "failed"
    assert failed.decline_code == "payment_intent_authentication_failure"


def test_cancel_before_confirming_and_after_paying(provider, booking) -> None:
    key = keys(booking)
    created = provider.create_intent(next(key), "pm_card_visa", 2500, "eur",
                                     {"booking_id": booking, "attempt": "1"})
    canceled = provider.cancel(next(key), created.intent_id)
    assert canceled.status == "canceled" and canceled.intent_id == created.intent_id
    assert provider.retrieve(created.intent_id).status == "canceled"
    assert provider.cancel(next(key), created.intent_id) == canceled  # again: as it is
    # A confirm of a cancelled intent is refused; the intent says why.
    assert provider.confirm(next(key), created.intent_id).status == "canceled"

    intent_id, succeeded = paid(provider, booking + "-2")
    assert provider.cancel(next(key), intent_id) == succeeded  # charged: answers as it is


def test_a_refund_asked_again_with_its_key_refunds_once(provider, booking) -> None:
    """As after a crash between the refund and the recording of its answer: localstripe
    ignores the key (and would refund beyond the charge); the refund made with it is
    found and answered."""
    intent_id, _ = paid(provider, booking, amount=3000)
    first = provider.refund(f"{booking}/refund", intent_id, 3000)
    assert provider.refund(f"{booking}/refund", intent_id, 3000) == first
    assert provider.refunds(intent_id) == [first]


def test_refund_after_success_and_listed_back(provider, booking) -> None:
    intent_id, succeeded = paid(provider, booking, amount=3000)
    assert succeeded.status == "succeeded"

    first = provider.refund(f"{booking}/refund/1", intent_id, 1000)
    assert first.refund_id.startswith("re_") and (first.intent_id, first.amount) == (intent_id, 1000)
    second = provider.refund(f"{booking}/refund/2", intent_id, 2000)
    # Newest first; both may be of the same second, which is all localstripe orders by.
    assert sorted(provider.refunds(intent_id), key=lambda r: r.amount) == [first, second]
    assert provider.retrieve(intent_id).status == "succeeded"  # a refunded intent stays paid


class RecordingClient(stripe.RequestsClient):
    """The SDK's HTTP client, noting each request's method, path and idempotency key."""

    def __init__(self) -> None:
        super().__init__(timeout=5)
        self.sent: list[tuple[str, str, str]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        path = url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        self.sent.append((method.upper(), f"/{path}", (headers or {}).get("Idempotency-Key", "")))
        return super().request(method, url, headers, post_data)


def test_every_write_carries_the_callers_idempotency_key(stripe_server, booking) -> None:
    client = RecordingClient()
    provider = StripeProvider(KEY, SECRET, stripe_server, http_client=client)
    paid_id = provider.create_intent(f"{booking}/a", "pm_card_visa", 900, "eur", {}).intent_id
    provider.confirm(f"{booking}/b", paid_id)
    provider.refund(f"{booking}/c", paid_id, 900)
    dropped = provider.create_intent(f"{booking}/d", THREE_D_SECURE, 900, "eur", {}).intent_id
    provider.cancel(f"{booking}/e", dropped)
    provider.retrieve(dropped)
    assert client.sent == [
        ("POST", "/v1/payment_intents", f"{booking}/a"),
        ("POST", f"/v1/payment_intents/{paid_id}/confirm", f"{booking}/b"),
        ("GET", "/v1/refunds", ""),  # localstripe: a refund made with the key before?
        ("POST", "/v1/refunds", f"{booking}/c"),
        ("POST", "/v1/payment_methods", f"{booking}/d:payment_method"),  # localstripe's card
        ("POST", "/v1/payment_intents", f"{booking}/d"),
        ("POST", f"/v1/payment_intents/{dropped}/cancel", f"{booking}/e"),
        ("GET", f"/v1/payment_intents/{dropped}", ""),  # a read needs none
    ]


def test_neither_the_key_nor_the_webhook_secret_is_logged(provider, localstripe, booking,
                                                          caplog) -> None:
    caplog.set_level(logging.DEBUG)  # the SDK logs every request at DEBUG
    intent_id, _ = paid(provider, booking)
    provider.refund(f"{booking}/refund", intent_id, 100)
    with pytest.raises(InvalidWebhook):
        provider.read_webhook(b"{}", "t=1,v1=00")
    assert caplog.records, "the SDK logged nothing: the check would prove nothing"
    assert KEY not in caplog.text and SECRET not in caplog.text
    assert KEY not in repr(provider) and SECRET not in repr(provider)


# --- webhooks ------------------------------------------------------------------


@pytest.fixture
def receiver(localstripe: httpx.Client) -> Iterator[Receiver]:
    """A receiver registered with localstripe for ``payment_intent.succeeded``."""
    receiver = Receiver()
    webhook = f"/_config/webhooks/cinema-test-{uuid.uuid4().hex[:8]}"
    registered = localstripe.post(webhook, data={"url": receiver.url, "secret": SECRET,
                                                 "events[]": ["payment_intent.succeeded"]})
    assert registered.status_code == 200, registered.text
    try:
        yield receiver
    finally:
        # Registrations cannot be deleted and survive DELETE /_config/data: this one is
        # left listening to no event.
        localstripe.post(webhook, json={"url": receiver.url, "secret": SECRET, "events": []})
        receiver.close()


def test_a_webhook_localstripe_sends_is_verified_and_read(provider, receiver, booking) -> None:
    intent_id, succeeded = paid(provider, booking)
    body, signature = receiver.delivery_for(intent_id, timeout=5)  # sent about 1 s later

    event = provider.read_webhook(body, signature)
    assert event.type == "payment_intent.succeeded" and event.event_id.startswith("evt_")
    assert event.intent == succeeded and event.refund is None
    # The same delivery read again is the same event (the service deduplicates by its id).
    assert provider.read_webhook(body, signature) == event
    with pytest.raises(InvalidWebhook):  # the endpoint's secret, and no other
        StripeProvider(KEY, "whsec_other", provider.api_base).read_webhook(body, signature)


def signed(event: dict[str, Any], secret: str = SECRET,
           timestamp: int | None = None) -> tuple[bytes, str]:
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return payload.encode(), header


def event_of(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex[:14]}", "object": "event", "type": kind,
            "created": int(time.time()), "data": {"object": obj}}


def test_signed_events_localstripe_never_sends(provider, localstripe, booking) -> None:
    key = keys(booking)
    created = provider.create_intent(next(key), "pm_card_visa", 2500, "eur",
                                     {"booking_id": booking, "attempt": "1"})
    canceled = provider.cancel(next(key), created.intent_id)
    as_shown = localstripe.get(f"/v1/payment_intents/{created.intent_id}").json()
    event = provider.read_webhook(*signed(event_of("payment_intent.canceled", as_shown)))
    assert event.type == "payment_intent.canceled" and event.intent == canceled

    intent_id, succeeded = paid(provider, booking + "-2", amount=4000)
    refund = provider.refund(f"{booking}/refund", intent_id, 1500)
    charge = localstripe.get(f"/v1/charges/{succeeded.charge_id}").json()
    event = provider.read_webhook(*signed(event_of("charge.refunded", charge)))
    assert event.type == "charge.refunded" and event.refund == refund
    assert (event.intent.intent_id, event.intent.status, event.intent.charge_id) == (
        intent_id, "succeeded", succeeded.charge_id)


def test_bad_stale_and_foreign_webhooks_are_refused(provider, localstripe, booking) -> None:
    intent_id, _ = paid(provider, booking)
    as_shown = localstripe.get(f"/v1/payment_intents/{intent_id}").json()
    event = event_of("payment_intent.succeeded", as_shown)
    body, header = signed(event)
    assert provider.read_webhook(body, header).intent.intent_id == intent_id

    refused = [
        (body, signed(event, secret="whsec_someone_else")[1]),  # another secret
        (body.replace(b"succeeded", b"canceled"), header),  # changed after signing
        signed(event, timestamp=int(time.time()) - 301),  # older than the 300 s tolerance
        (body, ""),  # no signature
        (body, "garbage"),
        signed({**event, "type": "customer.created"}),  # verified, not an event read here
        signed({**event, "data": {"object": {"id": "cus_1", "object": "customer"}}}),
        (b"not json", _sign_raw(b"not json")),
        (b"[]", _sign_raw(b"[]")),
    ]
    for payload, signature in refused:
        with pytest.raises(InvalidWebhook):
            provider.read_webhook(payload, signature)


def _sign_raw(payload: bytes) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload.decode(), SECRET)
